"""The multi-scale residual VQ-VAE of VAR (Tian et al., NeurIPS 2024).

A convolutional encoder maps an image (float [B, 3, H, W] in [-1, 1]) to a latent map f
[B, Cvae, H/s, W/s], s = 2^(len(ch_mult) - 1). The quantiser writes f as a sum over scales
(patch_nums, e.g. 1, 2, 3, 4, 6, 8): at scale k the remaining residual is area-pooled to k x k,
each position takes its nearest code in one shared codebook, the codes are upsampled (bicubic)
back to full size, refined by one of a few partially shared 3x3 convolutions (Phi) and
subtracted from the residual. Token maps: one int64 [B, k*k] per scale.

Module and parameter names follow the official code (FoundationVision/VAR, models/vqvae.py and
basic_vae.py), so `VQVAEConfig.paper()` produces exactly the state_dict layout of the official
`vae_ch160v4096z32.pth`. No library on PyPI ships this model, so it is written out here.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn


class VQVAEConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ch: int = Field(160, ge=32, description="base width (a multiple of 32: GroupNorm(32))")
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = Field(2, ge=1)
    using_sa: bool = Field(True, description="self-attention at the lowest resolution")
    using_mid_sa: bool = True
    vocab: int = Field(4096, ge=2, description="codebook size V")
    cvae: int = Field(32, ge=1, description="latent / code width Cvae")
    patch_nums: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)
    share_quant_resi: int = Field(4, ge=1, description="number of partially shared Phi convs")
    quant_resi: float = Field(0.5, description="Phi's residual ratio (0: no Phi)")
    beta: float = Field(0.25, ge=0, description="commitment loss weight")
    img_size: int = Field(256, ge=8, description="training image side (px)")

    @model_validator(mode="after")
    def _finest_scale_is_the_latent(self) -> "VQVAEConfig":
        side = self.img_size // self.downsample
        if self.patch_nums[-1] != side or list(self.patch_nums) != sorted(set(self.patch_nums)):
            raise ValueError(f"patch_nums must rise and end at the latent side img_size / "
                             f"downsample = {side}; got {list(self.patch_nums)}")
        return self

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)

    @classmethod
    def paper(cls) -> "VQVAEConfig":
        """The official 256x256 configuration (vae_ch160v4096z32.pth)."""
        return cls()


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm1 = _norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = _norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = (nn.Conv2d(in_channels, out_channels, 1)
                             if in_channels != out_channels else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.nin_shortcut(x) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all positions of a feature map."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = _norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1))
        return x + self.proj_out(out.squeeze(1).transpose(-1, -2).reshape(b, c, h, w))


class Downsample2x(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample2x(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


def _stage(blocks: list[nn.Module], attn: list[nn.Module]) -> nn.Module:
    stage = nn.Module()
    stage.block = nn.ModuleList(blocks)
    stage.attn = nn.ModuleList(attn)
    return stage


def _mid(channels: int, attention: bool) -> nn.Module:
    mid = nn.Module()
    mid.block_1 = ResnetBlock(channels, channels)
    mid.attn_1 = AttnBlock(channels) if attention else nn.Identity()
    mid.block_2 = ResnetBlock(channels, channels)
    return mid


def _run_stage(stage: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """Res blocks (each followed by its attention block, if any), then the resampling."""
    for i, block in enumerate(stage.block):
        h = block(h)
        if len(stage.attn):
            h = stage.attn[i](h)
    for resample in ("downsample", "upsample"):
        if hasattr(stage, resample):
            h = getattr(stage, resample)(h)
    return h


def _run_mid(mid: nn.Module, h: torch.Tensor) -> torch.Tensor:
    return mid.block_2(mid.attn_1(mid.block_1(h)))


class Encoder(nn.Module):
    """Image [B, 3, H, W] -> latent [B, Cvae, H/s, W/s]."""

    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        ch, mult, levels = cfg.ch, cfg.ch_mult, len(cfg.ch_mult)
        self.conv_in = nn.Conv2d(3, ch, 3, padding=1)
        self.down = nn.ModuleList()
        block_in = ch
        for level in range(levels):
            blocks, attn = [], []
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResnetBlock(block_in, ch * mult[level]))
                block_in = ch * mult[level]
                if level == levels - 1 and cfg.using_sa:
                    attn.append(AttnBlock(block_in))
            stage = _stage(blocks, attn)
            if level != levels - 1:
                stage.downsample = Downsample2x(block_in)
            self.down.append(stage)
        self.mid = _mid(block_in, cfg.using_mid_sa)
        self.norm_out = _norm(block_in)
        self.conv_out = nn.Conv2d(block_in, cfg.cvae, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for stage in self.down:
            h = _run_stage(stage, h)
        return self.conv_out(F.silu(self.norm_out(_run_mid(self.mid, h))))


class Decoder(nn.Module):
    """Latent [B, Cvae, h, w] -> image [B, 3, h*s, w*s] (unclamped, nominally [-1, 1])."""

    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        ch, mult, levels = cfg.ch, cfg.ch_mult, len(cfg.ch_mult)
        block_in = ch * mult[-1]
        self.conv_in = nn.Conv2d(cfg.cvae, block_in, 3, padding=1)
        self.mid = _mid(block_in, cfg.using_mid_sa)
        stages: list[nn.Module] = []
        for level in reversed(range(levels)):
            blocks, attn = [], []
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResnetBlock(block_in, ch * mult[level]))
                block_in = ch * mult[level]
                if level == levels - 1 and cfg.using_sa:
                    attn.append(AttnBlock(block_in))
            stage = _stage(blocks, attn)
            if level != 0:
                stage.upsample = Upsample2x(block_in)
            stages.insert(0, stage)
        self.up = nn.ModuleList(stages)
        self.norm_out = _norm(block_in)
        self.conv_out = nn.Conv2d(block_in, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = _run_mid(self.mid, self.conv_in(z))
        for stage in reversed(self.up):
            h = _run_stage(stage, h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Phi(nn.Conv2d):
    """Residual refinement of upsampled codes: (1 - r) h + r conv(h)."""

    def __init__(self, channels: int, ratio: float):
        super().__init__(channels, channels, 3, padding=1)
        self.ratio = abs(ratio)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h * (1 - self.ratio) + super().forward(h) * self.ratio


class PhiPartiallyShared(nn.Module):
    """K Phi convs shared across scales: scale position t in [0, 1] uses the nearest tick."""

    def __init__(self, qresi_ls: nn.ModuleList):
        super().__init__()
        self.qresi_ls = qresi_ls
        k = len(qresi_ls)
        margin = 1 / 3 / k if k == 4 else 1 / 2 / k
        self.ticks = np.linspace(margin, 1 - margin, k)

    def __getitem__(self, at: float) -> nn.Module:
        return self.qresi_ls[int(np.argmin(np.abs(self.ticks - at)))]


class MultiScaleQuantizer(nn.Module):
    """Residual quantisation over scales with one codebook (VAR's VectorQuantizer2)."""

    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        self.patch_nums, self.beta = tuple(cfg.patch_nums), cfg.beta
        phis = [Phi(cfg.cvae, cfg.quant_resi) if abs(cfg.quant_resi) > 1e-6 else nn.Identity()
                for _ in range(cfg.share_quant_resi)]
        self.quant_resi = PhiPartiallyShared(nn.ModuleList(phis))     # registered first, as
        self.embedding = nn.Embedding(cfg.vocab, cfg.cvae)            # in the official order
        self.embedding.weight.data.uniform_(-1 / cfg.vocab, 1 / cfg.vocab)
        # EMA of each code's hit rate per scale (official buffer); drives dead-code resets here
        self.register_buffer("ema_vocab_hit_SV", torch.zeros(len(cfg.patch_nums), cfg.vocab))

    def phi(self, scale: int) -> nn.Module:
        last = len(self.patch_nums) - 1
        return self.quant_resi[scale / last if last else 1.0]

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each row of z [N, Cvae] -> int64 [N]."""
        codes = self.embedding.weight
        dist = (z.square().sum(1, keepdim=True) + codes.square().sum(1)
                - 2 * z @ codes.t())
        return dist.argmin(1)

    def scale_residual(self, rest: torch.Tensor, scale: int) -> torch.Tensor:
        pn = self.patch_nums[scale]
        if pn == rest.shape[-1] and pn == rest.shape[-2]:
            return rest
        return F.interpolate(rest, size=(pn, pn), mode="area")

    def code_map(self, idx: torch.Tensor, scale: int, size: tuple[int, int]) -> torch.Tensor:
        """Tokens int64 [B, k*k] of one scale -> refined code map [B, Cvae, *size]."""
        pn = self.patch_nums[scale]
        h = self.embedding(idx).transpose(1, 2).reshape(len(idx), -1, pn, pn)
        if (pn, pn) != tuple(size):
            h = F.interpolate(h, size=size, mode="bicubic")
        return self.phi(scale)(h)

    def forward(self, f: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Latent f [B, Cvae, h, w] -> (straight-through f_hat, tokens per scale, VQ loss)."""
        b, c, h, w = f.shape
        target = f.detach()
        rest, f_hat = target.clone(), torch.zeros_like(target)
        tokens, residuals, loss = [], [], f.new_zeros(())
        for si in range(len(self.patch_nums)):
            z = self.scale_residual(rest, si)
            rows = z.permute(0, 2, 3, 1).reshape(-1, c)
            idx = self.nearest(rows).view(b, -1)
            if self.training:
                residuals.append(rows)
                hits = torch.bincount(idx.flatten(), minlength=self.embedding.num_embeddings)
                hits = hits.float() / idx.numel()
                self.ema_vocab_hit_SV[si].mul_(0.99).add_(hits, alpha=0.01)
            code = self.code_map(idx, si, (h, w))
            f_hat = f_hat + code
            rest = rest - code.detach()
            loss = loss + F.mse_loss(f_hat.detach(), f) * self.beta + F.mse_loss(f_hat, target)
            tokens.append(idx)
        if self.training:
            self.last_residuals = torch.cat(residuals)
        return (f_hat.detach() - f.detach()) + f, tokens, loss / len(self.patch_nums)

    @torch.no_grad()
    def reset_dead_codes(self, threshold: float, generator: torch.Generator | None = None) -> int:
        """Move codes whose hit rate summed over scales is below `threshold` onto residuals
        quantised in the last training forward (plus small noise); returns how many moved. Not
        in the official code: a prototype on a 2-core CPU (DESIGN.md) lost half its codebook
        within 100 steps without it."""
        dead = (self.ema_vocab_hit_SV.sum(0) < threshold).nonzero().flatten()
        if len(dead) == 0 or not hasattr(self, "last_residuals"):
            return 0
        pool = self.last_residuals.float()
        pick = pool[torch.randint(len(pool), (len(dead),), generator=generator)]
        noise = torch.randn(pick.shape, generator=generator).to(pick.device)
        self.embedding.weight.data[dead] = pick + 0.01 * pick.std() * noise
        self.ema_vocab_hit_SV[:, dead] = threshold          # give them time to be used
        return len(dead)


class VQVAE(nn.Module):
    """Encoder, multi-scale quantiser and decoder. Images are float [B, 3, H, W] in [-1, 1]."""

    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quantize = MultiScaleQuantizer(cfg)
        self.quant_conv = nn.Conv2d(cfg.cvae, cfg.cvae, 3, padding=1)
        self.post_quant_conv = nn.Conv2d(cfg.cvae, cfg.cvae, 3, padding=1)

    @property
    def patch_nums(self) -> tuple[int, ...]:
        return self.quantize.patch_nums

    def latent(self, images: torch.Tensor) -> torch.Tensor:
        return self.quant_conv(self.encoder(images))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (reconstruction [B, 3, H, W], VQ loss)."""
        f_hat, _, vq_loss = self.quantize(self.latent(images))
        return self.decoder(self.post_quant_conv(f_hat)), vq_loss

    @torch.no_grad()
    def tokens(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Images -> token indices, one int64 [B, k*k] per scale."""
        return self.quantize(self.latent(images))[1]

    def f_hat(self, tokens: list[torch.Tensor]) -> torch.Tensor:
        """Token indices of every scale -> the summed latent f_hat [B, Cvae, h, w]."""
        side = self.patch_nums[-1]
        return sum(self.quantize.code_map(idx, si, (side, side)) for si, idx in enumerate(tokens))

    def decode(self, f_hat: torch.Tensor) -> torch.Tensor:
        """Latent f_hat -> image in [-1, 1]."""
        return self.decoder(self.post_quant_conv(f_hat)).clamp(-1, 1)

    def teacher_inputs(self, tokens: list[torch.Tensor]) -> torch.Tensor:
        """VAR's teacher-forcing input: for each scale k after the first, the partial sum of the
        coarser scales' code maps area-pooled to k x k; float [B, L - 1, Cvae]."""
        side, last = self.patch_nums[-1], len(self.patch_nums) - 1
        f_hat, inputs = None, []
        for si in range(last):
            code = self.quantize.code_map(tokens[si], si, (side, side))
            f_hat = code if f_hat is None else f_hat + code
            pn = self.patch_nums[si + 1]
            pooled = F.interpolate(f_hat, size=(pn, pn), mode="area")
            inputs.append(pooled.flatten(2).transpose(1, 2))
        return torch.cat(inputs, dim=1)

    def next_input(self, si: int, f_hat: torch.Tensor | None, idx: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One generation step: add scale si's codes to f_hat; return (f_hat, the next scale's
        input tokens [B, k'*k', Cvae], or None after the last scale)."""
        side = self.patch_nums[-1]
        code = self.quantize.code_map(idx, si, (side, side))
        f_hat = code if f_hat is None else f_hat + code
        if si == len(self.patch_nums) - 1:
            return f_hat, None
        pn = self.patch_nums[si + 1]
        return f_hat, F.interpolate(f_hat, size=(pn, pn), mode="area").flatten(2).transpose(1, 2)


def token_count(patch_nums: tuple[int, ...]) -> int:
    """L, the total number of tokens over all scales."""
    return int(sum(p * p for p in patch_nums))

