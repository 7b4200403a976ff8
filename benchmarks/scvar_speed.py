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


def seconds_per_batch(model, vae, params, depth, kv_cache: bool, repeats: int,
                      bf16: bool) -> float:
    """Median wall time of one batched generation (s)."""
    times = []
    for _ in range(repeats + 1):                      # the first run warms up and is dropped
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model.sample(vae, params, depth, top_k=1, kv_cache=kv_cache)
        times.append(time.perf_counter() - start)
    times = sorted(times[1:])
    return times[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="scvar-scenes64")
    parser.add_argument("--repeats", type=int, default=5)
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
        cached = seconds_per_batch(model, vae, params, depth, True, args.repeats, args.bf16)
        full = seconds_per_batch(model, vae, params, depth, False, args.repeats, args.bf16)
        for name, t in (("yes", cached), ("no", full)):
            speedup = f"{full / cached:.2f}x" if name == "yes" else ""
            print(f"| {batch} | {name} | {t / batch:.4f} | {batch / t:.1f} | {speedup} |")


if __name__ == "__main__":
    main()
