"""The `swinjscc` transceiver: a trained SwinJSCC model on a gscsim link.

At CBR c the sender keeps C = floor(c * 2 * 3 * 16^2) latent channels (fewer if the channel's
pilots would not fit), sends their H/16 * W/16 * C real values as H*W*C/512 complex symbols
(first half real parts, second half imaginary parts) at unit average power, and the receiver
equalises, restores the scale and decodes.

Side information, as in the paper's code: the receiver is told which C channels were kept
(a D-bit mask, D = latent channels) and the transmit power scale (one float) without channel
errors. They are not counted in the budget: at the tiny model's D = 128 that is 160 bits per
image, against 3*H*W*c symbols (256 at 64x64, 12288 at 512x384, for CBR 1/48).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field

from gscsim.baselines.swinjscc.model import SwinJSCC, channels_for
from gscsim.baselines.swinjscc.zoo import (
    checkpoint_path,
    checkpoints_for,
    load_model,
    training_data,
)
from gscsim.conventions import pack_complex, unpack_real
from gscsim.plugins import Batch, LinkContext, Received, Transceiver

STREAM = "latent"


def size_multiple(model: SwinJSCC) -> int:
    """Image sides must be multiples of this: every stage's map must split into its windows."""
    multiple = 16
    for i, stage in enumerate(model.encoder.layers):
        multiple = math.lcm(multiple, stage.blocks[0].window * 2 ** (i + 1))
    return multiple


class SwinJSCCOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: str = Field("swinjscc-tiny-photos", description="zoo name or path of a .pt/.model")
    config: str | None = Field(None, description="architecture of a bare official state_dict: "
                                                 "small, base, large or a config file")
    device: str = Field("cpu", description="torch device of the model")


class SwinJSCCLink(Transceiver):
    """SwinJSCC: Swin Transformer deep JSCC with SNR and rate adaptation (Yang et al. 2024)."""

    streams = (STREAM,)
    Options = SwinJSCCOptions

    def __init__(self, options: SwinJSCCOptions | None = None):
        super().__init__(options)
        self._side: tuple[torch.Tensor, torch.Tensor, tuple[int, int]] | None = None

    @property
    def model(self) -> SwinJSCC:
        return load_model(self.options.checkpoint, self.options.config, self.options.device)

    def weights(self) -> list[Path]:
        return [checkpoint_path(self.options.checkpoint)]

    def channels(self, ctx: LinkContext) -> int:
        """Kept latent channels C at this CBR: the paper's mapping, lowered until pilots fit,
        then to the largest rate of the checkpoint's rate set that fits (it was trained at
        those rates only); below the smallest, the point is refused."""
        _, h, w = ctx.image_shape
        positions = (h // 16) * (w // 16)
        depth = self.model.config.embed_dims[-1]
        c = ctx.largest_fitting(min(channels_for(ctx.cbr), depth),
                                lambda k: math.ceil(positions * k / 2))
        rates = sorted(self.model.config.rates)
        if c < rates[0]:
            raise ctx.too_small("swinjscc", math.ceil(positions * rates[0] / 2),
                                f"{rates[0]} latent channels, the fewest checkpoint "
                                f"{self.options.checkpoint} was trained to send")
        return max(r for r in rates if r <= c)       # a rate the model was trained for

    def check_data(self, ctx: LinkContext) -> None:
        """Refuse a dataset of another kind than the checkpoint was trained on (scenes against
        photographs), naming the zoo checkpoints that fit."""
        trained = training_data(self.options.checkpoint)
        wanted = "scenes" if ctx.dataset == "scenes" else "folder"
        if ctx.dataset and trained is not None and trained != wanted:
            fits = checkpoints_for(wanted)
            raise ValueError(f"swinjscc: checkpoint {self.options.checkpoint} was trained on "
                             f"{'rendered scenes' if trained == 'scenes' else 'photographs'}, "
                             f"the dataset is '{ctx.dataset}': set the option checkpoint to "
                             f"{' or '.join(fits) if fits else 'one trained on this data'}")

    def encode(self, batch: Batch, ctx: LinkContext) -> dict[str, torch.Tensor]:
        model = self.model
        self.check_data(ctx)
        _, h, w = ctx.image_shape
        multiple = size_multiple(model)
        if h % multiple or w % multiple:
            raise ValueError(f"swinjscc: images of {h}x{w} do not fit this model; both sides must "
                             f"be multiples of {multiple} (set the dataset's size option)")
        c = self.channels(ctx)
        device = torch.device(self.options.device)
        snr = torch.full((len(batch),), ctx.snr_for(STREAM), device=device)
        with torch.no_grad():
            latent, keep, size = model.encoder(batch.images.to(device), snr, c)
        kept = keep.nonzero()[:, 1].view(len(batch), c)                  # channel ids, ascending
        values = latent.gather(2, kept.unsqueeze(1).expand(-1, latent.shape[1], -1)).flatten(1)
        symbols = pack_complex(values)
        scale = symbols.abs().pow(2).mean(1).sqrt().clamp_min(1e-12)
        self._side = (kept, scale, size)
        return {STREAM: (symbols / scale.unsqueeze(1)).to(torch.complex64).cpu()}

    def decode(self, received: dict[str, Received], ctx: LinkContext) -> torch.Tensor:
        if self._side is None:
            raise RuntimeError("swinjscc: decode called before encode")
        kept, scale, (lh, lw) = self._side
        model, device = self.model, torch.device(self.options.device)
        rx = received[STREAM]
        y = (rx.symbols / rx.gain).to(device) * scale.unsqueeze(1)
        snr_db = rx.snr_db().to(device)
        c = kept.shape[1]
        values = unpack_real(y)[:, : lh * lw * c].view(-1, lh * lw, c)
        latent = torch.zeros(values.shape[0], lh * lw, model.config.embed_dims[-1], device=device)
        latent.scatter_(2, kept.unsqueeze(1).expand(-1, lh * lw, -1), values.float())
        with torch.no_grad():
            images = model.decoder(latent, snr_db, (lh, lw))
        return images.clamp(0, 1).cpu()
