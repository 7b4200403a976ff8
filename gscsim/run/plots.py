"""Curves from summary.csv: a metric against SNR or CBR, one line per transceiver, one panel
per combination of the other varying keys (channel, CBR, ...), 95% CI error bars; PNG and PDF.
The backend is the caller's (the command line sets Agg; a notebook keeps its inline one)."""
from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from gscsim import registry
from gscsim.io import read_csv, safe_name, tabulated
from gscsim.run.tables import STAT_COLUMNS, mean_ci95

AXIS_LABELS = {
    "snr_db": "SNR $E_s/N_0$ [dB]",
    "cbr": "CBR [channel uses / source value]",
    "achieved_cbr": "achieved CBR",
    "users": "users (links per receiver)",
    "latency_s": "latency [s]",
    "latency_mean_s": "mean latency [s]",
    "latency_p50_s": "median latency [s]",
    "latency_p95_s": "95th percentile latency [s]",
    "latency_p99_s": "99th percentile latency [s]",
    "throughput_fps": "throughput [frames/s]",
    "deadline_miss_rate": "deadline miss rate",
}


METRIC_NAMES = {"psnr": "PSNR", "ssim": "SSIM", "ms_ssim": "MS-SSIM", "lpips": "LPIPS",
                "lpips_vgg": "LPIPS (VGG)", "fid": "FID", "kid": "KID",
                "semantic_acc": "semantic accuracy"}
LOWER_IS_BETTER = {"latency_s", "latency_mean_s", "latency_p50_s", "latency_p95_s",
                   "latency_p99_s", "deadline_miss_rate", "frame_error_rate"}
HIGHER_IS_BETTER = {"throughput_fps"}


def label(column: str) -> str:
    """An axis label: the quantity, its unit, and for a metric which way is better, e.g.
    "PSNR [dB] (higher is better)", "LPIPS (lower is better)"."""
    if column in AXIS_LABELS:
        text = AXIS_LABELS[column]
    elif column.startswith("snr_db."):
        return f"SNR of stream '{column[7:]}' [dB]"
    else:
        try:
            metric = registry.resolve("metrics", column)
        except registry.PluginError:
            return column
        name = METRIC_NAMES.get(column, column.replace("_", " "))
        text = f"{name} [{metric.unit}]" if metric.unit else name
        return f"{text} ({'higher' if metric.higher_is_better else 'lower'} is better)"
    if column in LOWER_IS_BETTER | HIGHER_IS_BETTER:
        return f"{text} ({'lower' if column in LOWER_IS_BETTER else 'higher'} is better)"
    return text


def key_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Columns that identify trials: in summary.csv every column before `n_frames` (the trial
    keys, swept options, stream SNRs, link); in frames.csv those that are not statistics."""
    if not rows:
        return []
    columns = list(rows[0])
    if "n_frames" in columns:
        return columns[:columns.index("n_frames")]
    metric_like = {c[:-5] for c in columns if c.endswith("_ci95")}
    return [c for c in columns if c not in STAT_COLUMNS and not c.endswith("_ci95")
            and c not in metric_like]


def plot(root: str | Path, x: str = "snr_db", y: str = "psnr", hue: str = "transceiver",
         out_name: str | None = None, where: dict[str, float] | None = None,
         summary: list[dict[str, Any]] | None = None) -> list[Path]:
    """Draw `y` against `x` from root/summary.csv (or the `summary` rows already in memory)
    into root/plots/<name>.png and .pdf (see `curve_figure`)."""
    root = Path(root)
    fig = curve_figure(root, x, y, hue, where, summary)
    return save_figure(fig, root, out_name or safe_name(f"{y}_vs_{x}"))


def curve_figure(root: str | Path, x: str = "snr_db", y: str = "psnr",
                 hue: str = "transceiver", where: dict[str, float] | None = None,
                 summary: list[dict[str, Any]] | None = None) -> Figure:
    """`y` against `x`, a line per `hue`, a panel per combination of the other varying keys,
    from the rows whose numeric columns equal `where` (e.g. {"cbr": 1/48}; all rows when None).
    Error bars are 95% intervals (over frames, or over seeds when several are pooled), as the
    caption says; points where frames were lost are ringed in red; the title names the keys
    that are the same in every panel. Timed trials have a row with link "all" (and one per link
    when several): unless the hue is `link`, only the "all" rows are drawn."""
    root = Path(root)
    rows = _rows(root / "summary.csv", (x, y, hue) + tuple(where or ()), summary)
    rows = [r for r in rows if all(math.isclose(r[k], v) for k, v in (where or {}).items())]
    if "link" in rows[0] and hue != "link":
        rows = [r for r in rows if r["link"] == "all"]
    keys = [k for k in key_columns(rows) if k != "link" or hue == "link"]
    rows = [r for r in rows if isinstance(r[y], float) and isinstance(r[x], float)]
    if not rows:
        raise ValueError(f"column '{y}' has no values against '{x}' in {root / 'summary.csv'} "
                         f"(a column only some transceivers fill, e.g. frame_error_rate for "
                         f"digital ones)")
    seeds = len({r["seed"] for r in rows}) if "seed" in keys else 1
    if "seed" in keys and x != "seed" and hue != "seed":
        rows, keys = pool_seeds(rows, keys, y), [k for k in keys if k != "seed"]

    def draw(ax, chosen, h):
        line = sorted(chosen, key=lambda r: r[x])
        err = [r.get(f"{y}_ci95", math.nan) for r in line]
        ax.errorbar([r[x] for r in line], [r[y] for r in line],
                    yerr=[0 if not math.isfinite(e) else e for e in err],
                    marker="o", ms=4, capsize=3, label=str(h))
        lost = [r for r in line if isinstance(r.get("frame_error_rate"), float)
                and r["frame_error_rate"] > 0]
        if lost:
            ax.scatter([r[x] for r in lost], [r[y] for r in lost], s=90, facecolors="none",
                       edgecolors="red", linewidths=1.2, zorder=5, label=LOST_LABEL)

    fixed = {k: rows[0][k] for k in keys if k not in (x, hue) and len({r[k] for r in rows}) == 1}
    fixed.update(where or {})
    title = ", ".join(f"{k}={short_value(v)}" for k, v in fixed.items()) or None
    frames = sorted({int(r["n_frames"]) for r in rows if isinstance(r.get("n_frames"), (float, int))
                     and r["n_frames"] > 0})           # refused points ran no frames
    over = (f"{frames[0]}" if len(frames) == 1 else f"{frames[0]}-{frames[-1]}") if frames \
        else "the"
    caption = (f"error bars: 95% intervals over {seeds} seeds (means of {over} frames each)"
               if seeds > 1 and x != "seed" and hue != "seed"
               else f"error bars: 95% intervals over {over} frames per point")
    return _figure(rows, keys, (x, hue), hue, draw, label(x), label(y), title, caption)


LOST_LABEL = "frames lost at this point"


def pool_seeds(rows: list[dict[str, Any]], keys: list[str], y: str) -> list[dict[str, Any]]:
    """Rows of several seeds (repetitions) merged: one row per value of the other keys, with
    the mean of `y` over the seeds and, from two seeds on, its 95% interval over them (else
    the single seed's own interval)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys if k != "seed"), []).append(row)
    pooled = []
    for group in groups.values():
        row = dict(group[0])
        if len(group) > 1:
            row[y], row[f"{y}_ci95"] = mean_ci95([r[y] for r in group])
        pooled.append(row)
    return pooled


def plot_cdf(root: str | Path, column: str = "latency_s", hue: str = "transceiver",
             out_name: str | None = None, summary: list[dict[str, Any]] | None = None,
             frames: list[dict[str, Any]] | None = None) -> list[Path]:
    """Draw `cdf_figure` into root/plots/<column>_cdf.png and .pdf."""
    fig = cdf_figure(root, column, hue, summary, frames)
    return save_figure(fig, Path(root), out_name or safe_name(f"{column}_cdf"))


def cdf_figure(root: str | Path, column: str = "latency_s", hue: str = "transceiver",
               summary: list[dict[str, Any]] | None = None,
               frames: list[dict[str, Any]] | None = None) -> Figure:
    """Empirical CDF of a per-frame column of root/frames.csv (or the `frames` rows in memory,
    e.g. latency_s), one line per `hue` value, one panel per other varying trial key; NaN
    (dropped frames) left out and counted in the caption."""
    root = Path(root)
    rows = _rows(root / "frames.csv", (column, hue), frames)
    summary = _rows(root / "summary.csv", (), summary)
    keys = [k for k in key_columns(summary) if k in rows[0] and k != "link"]

    def draw(ax, chosen, h):
        values = np.sort([r[column] for r in chosen if math.isfinite(r[column])])
        if values.size:
            ax.step(values, np.arange(1, values.size + 1) / values.size, where="post",
                    label=str(h))
            if values[0] > 0:
                ax.set_xscale("log")       # latencies span decades once a server saturates

    dropped = sum(not (isinstance(r[column], float) and math.isfinite(r[column])) for r in rows)
    caption = f"empirical CDF over {len(rows) - dropped} frames" + (
        f"; {dropped} frames without a value (dropped) left out" if dropped else "")
    return _figure(rows, keys, (hue,), hue, draw, label(column), "CDF", None, caption)


def _rows(path: Path, needed: tuple[str, ...], in_memory: list[dict[str, Any]] | None = None
          ) -> list[dict[str, Any]]:
    """The table at `path`, or the same table already in memory, as read_csv gives it."""
    rows = read_csv(path) if in_memory is None else tabulated(in_memory)
    if not rows:
        raise ValueError(f"{path} holds no trials yet")
    for column in needed:
        if column not in rows[0]:
            raise ValueError(f"column '{column}' is not in {path}; columns: {', '.join(rows[0])}")
    return rows


def _figure(rows: list[dict[str, Any]], keys: list[str], exclude: tuple[str, ...], hue: str,
            draw, xlabel: str, ylabel: str, title: str | None, caption: str) -> Figure:
    """One panel per combination of the varying `keys` not in `exclude` (rows by the first
    varying key, columns by the last), a line per hue, the legend outside the panels so that
    it hides no point, `title` above and `caption` below."""
    panel_keys = [k for k in keys if k not in exclude and len({r[k] for r in rows}) > 1]
    panels = sorted({tuple(r[k] for k in panel_keys) for r in rows},
                    key=lambda p: [(isinstance(v, str), v) for v in p])   # numbers by value
    ncols = min(4, len({p[-1] for p in panels})) if panel_keys else 1
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False,
                             sharey=True)
    hues = sorted({r[hue] for r in rows}, key=lambda v: (isinstance(v, str), v))
    for ax, panel in itertools.zip_longest(axes.flat, panels):
        if panel is None:
            ax.set_visible(False)
            continue
        chosen = [r for r in rows if tuple(r[k] for k in panel_keys) == panel]
        for h in hues:
            subset = [r for r in chosen if r[hue] == h]
            if subset:
                draw(ax, subset, short_value(h))
        if panel_keys:
            ax.set_title(", ".join(f"{k}={short_value(v)}" for k, v in zip(panel_keys, panel)),
                         fontsize=9)
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    legend: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, text in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(text, handle)
    if LOST_LABEL in legend:                                  # the marker note goes last
        legend[LOST_LABEL] = legend.pop(LOST_LABEL)
    fig.legend(list(legend.values()), list(legend), title=hue, fontsize=8,
               loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.text(0.5, 0.0, caption, ha="center", va="top", fontsize=8, color="0.3")
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, root: Path, name: str) -> list[Path]:
    """Write `fig` to root/plots/<name>.png (130 dpi) and .pdf, legend and caption included;
    close it; return both paths."""
    out_dir = Path(root) / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.pdf"]
    for p in paths:
        fig.savefig(p, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return paths


def short_value(value: Any) -> str:
    if isinstance(value, float):
        if 0 < value < 1:
            inv = 1 / value
            if abs(inv - round(inv)) < 1e-6 and round(inv) < 1000:       # 1/48, not 1/1000
                return f"1/{round(inv)}"
        return f"{value:g}"
    return str(value)


def default_plots(root: Path, scenario, summary: list[dict[str, Any]] | None = None,
                  frames: list[dict[str, Any]] | None = None) -> list[Path]:
    """Every metric against SNR, CBR and each stream's own SNR where several are swept (on a
    cross sweep, each along its own line); for timed scenarios the
    latency CDF, and latency and deadline misses against the number of users when swept.
    `summary` and `frames` are the tables in memory (read from `root` when None)."""
    paths, cross = [], scenario.sweep.cross_at
    for metric in scenario.metrics:
        if len(scenario.sweep.snr_db) > 1:
            paths += plot(root, "snr_db", metric, where=cross and {"cbr": cross.cbr},
                          summary=summary)
        if len(scenario.sweep.cbr) > 1:
            paths += plot(root, "cbr", metric, where=cross and {"snr_db": cross.snr_db},
                          summary=summary)
        for stream, values in sorted(scenario.sweep.stream_snr_db.items()):
            if len(values) > 1:
                paths += plot(root, f"snr_db.{stream}", metric, summary=summary)
    if scenario.timing is not None:
        users = scenario.sweep.users
        paths += plot_cdf(root, "latency_s", hue="users" if users else "transceiver",
                          summary=summary, frames=frames)
        if users and len(users) > 1:
            for y in ("latency_mean_s", "latency_p95_s", "throughput_fps"):
                paths += plot(root, "users", y, summary=summary)
            if scenario.timing.deadline_s is not None:
                paths += plot(root, "users", "deadline_miss_rate", summary=summary)
    return paths
