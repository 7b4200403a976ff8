"""SGD-JSCC's checkpoints: zoo names or paths, the bundle format, the loader
(gscsim.zoo.Family)."""
from __future__ import annotations

from gscsim.baselines.sgd_jscc.model import SGDJSCC, SGDConfig
from gscsim.zoo import Family

FAMILY = Family("sgd-jscc", "gscsim-sgd-jscc-1", lambda config: SGDJSCC(SGDConfig(**config)))
