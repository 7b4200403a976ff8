"""The parts of a `gscsim train MODEL --config FILE` config that every trainer shares: the
loop fields and the command line's overrides."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


def with_overrides(train_cfg: BaseModel, steps: int | None, data: str | None) -> BaseModel:
    """A training config with the command line's --steps and --data (an image folder) applied."""
    if steps is not None:
        train_cfg = train_cfg.model_copy(update={"steps": steps})
    if data is not None:
        folder = train_cfg.data.model_copy(update={"kind": "folder", "path": data})
        train_cfg = train_cfg.model_copy(update={"data": folder})
    return train_cfg
