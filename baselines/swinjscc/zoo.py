"""SwinJSCC's checkpoints: the gscsim format, zoo names or paths, shipped architecture configs,
and official state_dicts (which load with strict=True once their architecture is named)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict

from gscsim.baselines.swinjscc.model import ModelConfig, SwinJSCC
from gscsim.io import load_yaml, shipped_config
from gscsim.zoo import zoo_checkpoint

CONFIG_DIR = Path(__file__).parent / "configs"
CHECKPOINT_FORMAT = "gscsim-swinjscc-1"


def config_path(name_or_path: str | Path) -> Path:
    """A config file path, or the name of one shipped in baselines/swinjscc/configs."""
    return shipped_config(name_or_path, CONFIG_DIR)


class _ArchitectureOnly(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: ModelConfig = ModelConfig()


def architecture(config: str | Path) -> ModelConfig:
    """The `model` section of a SwinJSCC config (a shipped name or a file)."""
    return load_yaml(config_path(config), _ArchitectureOnly).model


def checkpoint_path(name_or_path: str) -> Path:
    """A zoo checkpoint name (e.g. swinjscc-tiny-photos) or a file path -> existing path."""
    return zoo_checkpoint(name_or_path, "swinjscc.checkpoint", "swinjscc",
                          "Train one with `gscsim train swinjscc --config tiny-photos` and pass "
                          "the path of its model.pt, or pass an official SwinJSCC .model file "
                          "with config: base")


@lru_cache(maxsize=4)
def load_model(checkpoint: str, config: str | None = None, device: str = "cpu") -> SwinJSCC:
    """Build and load a SwinJSCC. gscsim checkpoints carry their config; an official state_dict
    (e.g. SwinJSCC_w_SAandRA_AWGN_HRimage_cbr_psnr_snr.model) needs `config` (small, base, large
    or a config file) and loads with strict=True."""
    path = checkpoint_path(checkpoint)
    obj = torch.load(path, map_location=device, weights_only=True)
    if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
        cfg, state = ModelConfig(**obj["config"]), obj["state_dict"]
    else:
        if config is None:
            raise ValueError(f"swinjscc.config: {path} is a bare state_dict (an official "
                             f"checkpoint?); say which architecture it is: config: base (or "
                             f"small, large, or a config file)")
        cfg = architecture(config)
        state = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    model = SwinJSCC(cfg).to(device)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"swinjscc.checkpoint: {path} does not fit the {cfg.embed_dims} / "
                         f"{cfg.depths} architecture: {str(err)[:400]}") from None
    return model.eval()


@lru_cache(maxsize=16)
def training_data(checkpoint: str) -> str | None:
    """The kind of data a gscsim checkpoint was trained on ("scenes" or "folder"); None for
    an official state_dict, which does not say."""
    obj = torch.load(checkpoint_path(checkpoint), map_location="cpu", weights_only=True,
                     mmap=True)
    if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
        return obj.get("meta", {}).get("train", {}).get("data", {}).get("kind")
    return None


def checkpoints_for(kind: str) -> list[str]:
    """The zoo's SwinJSCC checkpoints trained on data of this kind."""
    from gscsim.zoo import ZOO

    return [p.stem for p in sorted(ZOO.glob("swinjscc-*.pt")) if training_data(p.stem) == kind]
