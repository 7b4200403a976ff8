"""Where trials run: in-process (`local`), in N local processes (`process`), or on a
dask.distributed cluster (`dask`: a LocalCluster on 127.0.0.1, or an existing scheduler).

Workers return results to this process, which writes each one to the store as soon as it
arrives, so a run that is stopped keeps every finished trial. Every trial seeds its own
generators, so the numbers do not depend on the executor or the order of completion.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterator

import torch

from gscsim.run.scenario import Scenario, Trial
from gscsim.run.trial import TrialResult, run_trial

EXECUTORS = ("local", "process", "dask")


Planned = list[tuple[str, Trial]]          # (trial id, trial)


def _exit_with_parent(parent: int) -> None:
    """A worker's watchdog: end this process once its parent is gone (killed with SIGKILL, it
    cannot stop its workers itself), so that no orphan keeps memory."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _run_in_worker(scenario: Scenario, tid: str, trial: Trial, search_dir: Path | None,
                   threads: int) -> TrialResult:
    torch.set_num_threads(threads)
    return run_trial(scenario, trial, search_dir, tid=tid)


def execute(scenario: Scenario, trials: Planned, on_result: Callable[[TrialResult], None],
            on_error: Callable[[str, Exception], None], executor: str = "local",
            workers: int = 1, scheduler: str | None = None,
            search_dir: Path | None = None) -> None:
    """Run the (trial id, trial) pairs `trials`, calling in this process, as each ends,
    `on_result(result)`, or `on_error(trial id, error)` for a trial that raised: the other
    trials go on (a KeyboardInterrupt stops them all)."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor '{executor}'; choose one of {', '.join(EXECUTORS)}")
    if executor == "local" and workers > 1:
        executor = "process"
    runner = {"local": _local, "process": _processes, "dask": _dask}[executor]
    for tid, outcome in runner(scenario, trials, workers, scheduler, search_dir):
        if isinstance(outcome, Exception):
            on_error(tid, outcome)
        else:
            on_result(outcome)


Outcome = Iterator[tuple[str, TrialResult | Exception]]


def _local(scenario, trials, workers, scheduler, search_dir) -> Outcome:
    for tid, trial in trials:
        try:
            yield tid, run_trial(scenario, trial, search_dir, tid=tid)
        except Exception as err:        # reported per trial; the run goes on
            yield tid, err


def _threads_per_worker(workers: int) -> int:
    return max(1, torch.get_num_threads() // max(1, workers))


def _processes(scenario, trials, workers, scheduler, search_dir) -> Outcome:
    context = multiprocessing.get_context("spawn")  # fork after torch threads start can deadlock
    threads = _threads_per_worker(workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=_exit_with_parent, initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(_run_in_worker, scenario, tid, t, search_dir, threads): tid
                   for tid, t in trials}
        for future in as_completed(futures):
            error = future.exception()
            yield futures[future], error if error is not None else future.result()


def _dask(scenario, trials, workers, scheduler, search_dir) -> Outcome:
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError as err:  # pragma: no cover - dask is a core dependency
        raise RuntimeError("--executor dask needs dask.distributed: "
                           "pip install 'dask[distributed]'"
                           ) from err
    threads = _threads_per_worker(workers)
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
    try:
        futures = {client.submit(_run_in_worker, scenario, tid, t, search_dir, threads,
                                 pure=False): tid for tid, t in trials}
        for future in dask_completed(list(futures)):
            error = future.exception()
            yield futures[future], error if error is not None else future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
