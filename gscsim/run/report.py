"""`gscsim report OUTPUT`: one self-contained HTML page of a results folder, to read or share:
the scenario, what ran where (versions, git revision, machine), warnings (failed trials,
refused points, FID over few frames, uncounted genie streams), a table per metric with 95%
intervals, every plot, the picture grid where frames were kept, the latency table of timed
runs, and the scenario file. Plots and pictures are embedded as data URIs: the page needs no
network and no other file."""
from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import yaml

from gscsim.io import read_csv, write_text
from gscsim.run.plots import key_columns, label, short_value
from gscsim.run.tables import LATENCY_COLUMNS, STAT_COLUMNS, TIMING_COLUMNS, mean_ci95

# Below this many frames per point FID is strongly biased upward (its reference statistics
# need thousands of images); the report says so.
FID_FEW_FRAMES = 1000

TEMPLATE = jinja2.Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gscsim report: {{ name }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em;
       color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.facts td { text-align: left; }
.warnings li { color: #8a4b00; } .none { color: #666; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.85em; }
.broken { color: #b00; font-weight: bold; }
</style></head>
<body>
<h1>{{ name }}</h1>
<p>{{ description }}</p>
<nav>{% for anchor, title in sections %}<a href="#{{ anchor }}">{{ title }}</a>
{%- if not loop.last %} · {% endif %}{% endfor %}</nav>

<h2 id="warnings">Warnings</h2>
{% if warnings %}<ul class="warnings">{% for w in warnings %}<li>{{ w }}</li>{% endfor %}</ul>
{% else %}<p class="none">None: every planned trial is stored and no point was refused.</p>
{% endif %}

<h2 id="run">The run</h2>
<table class="facts">{% for key, value in run %}
<tr><th>{{ key }}</th><td>{{ value }}</td></tr>{% endfor %}
</table>

<h2 id="tables">Results</h2>
<p>Each cell: the mean over the point's frames ± the half-width of its 95% interval (where
several seeds were run: the mean of their means ± the 95% interval over the seeds).</p>
{% for title, table in tables %}<h3>{{ title }}</h3>
{{ table|safe }}{% endfor %}

{% if latency %}<h2 id="latency">Latency</h2>
<p>Per trial (and link) of the timed simulation; seconds unless named otherwise.</p>
{{ latency|safe }}{% endif %}

<h2 id="plots">Plots</h2>
{% for title, data in plots %}<figure><img src="data:image/png;base64,{{ data }}"
  alt="{{ title }}"><figcaption>{{ title }}</figcaption></figure>
{% else %}<p class="none">No plots in this folder (it was run with --no-plots): draw them
with <code>gscsim plot {{ folder }}</code>.</p>{% endfor %}

{% if grid %}<h2 id="grid">Pictures</h2>
<figure><img src="data:image/png;base64,{{ grid }}" alt="the kept pictures">
<figcaption>The frames kept (keep_frames): the original, then every transceiver at each
point.</figcaption></figure>{% endif %}

<h2 id="scenario">Scenario</h2>
<pre>{{ scenario }}</pre>
<footer><p class="none">Written by gscsim {{ version }} from {{ folder }}.</p></footer>
<script>
// Flag any picture the browser could not decode, and count the ones it could.
window.addEventListener("load", function () {
  var images = document.querySelectorAll("img"), shown = 0;
  images.forEach(function (img) {
    if (img.complete && img.naturalWidth > 0) { shown += 1; return; }
    var note = document.createElement("p");
    note.className = "broken";
    note.textContent = "This picture could not be shown: " + img.alt;
    img.replaceWith(note);
  });
  document.body.dataset.imagesShown = shown + "/" + images.length;
});
</script>
</body></html>
""", autoescape=True)


def write_report(folder: str | Path, path: str | Path | None = None) -> Path:
    """Write the report of results folder `folder` to `path` (default FOLDER/report.html);
    return its path."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file() or not (folder / "summary.csv").is_file():
        raise FileNotFoundError(f"{folder} is not a gscsim results folder (it needs "
                                f"manifest.json and summary.csv, written by `gscsim run`)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    rows = read_csv(folder / "summary.csv")
    scenario = manifest["scenario"]
    latency = latency_table(rows)
    sections = [("warnings", "Warnings"), ("run", "The run"), ("tables", "Results")]
    sections += [("latency", "Latency")] if latency else []
    sections += [("plots", "Plots")]
    grid = grid_png(folder)
    sections += [("grid", "Pictures")] if grid else []
    sections += [("scenario", "Scenario")]
    html = TEMPLATE.render(
        name=scenario["name"], description=scenario.get("description", ""), sections=sections,
        warnings=warnings(folder, manifest, rows), run=run_facts(folder, manifest, rows),
        tables=metric_tables(rows, scenario["metrics"]), latency=latency,
        plots=[(p.stem.replace("_", " "), _b64(p.read_bytes()))
               for p in sorted((folder / "plots").glob("*.png")) if p.name != "grid.png"],
        grid=grid, scenario=yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True),
        folder=str(folder), version=manifest.get("versions", {}).get("gscsim", ""))
    out = Path(path) if path is not None else folder / "report.html"
    write_text(out, html)
    return out


def warnings(folder: Path, manifest: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """What a reader must know before trusting a number: trials missing, points refused,
    FID over few frames, streams labelled genie (error-free and uncounted)."""
    out = []
    missing = [t for t in manifest["trial_ids"] if not (folder / "trials" / f"{t}.json").exists()]
    if missing:
        out.append(f"{len(missing)} of {len(manifest['trial_ids'])} planned trials are not "
                   f"stored (they failed, or the run was stopped): "
                   + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
                   + ". Rerun `gscsim run` on the scenario to retry them.")
    if not manifest.get("ended"):
        out.append("The run has not ended (or was stopped): the manifest has no end time.")
    for row in rows:
        if row.get("refused"):
            out.append(f"{row['transceiver']} refused SNR {row['snr_db']:g} dB, CBR "
                       f"{short_value(row['cbr'])}: {row['refused']}")
    frames = [r["n_frames"] for r in rows if isinstance(r.get("fid"), float)]
    if frames and min(frames) < FID_FEW_FRAMES:
        counts = f"{int(min(frames))}" if min(frames) == max(frames) else \
            f"{int(min(frames))}..{int(max(frames))}"
        out.append(f"FID is computed over {counts} frames per "
                   f"point: biased upward at this size; compare methods at equal frame "
                   f"counts only, not with published values.")
    for spec in manifest["scenario"]["transceivers"]:
        if any(v == "genie" for v in spec.get("options", {}).values()):
            out.append(f"{spec.get('label') or spec['name']} runs with a genie stream: "
                       f"error-free and not counted in its CBR.")
    return out


def run_facts(folder: Path, manifest: dict[str, Any], rows: list[dict[str, Any]]
              ) -> list[tuple[str, str]]:
    versions = manifest.get("versions", {})
    stored = len(list((folder / "trials").glob("*.json"))) if (folder / "trials").is_dir() \
        else 0
    return [("folder", str(folder)), ("started", manifest.get("started") or ""),
            ("ended", manifest.get("ended") or "(not ended)"),
            ("trials", f"{stored} stored of {manifest.get('n_trials', len(rows))} planned; "
                       f"{len(rows)} summary rows"),
            ("executor", manifest.get("executor", "")),
            ("git revision", manifest.get("git_revision") or "(not a git checkout)"),
            ("machine", f"{manifest.get('platform', '')}"
                        + (f", {manifest['cpus']} CPUs" if manifest.get("cpus") else "")),
            ("versions", ", ".join(f"{k} {v}" for k, v in versions.items() if v))]


def metric_tables(rows: list[dict[str, Any]], metrics: list[str]) -> list[tuple[str, str]]:
    """One HTML table per metric (and the achieved CBR): a row per transceiver and other key,
    a column per SNR; cells "mean ± ci95", seeds pooled."""
    keys = [k for k in key_columns(rows) if k != "link"]
    data = [r for r in rows if r.get("link", "all") == "all"]    # timed: the all-links rows
    out = []
    for metric in list(metrics) + ["achieved_cbr"]:
        if metric not in data[0]:
            continue
        frame = pd.DataFrame([{k: r[k] for k in keys} | {
            "value": r[metric], "ci": r.get(f"{metric}_ci95", math.nan)} for r in data
            if isinstance(r[metric], float)])
        if frame.empty:
            continue
        rows_by = [k for k in keys if k not in ("snr_db", "seed")]
        cells = {}
        for point, group in frame.groupby(rows_by + ["snr_db"], sort=True):
            if len(group) > 1:                     # seeds: the interval over their means
                cells[point] = _cell(*mean_ci95(list(group["value"])))
            else:
                cells[point] = _cell(group["value"].iloc[0], group["ci"].iloc[0])
        grouped = pd.DataFrame([dict(zip(rows_by + ["snr_db"], point)) | {"cell": cell}
                                for point, cell in cells.items()])
        table = grouped.pivot(index=rows_by, columns="snr_db", values="cell")
        table.columns = [f"{c:g} dB" for c in table.columns]
        table.index = table.index.map(lambda i: tuple(short_value(v) for v in i)
                                      if isinstance(i, tuple) else short_value(i))
        out.append((label(metric), table.to_html(na_rep="", border=0, escape=True)))
    return out


def latency_table(rows: list[dict[str, Any]]) -> str | None:
    """The latency statistics of a timed run, one row per trial and link; None if untimed."""
    columns = [c for c in LATENCY_COLUMNS if c in rows[0]]
    if not columns or not any(isinstance(r[columns[0]], float) for r in rows):
        return None
    keys = [k for k in key_columns(rows) if k not in STAT_COLUMNS + TIMING_COLUMNS]
    frame = pd.DataFrame([{k: r[k] for k in keys + columns} for r in rows])
    return frame.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}")


def grid_png(folder: Path) -> str | None:
    """The picture grid (gscsim grid) as base64 PNG, if the run kept frames."""
    if not (folder / "frames").is_dir() or not any((folder / "frames").iterdir()):
        return None
    import tempfile

    from gscsim.run.grid import grid

    with tempfile.TemporaryDirectory() as tmp:
        return _b64(grid(folder, out=Path(tmp) / "grid.png").read_bytes())


def _cell(value: float, ci: float) -> str:
    digits = 3 if abs(value) < 10 else 2 if abs(value) < 100 else 1
    text = f"{value:.{digits}f}"
    return text if not math.isfinite(ci) else f"{text} ± {ci:.{digits}f}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def chromium() -> str | None:
    """The path of a Chromium binary (Debian's `chromium` package), or None."""
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def check_in_browser(page: str | Path, screenshot: str | Path | None = None,
                     width: int = 1280, height: int = 2000) -> tuple[str, list[str]]:
    """Load `page` in headless Chromium; return (the pictures shown, as "shown/total" from the
    page's own count, and the browser console's messages); write a PNG screenshot of the
    first `height` pixels if asked. Raises RuntimeError where no Chromium is installed."""
    import re
    import subprocess
    import tempfile

    binary = chromium()
    if binary is None:
        raise RuntimeError("no Chromium found: install Debian's `chromium` package")
    url = Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        common = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                  f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]
        run = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True,
                             timeout=120)
        if screenshot is not None:
            subprocess.run(common + [f"--screenshot={Path(screenshot).resolve()}",
                                     f"--window-size={width},{height}", url],
                           capture_output=True, text=True, timeout=120, check=True)
    shown = re.search(r'data-images-shown="([^"]*)"', run.stdout)
    console = [line.split("CONSOLE", 1)[1] for line in run.stderr.splitlines()
               if ":CONSOLE" in line]
    return (shown.group(1) if shown else ""), console
