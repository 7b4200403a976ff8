"""`gscsim grid OUTPUT [OUTPUT ...]`: the pictures scenarios kept (`keep_frames`), laid out as
a figure: one row per kept frame, the original first, then every transceiver at each chosen
point (SNR, CBR), as the paper's Fig. 2, whose points come from two scenarios (Fig. 3a's SNR
sweep and Fig. 3b's CBR sweep)."""
from __future__ import annotations

import json
import math
from pathlib import Path

from gscsim.io import ScenarioError
from gscsim.run.plots import short_value


def grid(roots: str | Path | list[str | Path], points: list[tuple[float, float]] | None = None,
         out: str | Path | None = None) -> Path:
    """Write the grid (PNG) and return its path: FIRST_OUTPUT/plots/grid.png unless `out`.
    `roots` is one results folder or several (their kept frames in common are the rows; a
    (transceiver, SNR, CBR) found in several comes from the first). `points` are (SNR dB, CBR)
    pairs in column order; all points with kept pictures when None."""
    import matplotlib.pyplot as plt
    from PIL import Image

    roots = [Path(r) for r in (roots if isinstance(roots, list) else [roots])]
    rows, columns = layout(roots, points)
    fig, axes = plt.subplots(len(rows), len(columns), squeeze=False,
                             figsize=(1.6 * len(columns), 1.6 * len(rows) + 0.6))
    for row, frame in enumerate(rows):
        for col, (title, file) in enumerate(columns):
            ax = axes[row, col]
            ax.imshow(Image.open(roots[0] / "frames" / frame / "original.png" if file is None
                                 else str(file).replace("{frame}", frame)))
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=6)
        axes[row, 0].set_ylabel(frame, fontsize=6)
    fig.tight_layout()
    target = Path(out) if out else roots[0] / "plots" / "grid.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=150)
    plt.close(fig)
    return target


def layout(roots: list[Path], points: list[tuple[float, float]] | None
           ) -> tuple[list[str], list[tuple[str, Path | None]]]:
    """(rows: the kept frame ids every folder has, columns: (title, picture path with
    "{frame}" for the frame id; None for the original)) of the grid of `roots`."""
    order: list[str] = []
    trials: dict[tuple[str, float, float], Path] = {}   # -> picture, "{frame}" for the id
    common: set[str] | None = None
    for root in roots:
        manifest_path = root / "manifest.json"
        if not manifest_path.exists():
            raise FileNotFoundError(f"{root} holds no gscsim results (no manifest.json)")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        frames = sorted(p.name for p in (root / "frames").glob("*") if p.is_dir()) \
            if (root / "frames").is_dir() else []
        if not frames:
            raise ScenarioError(str(manifest_path), [(
                "scenario.keep_frames", "no frames were kept; list frame ids (the `frame` column "
                "of frames.csv) in keep_frames and run the scenario into an empty folder")])
        common = set(frames) if common is None else common & set(frames)
        order += [label for label in (t.get("label") or t["name"]
                                      for t in manifest["scenario"]["transceivers"])
                  if label not in order]
        for tid in manifest["trial_ids"]:
            path = root / "trials" / f"{tid}.json"
            if path.exists() and (root / "frames" / frames[0] / f"{tid}.png").exists():
                trial = json.loads(path.read_text(encoding="utf-8"))["trial"]
                trials.setdefault((trial["transceiver"], trial["snr_db"], trial["cbr"]),
                                  Path(root, "frames", "{frame}", f"{tid}.png"))
    rows = sorted(common or ())
    if not rows:
        raise ScenarioError(", ".join(str(r) for r in roots), [(
            "keep_frames", "these results kept no frame in common; keep the same frame ids in "
            "every scenario of the grid")])
    chosen = points or sorted({(snr, cbr) for _, snr, cbr in trials}, key=lambda p: (-p[0], p[1]))
    columns: list[tuple[str, Path | None]] = [("original", None)]
    for snr, cbr in chosen:
        for label in order:
            match = [file for (t, s, c), file in trials.items()
                     if t == label and s == snr and math.isclose(c, cbr, rel_tol=1e-6)]
            if match:
                columns.append((f"{label}\n{snr:g} dB, CBR {short_value(cbr)}", match[0]))
    return rows, columns
