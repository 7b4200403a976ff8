"""Image codecs for separate source coding, each fitted to a byte budget by bisection.

* `bpg`: BPG's core, HEVC intra coding by x265, through pillow-heif. The bitstream travels in
  a HEIF container whose boxes (about 400 bytes at 256x256, see `heif_container_bytes`) are
  counted as payload like every other byte: this is HEVC-intra-in-HEIF, not a .bpg file, and
  at tiny budgets it pays for its container.
* `jpeg`, `webp`, `avif`, `jpeg2000`: Pillow's encoders, whole files counted.

`fit(image, max_bytes)` returns the highest-quality encoding whose file fits, or None when even
the lowest quality does not.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import torch
from PIL import Image


@dataclass(frozen=True)
class Codec:
    """A lossy codec with an integer quality knob whose file size rises with quality."""

    name: str
    label: str
    qualities: tuple[int, int]                    # lowest, highest
    encode: Callable[[Image.Image, int], bytes]   # (image, quality) -> file bytes

    def decode(self, data: bytes) -> np.ndarray:
        """File bytes -> uint8 [H, W, 3]."""
        if self.name == "bpg":
            import pillow_heif

            return np.asarray(pillow_heif.open_heif(io.BytesIO(data)).to_pillow().convert("RGB"))
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"))

    def fit(self, image: np.ndarray, max_bytes: int) -> tuple[bytes, int] | None:
        """Best (file, quality) with len(file) <= max_bytes, by bisection over the quality."""
        return _fit(self.name, image.tobytes(), image.shape, max_bytes)


def to_pixels(image: torch.Tensor) -> np.ndarray:
    """float [3, H, W] in [0, 1] -> uint8 [H, W, 3] for an encoder."""
    return np.round(image.detach().cpu().permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def from_pixels(pixels: np.ndarray) -> torch.Tensor:
    """uint8 [H, W, 3] from a decoder -> float [3, H, W] in [0, 1]."""
    return torch.from_numpy(pixels.astype(np.float32) / 255).permute(2, 0, 1)


def _save(fmt: str, **params) -> Callable[[Image.Image, int], bytes]:
    def encode(img: Image.Image, quality: int) -> bytes:
        buffer = io.BytesIO()
        img.save(buffer, format=fmt, quality=quality, **params)
        return buffer.getvalue()
    return encode


def _heif(img: Image.Image, quality: int) -> bytes:
    import pillow_heif

    buffer = io.BytesIO()
    pillow_heif.from_pillow(img).save(buffer, format="HEIF", quality=quality)
    return buffer.getvalue()


def _jpeg2000(img: Image.Image, quality: int) -> bytes:
    # Pillow's JPEG 2000 rate control takes a compression ratio: quality q maps to ratio 1000/q.
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG2000", quality_mode="rates", quality_layers=[1000.0 / quality])
    return buffer.getvalue()


CODECS: dict[str, Codec] = {
    "bpg": Codec("bpg", "BPG (HEVC intra, x265)", (0, 100), _heif),
    "jpeg": Codec("jpeg", "JPEG", (1, 95), _save("JPEG", optimize=True)),
    "webp": Codec("webp", "WebP", (0, 100), _save("WEBP", method=6)),
    "avif": Codec("avif", "AVIF", (0, 100), _save("AVIF", speed=6)),
    "jpeg2000": Codec("jpeg2000", "JPEG 2000", (1, 500), _jpeg2000),
}


@lru_cache(maxsize=4096)
def _fit(name: str, raw: bytes, shape: tuple[int, ...], max_bytes: int) -> tuple[bytes, int] | None:
    codec = CODECS[name]
    img = Image.fromarray(np.frombuffer(raw, dtype=np.uint8).reshape(shape))
    lo, hi = codec.qualities
    best = None
    while lo <= hi:                       # sizes rise with quality: find the largest that fits
        q = (lo + hi) // 2
        data = codec.encode(img, q)
        if len(data) <= max_bytes:
            best, lo = (data, q), q + 1
        else:
            hi = q - 1
    return best


def heif_container_bytes(data: bytes) -> int:
    """Bytes of a HEIF file that are not HEVC slice data: every top-level ISO-BMFF box but
    the payload of 'mdat' (ftyp, meta with the hvcC parameter sets, box headers)."""
    offset, payload = 0, 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset:offset + 4], "big")
        kind = data[offset + 4:offset + 8]
        header = 8
        if size == 1:
            size, header = int.from_bytes(data[offset + 8:offset + 16], "big"), 16
        elif size == 0:
            size = len(data) - offset
        if kind == b"mdat":
            payload += size - header
        offset += size
    return len(data) - payload
