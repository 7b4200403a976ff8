"""The Python API, for notebooks and scripts: run a scenario (a YAML file, or a dict built in
code) and read its results as pandas DataFrames and matplotlib figures.

    import gscsim

    results = gscsim.simulate("scenarios/quickstart.yaml")   # or a dict with the same fields
    results.summary                  # DataFrame: one row per trial, means and 95% intervals
    results.frames                   # DataFrame: one row per frame
    fig = results.plot("lpips")      # a matplotlib Figure: LPIPS against SNR
    results.report()                 # OUTPUT/report.html, one self-contained page
    results = gscsim.load("results/quickstart")             # a finished run, read back

`simulate` is `gscsim run` (same output folder, same resume: a finished trial is never run
twice); the DataFrames are read from the folder's summary.csv and frames.csv.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from gscsim.io import read_yaml
from gscsim.run.plots import cdf_figure, curve_figure
from gscsim.run.runner import run_loaded
from gscsim.run.scenario import output_dir, validate


class Results:
    """A results folder (what `gscsim run` writes), read on demand."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not (self.folder / "summary.csv").is_file():
            raise FileNotFoundError(f"{self.folder} holds no summary.csv: not a gscsim results "
                                    f"folder, or its run has not finished a trial yet")

    @property
    def summary(self) -> pd.DataFrame:
        """One row per trial: its keys (transceiver, channel, snr_db, cbr, seed, ...), n_frames,
        each metric's mean and `<metric>_ci95` (half-width of the 95% interval), achieved_cbr,
        timings (s)."""
        return pd.read_csv(self.folder / "summary.csv")

    @property
    def frames(self) -> pd.DataFrame:
        """One row per frame: the trial keys, the frame id and each metric's value."""
        return pd.read_csv(self.folder / "frames.csv")

    @property
    def manifest(self) -> dict[str, Any]:
        """The run's manifest: the scenario as validated, versions, machine, start and end."""
        return json.loads((self.folder / "manifest.json").read_text(encoding="utf-8"))

    def plot(self, y: str = "psnr", x: str = "snr_db", hue: str = "transceiver",
             where: dict[str, float] | None = None) -> Figure:
        """`y` against `x`, a line per `hue`, a panel per other varying key (as `gscsim plot`),
        from the rows whose columns equal `where` (e.g. {"cbr": 1/48})."""
        return curve_figure(self.folder, x, y, hue, where)

    def cdf(self, column: str = "latency_s", hue: str = "transceiver") -> Figure:
        """The empirical CDF of a per-frame column (e.g. latency_s of a timed run)."""
        return cdf_figure(self.folder, column, hue)

    def report(self, path: str | Path | None = None) -> Path:
        """Write the self-contained HTML report (default OUTPUT/report.html); its path."""
        from gscsim.run.report import write_report

        return write_report(self.folder, path)

    def __repr__(self) -> str:
        summary = self.summary
        names = ", ".join(sorted(set(summary["transceiver"].astype(str))))
        return f"Results({str(self.folder)!r}: {len(summary)} trials of {names})"


def simulate(scenario: str | Path | dict[str, Any], output: str | Path | None = None, *,
             executor: str = "local", workers: int = 1, threads: int | None = None,
             plots: bool = True, progress: bool = True) -> Results:
    """Run a scenario, given as a YAML file or as a dict of the same fields, into `output`
    (default: the scenario's `output`, else results/<name>); resumes like `gscsim run`.
    Raises gscsim.io.ScenarioError naming each bad field."""
    if isinstance(scenario, dict):
        loaded, search_dir = validate(scenario, source="<scenario dict>"), Path.cwd()
    else:
        path = Path(scenario)
        loaded = validate(read_yaml(path), source=str(path), search_dir=path.parent)
        search_dir = path.parent.resolve()
    root = run_loaded(loaded, output_dir(loaded, output), search_dir=search_dir,
                      executor=executor, workers=workers, plots=plots, progress=progress,
                      threads=threads)
    return Results(root)


def load(folder: str | Path) -> Results:
    """The results of a finished (or partly finished) run in `folder`."""
    return Results(folder)
