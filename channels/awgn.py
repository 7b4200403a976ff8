"""Additive white Gaussian noise, the core channel of every figure."""
from __future__ import annotations

import torch

from gscsim.conventions import complex_noise, noise_variance
from gscsim.plugins import Channel, Received


class AWGN(Channel):
    """AWGN: y = x + n, n ~ CN(0, N0), N0 = 10^(-SNR/10) for unit-power x."""

    def transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator) -> Received:
        n0 = noise_variance(snr_db)
        y = x + complex_noise(tuple(x.shape), n0, generator, x.device)
        ones = torch.ones(x.shape, dtype=torch.float32, device=x.device)
        return Received(symbols=y, gain=ones, noise_var=ones * n0)
