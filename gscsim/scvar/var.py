"""VAR: next-scale prediction over the multi-scale VQ-VAE's tokens (Tian et al., NeurIPS 2024).

The sequence holds the tokens of every scale, coarse to fine (L = sum of k^2 over patch_nums).
Position 0 is the start token (the condition vector plus `pos_start`); the inputs of scale k are
the coarser scales' code maps summed and area-pooled to k x k (`VQVAE.teacher_inputs`). A block
sees every position of its own and the coarser scales (block-causal mask). Each block is
AdaLN-modulated by the condition vector cond_BD (6 vectors: gamma, scale and shift for the
attention and the MLP branches); optional cross-attention to condition tokens serves SCVAR.

Names follow the official code (FoundationVision/VAR, models/var.py and basic_var.py), so
`VARConfig.paper_d16()` produces exactly the state_dict layout of the official `var_d16.pth`.
No library on PyPI ships VAR, so it is written out here.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from gscsim.nn.attention import attention
from gscsim.scvar.vqvae import VQVAE, token_count


class VARConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    depth: int = Field(16, ge=1, description="transformer blocks")
    embed_dim: int = Field(1024, ge=8, description="width C (official: 64 x depth)")
    num_heads: int = Field(16, ge=1, description="attention heads (official: depth)")
    mlp_ratio: float = 4.0
    drop_path_rate: float = Field(0.0, ge=0, description="stochastic depth (official 0.1 d/24)")
    norm_eps: float = 1e-6
    attn_l2_norm: bool = Field(True, description="cosine attention with a learned scale")
    num_classes: int = Field(1000, ge=0, description="class-conditional VAR; 0: the condition "
                                                     "vector comes from outside (SCVAR)")
    cond_drop_rate: float = Field(0.1, ge=0, le=1, description="class dropout for CFG")
    cross_attention: bool = Field(False, description="cross-attention to condition tokens")
    vocab: int = 4096
    cvae: int = 32
    patch_nums: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)

    @classmethod
    def paper_d16(cls) -> "VARConfig":
        """The official class-conditional depth-16 model (var_d16.pth)."""
        return cls(drop_path_rate=0.1 * 16 / 24)


class SelfAttention(nn.Module):
    """Multi-head attention with q/v biases (k bias fixed at 0) and optional cosine scaling;
    `cache` (a dict) keeps keys and values of earlier scales during generation."""

    def __init__(self, dim: int, heads: int, l2_norm: bool):
        super().__init__()
        self.heads, self.head_dim, self.l2_norm = heads, dim // heads, l2_norm
        if l2_norm:
            self.scale_mul_1H11 = nn.Parameter(torch.full((1, heads, 1, 1), 4.0).log())
            self.max_scale_mul = math.log(100)
        self.scale = 1.0 if l2_norm else 0.25 / math.sqrt(self.head_dim)
        self.mat_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("zero_k_bias", torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor | None,
                cache: dict | None = None) -> torch.Tensor:
        b, n, c = x.shape
        bias = torch.cat((self.q_bias, self.zero_k_bias, self.v_bias))
        qkv = F.linear(x, self.mat_qkv.weight, bias).view(b, n, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)              # each [B, H, n, hd]
        if self.l2_norm:
            scale = self.scale_mul_1H11.clamp(max=self.max_scale_mul).exp()
            q, k = F.normalize(q, dim=-1) * scale, F.normalize(k, dim=-1)
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat((cache["k"], k), dim=2), torch.cat((cache["v"], v), dim=2)
            cache["k"], cache["v"] = k, v
        out = attention(q, k, v, attn_bias, self.scale)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class CrossAttention(nn.Module):
    """Attention from the token stream to condition tokens (SCVAR's cross-attention branch);
    the output projection starts at zero so a new branch leaves the stream unchanged."""

    def __init__(self, dim: int, heads: int, eps: float):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def keys_values(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, m, c = cond.shape
        kv = self.kv(cond).view(b, m, 2, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return kv[0], kv[1]

    def forward(self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        b, n, c = x.shape
        q = self.q(self.norm(x)).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        out = attention(q, *kv)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class FFN(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class DropPath(nn.Module):
    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape[0], 1, 1, device=x.device) >= self.p
        return x * keep.to(x.dtype) / (1 - self.p)


class AdaLNBlock(nn.Module):
    """Self-attention (+ cross-attention) and MLP, each on AdaLN-modulated, parameter-free
    LayerNorm outputs and gated: 6 modulation vectors from the condition vector."""

    def __init__(self, cfg: VARConfig, drop_path: float):
        super().__init__()
        c = cfg.embed_dim
        self.attn = SelfAttention(c, cfg.num_heads, cfg.attn_l2_norm)
        self.ffn = FFN(c, round(c * cfg.mlp_ratio))
        self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(c, 6 * c))
        self.ln_wo_grad = nn.LayerNorm(c, eps=cfg.norm_eps, elementwise_affine=False)
        self.drop_path = DropPath(drop_path)
        self.cross_attn = CrossAttention(c, cfg.num_heads, cfg.norm_eps) \
            if cfg.cross_attention else None

    def forward(self, x: torch.Tensor, cond_BD: torch.Tensor, attn_bias: torch.Tensor | None,
                cond_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
                cache: dict | None = None) -> torch.Tensor:
        gamma1, gamma2, scale1, scale2, shift1, shift2 = \
            self.ada_lin(cond_BD).view(-1, 1, 6, x.shape[-1]).unbind(2)
        h = self.ln_wo_grad(x) * (scale1 + 1) + shift1
        x = x + self.drop_path(self.attn(h, attn_bias, cache) * gamma1)
        if self.cross_attn is not None and cond_kv is not None:
            x = x + self.drop_path(self.cross_attn(x, cond_kv))
        h = self.ln_wo_grad(x) * (scale2 + 1) + shift2
        return x + self.drop_path(self.ffn(h) * gamma2)


class AdaLNBeforeHead(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.ln_wo_grad = nn.LayerNorm(dim, eps=eps, elementwise_affine=False)
        self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x: torch.Tensor, cond_BD: torch.Tensor) -> torch.Tensor:
        scale, shift = self.ada_lin(cond_BD).view(-1, 1, 2, x.shape[-1]).unbind(2)
        return self.ln_wo_grad(x) * (scale + 1) + shift


def scale_levels(patch_nums: tuple[int, ...]) -> torch.Tensor:
    """Scale index of each sequence position, int64 [L]."""
    return torch.cat([torch.full((p * p,), i) for i, p in enumerate(patch_nums)])


def sample_tokens(logits: torch.Tensor, top_k: int = 0, top_p: float = 0.0,
                  temperature: float = 1.0, generator: torch.Generator | None = None
                  ) -> torch.Tensor:
    """One token per row of logits [..., V]: top-k (0: all), nucleus top-p (0: off) and
    temperature; top_k=1 is greedy decoding."""
    shape = logits.shape[:-1]
    logits = logits.float().reshape(-1, logits.shape[-1]) / max(temperature, 1e-6)
    if top_k == 1:
        return logits.argmax(-1).view(shape)
    if top_k > 0:
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, -torch.inf)
    if 0 < top_p < 1:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop = cum - sorted_logits.softmax(-1) > top_p            # keep the first beyond top_p
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, -torch.inf))
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).view(shape)


class VAR(nn.Module):
    """The next-scale prediction transformer. Class-conditional as released (num_classes > 0),
    or driven by an outside condition vector and condition tokens (SCVAR, a subclass)."""

    def __init__(self, cfg: VARConfig):
        super().__init__()
        self.cfg = cfg
        c, pns = cfg.embed_dim, tuple(cfg.patch_nums)
        self.L = token_count(pns)
        init_std = math.sqrt(1 / c / 3)
        self.word_embed = nn.Linear(cfg.cvae, c)
        self.class_emb = nn.Embedding(cfg.num_classes + 1, c) if cfg.num_classes else None
        self.pos_start = nn.Parameter(torch.randn(1, 1, c) * init_std)
        self.pos_1LC = nn.Parameter(torch.randn(1, self.L, c) * init_std)
        self.lvl_embed = nn.Embedding(len(pns), c)
        rates = [cfg.drop_path_rate * i / max(cfg.depth - 1, 1) for i in range(cfg.depth)]
        self.blocks = nn.ModuleList(AdaLNBlock(cfg, r) for r in rates)
        levels = scale_levels(pns)
        self.register_buffer("lvl_1L", levels.view(1, -1))
        allowed = levels.view(-1, 1) >= levels.view(1, -1)          # block-causal
        self.register_buffer("attn_bias_for_masking", torch.where(
            allowed, 0.0, -torch.inf).view(1, 1, self.L, self.L))
        self.head_nm = AdaLNBeforeHead(c, cfg.norm_eps)
        self.head = nn.Linear(c, cfg.vocab)
        self._init_weights(init_std)

    def _init_weights(self, std: float) -> None:
        """VAR's init: truncated-normal linears, gates near 0 (blocks start as identity), a
        small head."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.trunc_normal_(m.weight, std=std)
        self.head.weight.data.mul_(0.02)
        self.head_nm.ada_lin[-1].weight.data.mul_(0.5)
        c, depth = self.cfg.embed_dim, self.cfg.depth
        for block in self.blocks:
            block.attn.proj.weight.data.div_(math.sqrt(2 * depth))
            block.ffn.fc2.weight.data.div_(math.sqrt(2 * depth))
            block.ada_lin[-1].weight.data[2 * c:].mul_(0.5)
            block.ada_lin[-1].weight.data[:2 * c].mul_(1e-5)
            if block.cross_attn is not None:
                nn.init.zeros_(block.cross_attn.proj.weight)

    # -- hooks SCVAR overrides -------------------------------------------------------------
    def fuse(self, x: torch.Tensor, cond_tokens: torch.Tensor | None) -> torch.Tensor:
        """Combine the token stream [B, n, C] with the condition tokens at the same positions."""
        return x

    def class_condition(self, labels: torch.Tensor) -> torch.Tensor:
        """Class labels int64 [B] (num_classes = the unconditional null) -> cond_BD [B, C]."""
        if self.class_emb is None:
            raise ValueError("this VAR has no class embedding (num_classes: 0)")
        return self.class_emb(labels)

    # -- training ----------------------------------------------------------------------------
    def forward(self, cond_BD: torch.Tensor, inputs: torch.Tensor,
                cond_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced logits float [B, L, V] from cond_BD [B, C] and the next-scale inputs
        [B, L - 1, Cvae] (`VQVAE.teacher_inputs`); cond_tokens [B, L, C] or None."""
        b = len(cond_BD)
        x = torch.cat((cond_BD.unsqueeze(1) + self.pos_start, self.word_embed(inputs)), dim=1)
        x = self.fuse(x + self.lvl_embed(self.lvl_1L) + self.pos_1LC, cond_tokens)
        bias = self.attn_bias_for_masking
        for block in self.blocks:
            kv = (block.cross_attn.keys_values(cond_tokens)
                  if block.cross_attn is not None and cond_tokens is not None else None)
            x = block(x, cond_BD, bias, kv)
        return self.head(self.head_nm(x, cond_BD)).view(b, self.L, -1)

    # -- generation --------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, vae: VQVAE, cond_BD: torch.Tensor, cond_tokens: torch.Tensor | None = None,
                 null_BD: torch.Tensor | None = None, null_tokens: torch.Tensor | None = None,
                 cfg_scale: float = 0.0, top_k: int = 0, top_p: float = 0.0,
                 temperature: float = 1.0, generator: torch.Generator | None = None,
                 kv_cache: bool = True) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Scale-by-scale generation -> (images float [B, 3, H, W] in [0, 1], the sampled
        tokens, one int64 [B, k*k] per scale). With cfg_scale > 0, logits are
        (1 + t) cond - t null with t = cfg_scale x (scale index / last index), as in VAR; the
        null condition is null_BD / null_tokens. kv_cache=False recomputes the whole prefix at
        every scale (the reference the cache is measured against)."""
        guided = cfg_scale > 0
        if guided:
            if null_BD is None:
                raise ValueError("classifier-free guidance needs the null condition")
            cond_BD = torch.cat((cond_BD, null_BD))
            if cond_tokens is not None:
                cond_tokens = torch.cat((cond_tokens, null_tokens))
        b = len(cond_BD) // (2 if guided else 1)
        pns, last = self.cfg.patch_nums, len(self.cfg.patch_nums) - 1
        lvl_pos = self.lvl_embed(self.lvl_1L) + self.pos_1LC
        kvs = [block.cross_attn.keys_values(cond_tokens)
               if block.cross_attn is not None and cond_tokens is not None else None
               for block in self.blocks]
        caches = [{} if kv_cache else None for _ in self.blocks]
        step_in = cond_BD.unsqueeze(1) + self.pos_start          # this scale's input tokens
        prefix, f_hat, start, tokens = None, None, 0, []
        for si, pn in enumerate(pns):
            end = start + pn * pn
            x = step_in + lvl_pos[:, start:end]
            x = self.fuse(x, None if cond_tokens is None else cond_tokens[:, start:end])
            if not kv_cache:
                prefix = x if prefix is None else torch.cat((prefix, x), dim=1)
                x = prefix
            bias = None if kv_cache else self.attn_bias_for_masking[:, :, :end, :end]
            for block, kv, cache in zip(self.blocks, kvs, caches):
                x = block(x, cond_BD, bias, kv, cache)
            logits = self.head(self.head_nm(x[:, -pn * pn:], cond_BD))
            if guided:
                t = cfg_scale * si / max(last, 1)
                logits = (1 + t) * logits[:b] - t * logits[b:]
            idx = sample_tokens(logits, top_k, top_p, temperature, generator)
            tokens.append(idx)
            f_hat, nxt = vae.next_input(si, f_hat, idx)
            if nxt is not None:
                step_in = self.word_embed(nxt)
                if guided:
                    step_in = torch.cat((step_in, step_in))
            start = end
        return (vae.decode(f_hat) + 1) / 2, tokens
