"""`gscsim scenes write`: render a split to one .npz shard for fast training; `cached_split`
and `SceneSplit` read one from the gscsim cache.

Arrays: images uint8 [N, H, W, 3], depth float16 [N, H, W] (m, sky at 30), masks uint8
[N, H, W], captions (str), and the scene graphs as JSON strings.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from gscsim.data.scenes.dataset import FAR_DEPTH_M, scene_at
from gscsim.data.scenes.render import render
from gscsim.io import atomic_file, cache_dir


def write_shard(path: str | Path, split: str, count: int, size: int, start: int = 0,
                progress: bool = True) -> Path:
    path = Path(path)
    images = np.empty((count, size, size, 3), np.uint8)
    depth = np.empty((count, size, size), np.float16)
    masks = np.empty((count, size, size), np.uint8)
    captions, graphs = [], []
    for k in tqdm(range(count), desc=f"{split} scenes", disable=not progress):
        scene, text = scene_at(split, start + k)
        out = render(scene, size)
        images[k] = np.round(out.image * 255)
        depth[k] = np.minimum(out.depth, FAR_DEPTH_M)
        masks[k] = out.mask
        captions.append(text)
        graphs.append(json.dumps([asdict(o) for o in scene.objects]))
    with atomic_file(path) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, images=images, depth=depth, masks=masks,
                            captions=np.array(captions), graphs=np.array(graphs))
    return path


def cached_split(split: str, count: int, size: int, progress: bool = True) -> dict[str, np.ndarray]:
    """Scenes 0..count-1 of a split as the arrays of `write_shard`, rendered once and kept in
    the gscsim cache folder (GSCSIM_CACHE) so that several trainings share one rendering."""
    path = cache_dir() / "scenes" / f"{split}-{count}-{size}.npz"
    if not path.exists():
        write_shard(path, split, count, size, progress=progress)
    with np.load(path) as shard:
        return {key: shard[key] for key in shard.files}


class SceneSplit:
    """Scenes 0..count-1 of a split as tensors (from `cached_split`): images uint8
    [N, 3, S, S], depth float16 [N, 1, S, S] (m) and captions."""

    def __init__(self, split: str, count: int, size: int, progress: bool = True):
        arrays = cached_split(split, count, size, progress)
        self.images = torch.from_numpy(arrays["images"]).permute(0, 3, 1, 2).contiguous()
        self.depth = torch.from_numpy(arrays["depth"]).unsqueeze(1)
        self.captions = [str(c) for c in arrays["captions"]]

    def batch(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(images float [B, 3, S, S] in [0, 1], depth float [B, 1, S, S] in m) of these rows."""
        return self.images[rows].float() / 255, self.depth[rows].float()

    def mean_image(self) -> torch.Tensor:
        """float [3, S, S] in [0, 1]: the mean of the split's images (summed in chunks)."""
        total = torch.zeros(self.images.shape[1:], dtype=torch.float64)
        for start in range(0, len(self.images), 4096):
            total += self.images[start:start + 4096].double().sum(0)
        return (total / (255 * len(self.images))).float()
