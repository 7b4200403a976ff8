"""What the depth stream costs TarGSC's generator: SCVAR from the clean caption and the true
depth map, the U-Net's estimate, and the estimate restored by the depth codec over AWGN.

Each row generates the first --count test scenes (greedy SCVAR, the clean text parameters) and
scores them against the originals: PSNR, LPIPS, semantic_acc and semantic_acc within each
attribute group. The gap between rows locates the loss: the U-Net, or the codec and channel.
The codec keeps the channels it keeps at CBR 1/48 beside the text (7 for targsc-scenes64).
The first row is also the floor of TarGSC's LPIPS: no link can give SCVAR better conditions.

    python benchmarks/targsc_depth_cost.py [--checkpoint targsc-scenes64] [--count 300]
        [--snr 10 1 -13]
"""
from __future__ import annotations

import argparse
from typing import Callable

import torch

from gscsim.data.scenes.attributes import GROUPS
from gscsim.scvar.data import SceneTokens
from gscsim.scvar.evaluate import generate, score
from gscsim.scvar.model import Sampling
from gscsim.targsc.depth import to_metres
from gscsim.targsc.train import depth_over_link, report_layouts
from gscsim.targsc.transceiver import load_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="targsc-scenes64")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--snr", type=float, nargs="+", default=[10.0, 1.0, -13.0])
    args = parser.parse_args()
    m = load_models(args.checkpoint)
    _, channels = report_layouts(m.config)["1/48"]          # a full map at 1/48
    data = SceneTokens("test", args.count, m.vae, None, progress=False)

    def images(rows: slice) -> torch.Tensor:
        return data.images[rows].float() / 255

    reference = images(slice(0, args.count))

    def over_link(snr: float) -> Callable[[slice], torch.Tensor]:
        def depth(rows: slice) -> torch.Tensor:
            x, g = images(rows), torch.Generator().manual_seed(1000 + rows.start)
            restored = depth_over_link(m.unet, m.codec, x, torch.full((len(x),), snr),
                                       channels, g)
            return to_metres(restored)
        return depth

    rows = {"true depth": None,
            "U-Net depth": lambda r: to_metres(m.unet(images(r))),
            **{f"U-Net + codec, {snr:g} dB, C = {channels}": over_link(snr)
               for snr in args.snr}}
    print(f"{args.checkpoint}: {args.count} test scenes, clean captions, greedy SCVAR")
    print("| depth map | PSNR (dB) | LPIPS | semantic_acc | " + " | ".join(GROUPS) + " |\n|---|"
          + "---|" * (3 + len(GROUPS)))
    for name, depth_of in rows.items():
        generated = generate(m.scvar, m.vae, m.text2para, data, args.count, Sampling(),
                             depth_of=depth_of)
        s = score(reference, generated, fid=False)
        print(f"| {name} | {s['psnr']:.2f} | {s['lpips']:.3f} | {s['semantic_acc']:.3f} | "
              + " | ".join(f"{s[f'semantic_acc.{g}']:.3f}" for g in GROUPS) + " |", flush=True)


if __name__ == "__main__":
    main()
