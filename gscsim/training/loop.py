"""The training loop every `gscsim train` command runs: the learning-rate schedule, the run
folder's resumable state (`last.pt`), the loss log and its curve."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from pydantic import BaseModel

from gscsim.io import save_torch, to_csv, write_text


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


