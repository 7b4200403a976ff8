"""Which allocation table helps BriGSC's decoder: PSNR of val scenes sent through a trained
BriGSC encoder and decoder at equal values (the table's channel uses not counted), with the
table read from the encoder's attention, its opposite half, a random table, the patches' pixel
variance, the cells the uniform link reconstructs worst, or no table (equal shares).

    python benchmarks/brigsc_allocation.py runs/brigsc-scenes64/plain/last.pt

The argument is a BriGSC stage's last.pt (a run folder of `gscsim train brigsc`); the plain
stage's decoder runs without its SNR ModNets, a later stage's with them. The table on
docs/transceivers/brigsc.md came from the plain stage's last step. The link with the table
counted is a scenario instead (`brigsc` with `allocation: saliency | detail | uniform`).
"""
from __future__ import annotations

import argparse

import torch

from gscsim.baselines.brigsc.model import (
    BriGSC,
    BriGSCConfig,
    allocate,
    detail_saliency,
    saliency_table,
    shrink,
    token_weights,
    top_half,
    widen,
)
from gscsim.conventions import real_awgn, unit_mean_square
from gscsim.data.scenes.shards import SceneSplit

POINTS = ((146, 10.0), (146, 1.0), (512, 10.0), (512, 1.0))   # (values, SNR dB): CBR 0.006, 1/48


@torch.no_grad()
def decode(model: BriGSC, images: torch.Tensor, table: torch.Tensor | None, values: int,
           snr_db: float, adaptive: bool) -> torch.Tensor:
    """Images [B, 3, S, S] through the encoder, `values` values shared by `table` (None:
    equally), AWGN on the values sent (fixed seed), the decoder -> [B, 3, S, S] in [0, 1]."""
    snr = torch.full((len(images),), snr_db)
    tokens, _ = model.encoder(images, snr, adaptive)
    sizes = allocate(token_weights(table, model.cfg, len(images)), values,
                     model.cfg.token_values)
    sent = unit_mean_square(shrink(tokens, sizes))
    received = real_awgn(sent, snr, torch.Generator().manual_seed(0))
    return model.decoder(widen(received, sizes, model.cfg.token_values), snr,
                         adaptive).clamp(0, 1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((-10 * torch.log10((a - b).square().flatten(1).mean(1))).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", help="a BriGSC stage's last.pt")
    parser.add_argument("--count", type=int, default=256, help="val scenes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    state = torch.load(args.stage, map_location="cpu", weights_only=True)
    cfg = BriGSCConfig(**state["identity"]["config"]["model"])
    model = BriGSC(cfg)
    model.load_state_dict(state["modules"]["brigsc"])
    model.eval()
    adaptive = "plain" not in args.stage
    images = SceneSplit("val", args.count, cfg.image_size, False).images.float() / 255
    with torch.no_grad():
        _, attention = model.encoder(images, torch.zeros(len(images)), adaptive)
    random = torch.rand(len(images), cfg.tokens, generator=torch.Generator().manual_seed(1))
    tables = {"uniform": None, "attention": saliency_table(attention, cfg.side),
              "opposite half": ~saliency_table(attention, cfg.side),
              "random": saliency_table(random, cfg.side),
              "pixel variance": saliency_table(detail_saliency(images), cfg.side)}
    print(f"{args.stage}: step {state['step']}, {len(images)} val scenes, PSNR (dB)")
    print("| values | SNR | " + " | ".join(tables) + " | worst cells of the uniform link |")
    print("|---" * (len(tables) + 3) + "|")
    for values, snr in POINTS:
        uniform = decode(model, images, None, values, snr, adaptive)
        cell_error = (uniform - images).square().sum(1).view(
            len(images), cfg.side // 2, 16, cfg.side // 2, 16).sum((2, 4)).flatten(1)
        row = [psnr(decode(model, images, t, values, snr, adaptive), images)
               for t in tables.values()]
        row.append(psnr(decode(model, images, top_half(cell_error), values, snr, adaptive),
                        images))
        print(f"| {values} | {snr:g} dB | " + " | ".join(f"{v:.2f}" for v in row) + " |")


if __name__ == "__main__":
    main()
