"""The weight files a trial's results depend on, by content, so that a resumed sweep reruns
the trials whose checkpoints changed since they ran (a retrained zoo model keeps its name, and
so its trial ids).

A plugin names its files with `Plugin.weights()`; each trial's result stores {path: digest}
(gscsim.run.trial), and `ResultStore.split` compares them with the files on disk now. A file
inside the checkout that holds the gscsim package (the zoo) is recorded by its path relative to
that checkout, so that stored trials (records/) stay current in another clone; any other file
by its absolute path.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

_CHUNK = 1 << 20
CHECKOUT = Path(__file__).resolve().parent.parent     # the folder holding the gscsim package
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


def recorded_name(path: str | Path) -> str:
    """How a weight file is recorded: relative to CHECKOUT if inside it, else absolute."""
    path = Path(path).resolve()
    return str(path.relative_to(CHECKOUT)) if path.is_relative_to(CHECKOUT) else str(path)


def recorded_path(name: str) -> Path:
    """The file a recorded name stands for on this machine."""
    return Path(name) if Path(name).is_absolute() else CHECKOUT / name


def digests(paths: Iterable[str | Path]) -> dict[str, str]:
    """{recorded name: digest} of the given files."""
    return {recorded_name(p): file_digest(p) for p in paths}


def changed(recorded: dict[str, str]) -> list[str]:
    """The recorded files that are gone or whose bytes differ now."""
    return [name for name, digest in recorded.items()
            if not recorded_path(name).is_file() or file_digest(recorded_path(name)) != digest]
