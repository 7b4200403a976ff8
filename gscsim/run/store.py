"""The results store: one JSON file per trial under OUTPUT/trials/, written atomically as each
trial finishes, so that a stopped run keeps what it finished and a rerun resumes."""
from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

from gscsim import weights
from gscsim.io import safe_name, write_bytes, write_json
from gscsim.run.scenario import Trial
from gscsim.run.trial import TrialResult


class ResultStore:
    """Trial results under `root/trials/<trial id>.json`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.trials_dir = self.root / "trials"

    def path(self, tid: str) -> Path:
        return self.trials_dir / f"{tid}.json"

    def has(self, tid: str) -> bool:
        return self.path(tid).exists()

    def write(self, result: TrialResult) -> None:
        """The trial's JSON file, and the PNG files of its kept frames:
        frames/<frame>/original.png and frames/<frame>/<trial id>.png."""
        for frame, images in result.kept.items():
            folder = self.root / "frames" / safe_name(frame)
            original = folder / "original.png"
            if not original.exists():
                write_bytes(original, base64.b64decode(images["original"]))
            write_bytes(folder / f"{result.id}.png", base64.b64decode(images["received"]))
        write_json(self.path(result.id), result.to_json())

    def read(self, tid: str) -> TrialResult:
        return TrialResult.from_json(json.loads(self.path(tid).read_text(encoding="utf-8")))

    def _readable(self, tid: str) -> TrialResult | None:
        """The stored result, or None after moving an unreadable file (truncated by a crash,
        edited, or not a trial) to trials/corrupt/, with a warning naming it."""
        path = self.path(tid)
        try:
            return self.read(tid)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
            aside = self.trials_dir / "corrupt" / path.name
            aside.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, aside)
            print(f"warning: {path} could not be read ({type(err).__name__}: {err}); moved to "
                  f"{aside}, the trial runs again", file=sys.stderr)
            return None

    def clean(self) -> int:
        """Remove the temporary files a killed run left (.*.tmp); returns how many."""
        stale = [p for folder in (self.root, self.trials_dir) if folder.is_dir()
                 for p in folder.glob(".*.tmp")]
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)

    def split(self, planned: list[tuple[str, Trial]]
              ) -> tuple[dict[str, TrialResult], list[tuple[str, Trial]], int]:
        """(stored results still current by trial id, the (id, trial) pairs to run, how many
        of those have a stored result computed with weight files that have changed since)."""
        current: dict[str, TrialResult] = {}
        pending, stale = [], 0
        for tid, trial in planned:
            result = self._readable(tid) if self.has(tid) else None
            if result is not None:
                if not weights.changed(result.weights):
                    current[tid] = result
                    continue
                stale += 1
            pending.append((tid, trial))
        return current, pending, stale
