"""`gscsim grid OUTPUT`: the pictures a scenario kept (`keep_frames`), laid out as a figure:
one row per kept frame, the original first, then every transceiver at each chosen point
(SNR, CBR), as the paper's Fig. 2."""
from __future__ import annotations

import json
import math
from pathlib import Path

from gscsim.io import ScenarioError
from gscsim.run.plots import short_value


def grid(root: str | Path, points: list[tuple[float, float]] | None = None,
         out: str | Path | None = None) -> Path:
    """Write the grid (PNG) and return its path: OUTPUT/plots/grid.png unless `out`. `points`
    are (SNR dB, CBR) pairs in column order; all points with kept pictures when None."""
    import matplotlib.pyplot as plt
    from PIL import Image

    root = Path(root)
    manifest_path = root / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{root} holds no gscsim results (no manifest.json)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    frames = sorted(p for p in (root / "frames").glob("*") if p.is_dir()) \
        if (root / "frames").is_dir() else []
    if not frames:
        raise ScenarioError(str(root / "manifest.json"), [(
            "scenario.keep_frames", "no frames were kept; list frame ids (the `frame` column "
            "of frames.csv) in keep_frames and run the scenario into an empty folder")])
    order = [t.get("label") or t["name"] for t in manifest["scenario"]["transceivers"]]
    trials = {}
    for tid in manifest["trial_ids"]:
        path = root / "trials" / f"{tid}.json"
        if path.exists() and (frames[0] / f"{tid}.png").exists():
            trial = json.loads(path.read_text(encoding="utf-8"))["trial"]
            trials[(trial["transceiver"], trial["snr_db"], trial["cbr"])] = tid
    chosen = points or sorted({(snr, cbr) for _, snr, cbr in trials}, key=lambda p: (-p[0], p[1]))
    columns = [("original", None)]
    for snr, cbr in chosen:
        for label in order:
            match = [tid for (t, s, c), tid in trials.items()
                     if t == label and s == snr and math.isclose(c, cbr, rel_tol=1e-6)]
            if match:
                columns.append((f"{label}\n{snr:g} dB, CBR {short_value(cbr)}", match[0]))
    fig, axes = plt.subplots(len(frames), len(columns), squeeze=False,
                             figsize=(1.6 * len(columns), 1.6 * len(frames) + 0.6))
    for row, folder in enumerate(frames):
        for col, (title, tid) in enumerate(columns):
            ax = axes[row, col]
            ax.imshow(Image.open(folder / ("original.png" if tid is None else f"{tid}.png")))
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=6)
        axes[row, 0].set_ylabel(folder.name, fontsize=6)
    fig.tight_layout()
    target = Path(out) if out else root / "plots" / "grid.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=150)
    plt.close(fig)
    return target

