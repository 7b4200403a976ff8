"""The parts of a `gscsim train MODEL --config FILE` config that every trainer shares: the
loop fields and the command line's overrides."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, create_model


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


class ChannelStage(LoopConfig):
    """A stage trained over the channel on the scene set (a codec, a link): batches of 32,
    SNRs drawn uniformly from `snr_db` per frame."""

    steps: int = Field(3000, ge=1)
    batch: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0)
    warmup: int = Field(100, ge=0)
    snr_db: tuple[float, float] = Field((-15.0, 20.0), description="training SNR range (dB)")


class DenoiserStage(ChannelStage):
    """A diffusion denoiser's stage (SGD-JSCC's latent denoiser, BriGSC's refiner): longer, with
    weight decay, and the text condition dropped now and then for classifier-free guidance."""

    steps: int = Field(20000, ge=1)
    lr: float = Field(5e-4, gt=0)
    warmup: int = Field(500, ge=0)
    weight_decay: float = Field(0.01, ge=0)
    text_drop: float = Field(0.1, ge=0, le=1, description="probability of the null text")


def with_overrides(train_cfg: BaseModel, steps: int | None, data: str | None) -> BaseModel:
    """A training config with the command line's --steps and --data (an image folder) applied."""
    if steps is not None:
        train_cfg = train_cfg.model_copy(update={"steps": steps})
    if data is not None:
        folder = train_cfg.data.model_copy(update={"kind": "folder", "path": data})
        train_cfg = train_cfg.model_copy(update={"data": folder})
    return train_cfg


class SceneSetConfig(BaseModel):
    """The scene-set fields of a staged trainer's `train` section (TarGSC, SGD-JSCC, BriGSC);
    each adds its stages."""

    model_config = ConfigDict(extra="forbid")
    count: int = Field(30000, ge=1, description="train-split scenes")
    val_count: int = Field(256, ge=1, description="val-split scenes for validation")


def staged_config(config: str | Path, config_dir: Path, schema: type[BaseModel],
                  stages: tuple[str, ...], steps: int | None, data: str | None, family: str
                  ) -> tuple[Path, BaseModel]:
    """(config file, validated config) of a staged trainer on the scene set: `config` is a
    file or the name of one in `config_dir`; the command line's --steps sets every stage's
    steps; --data does not apply."""
    from gscsim.io import load_yaml, shipped_config

    if data is not None:
        raise ValueError(f"gscsim train {family} trains on the scene set; --data does not apply")
    path = shipped_config(config, config_dir)
    cfg = load_yaml(path, schema)
    if steps is not None:
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={
            s: getattr(cfg.train, s).model_copy(update={"steps": steps}) for s in stages
            if getattr(cfg.train, s) is not None})})
    return path, cfg


def run_config(name: str, model: type[BaseModel], train: type[BaseModel]) -> type[BaseModel]:
    """The schema of a whole training config file: a `model` section (the architecture,
    defaults where omitted) and a `train` section; unknown fields are errors."""
    return create_model(name, __config__=ConfigDict(extra="forbid"),
                        model=(model, Field(default_factory=model)), train=(train, ...))
