"""What a receiver knows with no information at all: transceivers that send nothing (0 channel
uses) and output a prior, so that every table shows the floor a method must beat.

* `prior_mean`: the mean image of the scene set's training split (at the trial's image size):
  the best PSNR a receiver that ignores the channel can have on average.
* `prior_sample`: SCVAR (TarGSC's generator) sampled from its null text and null depth, the
  generator's own prior: what a generative receiver shows when nothing arrives.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field

from gscsim.data.scenes.shards import SceneSplit
from gscsim.plugins import Batch, LinkContext, Received, Transceiver
from gscsim.scvar.zoo import load_scvar, scvar_files


class PriorMeanOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(30000, ge=1, description="train-split scenes averaged")


@lru_cache(maxsize=4)
def mean_scene(count: int, size: int) -> torch.Tensor:
    """float [3, size, size] in [0, 1]: the mean of the first `count` train-split scenes."""
    return SceneSplit("train", count, size, progress=False).mean_image()


class PriorMean(Transceiver):
    """No channel use: every frame is the scene training set's mean image."""

    streams = ()
    Options = PriorMeanOptions

    def encode(self, batch: Batch, ctx: LinkContext) -> dict[str, torch.Tensor]:
        return {}

    def decode(self, received: dict[str, Received], ctx: LinkContext) -> torch.Tensor:
        _, h, w = ctx.image_shape
        if h != w:
            raise ValueError(f"prior_mean: the scene set is square; images are {h}x{w}")
        return mean_scene(self.options.count, h).expand(ctx.batch_size, -1, -1, -1).clone()


class PriorSampleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scvar: str = Field("scvar-scenes64", description="zoo name or path of an SCVAR bundle")
    top_k: int = Field(0, ge=0, description="0: sample from the whole vocabulary; 1: greedy")
    temperature: float = Field(1.0, gt=0, description="softmax temperature of the sampling")


class PriorSample(Transceiver):
    """No channel use: every frame is a sample of SCVAR from its null conditions."""

    streams = ()
    Options = PriorSampleOptions

    def weights(self) -> list[Path]:
        return scvar_files(self.options.scvar)

    def encode(self, batch: Batch, ctx: LinkContext) -> dict[str, torch.Tensor]:
        return {}

    def decode(self, received: dict[str, Received], ctx: LinkContext) -> torch.Tensor:
        scvar, _, vae, _ = load_scvar(self.options.scvar)
        ctx.require_side(scvar.scfg.image_size, "prior_sample", self.options.scvar)
        ctx.require_scenes("prior_sample", self.options.scvar)
        images, _ = scvar.sample(vae, None, None, 0.0, self.options.top_k, 0.0,
                                 self.options.temperature, ctx.generator, batch=ctx.batch_size)
        return images.float().clamp(0, 1)
