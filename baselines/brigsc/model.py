"""BriGSC-small: the networks of "Bridging Semantic Scale Gaps in Image Transmission Through
Multi-Scale Joint Perception and Generation" (IEEE WCL 2025), sized for 64x64 scenes.

* Encoder: a small ViT (8x8 patches: L = (S/8)^2 tokens) whose attention maps give each token's
  saliency (the attention it receives, summed over queries, softmax over tokens, averaged over
  heads and layers, as in the released code), then a head to D values per token and
  SwinJSCC's SNR ModNet (on from the second training stage).
* Allocation: the image stream's real values are shared among the tokens in proportion to a
  weight, exactly (largest remainders, at most D each; `allocate`). With saliency, the weight is
  read from a coarse table both ends know: the (S/16)^2 cells of 2x2 tokens, the most salient
  half of which weigh `salient_ratio` (3) and the rest 1 (`saliency_table`, one bit per cell,
  sent as side information); uniform allocation needs no table.
* Each token's D values are shrunk to its share by averaging over equal bins and widened back
  by linear interpolation at the receiver; the channel adds its noise to the shrunk values,
  the ones actually sent.
* Decoder: the widened tokens, the SNR ModNet, and Swin stages with patch expanding (the
  project's shared Swin blocks), back to the image, as a residual on the training set's mean
  image (a buffer the trainer sets; trained to predict the whole image, this decoder settles
  on the mean image on the scene set, whose scenes differ little pixel by pixel).
* Refiner: a diffusion transformer over 8x8 pixel patches that starts from the decoded image
  noised to `refine_start` and is conditioned on it (and on the caption's embedding).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from gscsim.nn.dit import TokenDenoiser
from gscsim.nn.modnet import modnet_gains, modnet_layers
from gscsim.nn.swin import PatchExpanding, SwinBlock, init_weights

PATCH = 8


class BriGSCConfig(BaseModel):
    """Architecture of BriGSC-small."""

    model_config = ConfigDict(extra="forbid")
    image_size: int = Field(64, ge=32, description="image side (px), a multiple of 16")
    vit_width: int = Field(128, ge=16)
    vit_depth: int = Field(4, ge=1)
    vit_heads: int = Field(4, ge=1)
    token_values: int = Field(48, ge=2, description="D: values per token before shrinking")
    decoder_dims: tuple[int, int, int, int] = Field((128, 96, 64, 32), description=(
        "Swin decoder widths, from the token map up (the paper's 320-256-192-128, smaller)"))
    decoder_depths: tuple[int, int, int, int] = (2, 2, 2, 2)
    decoder_heads: tuple[int, int, int, int] = (4, 4, 4, 2)
    window: int = 8
    modnet_hidden: int = Field(64, ge=1)
    salient_ratio: float = Field(3.0, ge=1, description="weight of a salient cell's tokens")
    refiner_width: int = Field(256, ge=16)
    refiner_depth: int = Field(7, ge=1)
    refiner_heads: int = Field(4, ge=1)

    @property
    def side(self) -> int:
        return self.image_size // PATCH

    @property
    def tokens(self) -> int:
        return self.side ** 2

    @property
    def cells(self) -> int:
        return (self.side // 2) ** 2


def allocate(weights: torch.Tensor, total: int, cap: int) -> torch.Tensor:
    """Values per token, int64 [B, L]: `total` values (at most L * cap) shared in proportion to
    weights [B, L] >= 0, no token above `cap`, summing exactly to `total` (largest remainders
    after capping)."""
    b, n = weights.shape
    total = min(total, n * cap)
    out = torch.zeros(b, n, dtype=torch.int64)
    for row in range(b):
        w = weights[row].double().clamp_min(0) + 1e-12
        ideal = torch.zeros(n, dtype=torch.float64)
        fixed = torch.zeros(n, dtype=torch.bool)
        while True:                      # cap, and share what the capped ones leave
            free = ~fixed
            left = total - cap * int(fixed.sum())
            ideal[free] = left * w[free] / w[free].sum()
            over = free & (ideal > cap)
            if not over.any():
                break
            fixed |= over
            ideal[fixed] = cap
        base = ideal.floor().long().clamp(max=cap)
        short = total - int(base.sum())
        if short > 0:
            remainder = torch.where(base < cap, ideal - base, torch.full_like(ideal, -1.0))
            base[remainder.argsort(descending=True, stable=True)[:short]] += 1
        out[row] = base
    return out


def top_half(scores: torch.Tensor) -> torch.Tensor:
    """bool [B, N]: the half of N cells with the higher scores [B, N] (ties to the lower
    index). Every table marks exactly half its cells, so a receiver that picks the half most
    likely marked from the bits' likelihoods decodes it under that constraint."""
    top = scores.argsort(dim=1, descending=True, stable=True)[:, : scores.shape[1] // 2]
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, top, True)


def saliency_table(saliency: torch.Tensor, side: int) -> torch.Tensor:
    """bool [B, (side/2)^2]: which cells of 2x2 tokens hold the more salient half (by their
    summed saliency [B, side^2]; ties to the lower index)."""
    b = len(saliency)
    return top_half(saliency.view(b, side // 2, 2, side // 2, 2).sum((2, 4)).flatten(1))


def detail_saliency(images: torch.Tensor) -> torch.Tensor:
    """Each 8x8 patch's share of the image's detail [B, L] (summing to 1): its pixel variance,
    summed over the colours, over the image's total. A sender-side rule the project supplies
    beside the attention saliency (docs/transceivers/brigsc.md says why)."""
    patches = to_patches(images).view(len(images), -1, 3, PATCH * PATCH)
    variance = patches.float().var(-1).sum(-1)
    return variance / variance.sum(1, keepdim=True).clamp_min(1e-12)


def token_weights(table: torch.Tensor | None, cfg: BriGSCConfig, batch: int) -> torch.Tensor:
    """Allocation weights [B, L] of the tokens: from the cell table, or uniform (None)."""
    if table is None:
        return torch.ones(batch, cfg.tokens)
    half = cfg.side // 2
    w = 1.0 + (cfg.salient_ratio - 1.0) * table.float().view(batch, half, 1, half, 1)
    return w.expand(batch, half, 2, half, 2).reshape(batch, cfg.tokens)


def shrink(tokens: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """Tokens [B, L, D] and sizes [B, L] -> the sent values [B, sum(sizes)] (the same sum in
    every row): each token averaged over `size` equal bins, tokens in order."""
    b, n, d = tokens.shape
    parts = torch.zeros(b, n, d, dtype=tokens.dtype, device=tokens.device)
    for size in sizes.unique().tolist():
        if size == 0:
            continue
        where = sizes == size
        pooled = F.adaptive_avg_pool1d(tokens[where].unsqueeze(1), size).squeeze(1)
        parts[where] = F.pad(pooled, (0, d - size))
    keep = torch.arange(d).view(1, 1, d) < sizes.unsqueeze(-1).to(tokens.device)
    return parts[keep].view(b, -1)


def widen(values: torch.Tensor, sizes: torch.Tensor, width: int) -> torch.Tensor:
    """The receiver's inverse of shrink: values [B, sum(sizes)] -> tokens [B, L, width], each
    token's values linearly interpolated back to `width` (zeros where a token got none)."""
    b, n = sizes.shape
    keep = torch.arange(width).view(1, 1, width) < sizes.unsqueeze(-1)
    parts = torch.zeros(b, n, width, dtype=values.dtype, device=values.device)
    parts[keep.to(values.device)] = values.reshape(-1)
    out = torch.zeros_like(parts)
    for size in sizes.unique().tolist():
        if size == 0:
            continue
        where = sizes == size
        out[where] = F.interpolate(parts[where][:, :size].unsqueeze(1), size=width,
                                   mode="linear", align_corners=False).squeeze(1)
    return out


class ViTBlock(nn.Module):
    """Pre-norm attention + MLP that also returns each token's saliency [B, L]: the attention
    it receives, summed over queries, softmax over tokens, mean over heads."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5).float().softmax(-1)
        saliency = attn.detach().sum(2).softmax(-1).mean(1)                     # [B, L]
        x = x + self.proj((attn.to(v.dtype) @ v).transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x)), saliency


class Encoder(nn.Module):
    """Image [B, 3, S, S] -> (tokens [B, L, D], saliency [B, L] summing to 1 per image)."""

    def __init__(self, cfg: BriGSCConfig):
        super().__init__()
        w = cfg.vit_width
        self.patch = nn.Conv2d(3, w, PATCH, PATCH)
        self.position = nn.Parameter(torch.randn(1, cfg.tokens, w) * 0.02)
        self.blocks = nn.ModuleList(ViTBlock(w, cfg.vit_heads) for _ in range(cfg.vit_depth))
        self.norm = nn.LayerNorm(w)
        self.head = nn.Linear(w, cfg.token_values)
        self.apply(init_weights)
        self.snr_mod, self.snr_lin = modnet_layers(cfg.token_values, cfg.modnet_hidden)

    def forward(self, images: torch.Tensor, snr_db: torch.Tensor, snr_adaptive: bool
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.patch(images * 2 - 1).flatten(2).transpose(1, 2) + self.position
        maps = []
        for block in self.blocks:
            x, saliency = block(x)
            maps.append(saliency)
        tokens = self.head(self.norm(x))
        if snr_adaptive:
            tokens = tokens * modnet_gains(tokens, snr_db, self.snr_mod, self.snr_lin)
        return tokens, torch.stack(maps).mean(0)


class Decoder(nn.Module):
    """Widened tokens [B, L, D] and the SNR [B] (dB) -> image [B, 3, S, S] (not clamped): the
    training set's mean image `mean_image` [3, S, S] plus what the Swin stages make of the
    tokens."""

    def __init__(self, cfg: BriGSCConfig):
        super().__init__()
        dims, side = cfg.decoder_dims, cfg.side
        self.side = side
        self.head = nn.Linear(cfg.token_values, dims[0])
        self.stages = nn.ModuleList()
        self.expand = nn.ModuleList()
        for i, (dim, depth, heads) in enumerate(zip(dims, cfg.decoder_depths, cfg.decoder_heads)):
            res = (side * 2 ** i, side * 2 ** i)
            self.stages.append(nn.ModuleList(SwinBlock(dim, res, heads, cfg.window, j % 2 == 1)
                                             for j in range(depth)))
            self.expand.append(PatchExpanding(dim, dims[i + 1]) if i < 3 else None)
        self.out = nn.Linear(dims[-1], 3)
        self.apply(init_weights)
        self.snr_mod, self.snr_lin = modnet_layers(dims[0], cfg.modnet_hidden)
        self.register_buffer("mean_image", torch.zeros(3, cfg.image_size, cfg.image_size))

    def forward(self, tokens: torch.Tensor, snr_db: torch.Tensor, snr_adaptive: bool
                ) -> torch.Tensor:
        x = self.head(tokens)
        if snr_adaptive:
            x = x * modnet_gains(x, snr_db, self.snr_mod, self.snr_lin)
        h = w = self.side
        for blocks, expand in zip(self.stages, self.expand):
            for block in blocks:
                x = block(x, h, w)
            if expand is not None:
                x, h, w = expand(x, h, w), 2 * h, 2 * w
        return self.out(x).transpose(1, 2).reshape(len(x), 3, h, w) + self.mean_image


def to_patches(images: torch.Tensor) -> torch.Tensor:
    """[B, 3, S, S] -> [B, (S/8)^2, 192] (8x8 pixel patches, row-major)."""
    b, c, s, _ = images.shape
    x = images.view(b, c, s // PATCH, PATCH, s // PATCH, PATCH)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(b, (s // PATCH) ** 2, c * PATCH * PATCH)


def from_patches(patches: torch.Tensor, side: int) -> torch.Tensor:
    """Inverse of to_patches for images of `side` px."""
    b = len(patches)
    n = side // PATCH
    x = patches.view(b, n, n, 3, PATCH, PATCH).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, 3, side, side)


class BriGSC(nn.Module):
    """Encoder, decoder and the diffusion refiner (x0-prediction over pixel patches in
    [-1, 1], its input the noisy patches beside the decoded image's)."""

    def __init__(self, cfg: BriGSCConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        patch_values = 3 * PATCH * PATCH
        self.refiner = TokenDenoiser(2 * patch_values, patch_values, cfg.tokens,
                                     cfg.refiner_width, cfg.refiner_depth, cfg.refiner_heads)
