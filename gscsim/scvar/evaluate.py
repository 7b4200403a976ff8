"""Scoring SCVAR generations against the original scenes: PSNR (8-bit), LPIPS (AlexNet),
semantic_acc and FID, with and without the text parameters."""
from __future__ import annotations

from typing import Callable

import torch

from gscsim.data.scenes.attributes import f1, f1_by_group, recognised
from gscsim.metrics.lpips import LPIPSAlex
from gscsim.metrics.pixel import PSNR
from gscsim.scvar.data import SceneTokens
from gscsim.scvar.model import SCVAR, Sampling, Text2Para
from gscsim.scvar.vqvae import VQVAE


@torch.no_grad()
def generate(model: SCVAR, vae: VQVAE, text2para: Text2Para, data: SceneTokens, count: int,
             sampling: Sampling, with_text: bool = True, seed: int = 0, batch: int = 50,
             depth_of: Callable[[slice], torch.Tensor] | None = None) -> torch.Tensor:
    """Images float [count, 3, S, S] in [0, 1] generated from the first `count` scenes' depth
    maps (the clean ones, or depth_of(rows) [b, 1, S, S] in metres) and (unless with_text is
    False) their captions' text parameters."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    out = []
    for start in range(0, count, batch):
        rows = slice(start, min(count, start + batch))
        params = text2para(data.embeddings[rows].float()) if with_text else None
        depth = data.depth[rows].float() if depth_of is None else depth_of(rows)
        images, _ = model.sample(vae, params, depth, sampling.cfg_scale,
                                 sampling.top_k, sampling.top_p, sampling.temperature, g)
        out.append(images.float())
    return torch.cat(out)


def score(reference: torch.Tensor, generated: torch.Tensor, fid: bool = True
          ) -> dict[str, float]:
    """Mean PSNR (dB), LPIPS and semantic_acc of generated vs reference images, semantic_acc
    within each attribute group (keys `semantic_acc.<group>`), and FID (set)."""
    truth, found = recognised(reference), recognised(generated)
    out = {"psnr": float(PSNR()(reference, generated).mean()),
           "lpips": float(LPIPSAlex()(reference, generated).mean()),
           "semantic_acc": float(f1(found, truth).mean())}
    out.update({f"semantic_acc.{name}": value
                for name, value in f1_by_group(truth, found).items()})
    if fid:
        from gscsim.metrics.fid import frechet_distance, inception_features

        out["fid"] = frechet_distance(inception_features(reference),
                                      inception_features(generated))
    return out


@torch.no_grad()
def evaluate(model: SCVAR, vae: VQVAE, text2para: Text2Para, data: SceneTokens, count: int,
             sampling: Sampling, fid: bool = True, seed: int = 0
             ) -> dict[str, dict[str, float]]:
    """Scores with text and without text (the ablation) on the first `count` scenes, plus the
    VQ-VAE's own reconstruction (the ceiling any generation in its tokens can reach)."""
    reference = data.images[:count].float() / 255
    ceiling = (vae.decode(vae.f_hat(data.per_scale(torch.arange(count),
                                                   vae.patch_nums))) + 1) / 2
    return {"with_text": score(reference, generate(model, vae, text2para, data, count, sampling,
                                                   True, seed), fid),
            "without_text": score(reference, generate(model, vae, text2para, data, count,
                                                      sampling, False, seed), fid),
            "vq_ceiling": score(reference, ceiling, fid=False)}
