"""Frame arrival times of a link: periodic, Poisson, or read from a trace file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from gscsim.run.scenario import TrafficSpec


def read_trace(path: str | Path) -> np.ndarray:
    """Arrival times in seconds, one per line ('#' comments allowed), non-decreasing."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise FileNotFoundError(f"traffic trace {path}: cannot read ({err})") from None
    values = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            values.append(float(text))
        except ValueError:
            raise ValueError(f"{path}:{number}: expected an arrival time in seconds, "
                             f"got {text!r}") from None
    times = np.asarray(values)
    if times.size == 0 or np.any(np.diff(times) < 0) or np.any(times < 0):
        raise ValueError(f"{path}: arrival times must be non-negative and non-decreasing "
                         f"(and at least one)")
    return times


def arrivals(spec: TrafficSpec, n_frames: int, rng: np.random.Generator,
             base_dir: Path | None = None, offset_s: float = 0.0) -> np.ndarray:
    """`n_frames` arrival times in seconds (fewer for a shorter trace)."""
    if spec.model == "periodic":
        return spec.offset_s + offset_s + np.arange(n_frames) / spec.rate_hz
    if spec.model == "poisson":
        return offset_s + np.cumsum(rng.exponential(1.0 / spec.rate_hz, size=n_frames))
    return offset_s + read_trace(_trace_path(spec, base_dir))[:n_frames]


def _trace_path(spec: TrafficSpec, base_dir: Path | None) -> Path:
    """The trace file, relative paths taken from the scenario's folder."""
    path = Path(spec.file)
    return base_dir / path if not path.is_absolute() and base_dir is not None else path


def frame_count(spec: TrafficSpec, dataset_size: int, base_dir: Path | None = None) -> int:
    """How many frames a link sends: `frames` (at most the trace's length), else the trace
    length, else the dataset size."""
    if spec.model == "trace":
        length = len(read_trace(_trace_path(spec, base_dir)))
        return min(length, spec.frames or length)
    return spec.frames if spec.frames is not None else dataset_size
