"""Time of the perceptual metrics on one 200-frame sweep point, on this machine.

    python benchmarks/metrics_speed.py [--frames 200] [--size 256]

The frames are the `samples` photos (cycled) against noisy copies. Reported: LPIPS (AlexNet),
the Inception features of the received frames, of the reference frames (once per dataset: they
are cached on disk), FID and KID from the features, and the totals per 1000 frames.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gscsim.data.datasets import SamplePhotos
from gscsim.metrics.fid import frechet_distance, inception_features, kernel_inception_distance
from gscsim.metrics.lpips import LPIPSAlex


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    ds = SamplePhotos(SamplePhotos.Options(size=args.size))
    ref = torch.stack([ds[i % len(ds)].image for i in range(args.frames)])
    g = torch.Generator().manual_seed(0)
    rec = (ref + 0.05 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
    lpips = LPIPSAlex()
    lpips(ref[:2], rec[:2])                                    # load weights before timing
    inception_features(ref[:2])
    _, t_lpips = timed(lambda: torch.cat([lpips(a, b) for a, b in zip(ref.split(16),
                                                                      rec.split(16))]))
    real, t_real = timed(lambda: inception_features(ref))
    fake, t_fake = timed(lambda: inception_features(rec))
    fid, t_fid = timed(lambda: frechet_distance(real, fake))
    kid, t_kid = timed(lambda: kernel_inception_distance(real, fake))
    per_k = 1000 / args.frames
    print(f"{args.frames} frames at {args.size}x{args.size}, {torch.get_num_threads()} threads")
    print(f"LPIPS (alex)                      {t_lpips:7.2f} s")
    print(f"Inception, received frames       {t_fake:7.2f} s")
    print(f"Inception, reference (cached once) {t_real:7.2f} s")
    print(f"FID from features                 {t_fid:7.2f} s   (FID {fid:.1f})")
    print(f"KID from features                 {t_kid:7.2f} s   (KID {kid:.4f})")
    total = t_lpips + t_fake + t_fid + t_kid
    print(f"per 1000 frames: LPIPS {t_lpips * per_k:.0f} s, Inception {t_fake * per_k:.0f} s, "
          f"all three {total * per_k:.0f} s (+{t_real * per_k:.0f} s once for the references)")
    assert np.isfinite(fid)


if __name__ == "__main__":
    main()
