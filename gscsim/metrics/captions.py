"""`caption_similarity`: the cosine similarity of sent and received captions in the project's
sentence embedding (gscsim.nn.text_encoder)."""
from __future__ import annotations

from typing import ClassVar

import torch

from gscsim.nn.text_encoder import embed
from gscsim.plugins import Metric


class CaptionSimilarity(Metric):
    """Cosine similarity of sent and received captions' embeddings (NaN if no text is sent)."""

    inputs: ClassVar[str] = "captions"

    def __call__(self, sent: list[str], received: list[str] | None) -> torch.Tensor:
        if received is None:
            return torch.full((len(sent),), float("nan"), dtype=torch.float64)
        a, b = embed(sent), embed(received)
        return (a * b).sum(dim=1).double()
