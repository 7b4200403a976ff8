"""SwinJSCC (Yang et al., IEEE TCCN 2024), the variant with SNR and rate adaptation ("w/ SAandRA").

Encoder: 2x2 patch embedding, four Swin stages (patch merging before stages 2-4: downsampling 16),
LayerNorm, then the channel ModNet (scales every latent channel by a function of the SNR) and the
rate ModNet (scales them by a function of the rate; the C channels with the largest total scale
are kept, the rest zeroed). Decoder: the SNR ModNet, then four Swin stages each followed by patch
expanding, back to 3 x H x W.

CBR = C / (2 * 3 * 16^2): each 16x16 patch becomes C real values, two per complex symbol.
Module and parameter names follow the official code, so its checkpoints load with strict=True.
"""
from __future__ import annotations

import math

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from gscsim.conventions import real_awgn
from gscsim.nn.modnet import modnet_gains, modnet_layers
from gscsim.nn.swin import PatchExpanding, PatchMerging, SwinBlock, init_weights

DOWNSAMPLING = 16


class ModelConfig(BaseModel):
    """Architecture: dims/depths/heads per encoder stage (the decoder mirrors them); img_size is
    the resolution the model is built for (only the shifted-window mask buffers and the window of
    stages smaller than `window` depend on it); rates are the C values the model is trained for."""

    model_config = ConfigDict(extra="forbid")
    img_size: tuple[int, int] = (256, 256)
    embed_dims: list[int] = Field(default_factory=lambda: [128, 192, 256, 320])
    depths: list[int] = Field(default_factory=lambda: [2, 2, 6, 2])
    num_heads: list[int] = Field(default_factory=lambda: [4, 6, 8, 10])
    window: int = 8
    mlp_ratio: float = 4.0
    rates: list[int] = Field(default_factory=lambda: [32, 64, 96, 128, 192])

    @model_validator(mode="after")
    def _check(self) -> "ModelConfig":
        if not len(self.embed_dims) == len(self.depths) == len(self.num_heads) == 4:
            raise ValueError("embed_dims, depths and num_heads need one entry per stage (4 stages)")
        if any(d % h for d, h in zip(self.embed_dims, self.num_heads)):
            raise ValueError("each embed_dim must be divisible by its num_heads")
        if max(self.rates) > self.embed_dims[-1] or min(self.rates) < 1:
            raise ValueError(f"rates must lie in 1..{self.embed_dims[-1]} (the latent channels)")
        return self


def cbr_of(channels: int) -> float:
    """Channel bandwidth ratio of keeping `channels` latent channels (the paper's definition)."""
    return channels / (2 * 3 * DOWNSAMPLING ** 2)


def channels_for(cbr: float) -> int:
    """Latent channels C kept at bandwidth ratio `cbr` (rounded down so the budget holds)."""
    return math.floor(cbr * 2 * 3 * DOWNSAMPLING ** 2 + 1e-9)


class PatchEmbed(nn.Module):
    """Non-overlapping 2x2 patches -> tokens (a strided convolution)."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class EncoderStage(nn.Module):
    """Optional patch merging (in_dim -> dim, halving H and W), then Swin blocks."""

    def __init__(self, in_dim: int | None, dim: int, resolution: tuple[int, int], depth: int,
                 heads: int, cfg: ModelConfig):
        super().__init__()
        self.blocks = nn.ModuleList(SwinBlock(dim, resolution, heads, cfg.window, i % 2 == 1,
                                              cfg.mlp_ratio) for i in range(depth))
        self.downsample = PatchMerging(in_dim, dim) if in_dim is not None else None

    def forward(self, x: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, int, int]:
        if self.downsample is not None:
            x, h, w = self.downsample(x, h, w), h // 2, w // 2
        for block in self.blocks:
            x = block(x, h, w)
        return x, h, w


class DecoderStage(nn.Module):
    """Swin blocks at dim, then patch expanding (dim -> out_dim, doubling H and W)."""

    def __init__(self, dim: int, out_dim: int, resolution: tuple[int, int], depth: int, heads: int,
                 cfg: ModelConfig):
        super().__init__()
        self.blocks = nn.ModuleList(SwinBlock(dim, resolution, heads, cfg.window, i % 2 == 1,
                                              cfg.mlp_ratio) for i in range(depth))
        self.upsample = PatchExpanding(dim, out_dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, int, int]:
        for block in self.blocks:
            x = block(x, h, w)
        return self.upsample(x, h, w), 2 * h, 2 * w


class SwinJSCCEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        dims, (h, w) = cfg.embed_dims, cfg.img_size
        self.patch_embed = PatchEmbed(dims[0])
        self.layers = nn.ModuleList(
            EncoderStage(dims[i - 1] if i else None, dims[i], (h >> (i + 1), w >> (i + 1)),
                         cfg.depths[i], cfg.num_heads[i], cfg) for i in range(4))
        self.norm = nn.LayerNorm(dims[-1])
        self.apply(init_weights)
        hidden = int(dims[-1] * 1.5)
        self.bm_list, self.sm_list = modnet_layers(dims[-1], hidden)      # rate ModNet
        self.bm_list1, self.sm_list1 = modnet_layers(dims[-1], hidden)    # channel (SNR) ModNet

    def forward(self, images: torch.Tensor, snr_db: torch.Tensor, channels: int
                ) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
        """images [B, 3, H, W] in [0, 1], snr_db [B], channels C -> latent [B, L, D] with all but
        C channels zeroed, keep mask bool [B, D], latent size (H/16, W/16)."""
        _, _, h, w = images.shape
        x = self.patch_embed(images)
        h, w = h // 2, w // 2
        for stage in self.layers:
            x, h, w = stage(x, h, w)
        x = self.norm(x)
        x = x * modnet_gains(x, snr_db, self.bm_list1, self.sm_list1)
        rate = torch.full_like(snr_db, float(channels))
        gains = modnet_gains(x, rate, self.bm_list, self.sm_list)
        x = x * gains
        keep = torch.zeros(gains.shape[0], gains.shape[2], dtype=torch.bool, device=x.device)
        keep.scatter_(1, gains.sum(1).topk(channels, dim=1).indices, True)
        return x * keep.unsqueeze(1), keep, (h, w)


class SwinJSCCDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        dims = cfg.embed_dims[::-1]
        depths, heads = cfg.depths[::-1], cfg.num_heads[::-1]
        lh, lw = cfg.img_size[0] // DOWNSAMPLING, cfg.img_size[1] // DOWNSAMPLING
        self.layers = nn.ModuleList(
            DecoderStage(dims[i], dims[i + 1] if i < 3 else 3, (lh * 2 ** i, lw * 2 ** i),
                         depths[i], heads[i], cfg) for i in range(4))
        self.apply(init_weights)
        self.bm_list, self.sm_list = modnet_layers(dims[0], int(dims[0] * 1.5))

    def forward(self, latent: torch.Tensor, snr_db: torch.Tensor, size: tuple[int, int]
                ) -> torch.Tensor:
        """latent [B, L, D] (zeros where not sent), snr_db [B], latent size -> images
        [B, 3, 16h, 16w] (not clamped)."""
        x = latent * modnet_gains(latent, snr_db, self.bm_list, self.sm_list)
        h, w = size
        for stage in self.layers:
            x, h, w = stage(x, h, w)
        return x.transpose(1, 2).reshape(x.shape[0], 3, h, w)


class SwinJSCC(nn.Module):
    """Encoder + decoder; `forward` adds the AWGN channel for training."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.encoder = SwinJSCCEncoder(cfg)
        self.decoder = SwinJSCCDecoder(cfg)

    @staticmethod
    def check_size(h: int, w: int) -> None:
        if h % DOWNSAMPLING or w % DOWNSAMPLING:
            raise ValueError(f"SwinJSCC needs image sides divisible by {DOWNSAMPLING}; got {h}x{w}."
                             f" Crop or resize the dataset (e.g. the dataset's size option)")

    def forward(self, images: torch.Tensor, snr_db: torch.Tensor, channels: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Encode, send the kept values through AWGN at snr_db [B] (Es/N0 per complex symbol,
        the transmitted power normalised per image), decode. Returns images [B, 3, H, W]."""
        self.check_size(*images.shape[-2:])
        latent, keep, size = self.encoder(images, snr_db, channels)
        mask = keep.unsqueeze(1).to(latent.dtype)
        sent = keep.sum(1) * latent.shape[1]                           # real values per image
        power = (latent.float() ** 2).sum((1, 2)) / sent               # per real value
        noisy = real_awgn(latent, snr_db, generator, power) * mask     # unsent values stay 0
        return self.decoder(noisy, snr_db, size)
