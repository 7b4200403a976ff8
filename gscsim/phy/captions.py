"""Captions over the digital link, and the text options of the transceivers that send one.

A transceiver that sends its caption as text (`text: digital`) puts the UTF-8 bytes (one length
byte, then at most 255 bytes) through the project's CRC + 5G LDPC + QAM chain at a fixed MCS, in
as few channel uses as the batch's longest caption needs. The receiver learns the stream's
length from what it receives, so nothing else is sent."""
from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from gscsim.phy.digital import MCS, DigitalLink, LinkTooSmall, bits_to_bytes, bytes_to_bits
from gscsim.plugins import LinkContext, Received

MAX_CAPTION_BYTES = 255


class CaptionLink:
    """Captions <-> complex symbols at one MCS (modulation, code rate)."""

    def __init__(self, modulation: str = "qpsk", code_rate: float = 0.44):
        self.mcs = MCS(modulation, code_rate)

    @staticmethod
    def payloads(captions: list[str]) -> list[bytes]:
        return [c.encode("utf-8")[:MAX_CAPTION_BYTES] for c in captions]

    def _link(self, n_symbols: int) -> DigitalLink:
        return DigitalLink(self.mcs, n_symbols)

    def symbols(self, captions: list[str]) -> int:
        """Channel uses of a stream that carries each of these captions."""
        bits = 8 * (1 + max(map(len, self.payloads(captions)), default=0))
        n = max(1, math.ceil(bits / self.mcs.spectral_efficiency))
        while True:
            try:
                link = self._link(n)
                if link.payload_bits >= bits:
                    return link.layout.symbols
            except LinkTooSmall:
                pass
            n += 1

    def encode(self, captions: list[str], n_symbols: int) -> torch.Tensor:
        """complex64 [B, n_symbols] carrying the captions (n_symbols from `symbols`)."""
        link = self._link(n_symbols)
        return link.encode(torch.stack([bytes_to_bits(bytes([len(p)]) + p, link.payload_bits)
                                        for p in self.payloads(captions)]))

    def decode(self, received: Received) -> tuple[list[str], torch.Tensor]:
        """(captions, bool [B]: every code block's CRC passed)."""
        bits, block_ok = self._link(received.symbols.shape[1]).decode(received)
        captions = []
        for row in bits:
            data = bits_to_bytes(row)
            captions.append(data[1:1 + data[0]].decode("utf-8", errors="replace"))
        return captions, block_ok.view(len(captions), -1).all(1).cpu()


class CaptionOptions(BaseModel):
    """The text options of a transceiver that can send its caption (SGD-JSCC, BriGSC)."""

    model_config = ConfigDict(extra="forbid")
    text: Literal["digital", "genie", "none"] = Field("digital", description=(
        "digital: the caption through CRC + LDPC + QAM, counted; genie: error-free and "
        "uncounted (what the released codes do; labelled in tables); none: no text"))
    text_mcs: tuple[str, float] = Field(("qpsk", 0.44), description="modulation, code rate")
    max_text_share: float = Field(0.5, gt=0, le=1, description=(
        "the text is sent only if it takes at most this share of the budget"))


TEXT_STREAM = "text"


class CaptionStream:
    """The `text` stream of such a transceiver: how long it is, whether it is admitted beside
    the other streams, and what the receiver makes of it."""

    def __init__(self, options: CaptionOptions):
        self.options = options
        self.link = CaptionLink(*options.text_mcs)

    def wanted(self, captions: list[str]) -> int:
        """Channel uses the captions would take (0 unless text: digital)."""
        return self.link.symbols(captions) if self.options.text == "digital" else 0

    def admitted(self, ctx: LinkContext, wanted: int, minimum_beside: int) -> int:
        """`wanted` if the text takes at most max_text_share of the budget and fits beside a
        stream of `minimum_beside` channel uses; else 0 (the text is not sent)."""
        if wanted and wanted <= self.options.max_text_share * ctx.total_budget \
                and ctx.fits([wanted, minimum_beside]):
            return wanted
        return 0

    def encode(self, captions: list[str], n_symbols: int) -> dict[str, torch.Tensor]:
        return {TEXT_STREAM: self.link.encode(captions, n_symbols)} if n_symbols else {}

    def receive(self, received: dict[str, Received], sent_captions: list[str], batch: int
                ) -> tuple[list[str] | None, torch.Tensor]:
        """(the captions the receiver has, None for text: none; bool [B]: which are real).
        genie hands over the sender's captions; digital decodes the stream, where it was sent
        and its CRC passed."""
        if self.options.text == "genie":
            return list(sent_captions), torch.ones(batch, dtype=torch.bool)
        if self.options.text == "none":
            return None, torch.zeros(batch, dtype=torch.bool)
        if TEXT_STREAM not in received:
            return [""] * batch, torch.zeros(batch, dtype=torch.bool)
        return self.link.decode(received[TEXT_STREAM])


class GenieCaptions:
    """For a transceiver with a caption stream (its options a CaptionOptions): `text: genie`
    hands the sender's captions to the receiver outside the channel. `keep_captions` (in
    encode) holds them on the instance and `sent_captions` (in decode) returns them; genie's
    encoding depends on them, so it is never SNR-free and encode runs on this instance before
    every decode. Other text modes never read them: their decode may see streams another
    instance encoded."""

    _kept_captions: list[str] | None = None

    def keep_captions(self, captions: list[str]) -> None:
        if self.options.text == "genie":
            self._kept_captions = list(captions)

    def sent_captions(self) -> list[str]:
        if self.options.text != "genie":
            return []
        if self._kept_captions is None:
            raise RuntimeError("text: genie decodes with the captions this instance's encode "
                               "kept; call encode first")
        return self._kept_captions

