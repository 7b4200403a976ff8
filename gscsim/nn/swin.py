"""Swin Transformer pieces: shifted-window attention blocks, patch merging and patch expanding.

Tokens are [B, L, C] with L = H * W in row-major order. Parameter and buffer names follow the
Swin / SwinJSCC reference code, so official state_dicts load unchanged. Written here because no
installed library offers Swin blocks that run at a resolution other than the one built for
(timm and torchvision are not dependencies of gscsim).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gscsim.nn.attention import attention

MASKED = -100.0     # logit added to attention between tokens of different shifted regions


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """[B, H, W, C] -> [B * nW, window * window, C]."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)


def window_reverse(windows: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    """[B * nW, window * window, C] -> [B, H, W, C]."""
    c = windows.shape[-1]
    x = windows.view(-1, h // window, w // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, h, w, c)


def relative_position_index(window: int) -> torch.Tensor:
    """int64 [window^2, window^2]: index into the (2*window-1)^2 relative-bias table."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window),
                                        indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[..., 0] * (2 * window - 1) + rel[..., 1]


def shifted_window_mask(h: int, w: int, window: int, shift: int) -> torch.Tensor:
    """float [nW, window^2, window^2]: 0 inside a region, MASKED across regions of the
    cyclically shifted feature map (the Swin construction)."""
    regions = torch.zeros(1, h, w, 1)
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for hs in cuts:
        for ws in cuts:
            regions[:, hs, ws, :] = label
            label += 1
    ids = window_partition(regions, window).squeeze(-1)
    diff = ids[:, None, :] - ids[:, :, None]
    return torch.zeros_like(diff).masked_fill(diff != 0, MASKED)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside one window with a learned relative position bias."""

    def __init__(self, dim: int, window: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        self.window, self.num_heads = window, num_heads
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window))
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x [B * nW, N, C]; mask [nW, N, N] or None -> [B * nW, N, C]."""
        bw, n, c = x.shape
        q, k, v = self.qkv(x).view(bw, n, 3, self.num_heads, c // self.num_heads).permute(
            2, 0, 3, 1, 4)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(n, n, -1).permute(2, 0, 1)                      # [heads, N, N]
        if mask is not None:                        # windows of one image share the mask set
            nw = mask.shape[0]
            bias = bias.unsqueeze(0) + mask.unsqueeze(1)                   # [nW, heads, N, N]
            q, k, v = (t.view(bw // nw, nw, self.num_heads, n, -1) for t in (q, k, v))
        out = attention(q, k, v, bias).reshape(bw, self.num_heads, n, -1)
        return self.proj(out.transpose(1, 2).reshape(bw, n, c))


class Mlp(nn.Module):
    """Two linear layers with GELU between."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwinBlock(nn.Module):
    """Pre-norm (shifted-)window attention + MLP, both residual.

    Built for `resolution` (H, W) tokens: as in Swin, a map no larger than the window gets one
    window of its own size and no shift. The shifted-window mask of the built resolution is a
    buffer named `attn_mask` (part of official state_dicts); other resolutions get theirs
    computed and cached at run time.
    """

    def __init__(self, dim: int, resolution: tuple[int, int], num_heads: int, window: int,
                 shift: bool, mlp_ratio: float = 4.0, qkv_bias: bool = True):
        super().__init__()
        if min(resolution) <= window:
            window, shift = min(resolution), False
        self.window, self.shift = window, window // 2 if shift else 0
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.built_resolution = tuple(resolution)
        self.register_buffer("attn_mask", shifted_window_mask(*resolution, window, self.shift)
                             if self.shift else None)
        self._masks: dict[tuple[int, int], torch.Tensor] = {}

    def _mask(self, h: int, w: int, device: torch.device) -> torch.Tensor | None:
        if not self.shift:
            return None
        if (h, w) == self.built_resolution:
            return self.attn_mask
        if (h, w) not in self._masks:
            self._masks[(h, w)] = shifted_window_mask(h, w, self.window, self.shift)
        return self._masks[(h, w)].to(device)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """x [B, H*W, C] -> [B, H*W, C]."""
        if h % self.window or w % self.window:
            raise ValueError(f"a {h}x{w} token map does not split into {self.window}x"
                             f"{self.window} windows; use images whose sides are multiples of "
                             f"{self.window} times the model's downsampling at this stage")
        b, n, c = x.shape
        y = self.norm1(x).view(b, h, w, c)
        if self.shift:
            y = torch.roll(y, (-self.shift, -self.shift), dims=(1, 2))
        y = self.attn(window_partition(y, self.window), self._mask(h, w, x.device))
        y = window_reverse(y, self.window, h, w)
        if self.shift:
            y = torch.roll(y, (self.shift, self.shift), dims=(1, 2))
        x = x + y.reshape(b, n, c)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """Halve the resolution: concatenate each 2x2 neighbourhood (4C), LayerNorm, project."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """x [B, H*W, C] -> [B, H/2 * W/2, out_dim]."""
        b, _, c = x.shape
        x = x.view(b, h, w, c)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x.view(b, -1, 4 * c)))


class PatchExpanding(nn.Module):
    """Double the resolution: LayerNorm, project to 4 * out_dim, pixel-shuffle by 2."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.increment = nn.Linear(dim, 4 * out_dim, bias=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """x [B, H*W, C] -> [B, 2H * 2W, out_dim]."""
        b = x.shape[0]
        x = self.increment(self.norm(x)).view(b, h, w, -1).permute(0, 3, 1, 2)
        return F.pixel_shuffle(x, 2).flatten(2).transpose(1, 2)


def init_weights(module: nn.Module) -> None:
    """Swin initialisation: truncated-normal(0.02) linear weights, zero biases, unit LayerNorm."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
