"""`gscsim scenes write`: render a split to one .npz shard for fast training.

Arrays: images uint8 [N, H, W, 3], depth float16 [N, H, W] (m, sky at 30), masks uint8
[N, H, W], captions (str), and the scene graphs as JSON strings.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .dataset import FAR_DEPTH_M, scene_at
from .render import render


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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, images=images, depth=depth, masks=masks,
                        captions=np.array(captions), graphs=np.array(graphs))
    tmp.replace(path)
    return path


def cached_split(split: str, count: int, size: int, progress: bool = True) -> dict[str, np.ndarray]:
    """Scenes 0..count-1 of a split as the arrays of `write_shard`, rendered once and kept in
    the gscsim cache folder (GSCSIM_CACHE) so that several trainings share one rendering."""
    from ..fid import cache_dir

    path = cache_dir() / "scenes" / f"{split}-{count}-{size}.npz"
    if not path.exists():
        write_shard(path, split, count, size, progress=progress)
    with np.load(path) as shard:
        return {key: shard[key] for key in shard.files}
