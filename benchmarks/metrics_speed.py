"""Time of every per-frame metric, and of FID/KID, on this machine, in one run.

    python benchmarks/metrics_speed.py [--frames 36] [--size 256] [--batch 9] [--threads 1]

The frames are the `samples` photos (cycled) against noisy copies, scored in batches as a sweep
scores them. Reported per frame: PSNR, SSIM and MS-SSIM as gscsim computes them (channels-last
input to pytorch-msssim) beside the plain NCHW pytorch-msssim call, with the ratio and the
largest difference; LPIPS with the reference features computed afresh and reused (as every
trial after the first of a sweep does); the Inception features and FID/KID.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from pytorch_msssim import ms_ssim, ssim

from gscsim.data.datasets import SamplePhotos
from gscsim.metrics import lpips as lpips_module
from gscsim.metrics.fid import frechet_distance, inception_features, kernel_inception_distance
from gscsim.metrics.pixel import MSSSIM, PSNR, SSIM, to_8bit


def per_frame_ms(fn, batches, repeats: int = 3) -> tuple[float, torch.Tensor]:
    """Median over `repeats` of the time to score every batch, in ms per frame; the values."""
    fn(*batches[0])                                            # warm-up (weights, kernels)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        values = torch.cat([fn(a, b) for a, b in batches])
        times.append(time.perf_counter() - started)
    frames = sum(len(a) for a, _ in batches)
    return 1000 * float(np.median(times)) / frames, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=36)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a sweep's "
                        "local default is 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ds = SamplePhotos(SamplePhotos.Options(size=args.size))
    ref = torch.stack([ds[i % len(ds)].image for i in range(args.frames)])
    g = torch.Generator().manual_seed(0)
    rec = (ref + 0.05 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
    batches = list(zip(ref.split(args.batch), rec.split(args.batch)))

    def reference_ssim(a, b):
        return ssim(to_8bit(a), to_8bit(b), data_range=255.0, size_average=False).double()

    def reference_ms_ssim(a, b):
        return ms_ssim(to_8bit(a), to_8bit(b), data_range=255.0, size_average=False).double()

    lpips = lpips_module.LPIPSAlex()

    def lpips_fresh(a, b):
        lpips_module.REFERENCE_FEATURES.entries.clear()
        lpips_module.REFERENCE_FEATURES.bytes = 0
        return lpips(a, b)

    rows = {}
    for name, fn in [("PSNR", PSNR()), ("SSIM (gscsim)", SSIM()),
                     ("SSIM (pytorch-msssim, NCHW)", reference_ssim),
                     ("MS-SSIM (gscsim)", MSSSIM()),
                     ("MS-SSIM (pytorch-msssim, NCHW)", reference_ms_ssim),
                     ("LPIPS, reference features computed", lpips_fresh),
                     ("LPIPS, reference features reused", lpips)]:
        rows[name] = per_frame_ms(fn, batches)
    print(f"{args.frames} frames at {args.size}x{args.size}, batches of {args.batch}, "
          f"{torch.get_num_threads()} torch threads")
    for name, (ms, _) in rows.items():
        print(f"  {name:38s} {ms:8.2f} ms/frame")
    for metric in ("SSIM", "MS-SSIM"):
        ours, theirs = rows[f"{metric} (gscsim)"], rows[f"{metric} (pytorch-msssim, NCHW)"]
        print(f"  {metric}: {theirs[0] / ours[0]:.1f}x faster than the NCHW call, largest "
              f"difference {float((ours[1] - theirs[1]).abs().max()):.1e}")
    inception_features(ref[:2])
    started = time.perf_counter()
    real = inception_features(ref)
    fake = inception_features(rec)
    t_inception = (time.perf_counter() - started) / (2 * args.frames)
    started = time.perf_counter()
    fid, kid = frechet_distance(real, fake), kernel_inception_distance(real, fake)
    t_stats = time.perf_counter() - started
    print(f"  Inception features                     {1000 * t_inception:8.2f} ms/frame "
          f"(the references once per dataset: cached on disk)")
    print(f"  FID + KID from features                {1000 * t_stats:8.2f} ms per trial "
          f"(FID {fid:.1f}, KID {kid:.4f} over {args.frames} frames)")


if __name__ == "__main__":
    main()
