"""Bounds of separate coding over AWGN, as transceivers to plot beside real ones.

Both are genies: the receiver gets the codec's file at the byte budget the bound allows, with
no channel noise involved; they send their full symbol budget as unit-power placeholders so the
CBR accounting is that of a real link. For k complex channel uses at SNR g (linear):

* `codec_capacity` (ideal separation): k * C bits, C = log2(1 + g).
* `codec_ppv` (finite blocklength, normal approximation of Polyanskiy, Poor and Verdu 2010, one
  code block of k channel uses, block error probability eps):
  k*C - sqrt(k*V) * Qinv(eps) + log2(k)/2 bits, V = g(g+2)/(g+1)^2 * log2(e)^2;
  the frame is lost (mid-grey) with probability eps, drawn from the trial's generator.

They bound AWGN links; over fading they are AWGN references at the nominal SNR, not bounds.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import norm

from gscsim.baselines.codecs import CODECS, from_pixels, to_pixels
from gscsim.plugins import Batch, Decoded, LinkContext, Received, Transceiver


def capacity_bits(k: int, snr_db: float) -> float:
    """k * log2(1 + SNR): bits k complex AWGN channel uses carry at capacity."""
    return k * math.log2(1 + 10 ** (snr_db / 10))


def normal_approximation_bits(k: int, snr_db: float, eps: float) -> float:
    """Normal approximation of the largest log2 M at blocklength k (complex uses), error eps."""
    g = 10 ** (snr_db / 10)
    dispersion = g * (g + 2) / (g + 1) ** 2 * math.log2(math.e) ** 2
    return max(0.0, capacity_bits(k, snr_db) - math.sqrt(k * dispersion) * norm.isf(eps)
               + 0.5 * math.log2(k))


class BoundOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codec: Literal["bpg", "jpeg", "webp", "avif", "jpeg2000"] = Field(
        "bpg", description="the image codec whose rate-distortion curve the bound uses")


class PPVOptions(BoundOptions):
    error_probability: float = Field(1e-3, gt=0, lt=1, description=(
        "block error probability of the finite-length (normal approximation) bound"))


class _GenieBound(Transceiver):
    stream = "placeholder"
    streams = ("placeholder",)

    def __init__(self, options=None):
        super().__init__(options)
        self.codec = CODECS[self.options.codec]
        self._delivered: list[torch.Tensor] = []

    def budget_bits(self, ctx: LinkContext, k: int) -> float:
        raise NotImplementedError

    def encode(self, batch: Batch, ctx: LinkContext) -> dict[str, torch.Tensor]:
        k = ctx.single_stream_capacity()
        max_bytes = int(self.budget_bits(ctx, k) // 8) if k else 0
        self._delivered, ok = [], []
        for image in batch.images:
            fitted = self.codec.fit(to_pixels(image), max_bytes)
            ok.append(fitted is not None)
            self._delivered.append(from_pixels(self.codec.decode(fitted[0])) if fitted
                                   else torch.full(image.shape, 0.5))
        self._ok = torch.tensor(ok)
        return {self.stream: torch.ones(len(batch), k, dtype=torch.complex64)} if k else {}

    def decode(self, received: dict[str, Received], ctx: LinkContext) -> Decoded:
        return Decoded(torch.stack(self._delivered), self._ok.clone())


class CodecCapacity(_GenieBound):
    """Ideal separation bound: the codec gets k*log2(1+SNR) bits (AWGN, genie)."""

    Options = BoundOptions

    def budget_bits(self, ctx: LinkContext, k: int) -> float:
        return capacity_bits(k, ctx.snr_for(self.stream))


class CodecPPV(_GenieBound):
    """Finite-blocklength bound: the codec gets the PPV normal-approximation bits (AWGN, genie)."""

    Options = PPVOptions

    def budget_bits(self, ctx: LinkContext, k: int) -> float:
        return normal_approximation_bits(k, ctx.snr_for(self.stream),
                                         self.options.error_probability)

    def decode(self, received: dict[str, Received], ctx: LinkContext) -> Decoded:
        lost = torch.rand(len(self._delivered), generator=ctx.generator) < \
            self.options.error_probability
        images = torch.stack([torch.full_like(d, 0.5) if bad else d
                              for d, bad in zip(self._delivered, lost.tolist())])
        return Decoded(images, self._ok & ~lost)
