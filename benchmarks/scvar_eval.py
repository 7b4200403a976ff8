"""SCVAR on the scene test split: PSNR, LPIPS, semantic_acc and FID of generations from clean depth
maps and captions, with and without the text parameters, and the grid figure of
docs/results/scvar.md.

    python benchmarks/scvar_eval.py [--checkpoint scvar-scenes64] [--count 300]
        [--top-k 1] [--top-p 0] [--temperature 1] [--cfg 0] [--grid docs/scvar_grid.png]
"""
from __future__ import annotations

import argparse
import textwrap
from dataclasses import replace

import torch

from gscsim.data.scenes.attributes import GROUPS
from gscsim.scvar.data import SceneTokens
from gscsim.scvar.evaluate import evaluate, generate
from gscsim.scvar.zoo import load_scvar


def draw_grid(path: str, data: SceneTokens, with_text: torch.Tensor,
              without_text: torch.Tensor, columns: int = 6) -> None:
    """Rows: depth map, original, generated with text, generated without text; the caption
    above each column."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("depth (m)", None), ("original", data.images[:columns].float() / 255),
            ("with text", with_text[:columns]), ("without text", without_text[:columns])]
    fig, axes = plt.subplots(len(rows), columns, figsize=(2.1 * columns, 2.0 * len(rows) + 1.2))
    for c in range(columns):
        axes[0, c].set_title("\n".join(textwrap.wrap(data.captions[c], 30)), fontsize=6.5)
        for r, (label, images) in enumerate(rows):
            ax = axes[r, c]
            if images is None:
                ax.imshow(data.depth[c, 0].float(), cmap="magma_r", vmin=0, vmax=30)
            else:
                ax.imshow(images[c].permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="scvar-scenes64")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--cfg", type=float)
    parser.add_argument("--no-fid", action="store_true")
    parser.add_argument("--grid", help="write the grid figure here (PNG)")
    args = parser.parse_args()
    model, text2para, vae, sampling = load_scvar(args.checkpoint)
    overrides = {"top_k": args.top_k, "top_p": args.top_p, "temperature": args.temperature,
                 "cfg_scale": args.cfg}
    sampling = replace(sampling, **{k: v for k, v in overrides.items() if v is not None})
    data = SceneTokens("test", args.count, vae, None, progress=False)
    print(f"{args.checkpoint}: {args.count} test scenes, sampling {sampling}")
    scores = evaluate(model, vae, text2para, data, args.count, sampling, fid=not args.no_fid)
    print("| condition | PSNR (dB) | LPIPS | semantic_acc | FID |\n|---|---|---|---|---|")
    for name, s in scores.items():
        fid = f"{s['fid']:.1f}" if "fid" in s else "-"
        print(f"| {name.replace('_', ' ')} | {s['psnr']:.2f} | {s['lpips']:.3f} | "
              f"{s['semantic_acc']:.3f} | {fid} |")
    print("\nsemantic_acc within each attribute group:\n| condition | "
          + " | ".join(GROUPS) + " |\n|---|" + "---|" * len(GROUPS))
    for name, s in scores.items():
        print(f"| {name.replace('_', ' ')} | "
              + " | ".join(f"{s[f'semantic_acc.{g}']:.3f}" for g in GROUPS) + " |")
    if args.grid:
        n = 6
        draw_grid(args.grid, data, generate(model, vae, text2para, data, n, sampling, True),
                  generate(model, vae, text2para, data, n, sampling, False), n)
        print(f"grid in {args.grid}")


if __name__ == "__main__":
    main()
