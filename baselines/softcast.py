"""SoftCast: linear analog image transmission (Jakubczak & Katabi, MobiCom 2011), for still images.

Sender: RGB -> YCbCr (full-range BT.601), minus 0.5; orthonormal 2-D DCT of each colour plane
(scipy.fft); each plane's DCT is cut into G x G rectangular chunks. Chunks are sent in a fixed
order of expected energy (low spatial frequency first, luma before chroma at equal frequency), as
many as the CBR budget holds; the rest are dropped. Kept chunk i (variance lambda_i) is scaled by
g_i = c * lambda_i^(-1/4), with c such that the average power is 1 per complex symbol, and pairs
of scaled coefficients form one complex symbol (the `image` stream).

Side information is real channel uses too: each kept chunk's log2 standard deviation, quantised
to `meta_bits` bits, goes on the `meta` stream as QPSK with a rate-1/`meta_repetition`
repetition code, soft-combined at the receiver. Both ends scale with the quantised variances.
Because a chunk's energy differs from its quantised variance, those scales alone would give the
frame a power other than 1 (0.8..1.25 at 64x64, G = 4), which the engine's normalisation would
then change without the decoder knowing; so the sender also measures the frame's power and sends
the correction, log2 of the factor that restores unit power quantised to `power_bits` bits over
[-1/4, 1/4], in the same repetition-coded `meta` stream, and scales by it. Only a bit error in
the side information makes the two ends disagree.

Receiver: linear least-squares estimate x_hat = g*lambda*y / (g^2*lambda + sigma^2) of every
coefficient from the unbiased equaliser output, zeros for dropped chunks, inverse DCT, RGB.
The fixed chunk order is this implementation's choice: it costs no index bits; the original
SoftCast sends a chunk bitmap instead.
"""
from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from scipy.fft import dctn, idctn

from gscsim.phy.repetition import decode_bits, encode_bits
from gscsim.phy.repetition import symbols_for as repetition_symbols
from gscsim.plugins import Batch, LinkContext, Received, Transceiver

# Full-range BT.601 (JPEG) colour transform; Cb and Cr are centred at 0.5 in [0, 1] units.
RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114],
                         [-0.168736, -0.331264, 0.5],
                         [0.5, -0.418688, -0.081312]])
YCBCR_TO_RGB = np.linalg.inv(RGB_TO_YCBCR)
LOG2_STD_FLOOR = -16.0  # quantiser floor for a chunk's log2 standard deviation
# The power correction's range, log2 of the factor: half a variance quantiser step is at most
# 0.18 in log2 std (6 bits over 16 + log2(side) + 1), the largest correction one chunk needs.
LOG2_GAIN_RANGE = 0.25


class SoftCastOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chunks_per_side: int = Field(8, ge=1, description="G: each DCT plane is cut into G x G chunks")
    color: str = Field("ycbcr", pattern="^(ycbcr|rgb)$", description="colour space of the planes")
    meta_bits: int = Field(6, ge=2, le=16, description="bits per quantised chunk log2-std")
    meta_repetition: int = Field(16, ge=1, description="repetition factor of the side information")
    chroma_offset: int = Field(1, ge=0, description="frequency rank by which chroma chunks yield")
    power_bits: int = Field(6, ge=0, le=16, description=(
        "bits of the per-frame power correction (log2 of the factor, over [-1/4, 1/4]); 0: "
        "none, and the engine's normalisation rescales each frame without telling the decoder"))


class SoftCast(Transceiver):
    """SoftCast linear analog transmission: DCT chunks, power allocation, LLSE decoding."""

    streams = ("image", "meta")
    Options = SoftCastOptions

    def encoding_is_snr_free(self) -> bool:
        """The chunks, their power allocation and the side information do not depend on the
        SNR: a sweep encodes each batch once."""
        return True

    # ------------------------------------------------------------------ layout
    def _check_shape(self, shape: tuple[int, int, int]) -> tuple[int, int]:
        g = self.options.chunks_per_side
        _, h, w = shape
        if h % g or w % g or (h // g) * (w // g) % 2:
            raise ValueError(f"softcast: image size {h}x{w} must be divisible by "
                             f"chunks_per_side={g} into chunks with an even number of pixels; "
                             f"change the dataset size or softcast.chunks_per_side")
        return h // g, w // g

    @cached_property
    def order(self) -> list[tuple[int, int, int]]:
        """All (plane, u, v) chunks in transmission order (most expected energy first)."""
        g, offset = self.options.chunks_per_side, self.options.chroma_offset
        chunks = [(p, u, v) for p in range(3) for u in range(g) for v in range(g)]
        return sorted(chunks, key=lambda c: (c[1] + c[2] + (offset if c[0] else 0), c[0], c[1]))

    def _meta_bits(self, n_chunks: int) -> int:
        """Side-information bits of a frame: the chunks' variance codes and the power code."""
        return n_chunks * self.options.meta_bits + self.options.power_bits

    def _meta_symbols(self, n_chunks: int) -> int:
        return repetition_symbols(self._meta_bits(n_chunks), self.options.meta_repetition)

    def chunks_that_fit(self, ctx: LinkContext) -> int:
        """Largest number K of chunks whose data and side information fit the budget."""
        ch, cw = self._check_shape(ctx.image_shape)
        per_chunk = ch * cw // 2
        k = min(len(self.order), ctx.total_budget // per_chunk)
        while k > 0 and not ctx.fits([k * per_chunk, self._meta_symbols(k)]):
            k -= 1
        return k

    def _log2_std_range(self, shape: tuple[int, int, int]) -> tuple[float, float]:
        _, h, w = shape
        return LOG2_STD_FLOOR, math.log2(math.sqrt(h * w)) + 1.0  # DC of a +-0.5 plane fits

    # ------------------------------------------------------------------ transforms
    def _to_chunks(self, images: torch.Tensor, ctx: LinkContext) -> np.ndarray:
        """images [B, 3, H, W] -> DCT chunks [B, 3, G, G, h*w] (float64)."""
        x = images.detach().cpu().double().numpy()
        if self.options.color == "ycbcr":
            x = np.einsum("ij,bjhw->bihw", RGB_TO_YCBCR, x) + np.array([0, 0.5, 0.5])[:, None, None]
        coeffs = dctn(x - 0.5, axes=(-2, -1), norm="ortho")
        b, _, h, w = coeffs.shape
        g = self.options.chunks_per_side
        ch, cw = h // g, w // g
        return coeffs.reshape(b, 3, g, ch, g, cw).transpose(0, 1, 2, 4, 3, 5).reshape(
            b, 3, g, g, ch * cw)

    def _from_chunks(self, chunks: np.ndarray, ctx: LinkContext) -> torch.Tensor:
        b = chunks.shape[0]
        _, h, w = ctx.image_shape
        g = self.options.chunks_per_side
        ch, cw = h // g, w // g
        coeffs = chunks.reshape(b, 3, g, g, ch, cw).transpose(0, 1, 2, 4, 3, 5).reshape(b, 3, h, w)
        x = idctn(coeffs, axes=(-2, -1), norm="ortho") + 0.5
        if self.options.color == "ycbcr":
            x = np.einsum("ij,bjhw->bihw", YCBCR_TO_RGB, x - np.array([0, 0.5, 0.5])[:, None, None])
        return torch.from_numpy(np.clip(x, 0.0, 1.0)).float()

    # ------------------------------------------------------------------ side information
    def _quantise(self, variances: np.ndarray, ctx: LinkContext) -> np.ndarray:
        lo, hi = self._log2_std_range(ctx.image_shape)
        levels = 2 ** self.options.meta_bits - 1
        log2_std = 0.5 * np.log2(np.maximum(variances, 4.0 ** LOG2_STD_FLOOR))
        return np.rint((np.clip(log2_std, lo, hi) - lo) / (hi - lo) * levels).astype(np.int64)

    def _dequantise(self, codes: np.ndarray, ctx: LinkContext) -> np.ndarray:
        lo, hi = self._log2_std_range(ctx.image_shape)
        levels = 2 ** self.options.meta_bits - 1
        return 4.0 ** (lo + codes / levels * (hi - lo))

    def _power_code(self, power: np.ndarray) -> np.ndarray:
        """Frame powers [B] -> codes [B] of log2(1/sqrt(power)), quantised over
        [-LOG2_GAIN_RANGE, LOG2_GAIN_RANGE]."""
        if not self.options.power_bits:
            return np.zeros(power.shape, dtype=np.int64)
        levels = 2 ** self.options.power_bits - 1
        log2_gain = np.clip(-0.5 * np.log2(np.maximum(power, 1e-30)), -LOG2_GAIN_RANGE,
                            LOG2_GAIN_RANGE)
        return np.rint((log2_gain / LOG2_GAIN_RANGE + 1.0) / 2.0 * levels).astype(np.int64)

    def _power_gain(self, codes: np.ndarray) -> np.ndarray:
        if not self.options.power_bits:
            return np.ones(codes.shape)
        levels = 2 ** self.options.power_bits - 1
        return 2.0 ** ((codes / levels * 2.0 - 1.0) * LOG2_GAIN_RANGE)

    def _meta_encode(self, codes: np.ndarray, power_codes: np.ndarray) -> torch.Tensor:
        """Variance codes [B, K] and power codes [B] -> QPSK symbols [B, ceil(bits*R/2)] of the
        repeated bit sequence (variance bits first, then the power bits, MSB first)."""
        nbits, pbits = self.options.meta_bits, self.options.power_bits
        bits = np.concatenate([
            ((codes[..., None] >> np.arange(nbits - 1, -1, -1)) & 1).reshape(len(codes), -1),
            (power_codes[:, None] >> np.arange(pbits - 1, -1, -1)) & 1], axis=1)
        return encode_bits(bits, self.options.meta_repetition)

    def _meta_decode(self, rx: Received, n_chunks: int) -> tuple[np.ndarray, np.ndarray]:
        """Soft-combine the repetitions (MRC) -> (variance codes [B, K], power codes [B])."""
        nbits, pbits = self.options.meta_bits, self.options.power_bits
        bits = decode_bits(rx, self._meta_bits(n_chunks), self.options.meta_repetition)
        codes = (bits[:, : n_chunks * nbits].reshape(-1, n_chunks, nbits)
                 << np.arange(nbits - 1, -1, -1)).sum(axis=-1)
        power = (bits[:, n_chunks * nbits:] << np.arange(pbits - 1, -1, -1)).sum(axis=-1)
        return codes, power

    # ------------------------------------------------------------------ the transceiver
    def encode(self, batch: Batch, ctx: LinkContext) -> dict[str, torch.Tensor]:
        k = self.chunks_that_fit(ctx)
        if k == 0:
            ch, cw = self._check_shape(ctx.image_shape)
            raise ctx.too_small("softcast", ch * cw // 2 + self._meta_symbols(1),
                                "one chunk and its side information")
        chunks = self._to_chunks(batch.images, ctx)
        kept = np.stack([chunks[:, p, u, v] for p, u, v in self.order[:k]], axis=1)
        codes = self._quantise(np.mean(kept ** 2, axis=-1), ctx)
        data = (kept * self._scales(self._dequantise(codes, ctx))[..., None]).reshape(
            len(batch), -1)
        power_codes = self._power_code(2.0 * np.mean(data ** 2, axis=-1))   # per complex symbol
        data = data * self._power_gain(power_codes)[:, None]
        image = torch.from_numpy(data[:, 0::2] + 1j * data[:, 1::2]).to(torch.complex64)
        return {"image": image, "meta": self._meta_encode(codes, power_codes)}

    @staticmethod
    def _scales(variances: np.ndarray) -> np.ndarray:
        """g_i = c * lambda_i^(-1/4), average power 1/2 per real value (1 per complex symbol)."""
        root = np.sqrt(np.maximum(variances, 1e-30))
        c = np.sqrt(0.5 * variances.shape[-1] / root.sum(axis=-1, keepdims=True))
        return c / np.sqrt(root)

    def decode(self, received: dict[str, Received], ctx: LinkContext) -> torch.Tensor:
        k = self.chunks_that_fit(ctx)
        b = ctx.batch_size
        ch, cw = self._check_shape(ctx.image_shape)
        g = self.options.chunks_per_side
        chunks = np.zeros((b, 3, g, g, ch * cw))
        if k:
            codes, power_codes = self._meta_decode(received["meta"], k)
            variances = self._dequantise(codes, ctx)
            scale = self._scales(variances) * self._power_gain(power_codes)[:, None]
            rx = received["image"]
            y = (rx.symbols / rx.gain).cpu().numpy()
            var = (rx.noise_var / rx.gain.square()).cpu().numpy() / 2.0  # per real dimension
            y_real = np.stack([y.real, y.imag], axis=-1).reshape(b, k, -1)
            var_real = np.repeat(var, 2, axis=-1).reshape(b, k, -1)
            g_l = (scale * variances)[..., None]
            estimate = g_l * y_real / (scale[..., None] * g_l + var_real)
            for i, (p, u, v) in enumerate(self.order[:k]):
                chunks[:, p, u, v] = estimate[:, i]
        return self._from_chunks(chunks, ctx)
