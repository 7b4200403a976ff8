"""SCVAR generation speed on this machine: seconds per image and images per second at batch 1
and 16, with the KV cache and with full recomputation of the prefix at every scale, measured
side by side in one run (ratios are what to compare: these machines are shared and noisy).

    python benchmarks/scvar_speed.py [--checkpoint scvar-scenes64] [--repeats 5] [--bf16]

Greedy decoding, no guidance (the shipped default); the output images are the same with and
without the cache (tests/test_scvar.py checks that).
"""
from __future__ import annotations

import argparse
import time

import torch

from gscsim.scvar.zoo import load_scvar


def median_seconds(model, vae, params, depth, repeats: int, bf16: bool) -> dict[bool, float]:
    """Median wall time (s) of one batched generation with (True) and without (False) the KV
    cache; the two alternate run by run, so drifts in machine load hit both alike."""
    times: dict[bool, list[float]] = {True: [], False: []}
    for r in range(repeats + 1):                      # the first round warms up and is dropped
        for kv_cache in (True, False):
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                model.sample(vae, params, depth, top_k=1, kv_cache=kv_cache)
            if r:
                times[kv_cache].append(time.perf_counter() - start)
    return {k: sorted(v)[len(v) // 2] for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="scvar-scenes64")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    args = parser.parse_args()
    model, text2para, vae, _ = load_scvar(args.checkpoint)
    side = model.scfg.image_size
    print(f"SCVAR {args.checkpoint}, {torch.get_num_threads()} threads, "
          f"{'bf16' if args.bf16 else 'fp32'}, greedy")
    print("| batch | KV cache | s / image | images / s | cache speed-up |")
    print("|---|---|---|---|---|")
    for batch in (1, 16):
        g = torch.Generator().manual_seed(0)
        depth = 4 + 20 * torch.rand(batch, 1, side, side, generator=g)
        with torch.no_grad():
            params = text2para(torch.nn.functional.normalize(
                torch.randn(batch, 384, generator=g), dim=-1))
        median = median_seconds(model, vae, params, depth, args.repeats, args.bf16)
        cached, full = median[True], median[False]
        for name, t in (("yes", cached), ("no", full)):
            speedup = f"{full / cached:.2f}x" if name == "yes" else ""
            print(f"| {batch} | {name} | {t / batch:.4f} | {batch / t:.1f} | {speedup} |")


if __name__ == "__main__":
    main()
