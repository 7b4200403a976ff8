"""Engine overhead on the quickstart sweep, measured as ratios inside one run.

    python benchmarks/engine_overhead.py [SCENARIO]

Runs the sweep twice in-process (local executor, no plots): once with every batch encoded per
trial, once as gscsim runs it, sharing an SNR-free encoder's streams across the SNR sweep
(Transceiver.encoding_is_snr_free). Reports, for the first run, its wall time divided by
  1. the transceiver + channel compute inside it (encode + channel + decode): the issue's figure;
  2. that compute plus the metrics (PSNR, LPIPS, SSIM, MS-SSIM), i.e. what is left is pure
     bookkeeping (dataset access, seeding, result files, tables);
and the wall time of the second run beside it. (With shared encodings a frame's `encode_s`
still records what encoding it cost, so the ratios are taken on the first run.)
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from gscsim.plugins import Transceiver
from gscsim.run import link
from gscsim.run.runner import run_loaded
from gscsim.run.scenario import expand, load, trial_id
from gscsim.run.store import ResultStore

REPO = Path(__file__).resolve().parents[1]


def timed_sweep(scenario) -> tuple[float, list[dict]]:
    """(wall seconds, every frame's record) of one fresh in-process run."""
    link.ENCODINGS.entries.clear()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        run_loaded(scenario, Path(tmp), plots=False, progress=False)
        wall = time.perf_counter() - started
        store = ResultStore(tmp)
        frames = [f for t in expand(scenario) for f in store.read(trial_id(scenario, t)).frames]
    return wall, frames


def main(path: str = str(REPO / "scenarios" / "quickstart.yaml")) -> None:
    scenario = load(path)
    timed_sweep(scenario)                                 # warm-up: weights, kernels, caches
    names = {t.transceiver_name for t in expand(scenario)}
    classes = {type(link.build_plugins(scenario, t).transceiver) for t in expand(scenario)
               if t.transceiver_name in names}
    saved = {cls: cls.encoding_is_snr_free for cls in classes}
    for cls in classes:
        cls.encoding_is_snr_free = Transceiver.encoding_is_snr_free
    try:
        wall, frames = timed_sweep(scenario)
    finally:
        for cls, method in saved.items():
            cls.encoding_is_snr_free = method
    shared, _ = timed_sweep(scenario)
    compute = sum(f["encode_s"] + f["channel_s"] + f["decode_s"] for f in frames)
    metrics = sum(f["metrics_s"] for f in frames)
    print(f"scenario            {scenario.name}: {len(expand(scenario))} trials, "
          f"{len(frames)} frames")
    print(f"sweep wall time     {wall:8.2f} s (every batch encoded per trial)")
    print(f"transceiver+channel {compute:8.2f} s")
    print(f"metrics             {metrics:8.2f} s")
    print(f"overhead (wall / transceiver+channel)          {wall / compute:6.2f}")
    print(f"overhead (wall / transceiver+channel+metrics)  {wall / (compute + metrics):6.2f}")
    print(f"sweep wall time     {shared:8.2f} s (encodings shared across the SNR sweep: "
          f"{wall / shared:.2f}x faster)")


if __name__ == "__main__":
    main(*sys.argv[1:])
