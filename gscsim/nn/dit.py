"""Diffusion transformers (DiT, Peebles & Xie 2023): the block (pre-norm self-attention and MLP,
each modulated by a condition vector through adaptive LayerNorm with zero-initialised gates,
adaLN-Zero, so that a new block starts as the identity) and a token denoiser built from it,
which the diffusion transceivers share."""
from __future__ import annotations

import math

import torch
from torch import nn

from gscsim.nn.attention import attention
from gscsim.nn.text_encoder import EMBEDDING_DIM


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features [..., dim] of times t [...] in [0, 1] (scaled by 1000 first)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    angles = 1000.0 * t.float().unsqueeze(-1) * freqs
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


class DiTBlock(nn.Module):
    """Tokens x [B, L, D] and a condition c [B, D] (or per token [B, L, D]) -> [B, L, D]."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"),
                                 nn.Linear(hidden, dim))
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.modulation[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        mod = self.modulation(c)
        if mod.dim() == 2:
            mod = mod.unsqueeze(1)
        shift1, scale1, gate1, shift2, scale2, gate2 = mod.chunk(6, dim=-1)
        b, n, d = x.shape
        h = self.norm1(x) * (1 + scale1) + shift1
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        h = attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + gate1 * self.proj(h)
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h)


class TokenDenoiser(nn.Module):
    """A denoiser over L tokens: x_t [B, L, in_dim] (the noisy tokens, with any per-token
    condition concatenated), per-token times t [B, L] in [0, 1], caption embeddings [B, 384]
    with a bool [B] saying which are real (False: the learned null text, for classifier-free
    guidance), and optionally one feature map [B, L, width] per block from a ControlNet-style
    branch -> its prediction [B, L, out_dim]. The output layer starts at zero."""

    def __init__(self, in_dim: int, out_dim: int, tokens: int, width: int, depth: int,
                 heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.width = width
        self.token_in = nn.Linear(in_dim, width)
        self.position = nn.Parameter(torch.randn(1, tokens, width) * 0.02)
        self.time = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.text = nn.Sequential(nn.Linear(EMBEDDING_DIM, width), nn.SiLU(),
                                  nn.Linear(width, width))
        self.null_text = nn.Parameter(torch.zeros(EMBEDDING_DIM))
        self.blocks = nn.ModuleList(DiTBlock(width, heads, mlp_ratio) for _ in range(depth))
        self.norm_out = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.out_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        self.token_out = nn.Linear(width, out_dim)
        for layer in (self.out_modulation[1], self.token_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, text: torch.Tensor,
                has_text: torch.Tensor, control: list[torch.Tensor] | None = None
                ) -> torch.Tensor:
        text = torch.where(has_text.view(-1, 1), text, self.null_text.to(text.dtype))
        time = self.time(timestep_embedding(t, self.width).to(x_t.dtype))      # [B, L, w]
        cond = self.text(text.to(x_t.dtype)).unsqueeze(1) + time               # per token
        h = self.token_in(x_t) + self.position + time
        for i, block in enumerate(self.blocks):
            if control is not None:
                h = h + control[i]
            h = block(h, cond)
        shift, scale = self.out_modulation(cond).chunk(2, dim=-1)
        return self.token_out(self.norm_out(h) * (1 + scale) + shift)
