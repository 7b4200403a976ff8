"""Measure, for every MCS of gscsim.phy.digital.MCS_TABLE, the AWGN Es/N0 at which a frame of the
digital link (CRC + 5G LDPC + QAM, BP, 20 iterations) fails with probability 10%, and write the
table the adaptive MCS of the separation transceivers reads.

    python benchmarks/mcs_thresholds.py [--symbols 4096] [--frames 48] [--out FILE]

Bisection over Es/N0 between the Shannon limit of the MCS's spectral efficiency and 6 dB above
it, 6 halvings (0.1 dB), `frames` frames per probe, all draws seeded.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from gscsim.channels.awgn import AWGN
from gscsim.phy.digital import MCS_TABLE, DigitalLink

OUT = Path(__file__).resolve().parents[1] / "baselines" / "data" / "mcs_awgn.json"


def frame_error_rate(link: DigitalLink, snr_db: float, frames: int, seed: int) -> float:
    g = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (frames, link.payload_bits), generator=g).float()
    _, ok = link.decode(AWGN().transmit(link.encode(bits), snr_db, g))
    return float((~ok.all(dim=1)).float().mean())


def threshold(link: DigitalLink, frames: int, target: float = 0.1) -> float:
    shannon = 10 * math.log10(2 ** link.mcs.spectral_efficiency - 1)
    lo, hi = shannon, shannon + 6.0
    for step in range(6):
        mid = (lo + hi) / 2
        if frame_error_rate(link, mid, frames, seed=step) > target:
            lo = mid
        else:
            hi = mid
    return hi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=4096)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    started = time.time()
    table = []
    for mcs in MCS_TABLE:
        link = DigitalLink(mcs, args.symbols)
        snr = threshold(link, args.frames)
        table.append({"modulation": mcs.modulation, "code_rate": mcs.code_rate,
                      "esno_db_at_fer_0.1": round(snr, 3),
                      "shannon_esno_db": round(
                          10 * math.log10(2 ** mcs.spectral_efficiency - 1), 3)})
        print(f"{mcs.label:14s} {snr:6.2f} dB  ({time.time() - started:5.0f} s)", flush=True)
    card = {"command": f"python benchmarks/mcs_thresholds.py --symbols {args.symbols} "
                       f"--frames {args.frames}",
            "channel": "AWGN", "decoder": "bp, 20 iterations, APP demapping",
            "symbols_per_frame": args.symbols, "frames_per_probe": args.frames,
            "wall_s": round(time.time() - started), "thresholds": table}
    args.out.write_text(json.dumps(card, indent=2) + "\n")


if __name__ == "__main__":
    main()
