"""A tiny digital transceiver for the ARQ tests: 8-bit pixels of a 2x2 thumbnail plus a CRC-32,
sent uncoded as BPSK; the receiver reports whether the CRC holds."""
import zlib

import numpy as np
import torch
import torch.nn.functional as F

from gscsim.plugins import Decoded, Transceiver


def _bits(values: np.ndarray) -> np.ndarray:
    return np.unpackbits(values.astype(np.uint8), axis=-1)


class CRCBits(Transceiver):
    """2x2 thumbnail (12 bytes) + CRC-32, BPSK, no FEC; frame_ok from the CRC."""

    def encode(self, batch, ctx):
        thumb = F.adaptive_avg_pool2d(batch.images, 2).flatten(1)
        payload = np.round(thumb.numpy() * 255).astype(np.uint8)
        crc = np.array([list(zlib.crc32(p.tobytes()).to_bytes(4, "big")) for p in payload])
        bits = _bits(np.concatenate([payload, crc], axis=1))
        return {"data": torch.from_numpy(1.0 - 2.0 * bits).to(torch.complex64)}

    def decode(self, received, ctx):
        rx = received["data"]
        bits = (rx.symbols.real < 0).numpy().astype(np.uint8)
        data = np.packbits(bits, axis=-1)
        payload, crc = data[:, :12], data[:, 12:16]
        ok = torch.tensor([zlib.crc32(p.tobytes()).to_bytes(4, "big") == bytes(c)
                           for p, c in zip(payload, crc)])
        thumb = torch.from_numpy(payload.astype(np.float32) / 255).reshape(-1, 3, 2, 2)
        return Decoded(F.interpolate(thumb, size=ctx.image_shape[1:], mode="nearest"), ok)
