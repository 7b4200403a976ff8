"""The `brigsc` transceiver: BriGSC-small (gscsim.baselines.brigsc.model) on a gscsim link.

Streams, every symbol counted in the CBR:
* `text`: the caption, with the text options and accounting of `sgd-jscc`
  (gscsim.phy.captions: `text: digital` counted, `genie` free and labelled, `none`).
* `table` (`allocation: saliency` or `detail`): the allocation table, one bit per cell of 2x2
  tokens (which half of the cells is the more salient, by the encoder's attention or by the
  patches' pixel variance), as QPSK repeated `table_repetition` times. Where the
  budget cannot hold it beside `MIN_DATA_SYMBOLS` of data, or the table's SNR is below
  `table_min_snr_db`, the link falls back to uniform allocation; both ends derive which from
  the budget and the SNR, and `saliency_allocation` in frames.csv records it.
* `image`: every token's values shrunk to its share of what is left, normalised to unit mean
  square; the channel's noise falls on these values, the ones sent.
Receiver: the table (soft-combined, and decoded as the half of the cells most likely
marked, since every table marks exactly half) gives the same shares, the values are widened
back, the Swin decoder gives the image, and with `refine: diffusion` (the default, as the
paper times BriGSC) the refiner starts from that image noised to `refine_start` and,
conditioned on it (and on the caption where one arrived), runs `steps` steps of `sampler`
with guidance `guidance`.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field

from gscsim.baselines.brigsc.model import (
    BriGSC,
    allocate,
    detail_saliency,
    from_patches,
    saliency_table,
    shrink,
    to_patches,
    token_weights,
    top_half,
    widen,
)
from gscsim.baselines.brigsc.zoo import FAMILY
from gscsim.conventions import from_symbols, to_symbols, unit_mean_square
from gscsim.nn.diffusion import CosineSchedule, CountedDenoiser, sample
from gscsim.nn.text_encoder import EMBEDDING_DIM, embed
from gscsim.phy.captions import TEXT_STREAM, CaptionOptions, CaptionStream, GenieCaptions
from gscsim.phy.repetition import encode_bits, soft_bits
from gscsim.phy.repetition import symbols_for as repetition_symbols
from gscsim.plugins import Batch, Decoded, LinkContext, Received, Transceiver
from gscsim.zoo import ZooModel

IMAGE, TABLE = "image", "table"
MIN_DATA_SYMBOLS = 8         # data the image stream keeps at least beside the table
SCHEDULE = CosineSchedule()


class BriGSCOptions(CaptionOptions):
    checkpoint: str = Field("brigsc-scenes64", description="zoo name or path of a bundle")
    allocation: Literal["saliency", "detail", "uniform"] = Field("detail", description=(
        "detail: shares from each patch's pixel variance (the project's rule); saliency: from "
        "the encoder's attention, as the paper; both send the table, which costs channel "
        "uses; uniform: equal shares, no table"))
    table_repetition: int = Field(1, ge=1, description="repetitions of the table's bits")
    table_min_snr_db: float | None = Field(6.0, description=(
        "below this SNR (dB) the link sends no table and shares uniformly, since the table's "
        "bit errors cost more than it gains (both ends know the SNR, as the SNR ModNets do); "
        "None: always send it"))
    refine: Literal["diffusion", "none"] = Field("diffusion", description=(
        "diffusion: the refiner regenerates the decoded image; none: the JSCC decoder alone"))
    refine_start: float = Field(0.6, gt=0, le=1, description="time t the refiner starts at")
    steps: int = Field(50, ge=1, description="refiner steps")
    sampler: Literal["dpmpp2m", "ddim"] = Field("dpmpp2m", description=(
        "DPM-Solver++(2M) or DDIM (deterministic ODE samplers)"))
    guidance: float = Field(4.0, ge=0, description="classifier-free guidance on the text")
    device: str = Field("cpu", description="torch device of the models")


class BriGSCLink(GenieCaptions, ZooModel, Transceiver):
    """BriGSC: saliency-allocated ViT tokens, Swin decoder, diffusion refiner (small)."""

    streams = (IMAGE, TABLE, TEXT_STREAM)
    family = FAMILY
    Options = BriGSCOptions

    def split(self, ctx: LinkContext, text_symbols: int) -> tuple[int, int, int]:
        """(text symbols, table symbols, image values) at this budget."""
        cfg = self.model.cfg
        text_symbols = CaptionStream(self.options).admitted(ctx, text_symbols, 1)
        text = [text_symbols] if text_symbols else []
        table = repetition_symbols(cfg.cells, self.options.table_repetition)
        low_snr = self.options.table_min_snr_db is not None and \
            ctx.snr_for(TABLE) < self.options.table_min_snr_db
        if self.options.allocation == "uniform" or low_snr or \
                ctx.capacity_beside(text + [table]) < MIN_DATA_SYMBOLS:
            table = 0
        image = ctx.capacity_beside(text + ([table] if table else []))
        values = min(2 * image, cfg.tokens * cfg.token_values)
        if values < 1:
            raise ctx.too_small("brigsc", 1, "one value of the image")
        return text_symbols, table, values

    def encode(self, batch: Batch, ctx: LinkContext) -> dict[str, torch.Tensor]:
        m, device = self.model, torch.device(self.options.device)
        ctx.require_side(m.cfg.image_size, "brigsc", self.options.checkpoint)
        ctx.require_scenes("brigsc", self.options.checkpoint)
        self.keep_captions(batch.captions)
        captions = CaptionStream(self.options)
        text_symbols, table_symbols, values = self.split(ctx, captions.wanted(batch.captions))
        snr = torch.full((len(batch),), ctx.snr_for(IMAGE), device=device)
        with torch.no_grad():
            tokens, saliency = m.encoder(batch.images.to(device), snr, True)
        if self.options.allocation == "detail":
            saliency = detail_saliency(batch.images)
        table = saliency_table(saliency.float().cpu(), m.cfg.side) if table_symbols else None
        sizes = allocate(token_weights(table, m.cfg, len(batch)), values, m.cfg.token_values)
        sent = unit_mean_square(shrink(tokens, sizes.to(device)))
        streams = {IMAGE: to_symbols(sent)}
        if table is not None:
            streams[TABLE] = encode_bits(table.numpy().astype(np.int64),
                                         self.options.table_repetition)
        streams.update(captions.encode(batch.captions, text_symbols))
        return {name: s.cpu() for name, s in streams.items()}

    def decode(self, received: dict[str, Received], ctx: LinkContext) -> Decoded:
        m, device = self.model, torch.device(self.options.device)
        cfg, b = m.cfg, ctx.batch_size
        text_len = received[TEXT_STREAM].symbols.shape[1] if TEXT_STREAM in received else 0
        _, table_symbols, values = self.split(ctx, text_len)
        table = None
        if table_symbols:
            soft = soft_bits(received[TABLE], cfg.cells, self.options.table_repetition)
            table = top_half(-torch.from_numpy(soft))          # the half most likely marked
        sizes = allocate(token_weights(table, cfg, b), values, cfg.token_values)
        rx = received[IMAGE]
        y = from_symbols((rx.symbols / rx.gain).to(device))[:, :values]
        snr_db = rx.snr_db().to(device)
        captions, text_ok = CaptionStream(self.options).receive(received, self.sent_captions(), b)
        with torch.no_grad():
            decoded = m.decoder(widen(y, sizes.to(device), cfg.token_values), snr_db, True)
            decoded = decoded.float().clamp(0, 1)
            if self.options.refine == "diffusion":
                decoded = self._refine(m, decoded, captions, text_ok, ctx)
        extras = {"saliency_allocation": torch.full((b,), table is not None)}
        if self.options.text != "none":
            extras["text_ok"] = text_ok
        return Decoded(decoded.cpu(), captions=captions, extras=extras)

    def _refine(self, m: BriGSC, decoded: torch.Tensor, captions: list[str] | None,
                text_ok: torch.Tensor, ctx: LinkContext) -> torch.Tensor:
        """The decoded image [B, 3, S, S] -> the refiner's sample, started from it at
        refine_start and conditioned on it."""
        device, b = decoded.device, len(decoded)
        condition = to_patches(decoded * 2 - 1)
        t0 = torch.full((b, m.cfg.tokens), self.options.refine_start, dtype=torch.float64)
        alpha, sigma = SCHEDULE.alpha_sigma(t0[:, :1])
        noise = torch.randn(condition.shape, generator=ctx.generator, device=device)
        x_t = (alpha.view(-1, 1, 1).float().to(device) * condition
               + sigma.view(-1, 1, 1).float().to(device) * noise)
        text = (embed(captions, str(device)) if captions is not None and any(text_ok)
                else torch.zeros(b, EMBEDDING_DIM)).to(device)
        has_text = text_ok.to(device)

        def net(x, t, conditioned):
            halves = len(x) // b
            return m.refiner(torch.cat([x, condition.repeat(halves, 1, 1)], -1), t,
                             text.repeat(halves, 1), has_text.repeat(halves) & conditioned)

        denoiser = CountedDenoiser(net, "x0", SCHEDULE, self.options.guidance)
        x0 = sample(denoiser, x_t, t0.to(device), self.options.steps, SCHEDULE,
                    self.options.sampler)
        self.last_nfe = denoiser.nfe
        return ((from_patches(x0, m.cfg.image_size) + 1) / 2).clamp(0, 1)
