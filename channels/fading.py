"""Flat fading (Rayleigh, Rician) with a receiver front-end.

The channel draws one coefficient h per coherence block of `coherence_symbols` symbols
(None: one per frame and stream, i.e. block fading over the whole frame; 1: fast fading),
E|h|^2 = 1. The receiver knows h exactly (`csi: perfect`) or estimates it by least squares from
`pilots_per_block` unit pilots sent in each block (`csi: pilots`; the pilots are channel uses and
count against the CBR budget). It then equalises with w = 1/h_hat (ZF) or
w = conj(h_hat) / (|h_hat|^2 + N0 + sigma_e^2) (MMSE), where sigma_e^2 = N0 / pilots is the
variance of the LS estimation error, and reports symbols = w*y = gain*x + e with
gain = w*h_hat and E|e|^2 = |w|^2 (N0 + sigma_e^2) as the receiver believes them.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gscsim.conventions import complex_noise, noise_variance
from gscsim.plugins import Channel, Received


class FadingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    coherence_symbols: int | None = Field(
        None, ge=1, description="symbols per fading block; None = one block per frame")
    csi: Literal["perfect", "pilots"] = Field("perfect", description=(
        "the receiver knows h, or estimates it from pilots (which cost channel uses)"))
    pilots_per_block: int = Field(4, ge=1, description="LS pilots per block when csi = pilots")
    equalizer: Literal["zf", "mmse"] = Field("zf", description="zero-forcing or MMSE")


class FlatFading(Channel):
    """Flat fading with K-factor `k_factor` (0: Rayleigh), receiver CSI and equalisation."""

    Options = FadingOptions
    k_factor: float = 0.0
    los_phase_rad: float = 0.0

    def _block_length(self, n: int) -> int:
        return n if self.options.coherence_symbols is None else self.options.coherence_symbols

    def overhead_symbols(self, n_payload: int) -> int:
        if self.options.csi != "pilots" or n_payload == 0:
            return 0
        return math.ceil(n_payload / self._block_length(n_payload)) * self.options.pilots_per_block

    def draw_coefficients(self, batch: int, n_blocks: int, generator: torch.Generator,
                          device: torch.device | str = "cpu") -> torch.Tensor:
        """Fading coefficients h, complex [batch, n_blocks], E|h|^2 = 1."""
        k = self.k_factor
        scatter = complex_noise((batch, n_blocks), 1.0 / (k + 1.0), generator, device)
        los = math.sqrt(k / (k + 1.0)) * complex(math.cos(self.los_phase_rad),
                                                 math.sin(self.los_phase_rad))
        return scatter + los

    def transmit(self, x: torch.Tensor, snr_db: float, generator: torch.Generator) -> Received:
        b, n = x.shape
        n0 = noise_variance(snr_db)
        length = self._block_length(n)
        n_blocks = math.ceil(n / length)
        h_blocks = self.draw_coefficients(b, n_blocks, generator, x.device)
        if self.options.csi == "pilots":
            p = self.options.pilots_per_block
            pilot_noise = complex_noise((b, n_blocks, p), n0, generator, x.device)
            h_hat_blocks = h_blocks + pilot_noise.mean(dim=-1)  # LS estimate from unit pilots
            err_var = n0 / p
        else:
            h_hat_blocks = h_blocks
            err_var = 0.0
        h = h_blocks.repeat_interleave(length, dim=1)[:, :n]
        h_hat = h_hat_blocks.repeat_interleave(length, dim=1)[:, :n]
        y = h * x + complex_noise((b, n), n0, generator, x.device)
        power = h_hat.abs().square()
        if self.options.equalizer == "zf":
            w = 1.0 / h_hat
        else:
            w = h_hat.conj() / (power + n0 + err_var)
        gain = (w * h_hat).real
        noise_var = w.abs().square() * (n0 + err_var)
        return Received(symbols=w * y, gain=gain.float(), noise_var=noise_var.float())


class RayleighBlock(FlatFading):
    """Rayleigh block fading: one h ~ CN(0,1) per frame (or per `coherence_symbols` block)."""


class FastOptions(FadingOptions):
    coherence_symbols: int | None = Field(1, ge=1, description="1 = a new h every symbol")

    @model_validator(mode="after")
    def _perfect_csi_only(self):
        if self.csi == "pilots" and self.coherence_symbols == 1:
            raise ValueError("csi: pilots needs coherence_symbols > 1 (fast fading cannot be "
                             "estimated from pilots); use csi: perfect or a longer coherence")
        return self


class RayleighFast(FlatFading):
    """Rayleigh fast fading: a new h ~ CN(0,1) every symbol (perfect CSI)."""

    Options = FastOptions


class RicianOptions(FadingOptions):
    k_factor: float = Field(3.0, ge=0, description="LoS-to-scatter power ratio (linear)")
    los_phase_deg: float = Field(0.0, description="phase of the line-of-sight path (degrees)")


class Rician(FlatFading):
    """Rician block fading with K factor `k_factor` (linear) and a fixed line-of-sight phase."""

    Options = RicianOptions

    def __init__(self, options=None):
        super().__init__(options)
        self.k_factor = self.options.k_factor
        self.los_phase_rad = math.radians(self.options.los_phase_deg)
