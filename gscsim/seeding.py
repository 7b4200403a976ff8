"""Reproducible random streams: every draw comes from a generator seeded from
(scenario seed, trial id, batch index, purpose), independent of execution order or executor."""
from __future__ import annotations

import hashlib

import numpy as np
import torch


def _word(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def _sequence(seed: int, parts: tuple[str | int, ...]) -> np.random.SeedSequence:
    words = [_word(p) if isinstance(p, str) else int(p) for p in parts]
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *words])


def generator(seed: int, *parts: str | int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch.Generator seeded from `seed` and any labels (trial id, batch index, stream name)."""
    state = _sequence(seed, parts).generate_state(2, np.uint64)
    g = torch.Generator(device=device)
    g.manual_seed(int(state[0]) & 0x7FFFFFFFFFFFFFFF)
    return g


def numpy_rng(seed: int, *parts: str | int) -> np.random.Generator:
    """A numpy Generator seeded like `generator` (for traffic and service-time draws)."""
    return np.random.default_rng(_sequence(seed, parts))
