"""The shipped checkpoints (this folder: NAME.pt with its model card NAME.md) and how a
checkpoint is found by zoo name or path, and opened."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

ZOO = Path(__file__).resolve().parent


def zoo_checkpoint(name_or_path: str, field: str, family: str, remedy: str) -> Path:
    """A zoo checkpoint name (gscsim/zoo/NAME.pt) or a file path -> the existing file; else an
    error naming the field, the zoo's `family`-* checkpoints and what to do (`remedy`)."""
    for path in (ZOO / f"{name_or_path}.pt", Path(name_or_path).expanduser()):
        if path.is_file():
            return path
    names = sorted(p.stem for p in ZOO.glob(f"{family}-*.pt"))
    raise FileNotFoundError(f"{field}: '{name_or_path}' is neither a zoo checkpoint ({names}) "
                            f"nor a file. {remedy}")


def referenced_checkpoint(reference: str, bundle: Path) -> str:
    """A checkpoint named inside another file (`bundle`): a zoo name or an absolute path as it
    is, anything else as a path relative to the bundle's folder (a run folder's reference)."""
    if (ZOO / f"{reference}.pt").is_file() or Path(reference).is_absolute():
        return reference
    return str(bundle.parent / reference)


def bundle_reference(bundle: Path, key: str) -> str:
    """The checkpoint a bundle file names under `key`, resolved as `referenced_checkpoint` does;
    the bundle is memory-mapped, so its weights are not read."""
    obj = torch.load(bundle, map_location="cpu", weights_only=True, mmap=True)
    return referenced_checkpoint(obj[key], bundle)


def load_bundle(path: Path, fmt: str, field: str, trainer: str, device: str = "cpu"
                ) -> dict[str, Any]:
    """A gscsim checkpoint bundle (a dict whose "format" is `fmt`), loaded with
    weights_only=True; anything else is an error naming the option `field` and the command
    `trainer` that makes one."""
    obj = torch.load(path, map_location=device, weights_only=True)
    if not (isinstance(obj, dict) and obj.get("format") == fmt):
        raise ValueError(f"{field}: {path} is not a gscsim checkpoint of format {fmt}; "
                         f"make one with `{trainer}`")
    return obj
