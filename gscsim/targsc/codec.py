"""TarGSC's depth-map codec and text-parameter decoder, and the real-valued view of the channel
they are trained through.

Sender: log-depth features [B, 1, S, S] -> visual feature encoder (4 depthwise-separable conv
blocks, widths 32-64-128-256, the first three halving the side) -> a SwinJSCC feature encoder
(Swin blocks on the S/8 x S/8 token map, SwinJSCC's channel ModNet for SNR adaptation, a linear
head) -> latent [B, L, D], L = (S/8)^2. Rate adaptation keeps the first C of the D channels
(training draws C at random, so the channels come out ordered by importance); the receiver
derives C from the budget, so no side information is needed. Receiver: zero-fill to D ->
SwinJSCC feature decoder (linear, ModNet, Swin blocks) -> visual feature decoder (256-128-64-1,
each stage doubling the side) -> log-depth features.

Channel convention (shared with the transceiver): the n sent real values are normalised to mean
square 1 per image and paired into n/2 complex symbols (a + jb)/sqrt(2) of unit mean power; at
Es/N0 = s dB the receiver, scaling back by sqrt(2), sees each real value plus Gaussian noise of
variance 10^(-s/10).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from gscsim.conventions import unit_mean_square
from gscsim.nn.modnet import modnet_gains, modnet_layers
from gscsim.nn.swin import SwinBlock, init_weights

ENCODER_STRIDES = (2, 2, 2, 1)       # 4 visual encoder blocks: the token map is S/8 on a side


class CodecConfig(BaseModel):
    """Architecture of the depth codec and the text-parameter decoder."""

    model_config = ConfigDict(extra="forbid")
    image_size: int = Field(64, ge=16, description="image and depth side (px), a multiple of 8")
    unet_widths: tuple[int, ...] = Field((16, 32, 64, 128), description="depth U-Net levels")
    encoder_widths: tuple[int, int, int, int] = (32, 64, 128, 256)
    decoder_widths: tuple[int, int, int, int] = (256, 128, 64, 1)
    swin_depth: int = Field(2, ge=1, description="Swin blocks in the feature encoder and decoder")
    swin_heads: int = Field(4, ge=1)
    window: int = Field(8, ge=1)
    mlp_ratio: float = 2.0
    modnet_hidden: int = Field(64, ge=1, description="width of the SNR ModNets")
    latent_channels: int = Field(32, ge=1, description="D: real values per token at most")
    text_params: int = Field(6, ge=2, description="Text2Para outputs (an even number)")
    text_hidden: tuple[int, ...] = Field((16, 32), description="text decoder hidden sizes")
    pool_levels: tuple[int, ...] = Field((), description=(
        "coarser latent maps the codec is trained to restore depth from, as side pooling "
        "factors of the token map (e.g. (2, 4): 4x4 and 2x2 maps at 64x64); they serve "
        "budgets below one full channel. Empty: full token maps only"))

    @model_validator(mode="after")
    def _pools_tile_the_map(self) -> CodecConfig:
        bad = [p for p in self.pool_levels if p < 2 or self.token_side % p]
        if bad:
            raise ValueError(f"pool_levels {bad}: each must be at least 2 and divide the "
                             f"{self.token_side}x{self.token_side} token map")
        return self

    @property
    def token_side(self) -> int:
        return self.image_size // 8

    @property
    def tokens(self) -> int:
        return self.token_side ** 2


def separable_block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    """Depthwise 3x3 (with stride) + pointwise 1x1 convolution, GroupNorm, SiLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in),
                         nn.Conv2d(c_in, c_out, 1), nn.GroupNorm(min(8, c_out), c_out), nn.SiLU())


def swin_stack(cfg: CodecConfig, dim: int) -> nn.ModuleList:
    side = (cfg.token_side, cfg.token_side)
    return nn.ModuleList(SwinBlock(dim, side, cfg.swin_heads, cfg.window, i % 2 == 1,
                                   cfg.mlp_ratio) for i in range(cfg.swin_depth))


class DepthCodec(nn.Module):
    """The depth map's path across the link: `encode` on the sender, `decode` on the receiver."""

    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.cfg = cfg
        widths, dim = cfg.encoder_widths, cfg.encoder_widths[-1]
        self.visual_encoder = nn.Sequential(*(
            separable_block(c_in, c_out, s)
            for c_in, c_out, s in zip((1,) + widths[:-1], widths, ENCODER_STRIDES)))
        self.encoder_blocks = swin_stack(cfg, dim)
        self.encoder_norm = nn.LayerNorm(dim)
        self.encoder_head = nn.Linear(dim, cfg.latent_channels)
        self.decoder_head = nn.Linear(cfg.latent_channels, dim)
        self.decoder_blocks = swin_stack(cfg, dim)
        self.apply(init_weights)
        # SwinJSCC's channel ModNet on each side (narrower than its 1.5 x dim: the codec is small)
        self.snr_mod_enc, self.snr_lin_enc = modnet_layers(dim, cfg.modnet_hidden)
        self.snr_mod_dec, self.snr_lin_dec = modnet_layers(dim, cfg.modnet_hidden)
        out = cfg.decoder_widths
        stages = []
        for c_in, c_out in zip(out[:-1], out[1:]):
            last = c_out == out[-1]
            stages += [nn.Upsample(scale_factor=2, mode="nearest"),
                       nn.Conv2d(c_in, c_in, 3, 1, 1, groups=c_in), nn.Conv2d(c_in, c_out, 1)]
            if not last:
                stages += [nn.GroupNorm(min(8, c_out), c_out), nn.SiLU()]
        self.visual_decoder = nn.Sequential(*stages)

    def encode(self, features: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Log-depth features [B, 1, S, S], SNR [B] (dB) -> latent [B, L, D]."""
        x = self.visual_encoder(features)
        b, c, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        for block in self.encoder_blocks:
            x = block(x, h, w)
        x = self.encoder_norm(x)
        x = x * modnet_gains(x, snr_db, self.snr_mod_enc, self.snr_lin_enc)
        return self.encoder_head(x)

    def decode(self, latent: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Received latent [B, L, D] (zeros in unsent channels), SNR [B] (dB) -> log-depth
        features [B, 1, S, S]."""
        x = self.decoder_head(latent)
        x = x * modnet_gains(x, snr_db, self.snr_mod_dec, self.snr_lin_dec)
        side = self.cfg.token_side
        for block in self.decoder_blocks:
            x = block(x, side, side)
        x = x.transpose(1, 2).reshape(len(x), -1, side, side)
        return self.visual_decoder(x)


class TextDecoder(nn.Module):
    """The text parameters' path across the link, sender side (`centre`) and receiver side.

    Text2Para emits P parameters of unit mean square, i.e. points on the sphere of radius
    sqrt(P), whose mean over captions `mean` [P] (set from the training captions, a constant of
    the trained link) carries about half their power and no information. The sender sends the
    deviation p - mean, which the engine's unit-power normalisation scales by an unknown factor;
    the receiver restores the length exactly because p lies on the sphere (`on_sphere`). The
    decoder blends that exact inverse with a learned estimate, exact + g (mean + MLP([y,
    snr/10]) - exact), MLP with the paper's hidden sizes 16, 32. The gate g = N/(1 + N), N =
    10^(-snr/10) the noise variance per unit-power value, is the share of y that the linear MMSE
    estimate replaces: the learned part vanishes at high SNR and takes over at low SNR.

    `prior` [K, P] holds Text2Para's outputs for the K training captions, a knowledge base both
    ends share (not in the state_dict; the bundle stores it beside). `most_likely` decodes to
    one of them; `for_generator` chooses what SCVAR gets."""

    def __init__(self, params: int = 6, hidden: tuple[int, ...] = (16, 32)):
        super().__init__()
        layers, width = [], params + 1
        for h in hidden:
            layers += [nn.Linear(width, h), nn.SiLU()]
            width = h
        self.mlp = nn.Sequential(*layers, nn.Linear(width, params))
        self.register_buffer("mean", torch.zeros(params))
        self.register_buffer("prior", torch.zeros(0, params), persistent=False)

    def set_prior(self, params: torch.Tensor) -> None:
        """The knowledge base: Text2Para's outputs [K, P] for the training captions."""
        self.prior = params.detach().float().to(self.mean.device)

    def centre(self, params: torch.Tensor) -> torch.Tensor:
        """Sender: unit-mean-square parameters [B, P] -> the values sent, their deviation from
        the mean, normalised to mean square 1 per row [B, P]."""
        return unit_mean_square(params - self.mean)

    def on_sphere(self, received: torch.Tensor) -> torch.Tensor:
        """Received deviations [B, P] -> mean + t u, u the unit direction received and t >= 0
        the length that puts the point on the sphere |p|^2 = P (exact for noiseless input)."""
        u = received / received.norm(dim=1, keepdim=True).clamp_min(1e-12)
        along = u @ self.mean
        radius2 = received.shape[1]
        t = -along + (along.square() - self.mean.square().sum() + radius2).clamp_min(0).sqrt()
        return self.mean + t.unsqueeze(1) * u

    def forward(self, received: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Received deviations [B, P] at post-combining SNR snr_db [B] (dB) -> parameters."""
        side = (snr_db.to(received.dtype) / 10).view(-1, 1)
        noise = 10.0 ** -side
        exact = self.on_sphere(received)
        learned = self.mean + self.mlp(torch.cat([received, side], 1))
        return exact + noise / (1 + noise) * (learned - exact)

    def most_likely(self, received: torch.Tensor) -> torch.Tensor:
        """Received deviations [B, P] -> the prior's parameters [B, P] whose sent values lie
        nearest: the maximum-likelihood choice among the K on AWGN, at any SNR."""
        if not len(self.prior):
            raise ValueError("this text decoder has no prior (knowledge base); retrain the "
                             "bundle with `gscsim train targsc`")
        return self.prior[torch.cdist(received, self.centre(self.prior)).argmin(1)]

    def for_generator(self, received: torch.Tensor, snr_db: torch.Tensor, use_prior: bool
                      ) -> torch.Tensor:
        """What SCVAR gets [B, P], always on Text2Para's sphere (mean square 1 per row), the
        only parameters it was trained on: the prior's most likely entry, or the MLP estimate
        rescaled onto the sphere (it shrinks towards `mean` as the SNR falls)."""
        if use_prior:
            return self.most_likely(received)
        return unit_mean_square(self(received, snr_db))


def send_latent(latent: torch.Tensor, channels: int, pool: int = 1) -> torch.Tensor:
    """The first `channels` of each token's latent values [B, L, D] (L a square token map),
    averaged over pool x pool tokens, flattened token by token and normalised to unit mean
    square: the real values the sender transmits [B, (L / pool^2) * channels]."""
    kept = latent[..., :channels]
    if pool > 1:
        b, tokens, c = kept.shape
        side = math.isqrt(tokens)
        grid = kept.transpose(1, 2).reshape(b, c, side, side)
        kept = F.avg_pool2d(grid, pool).flatten(2).transpose(1, 2)
    return unit_mean_square(kept.flatten(1))


def receive_latent(values: torch.Tensor, tokens: int, latent_channels: int, pool: int = 1
                   ) -> torch.Tensor:
    """Received real values [B, (L / pool^2) * C] -> the decoder's latent [B, L, D]: each
    pooled value repeated over its pool x pool tokens, zeros in the channels not sent."""
    b = len(values)
    kept = values.view(b, tokens // pool ** 2, -1)
    if pool > 1:
        side, c = math.isqrt(tokens) // pool, kept.shape[-1]
        grid = kept.transpose(1, 2).reshape(b, c, side, side)
        kept = F.interpolate(grid, scale_factor=pool, mode="nearest").flatten(2).transpose(1, 2)
    return F.pad(kept, (0, latent_channels - kept.shape[-1]))


def latent_layout(cfg: CodecConfig, ctx, beside: list[int]) -> tuple[int, int] | None:
    """(pool, channels) of the depth stream for this budget beside streams of `beside`
    symbols: the most full-map channels that fit, else, on the finest pooled map the codec
    was trained for (cfg.pool_levels), the most channels that fit; None where nothing fits."""
    for pool in (1, *sorted(cfg.pool_levels)):
        tokens = cfg.tokens // pool ** 2
        c = ctx.largest_fitting(cfg.latent_channels, lambda k, t=tokens: -(-t * k // 2), beside)
        if c >= 1:
            return pool, c
    return None
