"""Draw the contact sheet of docs/reference/scenes.md: 16 test scenes with their depth maps
and captions.

    python benchmarks/contact_sheet.py [OUT.png]
"""
from __future__ import annotations

import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gscsim.data.scenes.dataset import FAR_DEPTH_M, scene_at  # noqa: E402
from gscsim.data.scenes.render import render  # noqa: E402


def main(out: str = "docs/scenes_contact_sheet.png") -> None:
    fig, axes = plt.subplots(4, 8, figsize=(16, 9.6))
    for k in range(16):
        scene, text = scene_at("test", k)
        r = render(scene, 128)
        image_ax, depth_ax = axes[(k // 8) * 2, k % 8], axes[(k // 8) * 2 + 1, k % 8]
        image_ax.imshow(r.image)
        image_ax.set_title("\n".join(textwrap.wrap(text, 30)), fontsize=6)
        depth_ax.imshow(np.minimum(r.depth, FAR_DEPTH_M), cmap="magma_r", vmin=4, vmax=16)
        depth_ax.set_title("depth 4-16 m", fontsize=6)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:])
