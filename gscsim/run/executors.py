"""Where trials run: in-process (`local`), in N local processes (`process`), or on a
dask.distributed cluster (`dask`: a LocalCluster on 127.0.0.1, or an existing scheduler).

Workers return results to this process, which writes each one to the store as soon as it
arrives, so a run that is stopped keeps every finished trial. Every trial seeds its own
generators, so the numbers do not depend on the executor or the order of completion.

Thread policy (torch intra-op threads per trial, `trial_threads`): `local` runs one trial at a
time on 1 thread, since a trial of small frames on several threads ran 3-5x slower on a loaded
2-core machine; use `--workers N` to spread trials over the cores. `process` and a dask
LocalCluster give each of the N workers cores // N threads, so N trials together never ask for
more threads than there are cores. On an existing dask cluster each trial gets 1 thread: start
the workers with `--nthreads` equal to their cores, one trial per thread. `--threads T` sets T
for every executor instead.
"""
from __future__ import annotations

import contextlib
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


def trial_threads(executor: str, workers: int, scheduler: str | None = None,
                  requested: int | None = None, cores: int | None = None) -> int:
    """The torch intra-op threads each trial runs with under this executor (the policy in the
    module docstring). `cores`: the CPUs this process may use (default: its affinity mask)."""
    if requested is not None:
        if requested < 1:
            raise ValueError(f"--threads must be at least 1 (got {requested})")
        return requested
    if executor == "local" and workers <= 1 or executor == "dask" and scheduler:
        return 1
    cores = cores or len(os.sched_getaffinity(0))
    return max(1, cores // max(1, workers))


@contextlib.contextmanager
def torch_threads(threads: int):
    """Run the enclosed code with `threads` intra-op threads, then restore the previous count
    (the local executor runs trials in the caller's process)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_in_worker(scenario: Scenario, tid: str, trial: Trial, search_dir: Path | None,
                   threads: int) -> TrialResult:
    torch.set_num_threads(threads)
    return run_trial(scenario, trial, search_dir, tid=tid)


def execute(scenario: Scenario, trials: Planned, on_result: Callable[[TrialResult], None],
            on_error: Callable[[str, Exception], None], executor: str = "local",
            workers: int = 1, scheduler: str | None = None,
            search_dir: Path | None = None, threads: int | None = None) -> None:
    """Run the (trial id, trial) pairs `trials`, calling in this process, as each ends,
    `on_result(result)`, or `on_error(trial id, error)` for a trial that raised: the other
    trials go on (a KeyboardInterrupt stops them all). `threads`: torch threads per trial
    (None: the policy of `trial_threads`)."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor '{executor}'; choose one of {', '.join(EXECUTORS)}")
    if executor == "local" and workers > 1:
        executor = "process"
    runner = {"local": _local, "process": _processes, "dask": _dask}[executor]
    threads = trial_threads(executor, workers, scheduler, threads)
    for tid, outcome in runner(scenario, trials, workers, scheduler, search_dir, threads):
        if isinstance(outcome, Exception):
            on_error(tid, outcome)
        else:
            on_result(outcome)


Outcome = Iterator[tuple[str, TrialResult | Exception]]


def _local(scenario, trials, workers, scheduler, search_dir, threads) -> Outcome:
    for tid, trial in trials:
        try:
            with torch_threads(threads):
                result = run_trial(scenario, trial, search_dir, tid=tid)
        except Exception as err:        # reported per trial; the run goes on
            yield tid, err
        else:
            yield tid, result


def _processes(scenario, trials, workers, scheduler, search_dir, threads) -> Outcome:
    context = multiprocessing.get_context("spawn")  # fork after torch threads start can deadlock
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=_exit_with_parent, initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(_run_in_worker, scenario, tid, t, search_dir, threads): tid
                   for tid, t in trials}
        for future in as_completed(futures):
            error = future.exception()
            yield futures[future], error if error is not None else future.result()


def _dask(scenario, trials, workers, scheduler, search_dir, threads) -> Outcome:
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError as err:  # pragma: no cover - dask is a core dependency
        raise RuntimeError("--executor dask needs dask.distributed: "
                           "pip install 'dask[distributed]'"
                           ) from err
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
