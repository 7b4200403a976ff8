"""Separate source and channel coding: an image codec fitted to the bits a digital link carries.

Sender: choose the MCS (fixed, or adaptive: the highest spectral efficiency whose measured AWGN
threshold, `baselines/data/mcs_awgn.json`, plus `margin_db` is below the link's SNR), size the
digital link (gscsim.phy.digital) to the symbol budget, fit the codec to its payload minus a 32-bit
length header, send [length][file][zero padding] on the `data` stream.

Receiver: decode every code block; if any block fails its CRC, the header is implausible or the
codec cannot read the file, the frame is lost (the paper's "x") and the receiver shows what a
real one would: a mid-grey image or the last good frame (`concealment`). A frame that cannot be
carried at all (the budget holds no code block, or the file does not fit at the lowest quality)
is lost the same way. `decode` reports each frame's integrity, so ARQ can resend lost frames.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from gscsim.baselines.codecs import CODECS, from_pixels, to_pixels
from gscsim.phy.digital import (
    MCS,
    Decoder,
    DigitalLink,
    LinkTooSmall,
    bits_to_bytes,
    bytes_to_bits,
)
from gscsim.plugins import Batch, Decoded, LinkContext, Received, Transceiver

HEADER_BITS = 32
THRESHOLDS = Path(__file__).resolve().parent / "data" / "mcs_awgn.json"


class FixedMCS(BaseModel):
    model_config = ConfigDict(extra="forbid")

    modulation: Literal["bpsk", "qpsk", "16qam", "64qam", "256qam"]
    code_rate: float = Field(..., ge=0.2, le=0.95)


class SeparationOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codec: Literal["bpg", "jpeg", "webp", "avif", "jpeg2000"] = Field(
        "bpg", description="the image codec (source coding)")
    mcs: Literal["adaptive"] | FixedMCS = Field("adaptive", description=(
        "adaptive: the highest-rate modulation and code whose measured AWGN threshold plus "
        "margin_db is below the SNR; or a fixed {modulation, code_rate}"))
    margin_db: float = Field(1.0, description="adaptive: SNR margin over the measured threshold")
    decoder: Decoder = Field("bp-compiled", description=(
        "LDPC decoding: bp-compiled (numba sum-product, Sionna's decisions), bp-layered, bp "
        "(Sionna's own), offset-minsum or minsum"))
    iterations: int = Field(20, ge=1, description="LDPC decoder iterations")
    concealment: Literal["grey", "last"] = Field("grey", description=(
        "what a lost frame shows: a mid-grey image, or the last frame received intact"))


@lru_cache(maxsize=1)
def mcs_thresholds() -> dict[MCS, float]:
    """Measured AWGN Es/N0 (dB) at 10% frame error for each MCS of the table."""
    card = json.loads(THRESHOLDS.read_text())
    return {MCS(t["modulation"], t["code_rate"]): t["esno_db_at_fer_0.1"]
            for t in card["thresholds"]}


def adaptive_mcs(snr_db: float, margin_db: float) -> MCS | None:
    """The most efficient MCS whose threshold + margin is at most `snr_db` (None if none)."""
    usable = [m for m, t in mcs_thresholds().items() if t + margin_db <= snr_db]
    return max(usable, key=lambda m: m.spectral_efficiency, default=None)


@lru_cache(maxsize=64)
def _cached_link(mcs: MCS, n_symbols: int, decoder: str, iterations: int) -> DigitalLink | None:
    """Both ends of every frame share one link (and its Sionna encoder/decoder) per setting."""
    try:
        return DigitalLink(mcs, n_symbols, decoder, iterations)
    except LinkTooSmall:
        return None


class Separation(Transceiver):
    """Image codec + CRC + 5G LDPC + QAM, fixed or adaptive MCS, concealment of lost frames."""

    Options = SeparationOptions
    stream = "data"
    streams = ("data",)

    def __init__(self, options=None):
        super().__init__(options)
        self.codec = CODECS[self.options.codec]
        self._last_good: torch.Tensor | None = None

    def link(self, ctx: LinkContext) -> DigitalLink | None:
        """The digital link both ends derive from the budget and SNR (None: nothing fits)."""
        if isinstance(self.options.mcs, FixedMCS):
            mcs = MCS(self.options.mcs.modulation, self.options.mcs.code_rate)
        else:
            mcs = adaptive_mcs(ctx.snr_for(self.stream), self.options.margin_db)
        if mcs is None:
            return None
        link = _cached_link(mcs, ctx.single_stream_capacity(), self.options.decoder,
                            self.options.iterations)
        if link is None or link.payload_bits < HEADER_BITS + 8:
            return None         # not even the length header and one byte of the image fit
        return link

    def encode(self, batch: Batch, ctx: LinkContext) -> dict[str, torch.Tensor]:
        link = self.link(ctx)
        if link is None:
            return {}
        max_bytes = (link.payload_bits - HEADER_BITS) // 8
        rows = []
        for image in batch.images:
            fitted = self.codec.fit(to_pixels(image), max_bytes)
            data = fitted[0] if fitted else b""        # empty: the frame cannot be carried
            rows.append(bytes_to_bits(len(data).to_bytes(4, "big") + data, link.payload_bits))
        return {self.stream: link.encode(torch.stack(rows))}

    def decode(self, received: dict[str, Received], ctx: LinkContext) -> Decoded:
        link = self.link(ctx)
        b = ctx.batch_size
        if link is None or self.stream not in received:
            return Decoded(self._conceal(b, ctx), torch.zeros(b, dtype=torch.bool))
        bits, block_ok = link.decode(received[self.stream])
        images, ok = [], []
        for row, blocks in zip(bits, block_ok):
            image = self._read(row, ctx) if bool(blocks.all()) else None
            ok.append(image is not None)
            if image is None:
                image = self._conceal(1, ctx)[0]
            else:
                self._last_good = image
            images.append(image)
        return Decoded(torch.stack(images), torch.tensor(ok))

    def _read(self, bits: torch.Tensor, ctx: LinkContext) -> torch.Tensor | None:
        payload = bits_to_bytes(bits[: (bits.numel() // 8) * 8])
        length = int.from_bytes(payload[:4], "big")
        if length == 0 or length > len(payload) - 4:
            return None
        try:
            pixels = self.codec.decode(payload[4:4 + length])
        except (OSError, ValueError, RuntimeError):
            return None
        if pixels.shape != (ctx.image_shape[1], ctx.image_shape[2], 3):
            return None
        return from_pixels(pixels)

    def _conceal(self, n: int, ctx: LinkContext) -> torch.Tensor:
        if self.options.concealment == "last" and self._last_good is not None:
            return self._last_good.unsqueeze(0).repeat(n, 1, 1, 1)
        return torch.full((n, *ctx.image_shape), 0.5)

