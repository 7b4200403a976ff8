"""The shipped checkpoints (this folder: NAME.pt with its model card NAME.md) and how a
checkpoint is found by zoo name or path, and opened."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, ClassVar

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
    is, anything else as a path relative to the bundle's folder (a run folder's reference),
    where a bare NAME also finds NAME.pt (a file written beside the bundle under the name it
    is shipped as)."""
    if (ZOO / f"{reference}.pt").is_file() or Path(reference).is_absolute():
        return reference
    local = bundle.parent / reference
    if not local.exists() and local.with_name(f"{local.name}.pt").is_file():
        return str(local.with_name(f"{local.name}.pt"))
    return str(local)


def bundle_entry(bundle: Path, key: str, device: str = "cpu") -> Any:
    """One entry of a bundle file; the bundle is memory-mapped, so its other weights are not
    read."""
    return torch.load(bundle, map_location=device, weights_only=True, mmap=True)[key]


def bundle_reference(bundle: Path, key: str) -> str:
    """The checkpoint a bundle file names under `key`, resolved as `referenced_checkpoint`
    does."""
    return referenced_checkpoint(bundle_entry(bundle, key), bundle)


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


def half_weights(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state_dict with its floating-point tensors in float16 (half the zoo's bytes)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in state_dict.items()}


class Family:
    """The single-model bundles of one model family (`gscsim train <name>` writes them as
    {"format", "config", "state_dict", "meta"}): finding one by zoo name or path, saving and
    loading it. `build(config dict)` makes the family's module."""

    def __init__(self, name: str, fmt: str, build: Callable[[dict[str, Any]], torch.nn.Module]):
        self.name, self.fmt, self.build = name, fmt, build
        self.field, self.trainer = f"{name}.checkpoint", f"gscsim train {name}"
        self.load = lru_cache(maxsize=2)(self._load)

    def path(self, name_or_path: str) -> Path:
        return zoo_checkpoint(name_or_path, self.field, self.name,
                              f"Train one with `{self.trainer} --config {self.name}-scenes64`")

    def save(self, path: Path, config: dict[str, Any], model: torch.nn.Module,
             meta: dict[str, Any]) -> None:
        """The bundle of a trained model, its weights in float16."""
        from gscsim.io import save_torch

        save_torch({"format": self.fmt, "config": config,
                    "state_dict": half_weights(model.state_dict()), "meta": meta}, path)

    def _load(self, name_or_path: str, device: str = "cpu") -> torch.nn.Module:
        """The family's module with a bundle's weights, in eval mode (`load` caches it). The
        module's random initialisation, overwritten at once, leaves torch's global generator
        as it was: loading a model on first use draws nothing a caller could notice."""
        obj = load_bundle(self.path(name_or_path), self.fmt, self.field, self.trainer, device)
        with torch.random.fork_rng(devices=[]):
            model = self.build(obj["config"])
        model.load_state_dict(obj["state_dict"], strict=True)
        return model.to(device).eval()


class ZooModel:
    """For a transceiver that runs one model of a Family (`family`), from the options
    `checkpoint` (zoo name or path) and `device`: the model, and the weight file its results
    depend on."""

    family: ClassVar[Family]

    @property
    def model(self) -> torch.nn.Module:
        return self.family.load(self.options.checkpoint, self.options.device)

    def weights(self) -> list[Path]:
        return [self.family.path(self.options.checkpoint)]
