"""The sender's semantic-aware module: a U-Net that estimates metric depth from RGB.

RGB [B, 3, S, S] in [0, 1] -> log-depth features [B, 1, S, S] (gscsim.scvar.model.depth_features:
log depth scaled to about [-1, 1], sky at 30 m = 1); `to_metres` inverts the scaling. Trained by
`gscsim train targsc` (stage `unet`) and frozen inside the transceiver.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gscsim.data.scenes.dataset import FAR_DEPTH_M


def to_metres(features: torch.Tensor) -> torch.Tensor:
    """Inverse of depth_features: [-1, 1]-scaled log depth -> depth in metres (0.1 .. 30)."""
    log_depth = (features.clamp(-1.5, 1.0) + 1) / 2 * math.log(FAR_DEPTH_M)
    return torch.exp(log_depth).clamp(0.1, FAR_DEPTH_M)


def abs_rel(predicted: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean absolute relative depth error |d' - d| / d per image [B] (depths in metres)."""
    return ((predicted - truth).abs() / truth).flatten(1).mean(1)


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3x3 conv + GroupNorm + SiLU layers."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.GroupNorm(8, c_out), nn.SiLU(),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.GroupNorm(8, c_out), nn.SiLU())


class DepthUNet(nn.Module):
    """U-Net: `widths` per level (each level after the first halves the side), skip
    connections, bilinear upsampling; image sides must be multiples of 2^(levels-1)."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256)):
        super().__init__()
        self.down = nn.ModuleList(conv_block(c_in, c_out)
                                  for c_in, c_out in zip((3,) + tuple(widths[:-1]), widths))
        self.up = nn.ModuleList(conv_block(widths[i + 1] + widths[i], widths[i])
                                for i in reversed(range(len(widths) - 1)))
        self.head = nn.Conv2d(widths[0], 1, 1)
        self.multiple = 2 ** (len(widths) - 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images [B, 3, S, S] in [0, 1] -> log-depth features [B, 1, S, S]."""
        if images.shape[-1] % self.multiple or images.shape[-2] % self.multiple:
            raise ValueError(f"depth U-Net: image sides must be multiples of {self.multiple}; "
                             f"got {tuple(images.shape[-2:])}")
        x, skips = images * 2 - 1, []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.avg_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = block(torch.cat([F.interpolate(x, scale_factor=2, mode="bilinear"), skip], 1))
        return self.head(x)

    def metres(self, images: torch.Tensor) -> torch.Tensor:
        """images [B, 3, S, S] in [0, 1] -> depth [B, 1, S, S] in metres."""
        return to_metres(self(images))
