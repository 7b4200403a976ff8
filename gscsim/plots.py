"""Curves from summary.csv: a metric against SNR or CBR, one line per transceiver, one panel
per combination of the other varying keys (channel, CBR, ...), 95% CI error bars; PNG and PDF."""
from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from . import registry  # noqa: E402
from .results import read_csv  # noqa: E402

AXIS_LABELS = {
    "snr_db": "SNR $E_s/N_0$ [dB]",
    "cbr": "CBR [channel uses / source value]",
    "psnr": "PSNR [dB]",
    "ssim": "SSIM",
    "ms_ssim": "MS-SSIM",
    "achieved_cbr": "achieved CBR",
}
TRIAL_KEYS_FIXED = ("transceiver", "channel", "snr_db", "cbr", "seed")
NON_KEYS = ("n_frames", "achieved_cbr", "tx_power", "encode_s", "channel_s", "decode_s", "metrics_s")


def label(column: str) -> str:
    if column in AXIS_LABELS:
        return AXIS_LABELS[column]
    if column.startswith("snr_db."):
        return f"SNR of stream '{column[7:]}' [dB]"
    try:
        unit = registry.resolve("metrics", column).unit
        return f"{column} [{unit}]" if unit else column
    except registry.PluginError:
        return column


def key_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Columns that identify trials (the fixed keys plus swept options and stream SNRs)."""
    if not rows:
        return []
    columns = list(rows[0])
    metric_like = {c[:-5] for c in columns if c.endswith("_ci95")}
    return [c for c in columns if c not in NON_KEYS and not c.endswith("_ci95")
            and c not in metric_like]


def plot(root: str | Path, x: str = "snr_db", y: str = "psnr", hue: str = "transceiver",
         out_name: str | None = None) -> list[Path]:
    """Draw `y` against `x` from root/summary.csv into root/plots/<name>.png and .pdf."""
    root = Path(root)
    rows = read_csv(root / "summary.csv")
    if not rows:
        raise ValueError(f"{root / 'summary.csv'} holds no trials yet")
    for column in (x, y, hue):
        if column not in rows[0]:
            raise ValueError(f"column '{column}' is not in {root / 'summary.csv'}; "
                             f"columns: {', '.join(rows[0])}")
    panel_keys = [k for k in key_columns(rows) if k not in (x, hue)
                  and len({r[k] for r in rows}) > 1]
    panels = sorted({tuple(r[k] for k in panel_keys) for r in rows}, key=str)
    # Rows by the first varying key, columns by the last (e.g. channel x CBR).
    ncols = min(4, len({p[-1] for p in panels})) if panel_keys else 1
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False,
                             sharey=True)
    hues = sorted({r[hue] for r in rows}, key=str)
    for ax, panel in itertools.zip_longest(axes.flat, panels):
        if panel is None:
            ax.set_visible(False)
            continue
        chosen = [r for r in rows if tuple(r[k] for k in panel_keys) == panel]
        for h in hues:
            line = sorted((r for r in chosen if r[hue] == h), key=lambda r: r[x])
            if not line:
                continue
            err = [r.get(f"{y}_ci95", math.nan) for r in line]
            ax.errorbar([r[x] for r in line], [r[y] for r in line],
                        yerr=[0 if not math.isfinite(e) else e for e in err],
                        marker="o", ms=4, capsize=3, label=str(h))
        ax.set_title(", ".join(f"{k}={_short(v)}" for k, v in zip(panel_keys, panel)) or y,
                     fontsize=9)
        ax.set_xlabel(label(x))
        ax.grid(True, alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel(label(y))
    axes.flat[0].legend(fontsize=8, title=hue)
    fig.tight_layout()
    out_dir = root / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    name = out_name or f"{y}_vs_{x}"
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.pdf"]
    for p in paths:
        fig.savefig(p, dpi=130)
    plt.close(fig)
    return paths


def _short(value: Any) -> str:
    if isinstance(value, float):
        if 0 < value < 1:
            inv = 1 / value
            if abs(inv - round(inv)) < 1e-6:
                return f"1/{round(inv)}"
        return f"{value:g}"
    return str(value)


def default_plots(root: Path, scenario) -> list[Path]:
    """Every metric against SNR, and against CBR when the scenario sweeps more than one CBR."""
    paths = []
    for metric in scenario.metrics:
        paths += plot(root, "snr_db", metric)
        if len(scenario.sweep.cbr) > 1:
            paths += plot(root, "cbr", metric)
    return paths
