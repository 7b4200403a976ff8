"""`gscsim run`: scenario -> trials -> executor -> results store -> tables -> plots."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from gscsim.run import results
from gscsim.run.executors import execute
from gscsim.run.scenario import Scenario, expand, load, output_dir, trial_id


def run_scenario(path: str | Path, output: str | Path | None = None, executor: str = "local",
                 workers: int = 1, scheduler: str | None = None, plots: bool = True,
                 progress: bool = True) -> Path:
    """Run every pending trial of a scenario file; return the output folder."""
    path = Path(path)
    scenario = load(path)
    return run_loaded(scenario, output_dir(scenario, output), search_dir=path.parent.resolve(),
                      executor=executor, workers=workers, scheduler=scheduler, plots=plots,
                      progress=progress)


def run_loaded(scenario: Scenario, root: Path, search_dir: Path | None = None,
               executor: str = "local", workers: int = 1, scheduler: str | None = None,
               plots: bool = True, progress: bool = True) -> Path:
    root = Path(root)
    trials = expand(scenario)
    store = results.ResultStore(root)
    pending = store.pending(scenario, trials)
    started = results.now()
    results.write_manifest(root, scenario, trials, started, None, executor)
    rerun = sum(store.has(trial_id(scenario, t)) for t in pending)
    if progress and len(pending) < len(trials):
        print(f"resuming: {len(trials) - len(pending)} of {len(trials)} trials already in {root}",
              file=sys.stderr)
    if progress and rerun:
        print(f"rerunning {rerun} stored trials of {root}: a checkpoint they used has changed "
              f"since", file=sys.stderr)
    bar = tqdm(total=len(pending), desc=scenario.name, unit="trial", disable=not progress)

    def on_result(result: dict[str, Any]) -> None:
        store.write(result)
        bar.update(1)

    try:
        execute(scenario, pending, on_result, executor=executor, workers=workers,
                scheduler=scheduler, search_dir=search_dir)
    finally:
        bar.close()
        results.write_tables(root, scenario, trials)
    results.write_manifest(root, scenario, trials, started, results.now(), executor)
    if plots:
        from gscsim.run.plots import default_plots

        default_plots(root, scenario)
    return root
