"""The digital link shared by every digital transceiver:

    bits -> scrambling -> code blocks, each with a CRC-24B -> 5G NR LDPC (Sionna)
         -> QAM (Sionna, Gray) -> channel -> APP or max-log LLRs -> LDPC decoding
         -> CRC check per block -> descrambling -> bits

Scrambling (XOR with a fixed pseudo-random sequence both ends know, as 5G does) keeps the QAM
points equally used whatever the payload: a zero-padded file would otherwise pile onto one
corner point, raise the stream's power, and the engine's power normalisation would then shrink
the constellation under the receiver's feet.

A link is sized for a symbol budget: the coded bits of all blocks fill whole QAM symbols, there
are as few blocks as 5G's largest information block (8448 bits) allows, and every block has the
same length. Sionna is imported lazily (it takes seconds).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import torch

from gscsim.plugins import Received

CRC_BITS = 24
MAX_BLOCK_INFO = 8448            # 5G NR base graph 1
# Sionna's 5G encoder takes base graph 1 for k > 3824 unless the rate is <= 1/4, but base graph 1
# needs rates above 1/3: low-rate blocks are kept at or under 3824 bits so they use base graph 2.
MAX_BLOCK_INFO_LOW_RATE = 3824
MIN_CODE_RATE = 0.2              # Sionna's 5G encoder refuses lower rates
DECODE_CHUNK = 32                # codewords per Sionna decoder call: fastest on a 2-core CPU
SCRAMBLING_SEED = 0x5C7A3B1E     # seeds the scrambling sequence both ends of every link share
# LDPC decoders: "bp-compiled" (the default) is gscsim.phy.ldpc's numba sum-product with
# Sionna's flooding schedule, rules and clipping (the same decisions, stopping early once every
# check holds); "bp-layered" its row-layered schedule; "bp" Sionna's own BP decoder, the
# reference; "offset-minsum" and "minsum" Sionna's approximations.
Decoder = Literal["bp-compiled", "bp-layered", "bp", "offset-minsum", "minsum"]
_CN_UPDATE = {"bp": "boxplus-phi", "offset-minsum": "offset-minsum", "minsum": "minsum"}
_SCHEDULE = {"bp-compiled": "flooding", "bp-layered": "layered"}
MODULATIONS = {"bpsk": ("pam", 1), "qpsk": ("qam", 2), "16qam": ("qam", 4), "64qam": ("qam", 6),
               "256qam": ("qam", 8)}


@dataclass(frozen=True)
class MCS:
    """A modulation and coding scheme: QAM order and LDPC code rate."""

    modulation: str
    code_rate: float

    @property
    def bits_per_symbol(self) -> int:
        return MODULATIONS[self.modulation][1]

    @property
    def spectral_efficiency(self) -> float:
        """Information bits per complex channel use (before CRC)."""
        return self.bits_per_symbol * self.code_rate

    @property
    def label(self) -> str:
        return f"{self.modulation}-r{self.code_rate:.3g}"


# A 5G-like MCS list (rates close to 3GPP TS 38.214 table 5.1.3.1-2, lowest QPSK rates raised to
# Sionna's 1/5 floor), ordered by spectral efficiency.
MCS_TABLE: tuple[MCS, ...] = (
    MCS("qpsk", 0.2), MCS("qpsk", 0.3), MCS("qpsk", 0.44), MCS("qpsk", 0.59),
    MCS("16qam", 0.37), MCS("16qam", 0.48), MCS("16qam", 0.6),
    MCS("64qam", 0.55), MCS("64qam", 0.65), MCS("64qam", 0.75), MCS("64qam", 0.85),
    MCS("256qam", 0.69), MCS("256qam", 0.78), MCS("256qam", 0.86), MCS("256qam", 0.93),
)


class LinkTooSmall(ValueError):
    """The symbol budget cannot hold even one code block of this MCS."""


@dataclass(frozen=True)
class BlockLayout:
    """How a symbol budget is cut into code blocks: `blocks` blocks of `n` coded bits carrying
    `k` bits each (CRC included)."""

    blocks: int
    n: int
    k: int
    bits_per_symbol: int

    @property
    def payload_bits(self) -> int:
        return self.blocks * (self.k - CRC_BITS)

    @property
    def symbols(self) -> int:
        return self.blocks * self.n // self.bits_per_symbol


def layout(mcs: MCS, n_symbols: int, max_block_info: int = MAX_BLOCK_INFO) -> BlockLayout:
    """The block layout of `mcs` in `n_symbols` complex channel uses."""
    m = mcs.bits_per_symbol
    coded = n_symbols * m
    if mcs.code_rate <= 1 / 3:
        max_block_info = min(max_block_info, MAX_BLOCK_INFO_LOW_RATE)
    blocks = max(1, math.ceil(coded * mcs.code_rate / max_block_info))
    n = (coded // blocks) // m * m
    k = math.ceil(n * mcs.code_rate - 1e-9)         # never below the nominal rate
    if k <= CRC_BITS + 8 or mcs.code_rate < MIN_CODE_RATE:
        raise LinkTooSmall(f"{n_symbols} symbols cannot carry a code block of {mcs.label}")
    return BlockLayout(blocks, n, k, m)


class DigitalLink:
    """CRC + 5G LDPC + QAM for a fixed MCS and symbol budget."""

    def __init__(self, mcs: MCS, n_symbols: int, decoder: Decoder = "bp-compiled",
                 iterations: int = 20,
                 demapping: Literal["app", "maxlog"] = "app",
                 max_block_info: int = MAX_BLOCK_INFO):
        self.mcs = mcs
        self.layout = layout(mcs, n_symbols, max_block_info)
        self.decoder_kind, self.iterations, self.demapping = decoder, iterations, demapping

    @cached_property
    def _scrambling(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(SCRAMBLING_SEED)
        return torch.randint(0, 2, (self.layout.payload_bits,), generator=g).float()

    @cached_property
    def _blocks(self):
        from sionna.phy.fec.crc import CRCDecoder, CRCEncoder
        from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
        from sionna.phy.mapping import Demapper, Mapper

        kind, m = MODULATIONS[self.mcs.modulation]
        crc = CRCEncoder("CRC24B")
        ldpc = LDPC5GEncoder(self.layout.k, self.layout.n, num_bits_per_symbol=m)
        if self.decoder_kind in _SCHEDULE:
            from gscsim.phy.ldpc import compiled_decoder_class

            decoder = compiled_decoder_class()(ldpc, schedule=_SCHEDULE[self.decoder_kind],
                                               num_iter=self.iterations)
        else:
            decoder = LDPC5GDecoder(ldpc, cn_update=_CN_UPDATE[self.decoder_kind],
                                    num_iter=self.iterations, hard_out=True)
        return {
            "crc": crc, "crc_check": CRCDecoder(crc), "ldpc": ldpc, "ldpc_decode": decoder,
            "map": Mapper(kind, m), "demap": Demapper(self.demapping, kind, m),
        }

    @property
    def payload_bits(self) -> int:
        return self.layout.payload_bits

    def encode(self, bits: torch.Tensor) -> torch.Tensor:
        """bits float {0,1} [B, payload_bits] -> complex64 symbols [B, layout.symbols]."""
        lay, b = self.layout, bits.shape[0]
        if bits.shape[1] != lay.payload_bits:
            raise ValueError(f"expected {lay.payload_bits} payload bits, got {bits.shape[1]}")
        scrambled = (bits.float() + self._scrambling) % 2
        blocks = self._blocks["crc"](scrambled.reshape(b, lay.blocks, lay.k - CRC_BITS))
        coded = self._blocks["ldpc"](blocks)                     # [B, blocks, n]
        return self._blocks["map"](coded.reshape(b, -1)).to(torch.complex64)

    def decode(self, rx: Received) -> tuple[torch.Tensor, torch.Tensor]:
        """Equalised symbols -> (payload bits [B, payload_bits], block_ok bool [B, blocks])."""
        lay = self.layout
        y = rx.symbols / rx.gain
        no = (rx.noise_var / rx.gain.square()).clamp_min(1e-10)
        llr = self._blocks["demap"](y, no).reshape(-1, lay.n)     # [B*blocks, n]
        if self.decoder_kind in _SCHEDULE:              # one call: the kernel runs in parallel
            decoded = self._blocks["ldpc_decode"](llr)
        else:
            decoded = torch.cat([self._blocks["ldpc_decode"](chunk)
                                 for chunk in llr.split(DECODE_CHUNK)])
        bits, ok = self._blocks["crc_check"](decoded.reshape(y.shape[0], lay.blocks, lay.k))
        return (bits.reshape(y.shape[0], -1) + self._scrambling) % 2, ok.squeeze(-1)


def bytes_to_bits(data: bytes, n_bits: int) -> torch.Tensor:
    """A byte string as n_bits float bits (MSB first), zero-padded."""
    if len(data) * 8 > n_bits:
        raise ValueError(f"{len(data)} bytes do not fit {n_bits} bits")
    bits = torch.zeros(n_bits)
    if data:
        raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        shifts = torch.arange(7, -1, -1, dtype=torch.uint8)
        bits[: len(data) * 8] = ((raw.unsqueeze(-1) >> shifts) & 1).flatten().float()
    return bits


def bits_to_bytes(bits: torch.Tensor) -> bytes:
    """Float or int bits (MSB first), length a multiple of 8 -> bytes."""
    b = bits.round().to(torch.uint8).reshape(-1, 8)
    weights = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8)
    return bytes((b * weights).sum(dim=1, dtype=torch.int32).to(torch.uint8).tolist())
