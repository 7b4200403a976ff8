"""Shared pieces of the training commands (`gscsim train MODEL --config FILE`): training images,
the learning-rate schedule, atomic checkpoints with resume, and the loss log and its curve."""
from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .datasets import IMAGE_SUFFIXES, load_full


class DataConfig(BaseModel):
    """Where training images come from: random crops of an image folder, or rendered scenes."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["folder", "scenes"] = "folder"
    path: str | None = Field(None, description="image folder (kind folder); relative to the config")
    crop: int = Field(128, ge=16, description="training crop side (px); scenes: the render size")
    holdout: int = Field(3, ge=0, description="folder: last N files (by name) kept for validation")
    val_crop: int | None = Field(None, ge=16, description=(
        "folder: side (px) of the held-out files' centre crops, rounded down to a multiple of "
        "crop (at least crop) and to what the smallest held-out file allows; default 2 x crop"))
    count: int = Field(20000, ge=1, description="scenes: train-split scenes rendered")
    val_count: int = Field(64, ge=1, description="scenes: val-split scenes for validation")


class LoopConfig(BaseModel):
    """The training-loop fields every `gscsim train` config shares; trainers subclass it and
    change defaults where their model wants others."""

    model_config = ConfigDict(extra="forbid")
    steps: int = Field(5000, ge=1)
    batch: int = Field(16, ge=1)
    lr: float = Field(5e-4, gt=0)
    warmup: int = Field(200, ge=0, description="steps of linear learning-rate warm-up")
    weight_decay: float = Field(0.0, ge=0)
    seed: int = 0
    bf16: bool = Field(True, description="bfloat16 autocast (CPU with AVX-512 bf16, or GPU)")
    device: str = "cpu"
    log_every: int = Field(20, ge=1)
    eval_every: int = Field(500, ge=1)
    checkpoint_every: int = Field(200, ge=1)


class ImageSource:
    """Training batches (float [B, 3, crop, crop] in [0, 1]) and a fixed validation set.

    folder: every image is read once into memory; a batch takes uniformly random images, a random
    crop of each and a random horizontal flip. Validation: centre crops of the held-out files,
    `val_crop` (default 2 x crop) on a side, less where an image is smaller. scenes: `count`
    train-split scenes are rendered once; validation uses the val split.
    """

    def __init__(self, cfg: DataConfig, base_dir: Path | None = None, progress: bool = True):
        self.cfg = cfg
        if cfg.kind == "folder":
            self.train, self.val = self._folder(cfg, base_dir)
        else:
            self.train, self.val = self._scenes(cfg, progress)

    @staticmethod
    def _folder(cfg: DataConfig, base_dir: Path | None) -> tuple[list[torch.Tensor], torch.Tensor]:
        if not cfg.path:
            raise ValueError("train.data.path: an image folder is needed for data kind 'folder'")
        root = Path(cfg.path)
        if not root.is_absolute() and base_dir is not None and not root.exists():
            root = base_dir / root
        files = sorted(p for p in root.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        images = [(load_full(p) * 255).round().to(torch.uint8) for p in files]
        small = [p.name for p, im in zip(files, images) if min(im.shape[1:]) < cfg.crop]
        if small:
            warnings.warn(f"{root}: skipping {len(small)} images smaller than train.data.crop="
                          f"{cfg.crop}: {small[:5]}", stacklevel=2)
            images = [im for im in images if min(im.shape[1:]) >= cfg.crop]
        if len(images) <= cfg.holdout:
            raise FileNotFoundError(f"train.data.path: {root} has {len(images)} images of at "
                                    f"least {cfg.crop} px; need more than holdout={cfg.holdout}")
        held = images[len(images) - cfg.holdout:]
        crops_per_side = max(1, (cfg.val_crop or 2 * cfg.crop) // cfg.crop)
        side = cfg.crop * min([crops_per_side] + [min(im.shape[1:]) // cfg.crop for im in held])
        val = [_centre_crop(im, side) for im in held]
        return images[: len(images) - cfg.holdout], (torch.stack(val) if val else None)

    @staticmethod
    def _scenes(cfg: DataConfig, progress: bool) -> tuple[torch.Tensor, torch.Tensor]:
        from .scenes.shards import SceneSplit

        return (SceneSplit("train", cfg.count, cfg.crop, progress).images,
                SceneSplit("val", cfg.val_count, cfg.crop, progress).images)

    def batch(self, size: int, generator: torch.Generator) -> torch.Tensor:
        """A random training batch, float [size, 3, crop, crop] in [0, 1]."""
        c = self.cfg.crop
        if isinstance(self.train, torch.Tensor):
            picked = self.train[torch.randint(len(self.train), (size,), generator=generator)]
        else:
            crops = []
            for k in torch.randint(len(self.train), (size,), generator=generator).tolist():
                im = self.train[k]
                top = int(torch.randint(im.shape[1] - c + 1, (1,), generator=generator))
                left = int(torch.randint(im.shape[2] - c + 1, (1,), generator=generator))
                crops.append(im[:, top:top + c, left:left + c])
            picked = torch.stack(crops)
        flip = torch.rand(size, generator=generator) < 0.5
        picked = torch.where(flip.view(-1, 1, 1, 1), picked.flip(-1), picked)
        return picked.float() / 255.0

    def validation(self) -> torch.Tensor | None:
        """The fixed validation images, float [N, 3, S, S] in [0, 1], or None (no holdout)."""
        return None if self.val is None else self.val.float() / 255.0


def _centre_crop(image: torch.Tensor, side: int) -> torch.Tensor:
    _, h, w = image.shape
    top, left = (h - side) // 2, (w - side) // 2
    return image[:, top:top + side, left:left + side]


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """Learning-rate factor: linear warm-up over `warmup` steps, then cosine decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save to a temporary file, then rename: a crash leaves the old file whole."""
    from .results import atomic_file

    with atomic_file(path) as tmp:
        torch.save(obj, tmp)


class TrainLog:
    """Rows of {step, ...} appended to `log.csv` in the run folder; drawn as `loss.png`."""

    def __init__(self, run_dir: Path, rows: list[dict[str, float]] | None = None):
        self.path = run_dir / "log.csv"
        self.rows = list(rows or [])

    def add(self, **row: float) -> None:
        self.rows.append(row)

    def write(self) -> None:
        from .results import to_csv, write_atomic

        write_atomic(self.path, to_csv(self.rows))
        self.plot(self.path.with_name("loss.png"))

    def plot(self, path: Path) -> None:
        """Training loss (left axis, log scale) and every validation column (right axis)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        train = [r for r in self.rows if "loss" in r]
        val_keys = sorted({k for r in self.rows for k in r if k.startswith("val_")})
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        ax.plot([r["step"] for r in train], [r["loss"] for r in train], lw=0.8, color="C0",
                label="training loss")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        if val_keys:
            right = ax.twinx()
            for i, key in enumerate(val_keys):
                rows = [r for r in self.rows if key in r]
                right.plot([r["step"] for r in rows], [r[key] for r in rows], "o-", ms=3,
                           color=f"C{i + 1}", label=key)
            right.set_ylabel("validation")
            right.legend(loc="lower right", fontsize=8)
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


def load_config(path: str | Path, schema: type[BaseModel]) -> BaseModel:
    """Read a YAML training config and validate it; errors name the file and each field."""
    from .scenario import ScenarioError, error_message, field_path, read_yaml

    path = Path(path)
    raw = read_yaml(path)
    try:
        return schema.model_validate(raw if raw is not None else {})
    except ValidationError as err:
        raise ScenarioError(str(path), [(field_path(e["loc"]), error_message(e))
                                        for e in err.errors()]) from None


ZOO = Path(__file__).resolve().parent / "zoo"


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


def shipped_config(name_or_path: str | Path, config_dir: Path) -> Path:
    """A config file path, or the name of a config shipped in `config_dir`."""
    path = Path(name_or_path)
    if path.exists() or path.suffix:
        return path
    shipped = config_dir / f"{name_or_path}.yaml"
    if not shipped.exists():
        names = sorted(p.stem for p in config_dir.glob("*.yaml"))
        raise FileNotFoundError(f"--config {name_or_path}: no such file, and no shipped config of "
                                f"that name (shipped: {', '.join(names)})")
    return shipped


class RunState:
    """A run folder's `last.pt`: modules, optimizer, step, wall time and log rows, saved
    atomically and restored on the next start of the same config (resume). `config` is the
    run's config, or the JSON dump of the part of it the run depends on."""

    def __init__(self, run_dir: Path, config: BaseModel | dict, steps: int,
                 modules: dict[str, torch.nn.Module], optimizer: torch.optim.Optimizer):
        self.path = run_dir / "last.pt"
        dump = config if isinstance(config, dict) else config.model_dump(mode="json")
        self.identity = {"config": dump, "steps": steps}
        self.modules, self.optimizer = modules, optimizer
        self.step, self.elapsed, self.log = 0, 0.0, TrainLog(run_dir)

    def restore(self, restart: bool) -> bool:
        """Load last.pt if there is one (and not `restart`) and say so on stderr; True if the
        run resumes."""
        if restart or not self.path.exists():
            return False
        state = torch.load(self.path, map_location="cpu", weights_only=False)
        if state["identity"] != self.identity:
            raise ValueError(f"{self.path.parent} holds a run of another config or step count; "
                             f"pass --restart to discard it, or choose another --out")
        for name, module in self.modules.items():
            module.load_state_dict(state["modules"][name])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.elapsed = state["step"], state["elapsed_s"]
        self.log = TrainLog(self.path.parent, state["log"])
        print(f"resuming {self.path.parent} at step {self.step} of {self.identity['steps']}",
              file=sys.stderr)
        return True

    def update(self, loss: torch.Tensor, max_norm: float, config: Path) -> None:
        """One optimiser step (gradients clipped at `max_norm`) and step + 1. A non-finite loss
        stops the run before the update, so last.pt stays good."""
        if not torch.isfinite(loss):
            raise RuntimeError(f"training diverged at step {self.step + 1} (loss {loss.item()});"
                               f" lower train.lr in {config} and rerun with --restart")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        self.optimizer.step()
        self.step += 1

    def save(self) -> None:
        save_atomic({"identity": self.identity, "step": self.step, "elapsed_s": self.elapsed,
                     "modules": {n: m.state_dict() for n, m in self.modules.items()},
                     "optimizer": self.optimizer.state_dict(), "log": self.log.rows}, self.path)
        self.log.write()


def with_overrides(train_cfg: BaseModel, steps: int | None, data: str | None) -> BaseModel:
    """A training config with the command line's --steps and --data (an image folder) applied."""
    if steps is not None:
        train_cfg = train_cfg.model_copy(update={"steps": steps})
    if data is not None:
        folder = train_cfg.data.model_copy(update={"kind": "folder", "path": data})
        train_cfg = train_cfg.model_copy(update={"data": folder})
    return train_cfg
