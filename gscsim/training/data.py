"""Training images for the learned models: random crops of an image folder, or rendered
scenes, and a fixed validation set."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from gscsim.data.datasets import IMAGE_SUFFIXES, load_full
from gscsim.data.scenes.shards import SceneSplit


class DataConfig(BaseModel):
    """Where training images come from: random crops of an image folder, or rendered scenes."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["folder", "scenes"] = "folder"
    path: str | None = Field(None, description="image folder (kind folder); relative to the config")
    crop: int = Field(128, ge=16, description="training crop side (px); scenes: the render size")
    holdout: int = Field(3, ge=0, description="folder: last N files (by name) kept for validation")
    val_crop: int | None = Field(None, ge=16, description=(
        "folder: side (px) of the held-out files' centre crops, rounded down to a multiple of "
        "crop (at least crop) and to what the smallest held-out file allows; default 2 x crop"))
    count: int = Field(20000, ge=1, description="scenes: train-split scenes rendered")
    val_count: int = Field(64, ge=1, description="scenes: val-split scenes for validation")


class ImageSource:
    """Training batches (float [B, 3, crop, crop] in [0, 1]) and a fixed validation set.

    folder: every image is read once into memory; a batch takes uniformly random images, a random
    crop of each and a random horizontal flip. Validation: centre crops of the held-out files,
    `val_crop` (default 2 x crop) on a side, less where an image is smaller. scenes: `count`
    train-split scenes are rendered once; validation uses the val split.
    """

    def __init__(self, cfg: DataConfig, base_dir: Path | None = None, progress: bool = True):
        self.cfg = cfg
        if cfg.kind == "folder":
            self.train, self.val = self._folder(cfg, base_dir)
        else:
            self.train, self.val = self._scenes(cfg, progress)

    @staticmethod
    def _folder(cfg: DataConfig, base_dir: Path | None) -> tuple[list[torch.Tensor], torch.Tensor]:
        if not cfg.path:
            raise ValueError("train.data.path: an image folder is needed for data kind 'folder'")
        root = Path(cfg.path)
        if not root.is_absolute() and base_dir is not None and not root.exists():
            root = base_dir / root
        files = sorted(p for p in root.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        images = [(load_full(p) * 255).round().to(torch.uint8) for p in files]
        small = [p.name for p, im in zip(files, images) if min(im.shape[1:]) < cfg.crop]
        if small:
            warnings.warn(f"{root}: skipping {len(small)} images smaller than train.data.crop="
                          f"{cfg.crop}: {small[:5]}", stacklevel=2)
            images = [im for im in images if min(im.shape[1:]) >= cfg.crop]
        if len(images) <= cfg.holdout:
            raise FileNotFoundError(f"train.data.path: {root} has {len(images)} images of at "
                                    f"least {cfg.crop} px; need more than holdout={cfg.holdout}")
        held = images[len(images) - cfg.holdout:]
        crops_per_side = max(1, (cfg.val_crop or 2 * cfg.crop) // cfg.crop)
        side = cfg.crop * min([crops_per_side] + [min(im.shape[1:]) // cfg.crop for im in held])
        val = [_centre_crop(im, side) for im in held]
        return images[: len(images) - cfg.holdout], (torch.stack(val) if val else None)

    @staticmethod
    def _scenes(cfg: DataConfig, progress: bool) -> tuple[torch.Tensor, torch.Tensor]:
        return (SceneSplit("train", cfg.count, cfg.crop, progress).images,
                SceneSplit("val", cfg.val_count, cfg.crop, progress).images)

    def batch(self, size: int, generator: torch.Generator) -> torch.Tensor:
        """A random training batch, float [size, 3, crop, crop] in [0, 1]."""
        c = self.cfg.crop
        if isinstance(self.train, torch.Tensor):
            picked = self.train[torch.randint(len(self.train), (size,), generator=generator)]
        else:
            crops = []
            for k in torch.randint(len(self.train), (size,), generator=generator).tolist():
                im = self.train[k]
                top = int(torch.randint(im.shape[1] - c + 1, (1,), generator=generator))
                left = int(torch.randint(im.shape[2] - c + 1, (1,), generator=generator))
                crops.append(im[:, top:top + c, left:left + c])
            picked = torch.stack(crops)
        flip = torch.rand(size, generator=generator) < 0.5
        picked = torch.where(flip.view(-1, 1, 1, 1), picked.flip(-1), picked)
        return picked.float() / 255.0

    def validation(self) -> torch.Tensor | None:
        """The fixed validation images, float [N, 3, S, S] in [0, 1], or None (no holdout)."""
        return None if self.val is None else self.val.float() / 255.0


def _centre_crop(image: torch.Tensor, side: int) -> torch.Tensor:
    _, h, w = image.shape
    top, left = (h - side) // 2, (w - side) // 2
    return image[:, top:top + side, left:left + side]


def uniform(low_high: tuple[float, float], n: int, generator: torch.Generator) -> torch.Tensor:
    """n draws uniform over [low, high) (e.g. each training sample's SNR in dB)."""
    low, high = low_high
    return low + (high - low) * torch.rand(n, generator=generator)
