"""BriGSC's checkpoints: zoo names or paths, the bundle format, the loader
(gscsim.zoo.Family)."""
from __future__ import annotations

from gscsim.baselines.brigsc.model import BriGSC, BriGSCConfig
from gscsim.zoo import Family

FAMILY = Family("brigsc", "gscsim-brigsc-1", lambda config: BriGSC(BriGSCConfig(**config)))
