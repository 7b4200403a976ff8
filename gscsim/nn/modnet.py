"""SwinJSCC's ModNet (Yang et al., IEEE TCCN 2024): gains in (0, 1) for every latent channel
as a function of a side value (the SNR in dB, or a rate), used for SNR adaptation by SwinJSCC and
TarGSC's depth codec. Attribute names follow the official code, so its checkpoints load."""
from __future__ import annotations

import torch
from torch import nn

MODNET_LAYERS = 7


class AdaptiveModulator(nn.Module):
    """A scalar side value (SNR in dB, or rate C) -> per-feature gains in (0, 1)."""

    def __init__(self, width: int):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                nn.Linear(width, width), nn.Sigmoid())

    def forward(self, value: torch.Tensor) -> torch.Tensor:
        return self.fc(value)


def modnet_layers(dim: int, hidden: int) -> tuple[nn.ModuleList, nn.ModuleList]:
    """The two lists of a ModNet: 7 modulators and 8 linear layers dim -> hidden ... -> dim."""
    modulators = nn.ModuleList(AdaptiveModulator(hidden) for _ in range(MODNET_LAYERS))
    linears = nn.ModuleList([nn.Linear(dim, hidden)] + [
        nn.Linear(hidden, dim if i == MODNET_LAYERS - 1 else hidden) for i in range(MODNET_LAYERS)])
    return modulators, linears


def modnet_gains(x: torch.Tensor, value: torch.Tensor, modulators: nn.ModuleList,
                 linears: nn.ModuleList) -> torch.Tensor:
    """Per-token, per-channel gains in (0, 1) [B, L, C] for tokens x [B, L, C] at side value
    `value` [B]. As in the paper's code, the gains see x without gradient."""
    side = value.to(x.dtype).view(-1, 1)
    hidden = x.detach()
    for linear, modulator in zip(linears, modulators):
        hidden = linear(hidden) * modulator(side).unsqueeze(1)
    return torch.sigmoid(linears[-1](hidden))
