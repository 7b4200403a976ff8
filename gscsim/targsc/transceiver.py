"""The `targsc` and `targsc-notext` transceivers: TarGSC on a gscsim link.

Sender: the frozen depth U-Net estimates the depth map from the image; the depth codec encodes
it and keeps C latent channels per token, sent on the `image` stream; Text2Para maps the
caption's 384-d embedding to 6 parameters; their deviation from the mean parameters (known to
both ends) makes 3 complex symbols, sent R times over on the `text` stream. Both streams count
in the CBR: C is the largest number whose symbols fit the budget beside one copy of the text
(at most the codec's D); below one full channel, a codec trained with `pool_levels` sends C
channels of a pooled token map (e.g. 4x4 tokens, 8 symbols a channel at 64x64) instead of
refusing; R fills what the depth stream leaves
(`text_repeats` fixes it instead; 1 is the paper's single copy). The receiver derives C and R
the same way, so nothing travels as side information. Receiver: the codec restores the depth
map, maximum-ratio combining merges the text copies, the text decoder turns the deviation back
into parameters, and SCVAR generates the image from both. By default (`text_decoder: prior`)
the text decoder picks the most likely of the training captions' parameters, which the bundle
holds; `mlp` is the paper's residual-MLP denoiser.
`targsc-notext` sends no text stream (its budget goes to depth) and generates with SCVAR's
learned null text: the paper's ablation.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gscsim.conventions import from_symbols, to_symbols
from gscsim.nn.text_encoder import embed
from gscsim.plugins import Batch, LinkContext, Received, Transceiver
from gscsim.scvar.zoo import scvar_files
from gscsim.targsc.codec import latent_layout, receive_latent, send_latent
from gscsim.targsc.depth import to_metres
from gscsim.targsc.zoo import (
    TEXT_SYMBOLS,
    TarGSCModels,
    checkpoint_path,
    generator_reference,
    load_models,
)

IMAGE_STREAM, TEXT_STREAM = "image", "text"


class TarGSCOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: str = Field("targsc-scenes64", description="zoo name or path of a TarGSC bundle")
    cfg_scale: float | None = Field(None, ge=0, description="SCVAR guidance; None: the "
                                                             "SCVAR checkpoint's own")
    top_k: int | None = Field(None, ge=0, description="SCVAR top-k (1 greedy); None: its own")
    text_repeats: int | None = Field(None, ge=1, description=(
        "copies of the 3 text symbols; None: as many as fit beside the depth stream (the "
        "depth keeps the channels it has beside one copy); 1: the paper's single copy"))
    text_decoder: Literal["prior", "mlp"] = Field("prior", description=(
        "prior: the most likely of the training captions' parameters (the knowledge base in "
        "the bundle); mlp: the paper's residual-MLP estimate, rescaled onto Text2Para's sphere"))
    scvar: str | None = Field(None, description=(
        "generate with this SCVAR checkpoint (zoo name or path) instead of the one the bundle "
        "names, e.g. the clean-trained generator beside a link-fine-tuned one; it must share "
        "that one's Text2Para"))
    device: str = Field("cpu", description="torch device of the models")


class TarGSC(Transceiver):
    """TarGSC: depth map over a SwinJSCC feature codec, 6 text parameters, SCVAR generation."""

    streams = (IMAGE_STREAM, TEXT_STREAM)
    Options = TarGSCOptions
    sends_text = True

    @property
    def models(self) -> TarGSCModels:
        return load_models(self.options.checkpoint, self.options.device,
                           self.options.scvar)

    def weights(self) -> list[Path]:
        """The TarGSC bundle, the SCVAR bundle it generates with and that one's VQ-VAE."""
        path = checkpoint_path(self.options.checkpoint)
        return [path, *scvar_files(generator_reference(self.options.checkpoint,
                                                       self.options.scvar))]

    def layout(self, ctx: LinkContext) -> tuple[int, int]:
        """(pool, C) of the depth stream: the most latent channels per token whose stream
        fits beside the text (one copy, or `text_repeats` copies where that is set); below one
        full channel, C channels of a pooled token map where the codec was trained for one
        (codec.latent_layout)."""
        cfg = self.models.config
        text = [TEXT_SYMBOLS * (self.options.text_repeats or 1)] if self.sends_text else []
        layout = latent_layout(cfg, ctx, text)
        if layout is None:
            pool = max(cfg.pool_levels, default=1)
            what = ("one latent channel beside the text stream" if pool == 1 else
                    f"one latent channel of the {cfg.token_side // pool}-token-wide pooled "
                    f"map beside the text stream")
            raise ctx.too_small("targsc", -(-cfg.tokens // pool ** 2 // 2) + sum(text), what)
        return layout

    def channels(self, ctx: LinkContext) -> int:
        """Kept latent channels per token C (see `layout`)."""
        return self.layout(ctx)[1]

    def image_symbols(self, ctx: LinkContext) -> int:
        """Channel uses of the depth stream."""
        pool, c = self.layout(ctx)
        return -(-(self.models.config.tokens // pool ** 2) * c // 2)

    def text_copies(self, ctx: LinkContext) -> int:
        """Copies R of the text's 3 symbols: `text_repeats`, or the most that fit beside the
        depth stream."""
        if self.options.text_repeats:
            return self.options.text_repeats
        return ctx.capacity_beside([self.image_symbols(ctx)]) // TEXT_SYMBOLS

    def encode(self, batch: Batch, ctx: LinkContext) -> dict[str, torch.Tensor]:
        m, device = self.models, torch.device(self.options.device)
        ctx.require_side(m.config.image_size, "targsc", self.options.checkpoint)
        ctx.require_scenes("targsc", self.options.checkpoint)
        snr = torch.full((len(batch),), ctx.snr_for(IMAGE_STREAM), device=device)
        with torch.no_grad():
            latent = m.codec.encode(m.unet(batch.images.to(device)), snr)
            pool, channels = self.layout(ctx)
            streams = {IMAGE_STREAM: to_symbols(send_latent(latent, channels, pool))}
            if self.sends_text:
                params = m.text2para(embed(batch.captions, str(device)))
                sent = m.text_decoder.centre(params)
                streams[TEXT_STREAM] = to_symbols(sent).repeat(1, self.text_copies(ctx))
        return {name: s.cpu() for name, s in streams.items()}

    def decode(self, received: dict[str, Received], ctx: LinkContext) -> torch.Tensor:
        m, device = self.models, torch.device(self.options.device)
        cfg = m.config
        rx = received[IMAGE_STREAM]
        pool, c = self.layout(ctx)
        values = from_symbols((rx.symbols / rx.gain).to(device))
        values = values[:, : cfg.tokens // pool ** 2 * c]
        params = None
        with torch.no_grad():
            features = m.codec.decode(
                receive_latent(values, cfg.tokens, cfg.latent_channels, pool),
                rx.snr_db().to(device))
            if self.sends_text:
                t = received[TEXT_STREAM].combine_copies(self.text_copies(ctx))
                params = m.text_decoder.for_generator(
                    from_symbols((t.symbols / t.gain).to(device)), t.snr_db().to(device),
                    use_prior=self.options.text_decoder == "prior")
            s = m.sampling
            cfg_scale = s.cfg_scale if self.options.cfg_scale is None else self.options.cfg_scale
            top_k = s.top_k if self.options.top_k is None else self.options.top_k
            images, _ = m.scvar.sample(m.vae, params, to_metres(features), cfg_scale, top_k,
                                       s.top_p, s.temperature, ctx.generator)
        return images.float().clamp(0, 1).cpu()


class TarGSCNoTextOptions(TarGSCOptions):
    """TarGSC's options; the text ones are refused away from their defaults, as this variant
    sends no text. They stay fields, and the engine passes them back at their defaults, so that
    the ablation's trial ids, and so its noise draws, are those of the stored results."""

    @model_validator(mode="after")
    def _no_text_options(self) -> TarGSCNoTextOptions:
        text = [name for name in ("text_repeats", "text_decoder")
                if getattr(self, name) != TarGSCOptions.model_fields[name].default]
        if text:
            raise ValueError(f"{', '.join(text)}: targsc-notext sends no text stream; remove "
                             "the option or use the transceiver targsc")
        return self


class TarGSCNoText(TarGSC):
    """TarGSC without the text parameters (the ablation): depth only, SCVAR's null text."""

    Options = TarGSCNoTextOptions
    sends_text = False
