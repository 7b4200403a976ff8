"""Engine overhead on the quickstart sweep, measured as ratios inside one run.

    python benchmarks/engine_overhead.py [SCENARIO]

Reports (wall time of the whole sweep, in-process, no plots) divided by
  1. the transceiver + channel compute inside it (encode + channel + decode): the issue's figure;
  2. that compute plus the metrics (PSNR, SSIM, MS-SSIM), i.e. what is left is pure bookkeeping
     (dataset access, seeding, result files, tables).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from gscsim.run.runner import run_loaded
from gscsim.run.scenario import expand, load, trial_id
from gscsim.run.store import ResultStore

REPO = Path(__file__).resolve().parents[1]


def main(path: str = str(REPO / "scenarios" / "quickstart.yaml")) -> None:
    scenario = load(path)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        run_loaded(scenario, Path(tmp), plots=False, progress=False)
        wall = time.perf_counter() - started
        store = ResultStore(tmp)
        frames = [f for t in expand(scenario) for f in store.read(trial_id(scenario, t)).frames]
    compute = sum(f["encode_s"] + f["channel_s"] + f["decode_s"] for f in frames)
    metrics = sum(f["metrics_s"] for f in frames)
    print(f"scenario            {scenario.name}: {len(expand(scenario))} trials, "
          f"{len(frames)} frames")
    print(f"sweep wall time     {wall:8.2f} s")
    print(f"transceiver+channel {compute:8.2f} s")
    print(f"metrics             {metrics:8.2f} s")
    print(f"overhead (wall / transceiver+channel)          {wall / compute:6.2f}")
    print(f"overhead (wall / transceiver+channel+metrics)  {wall / (compute + metrics):6.2f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
