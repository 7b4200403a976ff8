"""The `sgd-jscc` transceiver: SGD-JSCC-small (gscsim.baselines.sgd_jscc.model) on a gscsim link.

Streams, every symbol counted in the CBR:
* `text` (option `text: digital`, the default): the caption's UTF-8 bytes (one length byte,
  then at most 255 bytes) through the project's CRC + 5G LDPC + QAM chain at `text_mcs`, sized
  for the batch's longest caption. It is sent only where it takes at most `max_text_share` of
  the budget beside one image token; otherwise, or where a CRC fails, that frame's receiver runs
  unconditioned, and `text_ok` in frames.csv says so. `text: genie` is what the released code
  does: the true caption reaches the receiver free and error-free (not counted; tables label
  it); `text: none` sends none.
* `edges`: the soft edge map's first tokens (coarse to fine), `edge_share` of what the text
  leaves.
* `image`: the latent's first P tokens (coarse to fine), as many as fit in the rest.
The receiver derives the same split from the budget and the text stream's length, so nothing
else travels. Receiver: the image latent's received tokens, scaled back to unit power, are x_t
at alpha_bar = SNR / (1 + SNR); unsent tokens start as pure noise (t = 1); the denoiser runs
`steps` steps of `sampler` with classifier-free guidance `guidance` on the text, the edge
branch reading the decoded edge map; the JSCC decoder turns the result into the image.
`steps: 0` decodes the received latent directly (the JSCC decoder alone). The SNR is the
receiver's channel estimate (`snr_estimate: known`) or estimated from the received latent's
power (`estimated`: its tokens have unit mean square, so N0 = mean |y|^2 - 1).
"""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from gscsim.baselines.sgd_jscc.model import (
    SGDJSCC,
    kept_mask,
    soft_edges,
    symbols_for,
    tokens_for,
)
from gscsim.baselines.sgd_jscc.zoo import FAMILY
from gscsim.conventions import from_symbols, noise_variance, to_symbols, unit_mean_square
from gscsim.nn.diffusion import CosineSchedule, CountedDenoiser, alpha_bar_of_snr, sample
from gscsim.nn.text_encoder import EMBEDDING_DIM, embed
from gscsim.phy.captions import TEXT_STREAM as TEXT
from gscsim.phy.captions import CaptionOptions, CaptionStream, GenieCaptions
from gscsim.plugins import Batch, Decoded, LinkContext, Received, Transceiver
from gscsim.zoo import ZooModel

IMAGE, EDGES = "image", "edges"
SCHEDULE = CosineSchedule()
CLEAN_SNR_DB = 30.0          # what the JSCC decoder is told for a denoised latent


class SGDOptions(CaptionOptions):
    checkpoint: str = Field("sgd-jscc-scenes64", description="zoo name or path of a bundle")
    edge_share: float = Field(0.2, ge=0, lt=1, description=(
        "share of what the text leaves that goes to the edge map"))
    steps: int = Field(50, ge=0, description="denoiser steps; 0: the JSCC decoder alone")
    sampler: Literal["dpmpp2m", "ddim"] = Field("dpmpp2m", description=(
        "DPM-Solver++(2M) or DDIM (deterministic ODE samplers)"))
    guidance: float = Field(4.0, ge=0, description="classifier-free guidance on the text")
    snr_estimate: Literal["known", "estimated"] = Field("known", description=(
        "the receiver knows the SNR, or estimates it from the received latent"))
    device: str = Field("cpu", description="torch device of the models")


class SGDJSCCLink(GenieCaptions, ZooModel, Transceiver):
    """SGD-JSCC: latent JSCC with an edge stream and text, refined by a latent diffusion
    denoiser that starts from the received latent (Zhang et al. 2025), small."""

    streams = (IMAGE, EDGES, TEXT)
    family = FAMILY
    Options = SGDOptions

    # ------------------------------------------------------------------ the budget
    def split(self, ctx: LinkContext, text_symbols: int) -> tuple[int, int, int]:
        """(text symbols, edge tokens, image tokens) at this budget; a text stream that would
        take more than max_text_share of the budget beside one image token is dropped (0)."""
        cfg = self.model.cfg
        one_token = symbols_for(1, cfg.latent_channels)
        text_symbols = CaptionStream(self.options).admitted(ctx, text_symbols, one_token)
        text = [text_symbols] if text_symbols else []
        room = ctx.capacity_beside(text)
        edges = min(cfg.tokens, tokens_for(int(self.options.edge_share * room),
                                           cfg.edge_channels))
        edge_stream = [symbols_for(edges, cfg.edge_channels)] if edges else []
        image = ctx.largest_fitting(cfg.tokens, lambda k: symbols_for(k, cfg.latent_channels),
                                    text + edge_stream)
        if image < 1:
            raise ctx.too_small("sgd-jscc", one_token, "one latent token")
        return text_symbols, edges, image

    # ------------------------------------------------------------------ sender
    def encode(self, batch: Batch, ctx: LinkContext) -> dict[str, torch.Tensor]:
        m, device = self.model, torch.device(self.options.device)
        ctx.require_side(m.cfg.image_size, "sgd-jscc", self.options.checkpoint)
        ctx.require_scenes("sgd-jscc", self.options.checkpoint)
        self.keep_captions(batch.captions)
        text_stream = CaptionStream(self.options)
        text_symbols, edges, image = self.split(ctx, text_stream.wanted(batch.captions))
        streams: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            latent = m.to_tokens(m.image.encode(batch.images.to(device)))
            streams[IMAGE] = to_symbols(latent[:, m.order[:image]].flatten(1))
            if edges:
                edge_latent = m.to_tokens(m.edge.encode(soft_edges(batch.images).to(device)))
                streams[EDGES] = to_symbols(edge_latent[:, m.order[:edges]].flatten(1))
        streams.update(text_stream.encode(batch.captions, text_symbols))
        return {name: s.cpu() for name, s in streams.items()}

    def encoding_is_snr_free(self) -> bool:
        """The latents, edges and caption bits do not depend on the SNR (only the receiver
        adapts to it), so a sweep encodes each batch once; not with `text: genie`, whose
        decoder reads the captions encode kept."""
        return self.options.text != "genie"

    # ------------------------------------------------------------------ receiver
    def decode(self, received: dict[str, Received], ctx: LinkContext) -> Decoded:
        m, device = self.model, torch.device(self.options.device)
        cfg, b = m.cfg, ctx.batch_size
        text_len = received[TEXT].symbols.shape[1] if TEXT in received else 0
        _, edges, image = self.split(ctx, text_len)
        captions, text_ok = CaptionStream(self.options).receive(received, self.sent_captions(), b)
        rx = received[IMAGE]
        values = from_symbols((rx.symbols / rx.gain).to(device))
        values = values[:, : image * cfg.latent_channels].view(b, image, cfg.latent_channels)
        sent = torch.zeros(b, cfg.tokens, cfg.latent_channels, device=device)
        sent[:, m.order[:image]] = values
        if self.options.snr_estimate == "known":
            snr_db = rx.snr_db().to(device)
        else:
            n0 = (values.square().mean((1, 2)) - 1).clamp_min(1e-4)
            snr_db = -10 * torch.log10(n0)
        with torch.no_grad():
            control = None
            if edges:
                e = received[EDGES]
                edge_values = from_symbols((e.symbols / e.gain).to(device))
                edge_values = edge_values[:, : edges * cfg.edge_channels].view(b, edges, -1)
                edge_tokens = torch.zeros(b, cfg.tokens, cfg.edge_channels, device=device)
                edge_tokens[:, m.order[:edges]] = edge_values
                edge_map = torch.sigmoid(m.edge.decode(m.from_tokens(edge_tokens),
                                                       e.snr_db().to(device)))
                control = m.control(edge_map)
            if self.options.steps == 0:
                images = m.image.decode(m.from_tokens(sent), snr_db)
            else:
                latent = self._denoise(m, sent, image, snr_db, captions, text_ok, control, ctx)
                images = m.image.decode(m.from_tokens(latent),
                                        torch.full((b,), CLEAN_SNR_DB, device=device))
        if self.options.text == "none":
            return Decoded(images.float().clamp(0, 1).cpu())
        return Decoded(images.float().clamp(0, 1).cpu(), captions=captions,
                       extras={"text_ok": text_ok})

    def _denoise(self, m: SGDJSCC, sent: torch.Tensor, image_tokens: int, snr_db: torch.Tensor,
                 captions: list[str], text_ok: torch.Tensor, control, ctx: LinkContext
                 ) -> torch.Tensor:
        """The received latent tokens [B, L, C] (zeros where unsent) -> the sampled x0 latent."""
        device, b = sent.device, len(sent)
        received = kept_mask(image_tokens, m.order, b).to(device)
        alpha_bar = alpha_bar_of_snr(snr_db)
        n0 = noise_variance(snr_db.double())
        x_t = (sent / (1 + n0).sqrt().view(-1, 1, 1).to(sent.dtype))
        noise = torch.randn(sent.shape, generator=ctx.generator, device=device)
        x_t = torch.where(received.unsqueeze(-1), x_t, noise)
        t_received = SCHEDULE.t_of_alpha_bar(alpha_bar).view(-1, 1).to(device)
        t_start = torch.where(received, t_received,
                              torch.ones((), dtype=torch.float64, device=device))
        text = embed(captions, str(device)) if any(text_ok) else torch.zeros(b, EMBEDDING_DIM)
        text, has_text = text.to(device), text_ok.to(device)

        def net(x, t, conditioned):
            halves = len(x) // b
            rows_text, rows_has = text.repeat(halves, 1), has_text.repeat(halves) & conditioned
            features = None if control is None else [
                f.repeat(halves, 1, 1) * conditioned.view(-1, 1, 1).to(f.dtype) for f in control]
            return m.denoiser(x, t, rows_text, rows_has, features)

        denoiser = CountedDenoiser(net, "x0", SCHEDULE, self.options.guidance)
        x0 = sample(denoiser, x_t, t_start, self.options.steps, SCHEDULE, self.options.sampler)
        self.last_nfe = denoiser.nfe
        return unit_mean_square(x0, dim=-1)
