"""The weight files a trial's results depend on, by content, so that a resumed sweep reruns
the trials whose checkpoints changed since they ran (a retrained zoo model keeps its name, and
so its trial ids).

A plugin names its files with `Plugin.weights()`; each trial's result stores {path: digest}
(gscsim.run.trial), and `ResultStore.split` compares them with the files on disk now.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

_CHUNK = 1 << 20
_cache: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """SHA-256 (hex, first 16 digits) of a file's bytes; cached while its size and mtime stay."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _cache:
        sha = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                sha.update(chunk)
        _cache[key] = sha.hexdigest()[:16]
    return _cache[key]


def digests(paths: Iterable[str | Path]) -> dict[str, str]:
    """{resolved path: digest} of the given files."""
    return {str(Path(p).resolve()): file_digest(p) for p in paths}


def changed(recorded: dict[str, str]) -> list[str]:
    """The recorded files that are gone or whose bytes differ now."""
    return [path for path, digest in recorded.items()
            if not Path(path).is_file() or file_digest(path) != digest]
