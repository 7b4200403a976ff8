"""Side information sent as QPSK with a repetition code: the bit sequence is sent R times over
(Gray QPSK, one bit per real axis), and the receiver adds the R copies' soft values weighted by
the channel (maximum-ratio combining) before deciding. What SoftCast's chunk variances and
BriGSC's allocation table travel on."""
from __future__ import annotations

import math

import numpy as np
import torch

from gscsim.plugins import Received


def symbols_for(bits: int, repetition: int) -> int:
    """Channel uses of `bits` bits repeated `repetition` times."""
    return math.ceil(bits * repetition / 2)


def encode_bits(bits: np.ndarray, repetition: int) -> torch.Tensor:
    """bits int {0, 1} [B, n] -> complex64 [B, ceil(n R / 2)] of unit power."""
    coded = np.tile(bits, repetition)
    if coded.shape[1] % 2:
        coded = np.pad(coded, ((0, 0), (0, 1)))
    amplitude = (1.0 - 2.0 * coded) / math.sqrt(2.0)
    return torch.from_numpy(amplitude[:, 0::2] + 1j * amplitude[:, 1::2]).to(torch.complex64)


def soft_bits(rx: Received, n_bits: int, repetition: int) -> np.ndarray:
    """The repetitions of `n_bits` bits soft-combined -> float [B, n_bits], proportional to
    each bit's log-likelihood ratio (positive: 0 more likely)."""
    weighted = (rx.symbols * rx.gain / rx.noise_var.clamp_min(1e-12)).cpu().numpy()
    soft = np.stack([weighted.real, weighted.imag], axis=-1).reshape(weighted.shape[0], -1)
    return soft[:, : n_bits * repetition].reshape(-1, repetition, n_bits).sum(axis=1)


def decode_bits(rx: Received, n_bits: int, repetition: int) -> np.ndarray:
    """Soft-combine the repetitions of `n_bits` bits -> int64 {0, 1} [B, n_bits]."""
    return (soft_bits(rx, n_bits, repetition) < 0).astype(np.int64)
