"""SCVAR (TarGSC's receiver-side generator) and Text2Para (its sender-side text mapper).

SCVAR is VAR with two conditions instead of a class label:
- the depth map d [B, 1, H, W] (metres): a small conv encoder gives a feature map at the finest
  token side; area-pooling it to every scale k x k gives condition tokens r_cond [B, L, C]
  aligned with the token sequence. They enter twice: fused into the stream,
  f_r = LN(alpha r + (1 - alpha) r_cond) with a learned alpha in (0, 1) (the paper's eq. 4),
  and through a cross-attention branch in every block (eqs. 5-7);
- the 6 text parameters p [B, 6]: a learned expansion (6 -> C -> C) gives the condition vector
  that drives every block's AdaLN modulation.
Either condition can be replaced by a learned null (condition dropout in training, classifier-
free guidance, and the "without text" ablation).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from gscsim.data.scenes.dataset import FAR_DEPTH_M
from gscsim.nn.text_encoder import EMBEDDING_DIM
from gscsim.scvar.var import VAR, VARConfig
from gscsim.scvar.vqvae import VQVAE


@dataclass(frozen=True)
class Sampling:
    """How tokens are drawn: top_k 1 is greedy; cfg_scale 0 is no guidance."""

    top_k: int = 1
    top_p: float = 0.0
    temperature: float = 1.0
    cfg_scale: float = 0.0


class SCVARConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    var: VARConfig = Field(default_factory=lambda: VARConfig(num_classes=0, cross_attention=True))
    text_params: int = Field(6, ge=1, description="text parameters from Text2Para")
    depth_widths: tuple[int, ...] = Field((32, 64, 128), description="depth encoder widths; "
                                          "each after the first halves the resolution")
    image_size: int = Field(64, ge=8, description="image and depth side (px)")
    text_drop: float = Field(0.1, ge=0, le=1, description="training: P(text -> null)")
    depth_drop: float = Field(0.1, ge=0, le=1, description="training: P(depth -> null)")


class Text2Para(nn.Module):
    """Caption embedding [B, 384] -> text parameters [B, 6] at unit mean power per caption
    (an MLP 384-256-128-64-6 with ReLU, the paper's sizes)."""

    def __init__(self, in_dim: int = EMBEDDING_DIM, params: int = 6,
                 hidden: tuple[int, ...] = (256, 128, 64)):
        super().__init__()
        layers, width = [], in_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.mlp = nn.Sequential(*layers, nn.Linear(width, params))

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        p = self.mlp(embedding)
        return p / p.square().mean(-1, keepdim=True).add(1e-8).sqrt()


def depth_features(depth: torch.Tensor) -> torch.Tensor:
    """Depth (m, sky at 30) -> log depth scaled to about [-1, 1]."""
    return 2 * torch.log(depth.clamp(0.1, FAR_DEPTH_M)) / math.log(FAR_DEPTH_M) - 1


class DepthEncoder(nn.Module):
    """Depth map [B, 1, S, S] -> feature map [B, C, k, k] at the finest token side k."""

    def __init__(self, widths: tuple[int, ...], out_dim: int, image_size: int, side: int):
        super().__init__()
        layers, prev, size = [], 1, image_size
        for i, w in enumerate(widths):
            stride = 2 if i > 0 and size > side else 1
            size //= stride
            layers += [nn.Conv2d(prev, w, 3, stride=stride, padding=1), nn.GroupNorm(8, w),
                       nn.SiLU()]
            prev = w
        self.convs = nn.Sequential(*layers)
        self.out = nn.Conv2d(prev, out_dim, 1)
        self.side = side

    def forward(self, depth: torch.Tensor) -> torch.Tensor:
        h = self.convs(depth_features(depth))
        if h.shape[-1] != self.side:
            h = F.adaptive_avg_pool2d(h, self.side)
        return self.out(h)


class SCVAR(VAR):
    """VAR conditioned on a depth map (tokens) and text parameters (AdaLN)."""

    def __init__(self, cfg: SCVARConfig):
        if cfg.var.num_classes or not cfg.var.cross_attention:
            raise ValueError("scvar.var: SCVAR needs num_classes 0 and cross_attention true")
        super().__init__(cfg.var)
        self.scfg = cfg
        c = cfg.var.embed_dim
        self.depth_encoder = DepthEncoder(cfg.depth_widths, c, cfg.image_size,
                                          cfg.var.patch_nums[-1])
        self.text_expand = nn.Sequential(nn.Linear(cfg.text_params, c), nn.SiLU(),
                                         nn.Linear(c, c))
        self.null_text = nn.Parameter(torch.zeros(c))
        self.null_depth = nn.Parameter(torch.zeros(1, self.L, c))
        self.fuse_logit = nn.Parameter(torch.tensor(2.0))      # alpha = sigmoid(2) = 0.88
        self.fuse_norm = nn.LayerNorm(c, eps=cfg.var.norm_eps)

    @property
    def alpha(self) -> torch.Tensor:
        return torch.sigmoid(self.fuse_logit)

    def fuse(self, x: torch.Tensor, cond_tokens: torch.Tensor | None) -> torch.Tensor:
        if cond_tokens is None:
            return x
        return self.fuse_norm(self.alpha * x + (1 - self.alpha) * cond_tokens)

    def depth_tokens(self, depth: torch.Tensor) -> torch.Tensor:
        """Depth [B, 1, S, S] (m) -> condition tokens [B, L, C], scale by scale."""
        fmap = self.depth_encoder(depth)
        return torch.cat([F.adaptive_avg_pool2d(fmap, pn).flatten(2).transpose(1, 2)
                          for pn in self.cfg.patch_nums], dim=1)

    def conditions(self, params: torch.Tensor | None, depth: torch.Tensor | None,
                   batch: int, drop_text: torch.Tensor | None = None,
                   drop_depth: torch.Tensor | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """(cond_BD [B, C], cond_tokens [B, L, C]); None or a True drop mask -> the null."""
        c = self.cfg.embed_dim
        null_bd = self.null_text.expand(batch, c)
        if params is None:
            cond = null_bd
        else:
            cond = self.text_expand(params)
            if drop_text is not None:
                cond = torch.where(drop_text.view(-1, 1), null_bd, cond)
        null_tok = self.null_depth.expand(batch, -1, -1)
        if depth is None:
            tokens = null_tok
        else:
            tokens = self.depth_tokens(depth)
            if drop_depth is not None:
                tokens = torch.where(drop_depth.view(-1, 1, 1), null_tok, tokens)
        return cond, tokens

    @torch.no_grad()
    def sample(self, vae: VQVAE, params: torch.Tensor | None, depth: torch.Tensor | None,
               cfg_scale: float = 0.0, top_k: int = 1, top_p: float = 0.0,
               temperature: float = 1.0, generator: torch.Generator | None = None,
               kv_cache: bool = True, batch: int | None = None
               ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(images [B, 3, S, S] in [0, 1], tokens per scale) from text parameters [B, 6] and
        depth [B, 1, S, S]; params None generates without text (the ablation), and with depth
        None too, `batch` images from the null conditions alone (the generator's prior).
        Guidance contrasts with the fully null condition."""
        b = len(depth) if depth is not None else len(params) if params is not None else batch
        cond, tokens = self.conditions(params, depth, b)
        null_cond, null_tokens = self.conditions(None, None, b) if cfg_scale > 0 else (None, None)
        return self.generate(vae, cond, tokens, null_cond, null_tokens, cfg_scale, top_k, top_p,
                             temperature, generator, kv_cache)
