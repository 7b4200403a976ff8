"""The `scenes` dataset: procedural scenes rendered on demand, deterministic by split and index,
so the test split is the same for everyone."""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from gscsim.data.scenes.caption import caption
from gscsim.data.scenes.graph import Scene, sample_scene
from gscsim.data.scenes.render import render
from gscsim.plugins import Dataset, Frame

SPLIT_SEEDS = {"train": 1_000_003, "val": 2_000_003, "test": 3_000_017}
FAR_DEPTH_M = 30.0          # depth reported for sky pixels


class ScenesOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(64, ge=8, description="square image side in pixels")
    count: int = Field(300, ge=1, description="scenes in the split")
    split: Literal["train", "val", "test"] = Field("test", description=(
        "which split: models train on train, select on val, and are scored on test"))


def scene_at(split: str, index: int) -> tuple[Scene, str]:
    """The scene graph and caption of scene `index` of a split (pure function of both)."""
    rng = np.random.default_rng([SPLIT_SEEDS[split], index])
    scene = sample_scene(rng)
    return scene, caption(scene, rng)


@lru_cache(maxsize=2048)
def _rendered(split: str, index: int, size: int):
    scene, text = scene_at(split, index)
    out = render(scene, size)
    image = torch.from_numpy(out.image).permute(2, 0, 1).contiguous()
    depth = torch.from_numpy(np.minimum(out.depth, FAR_DEPTH_M)).unsqueeze(0)
    return image, depth, torch.from_numpy(out.mask), text


class Scenes(Dataset):
    """Procedural 3-D scenes with metric depth (m, sky at 30), instance masks and captions."""

    Options = ScenesOptions

    def __len__(self) -> int:
        return self.options.count

    def __getitem__(self, index: int) -> Frame:
        if not 0 <= index < len(self):
            raise IndexError(index)
        image, depth, mask, text = _rendered(self.options.split, index, self.options.size)
        return Frame(image=image, caption=text, id=f"{self.options.split}{index:06d}",
                     depth=depth, mask=mask)

    def scene(self, index: int) -> Scene:
        return scene_at(self.options.split, index)[0]
