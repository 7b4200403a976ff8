"""The conventions every part of gscsim shares, written down once.

* Channel symbols are complex64 tensors of shape [B, N].
* Every stream is normalised to unit average power per complex symbol (P = 1).
* SNR is Es/N0 in dB, so the complex noise variance is N0 = 10^(-SNR/10), half per real dimension.
* CBR = (complex channel uses) / (3*H*W real source values), counting every symbol sent.
"""
from __future__ import annotations

import math

import torch

SYMBOL_DTYPE = torch.complex64


def noise_variance(snr_db: float) -> float:
    """Complex noise variance N0 for unit-power symbols at Es/N0 = `snr_db` dB."""
    return 10.0 ** (-snr_db / 10.0)


def source_values(image_shape: tuple[int, int, int]) -> int:
    """Number of real source values of one image [C, H, W] (the CBR denominator)."""
    c, h, w = image_shape
    return c * h * w


def symbol_budget(cbr: float, image_shape: tuple[int, int, int]) -> int:
    """Largest number of complex channel uses allowed per image at bandwidth ratio `cbr`."""
    return int(math.floor(cbr * source_values(image_shape) + 1e-9))


def achieved_cbr(n_symbols: int, image_shape: tuple[int, int, int]) -> float:
    """CBR actually used by `n_symbols` complex channel uses for one image."""
    return n_symbols / source_values(image_shape)


def average_power(x: torch.Tensor) -> torch.Tensor:
    """Mean power per complex symbol of each row of `x` [B, N] -> [B] (float)."""
    return x.abs().square().mean(dim=-1)


def normalize_power(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Scale each row of `x` [B, N] to unit average power per complex symbol."""
    p = average_power(x)
    return x / torch.sqrt(p.clamp_min(eps)).unsqueeze(-1)


def parse_ratio(value: float | int | str) -> float:
    """Accept 0.0208, 1/48 written as the string "1/48", or an int; return a float."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if "/" in text:
        num, den = text.split("/", 1)
        return float(num) / float(den)
    return float(text)
