"""SGD-JSCC-small: the networks of Semantics-Guided Diffusion for deep JSCC (Zhang et al.,
arXiv 2501.01138), sized for 64x64 scenes.

* Image JSCC: a conv encoder maps the image [B, 3, S, S] to a latent [B, C, S/8, S/8] (C = 16,
  as the released code's KL-VAE), i.e. L = (S/8)^2 tokens of C values, each token normalised
  to unit mean square (the released code normalises the whole latent; per token, any prefix
  that is sent already has unit power); a conv decoder with SNR ModNet adaptation maps a
  received latent back.
  Rate: the sender keeps the first P tokens in a fixed coarse-to-fine order (`token_order`);
  the receiver's latent holds zeros (JSCC decoder) or pure noise (diffusion) at the others.
* Edge JSCC: the soft edge map [B, 1, S, S] (`soft_edges`) through its own small conv codec to
  [B, E, S/8, S/8] (E = 4), kept the same way, restored with a sigmoid.
* Denoiser: a diffusion transformer over the L latent tokens, predicting x0. Each token carries
  its own time (received tokens start at the SNR's noise level, unsent ones at t = 1); the text
  condition (a 384-d caption embedding, or a learned null) modulates every block (adaLN-Zero);
  a ControlNet-style branch reads the received edge map and adds its features to each block's
  input through zero-initialised projections, so that training it starts from the denoiser as
  it was.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from gscsim.conventions import unit_mean_square
from gscsim.nn.dit import TokenDenoiser
from gscsim.nn.modnet import modnet_gains, modnet_layers


class SGDConfig(BaseModel):
    """Architecture of SGD-JSCC-small."""

    model_config = ConfigDict(extra="forbid")
    image_size: int = Field(64, ge=16, description="image side (px), a multiple of 8")
    latent_channels: int = Field(16, ge=2, description="C: values per latent token (even)")
    edge_channels: int = Field(4, ge=2, description="E: values per edge token (even)")
    codec_widths: tuple[int, int, int] = Field((32, 64, 128), description="conv codec widths")
    edge_widths: tuple[int, int, int] = Field((16, 32, 32), description="edge codec widths")
    modnet_hidden: int = Field(64, ge=1, description="width of the decoder's SNR ModNet")
    width: int = Field(256, ge=16, description="denoiser width")
    depth: int = Field(7, ge=1, description="denoiser blocks")
    heads: int = Field(4, ge=1)
    mlp_ratio: float = 4.0

    @property
    def side(self) -> int:
        return self.image_size // 8

    @property
    def tokens(self) -> int:
        return self.side ** 2


def token_order(side: int) -> torch.Tensor:
    """The order in which the side x side latent tokens are sent: coarse to fine (every 8th
    position first, then the 4-grid, 2-grid and the rest), so that any prefix covers the image
    evenly. int64 [side^2], a permutation of the row-major token indices."""
    rows, cols = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    level = np.full((side, side), 4)
    for stride, rank in ((2, 3), (4, 2), (8, 1)):
        level[(rows % stride == 0) & (cols % stride == 0)] = rank
    return torch.from_numpy(np.lexsort(((rows * side + cols).ravel(), level.ravel())))


def kept_mask(kept: int, order: torch.Tensor, batch: int) -> torch.Tensor:
    """bool [batch, L]: which tokens the first `kept` of `order` are."""
    mask = torch.zeros(len(order), dtype=torch.bool)
    mask[order[:kept]] = True
    return mask.unsqueeze(0).expand(batch, -1)


def soft_edges(images: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Soft edge maps float [B, 1, S, S] in [0, 1] of images [B, 3, S, S]: scikit-image's Canny
    detector on the luminance, blurred by a Gaussian of `sigma` px and scaled to peak 1."""
    from skimage.feature import canny
    from skimage.filters import gaussian

    gray = (images.detach().float().cpu() * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            ).sum(1).numpy()
    maps = []
    for g in gray:
        edges = gaussian(canny(g, sigma=sigma).astype(np.float32), sigma=sigma)
        maps.append(edges / max(float(edges.max()), 1e-6))
    return torch.from_numpy(np.stack(maps)).float().unsqueeze(1)


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1), nn.GroupNorm(8, c_out), nn.SiLU(),
                         nn.Conv2d(c_out, c_out, 3, 1, 1), nn.GroupNorm(8, c_out), nn.SiLU())


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv2d(c_in, c_out, 3, 1, 1), nn.GroupNorm(8, c_out), nn.SiLU(),
                         nn.Conv2d(c_out, c_out, 3, 1, 1), nn.GroupNorm(8, c_out), nn.SiLU())


class ConvCodec(nn.Module):
    """x [B, c_in, S, S] <-> latent [B, c_latent, S/8, S/8]; the decoder is SNR-adaptive
    (ModNet gains on its first features)."""

    def __init__(self, c_in: int, c_latent: int, widths: tuple[int, int, int],
                 modnet_hidden: int):
        super().__init__()
        w1, w2, w3 = widths
        self.encoder = nn.Sequential(nn.Conv2d(c_in, w1, 3, 1, 1), nn.SiLU(), _down(w1, w1),
                                     _down(w1, w2), _down(w2, w3), nn.Conv2d(w3, c_latent, 1))
        self.decoder_in = nn.Conv2d(c_latent, w3, 3, 1, 1)
        self.snr_mod, self.snr_lin = modnet_layers(w3, modnet_hidden)
        self.decoder = nn.Sequential(nn.SiLU(), _up(w3, w2), _up(w2, w1), _up(w1, w1),
                                     nn.Conv2d(w1, c_in, 3, 1, 1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, c_in, S, S] -> latent [B, c_latent, S/8, S/8], unit mean square per token."""
        return unit_mean_square(self.encoder(x), dim=1)     # per token

    def decode(self, latent: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Received latent [B, c_latent, S/8, S/8] (zeros where unsent), SNR [B] (dB) -> the
        decoder's output [B, c_in, S, S] (not squashed)."""
        h = self.decoder_in(latent)
        b, c, hh, ww = h.shape
        tokens = h.flatten(2).transpose(1, 2)
        gains = modnet_gains(tokens, snr_db, self.snr_mod, self.snr_lin)
        h = (tokens * gains).transpose(1, 2).reshape(b, c, hh, ww)
        return self.decoder(h)


class EdgeControl(nn.Module):
    """The ControlNet-style branch: an edge map [B, 1, S, S] -> one feature map per denoiser
    block [B, L, width], each through a zero-initialised projection."""

    def __init__(self, cfg: SGDConfig):
        super().__init__()
        w = cfg.width
        self.features = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1), nn.SiLU(), _down(16, 32),
                                      _down(32, 64), _down(64, 64), nn.Conv2d(64, w, 1))
        self.projections = nn.ModuleList(nn.Linear(w, w) for _ in range(cfg.depth))
        for p in self.projections:
            nn.init.zeros_(p.weight)
            nn.init.zeros_(p.bias)

    def forward(self, edges: torch.Tensor) -> list[torch.Tensor]:
        f = self.features(edges * 2 - 1).flatten(2).transpose(1, 2)
        return [p(f) for p in self.projections]


class SGDJSCC(nn.Module):
    """The three parts: image JSCC, edge JSCC, denoiser with its edge branch."""

    def __init__(self, cfg: SGDConfig):
        super().__init__()
        self.cfg = cfg
        self.image = ConvCodec(3, cfg.latent_channels, cfg.codec_widths, cfg.modnet_hidden)
        self.edge = ConvCodec(1, cfg.edge_channels, cfg.edge_widths, cfg.modnet_hidden)
        self.denoiser = TokenDenoiser(cfg.latent_channels, cfg.latent_channels, cfg.tokens,
                                      cfg.width, cfg.depth, cfg.heads, cfg.mlp_ratio)
        self.control = EdgeControl(cfg)
        self.register_buffer("order", token_order(cfg.side), persistent=False)

    def to_tokens(self, latent: torch.Tensor) -> torch.Tensor:
        """[B, C, s, s] -> [B, L, C] (row-major tokens)."""
        return latent.flatten(2).transpose(1, 2)

    def from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B, L, C] -> [B, C, s, s]."""
        side = self.cfg.side
        return tokens.transpose(1, 2).reshape(len(tokens), -1, side, side)


def tokens_for(symbols: int, channels: int) -> int:
    """Whole tokens of `channels` real values that `symbols` complex symbols hold."""
    return (2 * symbols) // channels


def symbols_for(tokens: int, channels: int) -> int:
    """Complex symbols that `tokens` tokens of `channels` real values take."""
    return math.ceil(tokens * channels / 2)
