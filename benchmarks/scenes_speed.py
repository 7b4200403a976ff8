"""Scenes rendered per second at 64, 128 and 256 pixels (one process, this machine).

    python benchmarks/scenes_speed.py [--scenes 200]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from gscsim.data.scenes.graph import sample_scene
from gscsim.data.scenes.render import render


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenes", type=int, default=200)
    args = parser.parse_args()
    scenes = [sample_scene(np.random.default_rng(i)) for i in range(args.scenes)]
    for size, count in ((64, args.scenes), (128, args.scenes // 2), (256, args.scenes // 8)):
        started = time.perf_counter()
        for scene in scenes[:count]:
            render(scene, size)
        rate = count / (time.perf_counter() - started)
        print(f"{size:4d} x {size:<4d} {rate:7.1f} scenes/s  ({count} scenes)")


if __name__ == "__main__":
    main()
