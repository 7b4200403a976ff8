"""A complete gscsim transceiver in one file: uncoded analog pixels.

The sender averages the image over s x s blocks (s the smallest factor that fits the CBR
budget), removes the mean 0.5, and sends pairs of block values as complex symbols at unit
average power. The receiver applies the LMMSE scaling for the known pixel variance and
upsamples. Register it from your package's setup.cfg:

    [options.entry_points]
    gscsim.transceivers =
        pixel_analog = pixel_analog:PixelAnalog

or name it as "pixel_analog:PixelAnalog" in a scenario that sits beside this file.
"""
import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field

from gscsim.plugins import Batch, LinkContext, Received, Transceiver


class PixelAnalogOptions(BaseModel):
    pixel_std: float = Field(0.25, gt=0, description="assumed std of a block average")


class PixelAnalog(Transceiver):
    """Uncoded analog block-averaged pixels with LMMSE scaling at the receiver."""

    Options = PixelAnalogOptions

    def _factor(self, ctx: LinkContext) -> int:
        c, h, w = ctx.image_shape
        s = 1
        while s <= min(h, w) and not (h % s == 0 and w % s == 0
                                      and ctx.fits([c * (h // s) * (w // s) // 2])):
            s += 1
        return s

    def encode(self, batch: Batch, ctx: LinkContext) -> dict[str, torch.Tensor]:
        s = self._factor(ctx)
        blocks = F.avg_pool2d(batch.images, s).flatten(1) - 0.5
        # A fixed scale the receiver knows: about 1/2 power per real dimension when the block
        # std is pixel_std (the engine then rescales each frame to exactly unit power).
        scaled = blocks / (self.options.pixel_std * 2 ** 0.5)
        return {"image": torch.complex(scaled[:, 0::2], scaled[:, 1::2])}

    def decode(self, received: dict[str, Received], ctx: LinkContext) -> torch.Tensor:
        s = self._factor(ctx)
        c, h, w = ctx.image_shape
        rx = received["image"]
        y = torch.view_as_real(rx.symbols / rx.gain).flatten(1)       # [B, 2N] real
        var = (rx.noise_var / rx.gain.square()).repeat_interleave(2, dim=1) / 2
        a = self.options.pixel_std * 2 ** 0.5                           # sent amplitude per unit
        signal_var = 0.5                                                # per real dimension
        blocks = a * y * signal_var / (signal_var + var)
        images = blocks.reshape(-1, c, h // s, w // s) + 0.5
        return F.interpolate(images, scale_factor=s, mode="nearest").clamp(0, 1)
