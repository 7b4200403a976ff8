"""Scene attributes and the attribute recogniser behind the `semantic_acc` metric
(gscsim.metrics.semantic).

Labels (multi-hot, 44): which colour-shape pairs are present (8 x 4), which size-shape pairs
(2 x 4), and which image quadrants hold an object's centre (4). The recogniser is a small CNN
trained by `python -m gscsim.data.scenes.train_attributes` on the scene set; `semantic_acc` is
the F1 score between the labels it recognises in the original frame and in the received one
(1: every attribute survived).
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gscsim.data.scenes.graph import COLOURS, SHAPES, SIZES, Scene
from gscsim.zoo import ZOO

LABELS = ([f"{c} {s}" for c in COLOURS for s in SHAPES]
          + [f"{z} {s}" for z in SIZES for s in SHAPES]
          + ["top-left", "top-right", "bottom-left", "bottom-right"])
_COLOUR_SHAPE, _SIZE_SHAPE = len(COLOURS) * len(SHAPES), len(SIZES) * len(SHAPES)
GROUPS = {"colour-shape": slice(0, _COLOUR_SHAPE),                       # label columns
          "size-shape": slice(_COLOUR_SHAPE, _COLOUR_SHAPE + _SIZE_SHAPE),
          "quadrant": slice(_COLOUR_SHAPE + _SIZE_SHAPE, len(LABELS))}
CHECKPOINT = ZOO / "attributes-scenes64.pt"


def project(scene: Scene, point: np.ndarray, size: int) -> tuple[float, float]:
    """Pixel (row, col) of a world point in a size x size render of the scene."""
    cam = scene.camera
    origin = np.asarray(cam.position)
    forward = np.asarray(cam.target) - origin
    forward /= np.linalg.norm(forward)
    right = np.cross([0.0, 1.0, 0.0], forward)
    right /= np.linalg.norm(right)
    up = np.cross(forward, right)
    rel = point - origin
    half = math.tan(math.radians(cam.fov_deg) / 2)
    u = (rel @ right) / (rel @ forward) / half
    v = (rel @ up) / (rel @ forward) / half
    return (1 - v) * size / 2, (u + 1) * size / 2


def labels(scene: Scene, size: int = 64) -> np.ndarray:
    """The 44 attribute labels of a scene graph (float32 0/1)."""
    out = np.zeros(len(LABELS), np.float32)
    index = {name: i for i, name in enumerate(LABELS)}
    for obj in scene.objects:
        out[index[f"{obj.colour} {obj.shape}"]] = 1
        out[index[f"{obj.size} {obj.shape}"]] = 1
        row, col = project(scene, np.array([obj.x, obj.half, obj.z]), size)
        quadrant = ("top" if row < size / 2 else "bottom") + "-" + ("left" if col < size / 2
                                                                     else "right")
        out[index[quadrant]] = 1
    return out


class AttributeNet(nn.Module):
    """Image float [B, 3, 64, 64] in [0, 1] -> 44 attribute logits."""

    def __init__(self, width: int = 48):
        super().__init__()
        layers, channels = [], 3
        for out in (width, width * 2, width * 4, width * 4):
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(),
                       nn.Conv2d(out, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(),
                       nn.MaxPool2d(2)]
            channels = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * 16, 256), nn.ReLU(),
                                  nn.Linear(256, len(LABELS)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x - 0.5))


def f1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-row F1 of two multi-hot tensors [B, L] (1 where both are empty)."""
    tp = (pred * target).sum(dim=1)
    denom = pred.sum(dim=1) + target.sum(dim=1)
    return torch.where(denom > 0, 2 * tp / denom.clamp_min(1), torch.ones_like(tp))


@lru_cache(maxsize=1)
def recogniser(path: str = str(CHECKPOINT)) -> AttributeNet:
    if not Path(path).exists():
        raise FileNotFoundError(f"semantic_acc needs the attribute recogniser {path}; train it "
                                f"with: python -m gscsim.data.scenes.train_attributes")
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = AttributeNet(state["width"])
    net.load_state_dict(state["model"])
    return net.eval()


@torch.no_grad()
def recognised(images: torch.Tensor) -> torch.Tensor:
    """The recogniser's multi-hot attributes [B, 44] of 64x64 images float [B, 3, 64, 64]."""
    if images.shape[-2:] != (64, 64):
        raise ValueError(f"semantic_acc's recogniser reads 64x64 scenes; got "
                         f"{tuple(images.shape[-2:])} (use the scenes dataset at size 64)")
    return (recogniser()(images.float().cpu().clamp(0, 1)) > 0).float()


def f1_by_group(reference: torch.Tensor, received: torch.Tensor) -> dict[str, float]:
    """Mean F1 over frames within each attribute group (GROUPS) between the `recognised`
    attributes [B, 44] of received and reference frames: which kind of semantics a link
    loses."""
    return {name: float(f1(received[:, cols], reference[:, cols]).mean())
            for name, cols in GROUPS.items()}
