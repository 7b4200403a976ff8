"""Per-frame image quality metrics on 8-bit images: PSNR, SSIM, MS-SSIM (pytorch-msssim).

Both images are quantised to 8 bits first (round(255 x), clipped), like real image files.
SSIM and MS-SSIM hand pytorch-msssim channels-last tensors: its depthwise Gaussian
convolutions then run on oneDNN's NHWC kernels, 7-10x faster on this CPU than on NCHW input,
with the same values to 1e-7 (tests/test_datasets_metrics.py holds them to the NCHW call and to
scikit-image; benchmarks/metrics_speed.py measures the ratio).
"""
from __future__ import annotations

from typing import ClassVar

import torch
from pytorch_msssim import ms_ssim, ssim

from gscsim.plugins import Metric


def to_8bit(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """float [B, 3, H, W] in [0, 1] -> [B, 3, H, W] of `dtype` holding the integers 0..255."""
    return torch.round(images.detach().float().clamp(0.0, 1.0) * 255.0).to(dtype)


def _nhwc(images: torch.Tensor) -> torch.Tensor:
    """8-bit float images in channels-last memory (same values and shape [B, 3, H, W])."""
    return to_8bit(images).contiguous(memory_format=torch.channels_last)


class PSNR(Metric):
    """Peak signal-to-noise ratio of 8-bit RGB, per image, in dB (inf for identical images)."""

    unit: ClassVar[str] = "dB"

    def __call__(self, reference: torch.Tensor, received: torch.Tensor) -> torch.Tensor:
        diff = to_8bit(reference, torch.float64) - to_8bit(received, torch.float64)
        mse = diff.square().flatten(1).mean(dim=1)
        return 10.0 * torch.log10(255.0 ** 2 / mse)


class SSIM(Metric):
    """Structural similarity (Gaussian window 11, sigma 1.5) of 8-bit RGB, per image."""

    def __call__(self, reference: torch.Tensor, received: torch.Tensor) -> torch.Tensor:
        return ssim(_nhwc(reference), _nhwc(received), data_range=255.0,
                    size_average=False).double()


class MSSSIM(Metric):
    """Multi-scale SSIM (5 scales) of 8-bit RGB, per image; needs images larger than 160 px."""

    min_side: ClassVar[int] = 161

    def __call__(self, reference: torch.Tensor, received: torch.Tensor) -> torch.Tensor:
        if min(reference.shape[-2:]) < self.min_side:
            raise ValueError(f"ms_ssim needs images of at least {self.min_side}x{self.min_side} "
                             f"pixels (5 scales, window 11); got {tuple(reference.shape[-2:])}: "
                             f"use ssim for smaller images or a larger dataset size")
        return ms_ssim(_nhwc(reference), _nhwc(received), data_range=255.0,
                       size_average=False).double()
