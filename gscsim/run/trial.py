"""One trial, timed or not, and the record it leaves: the dispatcher every executor calls."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from gscsim import weights
from gscsim.plugins import PointRefused
from gscsim.run.link import Plugins, run_untimed
from gscsim.run.scenario import Scenario, Trial, trial_id
from gscsim.run.timed import run_timed


@dataclass
class TrialResult:
    """What one trial leaves, stored as OUTPUT/trials/<id>.json: its id, the trial
    (Trial.to_dict), one record per frame (metrics, CBR, power, timings; timestamps and the
    link when timed), the set metrics (FID, KID), {weight file: digest}, the wall time (s) and
    the torch threads it ran with (0 in files written before that was recorded)."""

    id: str
    trial: dict[str, Any]
    frames: list[dict[str, Any]]
    set_metrics: dict[str, float] = field(default_factory=dict)
    weights: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0
    refused: str | None = None            # the transceiver's reason when it refused the point
    threads: int = 0                      # torch's intra-op threads the trial ran with
    kept: dict[str, dict[str, str]] = field(default_factory=dict)   # stored as PNG files

    def to_json(self) -> dict[str, Any]:
        """The record as stored in the trial's JSON file (kept images go to PNG files)."""
        data = asdict(self)
        del data["kept"]
        if data["refused"] is None:
            del data["refused"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrialResult:
        return cls(**data)


def run_trial(scenario: Scenario, trial: Trial, search_dir: Path | None = None,
              plugins: Plugins | None = None, tid: str | None = None) -> TrialResult:
    """Run one trial: every dataset frame through the link once, or with a `timing` section a
    timed simulation of all its links (gscsim.run.timed). `tid` is the trial's id where the
    caller has computed it; `plugins` (untimed only) reuses built plugins. A transceiver that
    refuses the point (PointRefused) leaves a result with no frames and its reason."""
    started = time.perf_counter()
    try:
        if scenario.timing is None:
            outcome = run_untimed(scenario, trial, search_dir, plugins)
        else:
            outcome = run_timed(scenario, trial, search_dir)
    except PointRefused as refusal:
        return TrialResult(id=tid or trial_id(scenario, trial), trial=trial.to_dict(),
                           frames=[], wall_s=time.perf_counter() - started,
                           refused=str(refusal), threads=torch.get_num_threads())
    return TrialResult(id=tid or trial_id(scenario, trial), trial=trial.to_dict(),
                       frames=outcome.frames, set_metrics=outcome.set_metrics,
                       weights=weights.digests(outcome.weight_files),
                       wall_s=time.perf_counter() - started, kept=outcome.kept,
                       threads=torch.get_num_threads())


def dry_run(scenario: Scenario, source: str, search_dir: Path | None = None) -> int:
    """Build every plugin and send one frame through every transceiver x channel pair (at the
    first point of the sweep that the transceiver serves) with every metric, so that a sweep
    that passes does not die an hour in. Returns the number of pairs tried; every failure is
    reported at once as a ScenarioError naming the transceiver and channel."""
    from gscsim.io import ScenarioError
    from gscsim.run.link import build_plugins, run_frames
    from gscsim.run.scenario import expand, seed_key

    dry = scenario.model_copy(update={"keep_frames": [], "batch_size": 1})
    pairs: dict[tuple, list[Trial]] = {}
    for trial in expand(dry):
        key = (trial.transceiver, json.dumps(trial.transceiver_options, sort_keys=True),
               trial.channel, json.dumps(trial.channel_options, sort_keys=True))
        pairs.setdefault(key, []).append(trial)
    problems = []
    for trials in pairs.values():
        refusal = None
        for trial in trials:
            try:
                plugins = build_plugins(dry, trial, search_dir)
                if len(plugins.dataset) == 0:
                    raise ValueError("the dataset holds no frames")
                run_frames(dry, trial, plugins, [0], seed_key(dry, trial))
                break
            except PointRefused as refused:
                refusal = refused              # a point it refuses: try its next one
            except Exception as err:           # every plugin error, reported by the pair
                problems.append((f"transceiver '{trial.transceiver}' on channel "
                                 f"'{trial.channel}'", f"{type(err).__name__}: {err}"))
                break
        else:
            problems.append((f"transceiver '{trials[0].transceiver}' on channel "
                             f"'{trials[0].channel}'", f"refuses every point of the sweep: "
                             f"{refusal}"))
    if dry.timing is not None:
        problems += _timing_problems(dry, search_dir)
    if problems:
        raise ScenarioError(f"{source} (one frame through every transceiver and channel)",
                            problems)
    return len(pairs)


def _timing_problems(scenario: Scenario, search_dir: Path | None) -> list[tuple[str, str]]:
    """The trace and device-profile files a timed scenario names, read as the run will."""
    from gscsim.run.scenario import NetworkSpec
    from gscsim.run.timed import compute_times
    from gscsim.run.traffic import frame_count

    problems = []
    timing = scenario.timing
    specs = [("timing.traffic", timing.traffic)] + [
        (f"network.links[{i}].traffic", link.traffic)
        for i, link in enumerate((scenario.network or NetworkSpec()).links) if link.traffic]
    for where, spec in specs:
        try:
            frame_count(spec, 1, search_dir)
        except (OSError, ValueError) as err:
            problems.append((where, str(err)))
    if timing.compute.model == "profile":
        for t in scenario.transceivers:
            try:
                compute_times(timing.compute, [{}], (t.display, t.name), None, search_dir)
            except (OSError, ValueError) as err:
                problems.append(("timing.compute.profile", str(err)))
    return problems
