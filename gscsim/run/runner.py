"""`gscsim run`: scenario -> trials -> executor -> results store -> tables -> plots."""
from __future__ import annotations

import fcntl
import json
import sys
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from gscsim.run.executors import execute
from gscsim.run.scenario import Scenario, expand, load, output_dir, trial_id
from gscsim.run.store import ResultStore
from gscsim.run.tables import now, write_manifest, write_tables
from gscsim.run.trial import TrialResult


def run_scenario(path: str | Path, output: str | Path | None = None, executor: str = "local",
                 workers: int = 1, scheduler: str | None = None, plots: bool = True,
                 progress: bool = True, threads: int | None = None) -> Path:
    """Run every pending trial of a scenario file; return the output folder. `threads`: torch
    threads per trial (None: the executor's policy, gscsim.run.executors.trial_threads)."""
    path = Path(path)
    scenario = load(path)
    return run_loaded(scenario, output_dir(scenario, output), search_dir=path.parent.resolve(),
                      executor=executor, workers=workers, scheduler=scheduler, plots=plots,
                      progress=progress, threads=threads)


def run_loaded(scenario: Scenario, root: Path, search_dir: Path | None = None,
               executor: str = "local", workers: int = 1, scheduler: str | None = None,
               plots: bool = True, progress: bool = True, threads: int | None = None) -> Path:
    """Run a validated scenario into `root`: stored trials whose weight files are unchanged are
    kept, the rest run; then the tables, the manifest and the default plots."""
    root = Path(root)
    planned = [(trial_id(scenario, t), t) for t in expand(scenario)]
    with output_lock(root, scenario):
        return _run_locked(scenario, root, planned, search_dir, executor, workers, scheduler,
                           plots, progress, threads)


@contextmanager
def output_lock(root: Path, scenario: Scenario):
    """Hold OUTPUT for this run: refuse a file in its place, a folder that holds another
    scenario's results, and a second run on the same folder (an exclusive lock on
    OUTPUT/.gscsim.lock); remove the temporary files a killed run left."""
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"output {root} is a file; give a folder (--output)")
    manifest = root / "manifest.json"
    if manifest.exists():
        try:
            previous = json.loads(manifest.read_text(encoding="utf-8"))["scenario"]["name"]
        except (ValueError, KeyError, TypeError):
            previous = None
        if previous is not None and previous != scenario.name:
            raise FileExistsError(f"output {root} holds the results of scenario '{previous}'; "
                                  f"give '{scenario.name}' another --output, or remove it")
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".gscsim.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileExistsError(f"another gscsim run is writing {root}; wait for it or give "
                                  f"this one another --output") from None
        ResultStore(root).clean()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_locked(scenario: Scenario, root: Path, planned: list, search_dir: Path | None,
                executor: str, workers: int, scheduler: str | None, plots: bool,
                progress: bool, threads: int | None) -> Path:
    ids = [tid for tid, _ in planned]
    store = ResultStore(root)
    results, pending, stale = store.split(planned)
    started = now()
    write_manifest(root, scenario, ids, started, None, executor)
    if progress and len(pending) < len(planned):
        print(f"resuming: {len(planned) - len(pending)} of {len(planned)} trials already in "
              f"{root}", file=sys.stderr)
    if progress and stale:
        print(f"rerunning {stale} stored trials of {root}: a checkpoint they used has changed "
              f"since", file=sys.stderr)
    bar = tqdm(total=len(pending), desc=scenario.name, unit="trial", disable=not progress)

    failures: dict[str, Exception] = {}

    def on_result(result: TrialResult) -> None:
        store.write(result)
        results[result.id] = result
        bar.update(1)

    def on_error(tid: str, error: Exception) -> None:
        failures[tid] = error
        bar.update(1)

    try:
        execute(scenario, pending, on_result, on_error, executor=executor, workers=workers,
                scheduler=scheduler, search_dir=search_dir, threads=threads)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {len(results)} of {len(planned)} trials saved in "
                          f"{root}; rerun the same command to resume") from None
    finally:
        bar.close()
        summary, frames = write_tables(root, scenario,
                                       [results[tid] for tid in ids if tid in results])
    write_manifest(root, scenario, ids, started, now(), executor)
    refused = [r for r in results.values() if r.refused is not None]
    if progress and refused:
        print(f"{len(refused)} trials refused their point (summary.csv column `refused`): "
              + "; ".join(sorted({r.refused for r in refused})), file=sys.stderr)
    if plots and len(results) > len(refused):
        from gscsim.run.plots import default_plots

        try:
            default_plots(root, scenario, summary, frames)
        except OSError as err:
            raise OSError(f"the plots could not be written ({err}); every trial and table is "
                          f"saved in {root}: clear the way and draw them with `gscsim plot "
                          f"{root}`") from err
    if failures:
        lines = [f"  {tid}: {type(err).__name__}: {err}" for tid, err in failures.items()]
        raise TrialsFailed(f"{len(failures)} of {len(planned)} trials failed; the other "
                           f"{len(results)} are saved in {root} (a rerun retries the failed "
                           f"ones):\n" + "\n".join(lines))
    return root


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; its message says how many trials are saved."""


class TrialsFailed(RuntimeError):
    """Some trials of a run raised; every other trial's result was saved."""
