"""The training loop every `gscsim train` command runs: the learning-rate schedule, the run
folder's resumable state (`last.pt`), the loss log and its curve."""
from __future__ import annotations

import math
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from pydantic import BaseModel
from tqdm import tqdm

from gscsim.io import save_torch, to_csv, write_text
from gscsim.training.config import LoopConfig


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """Learning-rate factor: linear warm-up over `warmup` steps, then cosine decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


class TrainLog:
    """Rows of {step, ...} appended to `log.csv` in the run folder; drawn as `loss.png`."""

    def __init__(self, run_dir: Path, rows: list[dict[str, float]] | None = None):
        self.path = run_dir / "log.csv"
        self.rows = list(rows or [])

    def add(self, **row: float) -> None:
        self.rows.append(row)

    def write(self) -> None:
        write_text(self.path, to_csv(self.rows))
        self.plot(self.path.with_name("loss.png"))

    def plot(self, path: Path) -> None:
        """The learning curves: training loss (log scale, with a running mean over 1/20 of the
        logged steps) in the first panel, then one panel per validation column against step
        (each on its own scale: PSNR and LPIPS do not share an axis)."""
        import matplotlib.pyplot as plt

        train = [r for r in self.rows if "loss" in r]
        val_keys = sorted({k for r in self.rows for k in r if k.startswith("val_")})
        panels = 1 + len(val_keys)
        cols = min(3, panels)
        rows = -(-panels // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
        ax = axes.flat[0]
        steps, losses = [r["step"] for r in train], [r["loss"] for r in train]
        ax.plot(steps, losses, lw=0.6, color="C0", alpha=0.5)
        if len(losses) >= 20:
            width = max(2, len(losses) // 20)
            kernel = np.ones(width) / width
            ax.plot(steps[width - 1:], np.convolve(losses, kernel, mode="valid"), color="C0",
                    lw=1.4, label=f"running mean of {width}")
            ax.legend(fontsize=7)
        ax.set_yscale("log")
        ax.set_title("training loss", fontsize=9)
        for ax, key in zip(axes.flat[1:], val_keys):
            points = [r for r in self.rows if key in r]
            ax.plot([r["step"] for r in points], [r[key] for r in points], "o-", ms=3,
                    color="C1")
            ax.set_title(key.removeprefix("val_").replace("_", " ") + " (validation)",
                         fontsize=9)
        for ax in axes.flat[panels:]:
            ax.set_visible(False)
        for ax in axes.flat[:panels]:
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


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
        state = torch.load(self.path, map_location="cpu", weights_only=True)
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
        save_torch({"identity": self.identity, "step": self.step, "elapsed_s": self.elapsed,
                     "modules": {n: m.state_dict() for n, m in self.modules.items()},
                     "optimizer": self.optimizer.state_dict(), "log": self.log.rows}, self.path)
        self.log.write()




StepFn = Callable[[torch.Generator], tuple[torch.Tensor, dict[str, float]]]


def step_generator(seed: int, step: int) -> torch.Generator:
    """The generator of one training step's random draws: the same on a resumed run."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def train_steps(run: RunState, loop: LoopConfig, optimizer: torch.optim.Optimizer,
                step: StepFn, *, trained: list[torch.nn.Module], config_path: Path,
                desc: str, progress: bool = True, max_norm: float = 1.0,
                validate: Callable[[], dict[str, float]] | None = None,
                after_update: Callable[[torch.Generator], dict[str, float]] | None = None
                ) -> None:
    """Run `run` from its step to loop.steps. Each step: the `trained` modules in train mode,
    the warm-up + cosine learning rate, `step(generator)` -> (loss, values to log) under bf16
    autocast where loop.bf16, one clipped optimiser step, then `after_update(generator)`,
    whose values are logged too. Every loop.log_every steps: the loss, learning rate, wall time
    and those values (a "loss" among them replaces the optimised one in the log). Every
    loop.eval_every: the `validate()` values. Every loop.checkpoint_every, and at the end:
    last.pt, log.csv and loss.png."""
    device_type = torch.device(loop.device).type
    bar = tqdm(total=loop.steps, initial=run.step, desc=desc, unit="step", disable=not progress)
    started = time.perf_counter() - run.elapsed
    while run.step < loop.steps:
        for module in trained:
            module.train()
        g = step_generator(loop.seed, run.step)
        for group in optimizer.param_groups:
            group["lr"] = loop.lr * warmup_cosine(run.step, loop.steps, loop.warmup)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=loop.bf16):
            loss, logged = step(g)
        run.update(loss.float(), max_norm, config_path)
        if after_update is not None:
            logged = {**logged, **after_update(g)}
        run.elapsed = time.perf_counter() - started
        bar.update(1)
        last = run.step == loop.steps
        if run.step % loop.log_every == 0 or last:
            row = {"step": run.step, "loss": loss.item(), "lr": optimizer.param_groups[0]["lr"],
                   "elapsed_s": run.elapsed, **logged}
            run.log.add(**row)
            bar.set_postfix(loss=f"{row['loss']:.4g}")
        if validate is not None and (run.step % loop.eval_every == 0 or last):
            run.log.add(step=run.step, **validate())
        if run.step % loop.checkpoint_every == 0 or last:
            run.save()
    bar.close()


def run_meta(model: str, config: str | Path, out: str | Path, loop: LoopConfig, run: RunState,
             steps: int | None = None, data: str | None = None) -> dict[str, Any]:
    """What every model card states: the command that trained it, steps, seed, wall time,
    machine and the training config."""
    command = (["gscsim", "train", model, "--config", str(config), "--out", str(out)]
               + ([f"--steps {steps}"] if steps else []) + ([f"--data {data}"] if data else []))
    device = torch.device(loop.device)
    machine = f"{platform.machine()}, {torch.get_num_threads()} threads, {device}"
    if device.type == "cuda":
        machine += f", peak memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB"
    return {"command": " ".join(command), "steps": loop.steps, "seed": loop.seed,
            "wall_s": round(run.elapsed, 1), "machine": machine,
            "train": loop.model_dump(mode="json")}


def train_stage(name: str, stages: tuple[str, ...], config: BaseModel, loop: LoopConfig,
                run_dir: Path, modules: dict[str, torch.nn.Module],
                trained: list[torch.nn.Module], step: StepFn,
                validate: Callable[[], dict[str, float]], config_path: Path, restart: bool,
                progress: bool, family: str) -> RunState:
    """One stage of a staged training (the stages named in `stages`, in order): its folder
    run_dir/name holds last.pt (every module in `modules`), log.csv and loss.png; AdamW on the
    `trained` modules; its identity is the run's config without the later stages' sections
    (config.train.<stage>), so a finished stage is kept when only a later one changes.
    Validation values are logged with a val_ prefix."""
    stage_dir = run_dir / name
    stage_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(loop.seed)
    params = [p for module in trained for p in module.parameters()]
    optimizer = torch.optim.AdamW(params, lr=loop.lr, weight_decay=loop.weight_decay)
    later = set(stages[stages.index(name) + 1:])
    identity = config.model_dump(mode="json", exclude={"train": later} if later else None)
    run = RunState(stage_dir, identity, loop.steps, modules, optimizer)
    run.restore(restart)
    train_steps(run, loop, optimizer, step, trained=trained, config_path=config_path,
                desc=f"{family} {name}", progress=progress,
                validate=lambda: {f"val_{k}": v for k, v in validate().items()})
    return run


def stage_line(name: str, m: dict[str, Any]) -> str:
    """The model-card line of one stage's run_meta: steps, samples, schedule, wall time."""
    t = m["train"]
    snr = f", SNR {t['snr_db']} dB" if "snr_db" in t else ""
    return (f"- stage {name}: {m['steps']} steps x {t['batch']} "
            f"({m['steps'] * t['batch']:,} samples), AdamW lr {t['lr']} "
            f"({t['warmup']} warm-up, cosine){snr}, seed {m['seed']}, "
            f"bf16 {t['bf16']}; {m['wall_s']:.0f} s here")


def stage_card_lines(meta: dict[str, Any]) -> list[str]:
    """The model-card lines of a staged training's meta ({"stages": {name: run_meta},
    "validation": {name: {val_...: value}}}): command, machine, each stage's steps, samples,
    schedule and wall time, and the last validation values after each stage."""
    stages = meta["stages"]
    first = next(iter(stages.values()))
    lines = [f"- command: `{first['command']}`", f"- machine: {first['machine']}"]
    lines += [stage_line(name, m) for name, m in stages.items()]
    for name, values in meta["validation"].items():
        if values:
            lines.append(f"- validation after {name}: " + ", ".join(
                f"{k.removeprefix('val_')} {v:.4g}" for k, v in values.items()))
    return lines


def stage_meta(family: str, config: str | Path, out: str | Path, runs: dict[str, RunState],
               loops: dict[str, LoopConfig], steps: int | None = None) -> dict[str, Any]:
    """The meta of a staged training: each stage's run_meta and its validation values."""
    return {"stages": {name: run_meta(family, config, out, loops[name], run, steps)
                       for name, run in runs.items()},
            "validation": {name: {k: v for r in run.log.rows for k, v in r.items()
                                  if k.startswith("val_")} for name, run in runs.items()}}


def finish_staged(family, config: str | Path, out: str | Path, runs: dict[str, RunState],
                  train_config: BaseModel, stages: tuple[str, ...], steps: int | None,
                  model: torch.nn.Module, model_config: BaseModel,
                  write_card: Callable[[Path, str, torch.nn.Module, dict], None],
                  extra_meta: dict[str, Any] | None = None) -> Path:
    """The end of a staged training of a gscsim.zoo.Family's model: OUT/model.pt (float16
    weights, config, meta: every stage's facts and validation, the scene counts and
    `extra_meta`) and its card OUT/model.md written by `write_card(path, title, model, meta)`."""
    final = Path(out) / "model.pt"
    meta = {**stage_meta(family.name, config, out, runs,
                         {name: getattr(train_config, name) for name in stages}, steps),
            "count": train_config.count, "val_count": train_config.val_count,
            **(extra_meta or {})}
    family.save(final, model_config.model_dump(mode="json"), model, meta)
    write_card(final.with_suffix(".md"), Path(out).name, model, meta)
    return final
