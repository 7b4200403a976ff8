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


def noise_variance(snr_db: float | torch.Tensor) -> float | torch.Tensor:
    """Complex noise variance N0 for unit-power symbols at Es/N0 = `snr_db` dB (a float, or a
    tensor of SNRs giving a tensor of variances)."""
    return 10.0 ** (-snr_db / 10.0)


def complex_noise(shape: tuple[int, ...], variance: float | torch.Tensor,
                  generator: torch.Generator | None, device: torch.device | str = "cpu"
                  ) -> torch.Tensor:
    """Circularly symmetric complex Gaussian noise CN(0, variance), complex64 of `shape`:
    variance/2 per real axis (`variance` a float or a tensor that broadcasts to `shape`)."""
    # torch.randn with a complex dtype draws real and imaginary parts of variance 1/2 each.
    unit = torch.randn(shape, dtype=SYMBOL_DTYPE, generator=generator, device=device)
    if isinstance(variance, torch.Tensor):
        return unit * variance.sqrt()
    return unit * (variance ** 0.5)


def real_awgn(values: torch.Tensor, snr_db: torch.Tensor, generator: torch.Generator | None,
              power: torch.Tensor | None = None) -> torch.Tensor:
    """The real-valued view of the AWGN channel, used where a model is trained through it:
    real values [B, ...] sent in pairs as complex symbols at Es/N0 snr_db [B] (dB) come back
    with Gaussian noise of variance power x 10^(-snr/10) per real value, `power` [B] being
    their mean square (1 when None: values already normalised to unit mean square)."""
    variance = noise_variance(snr_db.float())
    if power is not None:
        variance = variance * power.float()
    std = variance.sqrt().view(-1, *([1] * (values.dim() - 1)))
    noise = torch.randn(values.shape, generator=generator, device=values.device)
    return values + (noise * std).to(values.dtype)


def pack_complex(values: torch.Tensor) -> torch.Tensor:
    """Real values [B, n] -> complex64 symbols [B, ceil(n/2)]: the first half of the values
    as real parts, the second half as imaginary parts (an odd n is padded with one zero).
    No scaling: a symbol's power is the sum of its two values' squares."""
    if values.shape[1] % 2:
        values = torch.nn.functional.pad(values, (0, 1))
    half = values.shape[1] // 2
    return torch.complex(values[:, :half].float(), values[:, half:].float()).to(SYMBOL_DTYPE)


def unpack_real(symbols: torch.Tensor) -> torch.Tensor:
    """Inverse of pack_complex: complex symbols [B, m] -> real values float [B, 2m]."""
    return torch.cat([symbols.real, symbols.imag], 1).float()


def to_symbols(values: torch.Tensor) -> torch.Tensor:
    """Real values of unit mean square [B, n] -> complex symbols of unit mean power
    [B, ceil(n/2)]: pack_complex scaled by 1/sqrt(2)."""
    return pack_complex(values) / math.sqrt(2)


def from_symbols(symbols: torch.Tensor) -> torch.Tensor:
    """Inverse of to_symbols on equalised received symbols [B, m] -> real values [B, 2m]. At
    Es/N0 = s dB each value is the sent one plus Gaussian noise of variance 10^(-s/10) (the
    real-valued view that real_awgn draws)."""
    return math.sqrt(2) * unpack_real(symbols)


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


def unit_mean_square(values: torch.Tensor, dim: int | tuple[int, ...] = -1) -> torch.Tensor:
    """Real values scaled to mean square 1 over `dim` (per row of [B, n] by default; per token
    with the token's axis). A learned encoder's output is normalised so before it is sent."""
    return values / values.square().mean(dim, keepdim=True).add(1e-12).sqrt()


def parse_ratio(value: float | int | str) -> float:
    """Accept 0.0208, 1/48 written as the string "1/48", or an int; return a float."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if "/" in text:
        num, den = text.split("/", 1)
        return float(num) / float(den)
    return float(text)
