"""Neural-network blocks that more than one model family uses: attention, Swin stages, the
SNR-adaptive ModNet and the sentence encoder."""
from __future__ import annotations

from torch import nn


def parameter_count(module: nn.Module) -> int:
    """Number of parameters (trainable or not) of a module."""
    return sum(p.numel() for p in module.parameters())
