"""TarGSC's checkpoints: the bundle format (depth U-Net, depth codec, text decoder and its
prior, and the SCVAR checkpoint it names), the constants both ends of the link share, and the
loader."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from gscsim.scvar.model import SCVAR, Sampling, Text2Para
from gscsim.scvar.vqvae import VQVAE
from gscsim.scvar.zoo import checkpoint_path as scvar_checkpoint
from gscsim.scvar.zoo import load_scvar
from gscsim.targsc.codec import CodecConfig, DepthCodec, TextDecoder
from gscsim.targsc.depth import DepthUNet
from gscsim.zoo import (
    bundle_entry,
    bundle_reference,
    load_bundle,
    referenced_checkpoint,
    zoo_checkpoint,
)

TARGSC_FORMAT = "gscsim-targsc-4"
TEXT_SYMBOLS = 3                       # 6 text parameters as 3 complex symbols


@dataclass(frozen=True)
class TarGSCModels:
    """Everything TarGSC runs, in eval mode: the link's parts and the frozen generator."""

    config: CodecConfig
    unet: DepthUNet
    codec: DepthCodec
    text_decoder: TextDecoder
    scvar: SCVAR
    text2para: Text2Para
    vae: VQVAE
    sampling: Sampling


def checkpoint_path(name_or_path: str) -> Path:
    """A zoo checkpoint name (e.g. targsc-scenes64) or a file path -> existing path."""
    return zoo_checkpoint(name_or_path, "targsc.checkpoint", "targsc",
                          "Train one with `gscsim train targsc --config targsc-scenes64` and "
                          "pass the path of its model.pt")


def generator_reference(name_or_path: str, scvar: str | None = None) -> str:
    """The SCVAR checkpoint a TarGSC bundle generates with: `scvar` where given (targsc.scvar),
    else the one the bundle names."""
    return scvar if scvar is not None else bundle_reference(checkpoint_path(name_or_path),
                                                            "scvar")


@lru_cache(maxsize=2)
def load_models(name_or_path: str, device: str = "cpu", scvar: str | None = None
                ) -> TarGSCModels:
    """A TarGSC bundle (gscsim train targsc) and the SCVAR checkpoint it names, or `scvar`
    instead: another generator for the same link, which must share the named one's Text2Para
    (the bundle's text prior holds that Text2Para's parameters)."""
    path = checkpoint_path(name_or_path)
    obj = load_bundle(path, TARGSC_FORMAT, "targsc.checkpoint", "gscsim train targsc", device)
    cfg = CodecConfig(**obj["config"])
    unet, codec = DepthUNet(cfg.unet_widths), DepthCodec(cfg)
    decoder = TextDecoder(cfg.text_params, cfg.text_hidden)
    for module, key in ((unet, "unet"), (codec, "codec"), (decoder, "text_decoder")):
        module.load_state_dict(obj[key], strict=True)
        module.to(device).eval()
    decoder.set_prior(obj["text_prior"])
    named = referenced_checkpoint(obj["scvar"], path)
    generator, text2para, vae, sampling = load_scvar(scvar or named, device)
    if scvar is not None:
        bundle_text2para = bundle_entry(scvar_checkpoint(named, "scvar"), "text2para", device)
        if any(not torch.equal(v, bundle_text2para[k]) for k, v in
               text2para.state_dict().items()):
            raise ValueError(f"targsc.scvar: {scvar} has another Text2Para than {named}, for "
                             f"which {path.name}'s text decoder was trained; give an SCVAR "
                             f"fine-tuned from {named} with Text2Para frozen, or leave it unset")
    return TarGSCModels(cfg, unet, codec, decoder, generator, text2para, vae, sampling)
