"""PSNR of a SwinJSCC checkpoint on a folder of images over AWGN, per SNR and CBR.

    python benchmarks/swinjscc_eval.py CHECKPOINT [--images DIR] [--snr 1 10] [--cbr 1/48]
        [--device cuda]

Uses the model's own AWGN path (the same arithmetic as the `swinjscc` transceiver on the `awgn`
channel; tests/test_swinjscc.py checks the two agree) and its own float PSNR rather than the
engine's metrics, so it runs without Sionna or pytorch-msssim, e.g. on a GPU machine (torch,
pydantic, pyyaml, tqdm). Images default to the five Kodak photos (kodak5, 512x384).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from gscsim.baselines.swinjscc.model import channels_for
from gscsim.baselines.swinjscc.transceiver import load_model
from gscsim.conventions import parse_ratio
from gscsim.data.datasets import IMAGE_SUFFIXES, load_full


def evaluate(checkpoint: str, images: list[torch.Tensor], snrs: list[float], cbrs: list[float],
             device: str = "cpu", seed: int = 0) -> list[dict[str, float]]:
    model = load_model(checkpoint, device=device)
    rows = []
    for cbr in cbrs:
        for snr in snrs:
            g = torch.Generator(device).manual_seed(seed)
            psnrs = []
            for x in images:                  # one by one: photos may be portrait or landscape
                with torch.no_grad():
                    out = model(x[None].to(device), torch.full((1,), snr, device=device),
                                channels_for(cbr), generator=g).clamp(0, 1).cpu()
                psnrs.append(float(-10 * torch.log10(((out[0] - x) ** 2).mean())))
            rows.append({"cbr": cbr, "snr_db": snr, "psnr_db": sum(psnrs) / len(psnrs)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--images", help="image folder (default: kodak5)")
    parser.add_argument("--snr", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--cbr", nargs="+", default=["1/48"])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.images is None:
        from gscsim.data.datasets import kodak5_dir

        args.images = kodak5_dir()
    files = sorted(p for p in Path(args.images).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    images = [load_full(p) for p in files]
    for row in evaluate(args.checkpoint, images, args.snr, [parse_ratio(c) for c in args.cbr],
                        args.device):
        print(f"CBR {row['cbr']:.4f}  SNR {row['snr_db']:5.1f} dB  PSNR {row['psnr_db']:.2f} dB")


if __name__ == "__main__":
    main()
