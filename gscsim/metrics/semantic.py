"""`semantic_acc`: how many of a scene's attributes survive the link, as read by the scene
attribute recogniser (gscsim.data.scenes.attributes)."""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch

from gscsim.data.scenes.attributes import CHECKPOINT, f1, recognised
from gscsim.plugins import Metric


class SemanticAccuracy(Metric):
    """F1 of the scene attributes recognised in the original and in the received frame."""

    higher_is_better: ClassVar[bool] = True
    datasets: ClassVar[tuple[str, ...]] = ("scenes",)   # the recogniser knows scenes only

    def weights(self) -> list[Path]:
        return [CHECKPOINT]

    def __call__(self, reference: torch.Tensor, received: torch.Tensor) -> torch.Tensor:
        return f1(recognised(received), recognised(reference)).double()
