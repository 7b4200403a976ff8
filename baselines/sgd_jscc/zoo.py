"""SGD-JSCC's checkpoints: the bundle format, zoo names or paths, and the loader."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from gscsim.baselines.sgd_jscc.model import SGDJSCC, SGDConfig
from gscsim.zoo import load_bundle, zoo_checkpoint

SGD_FORMAT = "gscsim-sgd-jscc-1"


def checkpoint_path(name_or_path: str) -> Path:
    """A zoo checkpoint name (e.g. sgd-jscc-scenes64) or a file path -> existing path."""
    return zoo_checkpoint(name_or_path, "sgd-jscc.checkpoint", "sgd-jscc",
                          "Train one with `gscsim train sgd-jscc --config sgd-jscc-scenes64` "
                          "and pass the path of its model.pt")


@lru_cache(maxsize=2)
def load_model(name_or_path: str, device: str = "cpu") -> SGDJSCC:
    """A trained SGD-JSCC bundle (`gscsim train sgd-jscc`), in eval mode."""
    path = checkpoint_path(name_or_path)
    obj = load_bundle(path, SGD_FORMAT, "sgd-jscc.checkpoint", "gscsim train sgd-jscc", device)
    model = SGDJSCC(SGDConfig(**obj["config"]))
    model.load_state_dict(obj["state_dict"], strict=True)
    return model.to(device).eval()
