"""Loading SCVAR's checkpoints: zoo names (gscsim/zoo) or paths, gscsim files or official
state_dicts."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from gscsim.io import save_torch
from gscsim.scvar.model import SCVAR, Sampling, SCVARConfig, Text2Para
from gscsim.scvar.var import VAR, VARConfig
from gscsim.scvar.vqvae import VQVAE, VQVAEConfig
from gscsim.zoo import (
    bundle_reference,
    half_weights,
    load_bundle,
    referenced_checkpoint,
    zoo_checkpoint,
)

VQVAE_FORMAT = "gscsim-vqvae-1"
SCVAR_FORMAT = "gscsim-scvar-1"


def checkpoint_path(name_or_path: str, what: str) -> Path:
    """A zoo checkpoint name (e.g. vqvae-scenes64) or a file path -> existing path."""
    return zoo_checkpoint(name_or_path, what, what, f"Train one with `gscsim train {what} "
                          f"--config ...` and pass the path of its model.pt")


@lru_cache(maxsize=4)
def load_vqvae(name_or_path: str, device: str = "cpu") -> VQVAE:
    """A VQ-VAE from a gscsim model.pt, or an official bare state_dict
    (vae_ch160v4096z32.pth, the paper configuration, strict=True)."""
    obj = torch.load(checkpoint_path(name_or_path, "vqvae"), map_location=device,
                     weights_only=True)
    if isinstance(obj, dict) and obj.get("format") == VQVAE_FORMAT:
        cfg, state = VQVAEConfig(**obj["config"]), obj["state_dict"]
    else:
        cfg, state = VQVAEConfig.paper(), obj
    vae = VQVAE(cfg).to(device)
    vae.load_state_dict(state, strict=True)
    return vae.eval()


def load_official_var(path: str, device: str = "cpu") -> VAR:
    """The official class-conditional var_d16.pth, strict=True."""
    var = VAR(VARConfig.paper_d16()).to(device)
    var.load_state_dict(torch.load(path, map_location=device, weights_only=True), strict=True)
    return var.eval()


def scvar_files(name_or_path: str) -> list[Path]:
    """The files an SCVAR bundle's generation depends on: itself and the VQ-VAE it names."""
    path = checkpoint_path(name_or_path, "scvar")
    return [path, checkpoint_path(bundle_reference(path, "vqvae"), "vqvae")]


@lru_cache(maxsize=4)
def load_scvar(name_or_path: str, device: str = "cpu"):
    """A trained SCVAR bundle -> (SCVAR, Text2Para, its VQ-VAE, default Sampling), all in eval
    mode."""
    path = checkpoint_path(name_or_path, "scvar")
    obj = load_bundle(path, SCVAR_FORMAT, "scvar", "gscsim train scvar", device)
    cfg = SCVARConfig(**obj["config"])
    model, text2para = SCVAR(cfg).to(device), Text2Para(params=cfg.text_params).to(device)
    model.load_state_dict(obj["state_dict"], strict=True)
    text2para.load_state_dict(obj["text2para"], strict=True)
    vae = load_vqvae(referenced_checkpoint(obj["vqvae"], path), device)
    return model.eval(), text2para.eval(), vae, Sampling(**obj["sampling"])


def save_scvar(path: Path, model: SCVAR, text2para: Text2Para, vqvae: str, sampling: dict,
               meta: dict) -> None:
    """Write an SCVAR bundle: the generator's weights in float16, Text2Para, the VQ-VAE it
    names, its default sampling and `meta`. `model` itself is left as it is (a caller that
    scores it first rounds it with half_weights, as `gscsim train scvar` does)."""
    save_torch({"format": SCVAR_FORMAT, "config": model.scfg.model_dump(mode="json"),
                "vqvae": vqvae, "sampling": sampling,
                "state_dict": half_weights(model.state_dict()),
                "text2para": text2para.state_dict(), "meta": meta}, path)
