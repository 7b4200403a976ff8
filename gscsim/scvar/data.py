"""SCVAR's training data: scenes rendered once (gscsim cache), encoded once into VQ tokens and
caption embeddings, kept in the run folder so that a resumed run does not redo it (a file made
with another VQ-VAE is redone)."""
from __future__ import annotations

from pathlib import Path

import torch

from gscsim.data.scenes.shards import SceneSplit
from gscsim.io import save_torch
from gscsim.scvar.vqvae import VQVAE


class SceneTokens(SceneSplit):
    """A split's scenes (images, depth, captions: SceneSplit) plus caption embeddings float16
    [N, 384] and VQ tokens int16 [N, L] (scales concatenated, coarse to fine)."""

    def __init__(self, split: str, count: int, vae: VQVAE, cache: Path | None,
                 progress: bool = True):
        from gscsim.nn.text_encoder import embed_many

        super().__init__(split, count, vae.cfg.img_size, progress)
        fingerprint = float(vae.quantize.embedding.weight.detach().double().sum())  # which VQ-VAE
        if cache is not None and cache.exists():
            stored = torch.load(cache, weights_only=True)
            if stored.get("fingerprint") == fingerprint:
                self.tokens, self.embeddings = stored["tokens"], stored["embeddings"]
                return
        tokens = []
        with torch.no_grad():
            for start in range(0, count, 256):
                x = self.images[start:start + 256].float() / 127.5 - 1
                tokens.append(torch.cat(vae.tokens(x), dim=1).short())
        self.tokens = torch.cat(tokens)
        self.embeddings = embed_many(self.captions[:count])
        if cache is not None:
            save_torch({"tokens": self.tokens, "embeddings": self.embeddings,
                         "fingerprint": fingerprint}, cache)

    def __len__(self) -> int:
        return len(self.tokens)

    def per_scale(self, rows: torch.Tensor, patch_nums: tuple[int, ...]) -> list[torch.Tensor]:
        """Tokens of the given rows split by scale: one int64 [b, k*k] per scale."""
        return list(self.tokens[rows].long().split([p * p for p in patch_nums], dim=1))
