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
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tqdm import tqdm

from gscsim import registry, seeding
from gscsim.io import ScenarioError, load_yaml, read_csv, to_csv, write_text
from gscsim.phy.digital import MCS, MODULATIONS, Decoder, DigitalLink
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
    decoder: Decoder = Field("bp-compiled", description=(
        "LDPC decoder: bp-compiled (numba, Sionna's decisions), bp-layered, bp (Sionna), "
        "offset-minsum, minsum"))
    iterations: int = Field(20, ge=1)


class StopSpec(_Strict):
    """When a point, and a chain's sweep, stop."""

    block_errors: int = Field(100, ge=1, description="a point stops after this many block "
                              "errors (the target errors)")
    max_blocks: int = Field(10_000, ge=1, description="... or after this many blocks")
    bler_floor: float = Field(1e-4, ge=0, description="a chain's sweep stops after the first "
                              "point whose BLER is below this")
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


def clopper_pearson(errors: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) two-sided interval of a binomial rate: errors of trials.
    With no error the lower end is 0 and the upper end is what the point can claim."""
    from scipy.stats import beta

    low = 0.0 if errors == 0 else float(beta.ppf((1 - level) / 2, errors, trials - errors + 1))
    high = 1.0 if errors == trials else float(beta.ppf((1 + level) / 2, errors + 1,
                                                      trials - errors))
    return low, high


def uncoded_ber(modulation: str, esno_db: float | np.ndarray) -> float | np.ndarray:
    """Closed-form BER of Gray-mapped uncoded modulation over AWGN at Es/N0 (dB): exact for
    BPSK and QPSK, the standard nearest-neighbour approximation for square M-QAM,
    (4 / log2 M)(1 - 1/sqrt M) Q(sqrt(3 Es/N0 / (M - 1))), tight from moderate SNR on."""
    from scipy.special import erfc

    esno = 10 ** (np.asarray(esno_db, dtype=np.float64) / 10)

    def q(x):
        return 0.5 * erfc(x / np.sqrt(2))

    bits = MODULATIONS[modulation][1]
    if bits == 1:
        return q(np.sqrt(2 * esno))
    if bits == 2:
        return q(np.sqrt(esno))
    m = 2 ** bits
    return np.minimum(0.5, 4 / bits * (1 - 1 / np.sqrt(m)) * q(np.sqrt(3 * esno / (m - 1))))


def simulate_point(chain, channel, snr_db: float, stop: StopSpec, seed: int,
                   key: str) -> dict[str, Any]:
    """Monte Carlo at one Es/N0 until the stopping rule; returns counts, rates and their
    Clopper-Pearson 95% intervals (the BER interval counts bits as independent trials: bit
    errors cluster in failed blocks, so it is narrower than the truth; the BLER one is
    exact)."""
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
    ber_low, ber_high = clopper_pearson(bit_errors, bits_total)
    bler_low, bler_high = clopper_pearson(block_errors, blocks)
    return {"bits": bits_total, "bit_errors": bit_errors, "ber": bit_errors / bits_total,
            "ber_low": ber_low, "ber_high": ber_high,
            "blocks": blocks, "block_errors": block_errors, "bler": block_errors / blocks,
            "bler_low": bler_low, "bler_high": bler_high}


def run_ber(path: str | Path, output: str | Path | None = None, progress: bool = True) -> Path:
    scenario = load(path)
    root = Path(output or scenario.output or Path("results") / scenario.name)
    csv_path = root / "ber.csv"
    rows = read_csv(csv_path) if csv_path.exists() else []
    done = {(r["chain"], r["esno_db"]) for r in rows}
    channel_cls = registry.resolve("channels", scenario.channel.name, Path(path).parent)
    channel = channel_cls(channel_cls.Options.model_validate(scenario.channel.options))
    bar = tqdm(total=len(scenario.chains) * len(scenario.snr_db), unit="point",
               desc=scenario.name, disable=not progress)
    for spec in scenario.chains:
        chain = build_chain(spec)
        info_per_symbol = chain.payload_bits / spec.symbols
        below_floor = [r["esno_db"] for r in rows
                       if r["chain"] == spec.label and r["bler"] < scenario.stop.bler_floor]
        for snr in sorted(scenario.snr_db):
            bar.update(1)
            if below_floor and snr > min(below_floor):
                continue                                # the sweep of this chain has ended
            if (spec.label, float(snr)) in done:
                continue
            point = simulate_point(chain, channel, snr, scenario.stop, scenario.seed, spec.label)
            rows.append({"chain": spec.label, "modulation": spec.modulation,
                         "code_rate": spec.code_rate if spec.coded else 1.0,
                         "esno_db": float(snr),
                         "ebno_db": snr - 10 * math.log10(info_per_symbol), **point})
            write_text(csv_path, to_csv(rows))
            if progress:
                bar.write(f"{spec.label:24s} Es/N0 {snr:6.2f} dB  BER {point['ber']:.3e}  "
                          f"BLER {point['bler']:.3e} [{point['bler_low']:.1e}, "
                          f"{point['bler_high']:.1e}]  ({point['blocks']} blocks)")
            if point["bler"] < scenario.stop.bler_floor:
                below_floor = [snr]
    bar.close()
    plot_ber(root, rows, scenario)
    return root


def plot_ber(root: Path, rows: list[dict[str, Any]], scenario: BerScenario | None = None
             ) -> list[Path]:
    """BER and BLER against Es/N0 and Eb/N0 on log axes: each point with its 95% interval,
    points without an error drawn as their upper bound (a downward triangle at the
    Clopper-Pearson limit), and the closed-form uncoded BER of each modulation dashed beside."""
    paths = []
    modulations = sorted({r["modulation"] for r in rows})
    for axis, xlabel in (("esno_db", "$E_s/N_0$ [dB]"), ("ebno_db", "$E_b/N_0$ [dB]")):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, y in zip(axes, ("ber", "bler")):
            for i, chain in enumerate(dict.fromkeys(r["chain"] for r in rows)):
                colour = f"C{i}"
                line = sorted((r for r in rows if r["chain"] == chain), key=lambda r: r[axis])
                hits = [r for r in line if r[y] > 0]
                low = [r[y] - r.get(f"{y}_low", r[y]) for r in hits]
                high = [r.get(f"{y}_high", r[y]) - r[y] for r in hits]
                ax.errorbar([r[axis] for r in hits], [r[y] for r in hits], yerr=[low, high],
                            marker="o", ms=3, capsize=2, color=colour, label=chain)
                bounds = [r for r in line if r[y] == 0 and f"{y}_high" in r]
                if bounds:
                    ax.plot([r[axis] for r in bounds], [r[f"{y}_high"] for r in bounds], "v",
                            color=colour, ms=6, mfc="none")
            if y == "ber" and axis == "esno_db":
                xs = np.linspace(min(r[axis] for r in rows), max(r[axis] for r in rows), 100)
                for modulation in modulations:
                    ax.semilogy(xs, uncoded_ber(modulation, xs), "--", color="0.5", lw=1,
                                label=f"uncoded {modulation} (closed form)")
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{y.upper()} (lower is better)")
            ax.grid(True, which="both", alpha=0.3)
        handles, labels = axes[0].get_legend_handles_labels()
        handles.append(plt.Line2D([], [], marker="v", ls="none", mfc="none", color="k"))
        labels.append("no error: 95% upper bound")
        fig.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        note = "error bars: Clopper-Pearson 95% intervals"
        if scenario is not None:
            note += (f"; a point stops at {scenario.stop.block_errors} block errors or "
                     f"{scenario.stop.max_blocks} blocks")
        fig.text(0.5, 0.0, note, ha="center", va="top", fontsize=8, color="0.3")
        fig.tight_layout()
        for suffix in ("png", "pdf"):
            path = root / "plots" / f"ber_bler_vs_{axis}.{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=130, bbox_inches="tight")
            paths.append(path)
        plt.close(fig)
    return paths
