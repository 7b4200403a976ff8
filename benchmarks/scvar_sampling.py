"""How SCVAR should draw its tokens: greedy decoding against VAR's usual top-k/top-p sampling,
each with and without classifier-free guidance, on the same scene test frames and seeds, from
clean depth maps and captions (the generator alone, no link).

    python benchmarks/scvar_sampling.py [--checkpoint scvar-scenes64] [--count 300]

VAR's released demo samples with top-k 900 and top-p 0.95 from its 4096-entry codebook; the
same share of this codebook (1024 entries) is top-k 225. Guidance contrasts the conditions (text
parameters and depth) with the fully null condition, as in `SCVAR.sample`. Prints one markdown
table: PSNR, LPIPS, semantic_acc and FID over `count` frames, and seconds per frame.
"""
from __future__ import annotations

import argparse
import time

import torch

from gscsim.scvar.data import SceneTokens
from gscsim.scvar.evaluate import generate, score
from gscsim.scvar.model import Sampling
from gscsim.scvar.zoo import load_scvar

VAR_TOP_K = 225                   # VAR's 900 of 4096 entries, scaled to a 1024-entry codebook
SETTINGS = {
    "greedy (top-k 1)": Sampling(top_k=1),
    "greedy, guidance 1.5": Sampling(top_k=1, cfg_scale=1.5),
    "greedy, guidance 4": Sampling(top_k=1, cfg_scale=4.0),
    f"top-k {VAR_TOP_K}, top-p 0.95": Sampling(top_k=VAR_TOP_K, top_p=0.95),
    f"top-k {VAR_TOP_K}, top-p 0.95, guidance 1.5": Sampling(top_k=VAR_TOP_K, top_p=0.95,
                                                             cfg_scale=1.5),
    f"top-k {VAR_TOP_K}, top-p 0.95, guidance 4": Sampling(top_k=VAR_TOP_K, top_p=0.95,
                                                           cfg_scale=4.0),
    "top-k 10, temperature 0.7, guidance 1.5": Sampling(top_k=10, temperature=0.7,
                                                        cfg_scale=1.5),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="scvar-scenes64")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model, text2para, vae, shipped = load_scvar(args.checkpoint)
    data = SceneTokens("test", args.count, vae, None, progress=False)
    reference = data.images[:args.count].float() / 255
    print(f"{args.checkpoint} (ships {shipped}); {args.count} test scenes, clean depth and "
          f"caption, seed {args.seed}, {torch.get_num_threads()} threads")
    print("| sampling | PSNR (dB) | LPIPS | semantic_acc | FID | s / frame |")
    print("|---|---|---|---|---|---|")
    for name, sampling in SETTINGS.items():
        start = time.perf_counter()
        with torch.no_grad():
            images = generate(model, vae, text2para, data, args.count, sampling, True, args.seed)
        seconds = (time.perf_counter() - start) / args.count
        s = score(reference, images)
        print(f"| {name} | {s['psnr']:.2f} | {s['lpips']:.3f} | {s['semantic_acc']:.3f} | "
              f"{s['fid']:.1f} | {seconds:.3f} |", flush=True)


if __name__ == "__main__":
    main()
