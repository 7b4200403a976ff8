"""`gscsim ber`: BER and BLER of digital chains alone, against SNR, with Monte Carlo stopping.

A BER scenario (YAML) names chains (a QAM order, and an LDPC code rate unless `coded: false`,
in blocks of `symbols` channel uses), one channel, the Es/N0 points, and the stopping rules:
a point ends after `block_errors` block errors or `max_blocks` blocks, and the sweep of a
chain ends once its BLER falls below `bler_floor`. Errors are counted against the bits sent
(so undetected errors count). Results go to OUTPUT/ber.csv after every point (a rerun skips
points already there) and to plots against Es/N0 and Eb/N0 (Eb: energy per payload bit).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import matplotlib.pyplot as plt
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gscsim import registry, seeding
from gscsim.io import ScenarioError, load_yaml, read_csv, to_csv, write_text
from gscsim.phy.digital import MCS, MODULATIONS, DigitalLink
from gscsim.plugins import Received
from gscsim.run.scenario import PluginSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChainSpec(_Strict):
    label: str
    modulation: Literal["bpsk", "qpsk", "16qam", "64qam", "256qam"]
    coded: bool = True
    code_rate: float = Field(0.5, ge=0.2, le=0.95)
    symbols: int = Field(1024, ge=8, description="complex channel uses per block")
    decoder: Literal["bp", "offset-minsum", "minsum"] = "bp"
    iterations: int = Field(20, ge=1)


class StopSpec(_Strict):
    block_errors: int = Field(100, ge=1)
    max_blocks: int = Field(10_000, ge=1)
    bler_floor: float = Field(1e-4, ge=0)
    batch: int = Field(32, ge=1, description="blocks simulated together")


class BerScenario(_Strict):
    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = 0
    chains: list[ChainSpec] = Field(..., min_length=1)
    channel: PluginSpec = Field(default_factory=lambda: PluginSpec(name="awgn"))
    snr_db: list[float] = Field(..., min_length=1, description="Es/N0 points in dB")
    stop: StopSpec = Field(default_factory=StopSpec)
    output: str | None = None


def load(path: str | Path) -> BerScenario:
    path = Path(path)
    scenario = load_yaml(path, BerScenario)
    try:
        cls = registry.resolve("channels", scenario.channel.name, path.parent)
        cls.Options.model_validate(scenario.channel.options)
    except (registry.PluginError, ValidationError) as err:
        raise ScenarioError(str(path), [("channel", str(err))]) from None
    return scenario


class UncodedLink:
    """QAM alone, hard max-log decisions: the uncoded reference chain."""

    def __init__(self, modulation: str, n_symbols: int):
        from sionna.phy.mapping import Demapper, Mapper

        kind, self.m = MODULATIONS[modulation]
        self.payload_bits = n_symbols * self.m
        self._map = Mapper(kind, self.m)
        self._demap = Demapper("maxlog", kind, self.m, hard_out=True)

    def encode(self, bits: torch.Tensor) -> torch.Tensor:
        return self._map(bits).to(torch.complex64)

    def decode(self, rx: Received) -> tuple[torch.Tensor, torch.Tensor]:
        bits = self._demap(rx.symbols / rx.gain, (rx.noise_var / rx.gain.square()).clamp_min(1e-10))
        return bits, torch.ones(bits.shape[0], 1, dtype=torch.bool)


def build_chain(spec: ChainSpec) -> DigitalLink | UncodedLink:
    if not spec.coded:
        return UncodedLink(spec.modulation, spec.symbols)
    return DigitalLink(MCS(spec.modulation, spec.code_rate), spec.symbols, spec.decoder,
                       spec.iterations)


def simulate_point(chain, channel, snr_db: float, stop: StopSpec, seed: int,
                   key: str) -> dict[str, Any]:
    """Monte Carlo at one Es/N0 until the stopping rule; returns counts and rates."""
    bits_total = bit_errors = blocks = block_errors = 0
    batch_index = 0
    while block_errors < stop.block_errors and blocks < stop.max_blocks:
        g = seeding.generator(seed, key, f"{snr_db:g}", batch_index)
        n = min(stop.batch, stop.max_blocks - blocks)
        bits = torch.randint(0, 2, (n, chain.payload_bits), generator=g).float()
        decoded, _ = chain.decode(channel.transmit(chain.encode(bits), snr_db, g))
        wrong = decoded.float() != bits
        bits_total += wrong.numel()
        bit_errors += int(wrong.sum())
        blocks += n
        block_errors += int(wrong.any(dim=1).sum())
        batch_index += 1
    return {"bits": bits_total, "bit_errors": bit_errors, "ber": bit_errors / bits_total,
            "blocks": blocks, "block_errors": block_errors, "bler": block_errors / blocks}


def run_ber(path: str | Path, output: str | Path | None = None, progress: bool = True) -> Path:
    scenario = load(path)
    root = Path(output or scenario.output or Path("results") / scenario.name)
    csv_path = root / "ber.csv"
    rows = read_csv(csv_path) if csv_path.exists() else []
    done = {(r["chain"], r["esno_db"]) for r in rows}
    channel_cls = registry.resolve("channels", scenario.channel.name, Path(path).parent)
    channel = channel_cls(channel_cls.Options.model_validate(scenario.channel.options))
    for spec in scenario.chains:
        chain = build_chain(spec)
        info_per_symbol = chain.payload_bits / spec.symbols
        below_floor = [r["esno_db"] for r in rows
                       if r["chain"] == spec.label and r["bler"] < scenario.stop.bler_floor]
        for snr in sorted(scenario.snr_db):
            if below_floor and snr > min(below_floor):
                break                                   # the sweep of this chain has ended
            if (spec.label, float(snr)) in done:
                continue
            point = simulate_point(chain, channel, snr, scenario.stop, scenario.seed, spec.label)
            rows.append({"chain": spec.label, "modulation": spec.modulation,
                         "code_rate": spec.code_rate if spec.coded else 1.0,
                         "esno_db": float(snr),
                         "ebno_db": snr - 10 * math.log10(info_per_symbol), **point})
            write_text(csv_path, to_csv(rows))
            if progress:
                print(f"{spec.label:24s} Es/N0 {snr:6.2f} dB  BER {point['ber']:.3e}  "
                      f"BLER {point['bler']:.3e}  ({point['blocks']} blocks)", flush=True)
            if point["bler"] < scenario.stop.bler_floor:
                break
    plot_ber(root, rows)
    return root


def plot_ber(root: Path, rows: list[dict[str, Any]]) -> list[Path]:
    """BER and BLER against Es/N0 and Eb/N0 (log scale; zero-error points left out)."""
    paths = []
    for axis, xlabel in (("esno_db", "$E_s/N_0$ [dB]"), ("ebno_db", "$E_b/N_0$ [dB]")):
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        for ax, y in zip(axes, ("ber", "bler")):
            for chain in dict.fromkeys(r["chain"] for r in rows):
                line = sorted((r for r in rows if r["chain"] == chain and r[y] > 0),
                              key=lambda r: r[axis])
                ax.semilogy([r[axis] for r in line], [r[y] for r in line], marker="o", ms=3,
                            label=chain)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(y.upper())
            ax.grid(True, which="both", alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        for suffix in ("png", "pdf"):
            path = root / "plots" / f"ber_bler_vs_{axis}.{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=130)
            paths.append(path)
        plt.close(fig)
    return paths
