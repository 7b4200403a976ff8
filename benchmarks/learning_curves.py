"""Learning curves of the generators as pictures: every validation column (`val_*`) of the
training logs (log.csv) in the given run folders, against the training step, one panel per
column, one line per run (or stage).

    python benchmarks/learning_curves.py --out docs/learning_curves.png \\
        scvar=runs/scvar-scenes64-long@4800 sgd-jscc=runs/sgd-jscc-scenes64 \\
        brigsc=runs/brigsc-scenes64

Each argument is LABEL=FOLDER[@OFFSET]: a run folder holding log.csv, or a staged run whose
stages each hold one (SGD-JSCC's codec/denoiser/control, BriGSC's plain/adaptive/refiner);
OFFSET is added to the steps (a run continued from a model trained OFFSET steps before).
Columns are grouped by name, so runs sharing a column share a panel.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def validation_series(log: Path, offset: int) -> dict[str, tuple[list[int], list[float]]]:
    """{column: (steps, values)} of a log.csv's non-empty val_* entries."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    with open(log, newline="") as f:
        for row in csv.DictReader(f):
            for name, value in row.items():
                if name.startswith("val_") and value not in ("", None):
                    steps, values = series.setdefault(name[4:], ([], []))
                    steps.append(int(row["step"]) + offset)
                    values.append(float(value))
    return series


def logs_of(folder: Path) -> list[tuple[str, Path]]:
    """(stage name or '', log.csv) of a run folder or of each stage of a staged one."""
    if (folder / "log.csv").is_file():
        return [("", folder / "log.csv")]
    return [(p.parent.name, p) for p in sorted(folder.glob("*/log.csv"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="LABEL=FOLDER[@OFFSET]")
    parser.add_argument("--out", default="learning_curves.png")
    args = parser.parse_args()
    panels: dict[str, list[tuple[str, list[int], list[float]]]] = {}
    for spec in args.runs:
        label, _, where = spec.partition("=")
        folder, _, offset = where.partition("@")
        logs = logs_of(Path(folder))
        if not logs:
            raise SystemExit(f"{folder}: no log.csv there or in its stage folders")
        for stage, log in logs:
            for column, (steps, values) in validation_series(log, int(offset or 0)).items():
                name = f"{label} {stage}".strip()
                panels.setdefault(column, []).append((name, steps, values))
    columns = sorted(panels)
    cols = min(3, len(columns))
    rows = -(-len(columns) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, column in zip(axes.flat, columns):
        for name, steps, values in panels[column]:
            ax.plot(steps, values, marker="o", markersize=3, label=name)
        ax.set_title(column.replace("_", " "), fontsize=9)
        ax.set_xlabel("training step (batch 32)", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}: {len(columns)} panels")


if __name__ == "__main__":
    main()
