"""Training of BriGSC-small: `gscsim train brigsc --config FILE [--out DIR]`.

Three stages, as the released code trains BriGSC (first without, then with the SNR modulation)
plus the refiner it does not release; each has its own folder under the run folder (last.pt for
resume, log.csv, loss.png), and a finished stage is kept on a rerun:
1. `plain`: encoder and decoder, no SNR modulation;
2. `adaptive`: the same with SwinJSCC's SNR ModNets, starting from `plain`;
3. `refiner`: the diffusion refiner (x0-prediction over pixel patches) on the frozen link's
   decoded images, at times t uniform in [0, 1]; the caption embedding is replaced by the null
   text with probability text_drop (for classifier-free guidance).
In the link stages each sample draws its SNR from snr_db, each batch the number of values sent
(log-uniform from min_values to all of them) and the allocation (saliency or uniform, half each,
so that one model serves both options); the loss is the MSE of the decoded image. The plain
stage trains on the easier part of that range (its decoder does not know the SNR: over the whole
range it settles on the mean scene); the adaptive stage, which knows it, on all of it.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from gscsim.baselines.brigsc.model import (
    BriGSC,
    BriGSCConfig,
    allocate,
    saliency_table,
    shrink,
    to_patches,
    token_weights,
    widen,
)
from gscsim.baselines.brigsc.zoo import FAMILY
from gscsim.conventions import real_awgn, unit_mean_square
from gscsim.data.scenes.shards import SceneSplit
from gscsim.io import save_torch, write_text
from gscsim.nn import parameter_count
from gscsim.nn.diffusion import CosineSchedule, diffuse
from gscsim.nn.text_encoder import embed_many
from gscsim.training.config import (
    ChannelStage,
    DenoiserStage,
    SceneSetConfig,
    run_config,
    staged_config,
)
from gscsim.training.data import uniform
from gscsim.training.loop import (
    RunState,
    finish_staged,
    stage_card_lines,
    stage_line,
    train_stage,
)
from gscsim.zoo import load_bundle

CONFIG_DIR = Path(__file__).parent / "configs"
STAGES = ("plain", "adaptive", "refiner")
SCHEDULE = CosineSchedule()
VAL_SNRS = (1.0, 10.0)
VAL_VALUES = 512                   # CBR 1/48 at 64x64


class LinkStage(ChannelStage):
    """A link stage: each batch sends a number of values drawn log-uniformly from
    `min_values` to all of them."""

    min_values: int = Field(16, ge=1, description="fewest values a batch sends")


class BriGSCTrainConfig(SceneSetConfig):
    init: str | None = Field(None, description=(
        "start from this trained brigsc bundle (zoo name or model.pt path): its link is kept "
        "as it is (the link stages are skipped) and the refiner trains on from its weights, "
        "for the refiner stage's steps with a fresh schedule"))
    plain: LinkStage = Field(default_factory=LinkStage)
    adaptive: LinkStage = Field(default_factory=LinkStage)
    refiner: DenoiserStage = Field(default_factory=DenoiserStage)


BriGSCRunConfig = run_config("BriGSCRunConfig", BriGSCConfig, BriGSCTrainConfig)


def through_link(model: BriGSC, images: torch.Tensor, snr_db: torch.Tensor, values: int,
                 saliency_allocation: bool, adaptive: bool, generator: torch.Generator | None
                 ) -> torch.Tensor:
    """Images -> tokens -> `values` values shared by saliency or uniformly -> AWGN on the sent
    values -> widened tokens -> decoded images [B, 3, S, S]."""
    cfg = model.cfg
    tokens, saliency = model.encoder(images, snr_db, adaptive)
    table = saliency_table(saliency.detach().float().cpu(), cfg.side) \
        if saliency_allocation else None
    sizes = allocate(token_weights(table, cfg, len(images)), values, cfg.token_values)
    sent = unit_mean_square(shrink(tokens, sizes.to(tokens.device)))
    received = real_awgn(sent, snr_db, generator)
    return model.decoder(widen(received, sizes.to(tokens.device), cfg.token_values), snr_db,
                         adaptive)


def train(config: str | Path, out: str | Path, steps: int | None = None, data: str | None = None,
          restart: bool = False, progress: bool = True) -> Path:
    """Run (or resume) the three stages; returns the path of the final model.pt. `steps`
    overrides every stage's step count."""
    path, cfg = staged_config(config, CONFIG_DIR, BriGSCRunConfig, STAGES, steps, data, "brigsc")
    tc, mc = cfg.train, cfg.model
    run_dir = Path(out)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(tc.plain.device)
    train_set = SceneSplit("train", tc.count, mc.image_size, progress)
    val_set = SceneSplit("val", tc.val_count, mc.image_size, progress)
    text_cache = run_dir / f"text-train-{tc.count}.pt"
    if text_cache.exists():
        train_text = torch.load(text_cache, weights_only=True)
    else:
        train_text = embed_many(train_set.captions[:tc.count])
        save_torch(train_text, text_cache)
    torch.manual_seed(tc.plain.seed)
    model = BriGSC(mc).to(device)
    model.decoder.mean_image.copy_(train_set.mean_image().to(device))
    init = None if tc.init is None else initialise_from(tc.init, model, mc)
    most = mc.tokens * mc.token_values
    runs = {}

    def stage(name: str, trained: list[nn.Module], step: Callable, validate: Callable
              ) -> RunState:
        run = train_stage(name, STAGES, cfg, getattr(tc, name), run_dir, {"brigsc": model},
                          trained, step, validate, path, restart, progress, "brigsc")
        return run

    def link_batch(loop: ChannelStage, min_values: int, g: torch.Generator):
        rows = torch.randint(len(train_set.images), (loop.batch,), generator=g)
        images = train_set.images[rows].float().div(255).to(device)
        snr = uniform(loop.snr_db, loop.batch, g).to(device)
        low = math.log(min(min_values, most))
        values = int(math.exp(low + (math.log(most) - low) * float(torch.rand(1, generator=g))))
        return rows, images, snr, values, bool(torch.rand(1, generator=g) < 0.5)

    def link_step(adaptive: bool) -> Callable:
        def step(g: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
            loop = getattr(tc, STAGES[adaptive])
            _, images, snr, values, salient = link_batch(loop, loop.min_values, g)
            recon = through_link(model, images, snr, values, salient, adaptive, g)
            with torch.autocast(device.type, enabled=False):
                loss = F.mse_loss(recon.float(), images)
            return loss, {"values": values}
        return step

    @torch.no_grad()
    def link_validate(adaptive: bool) -> dict[str, float]:
        images = val_set.images.float().div(255).to(device)
        out = {}
        for snr in VAL_SNRS:
            for salient in (True, False):
                g = torch.Generator().manual_seed(0)
                recon = through_link(model, images, torch.full((len(images),), snr, device=device),
                                     min(VAL_VALUES, most), salient, adaptive, g).clamp(0, 1)
                mse = (recon - images).square().flatten(1).mean(1)
                kind = "saliency" if salient else "uniform"
                out[f"psnr_{snr:g}dB_{kind}"] = float((-10 * torch.log10(mse)).mean())
        return out

    for adaptive, name in enumerate(STAGES[:2] if init is None else ()):
        runs[name] = stage(name, [model.encoder, model.decoder], link_step(bool(adaptive)),
                           lambda a=bool(adaptive): link_validate(a))
    model.encoder.eval().requires_grad_(False)
    model.decoder.eval().requires_grad_(False)

    def refiner_batch(loop: DenoiserStage, g: torch.Generator):
        rows, images, snr, values, salient = link_batch(loop, tc.adaptive.min_values, g)
        with torch.no_grad():
            decoded = through_link(model, images, snr, values, salient, True, g).clamp(0, 1)
        x0, condition = to_patches(images * 2 - 1), to_patches(decoded * 2 - 1)
        t = torch.rand(len(rows), generator=g).view(-1, 1).expand(-1, mc.tokens)
        x_t, _ = diffuse(x0, t, SCHEDULE, g)
        has_text = (torch.rand(len(rows), generator=g) >= loop.text_drop).to(device)
        text = train_text[rows].float().to(device)
        return x0, torch.cat([x_t, condition], -1), t.to(device).float(), text, has_text

    def refiner_step(g: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        x0, inputs, t, text, has_text = refiner_batch(tc.refiner, g)
        return F.mse_loss(model.refiner(inputs, t, text, has_text).float(), x0), {}

    @torch.no_grad()
    def refiner_validate() -> dict[str, float]:
        x0, inputs, t, text, has_text = refiner_batch(tc.refiner, torch.Generator().manual_seed(0))
        return {"x0_mse": float(F.mse_loss(model.refiner(inputs, t, text, has_text), x0))}

    runs["refiner"] = stage("refiner", [model.refiner], refiner_step, refiner_validate)

    return finish_staged(FAMILY, config, out, runs, tc, STAGES, steps, model, mc, write_card,
                         {} if init is None else {"init": init})


def initialise_from(bundle: str, model: BriGSC, model_cfg: BriGSCConfig) -> dict:
    """Load a trained brigsc bundle's weights into `model` (its config must equal `model_cfg`);
    returns {"name", "stages", "validation"}: the bundle's own training facts, with those of
    the bundle it started from in turn folded in ("stages" in training order)."""
    obj = load_bundle(FAMILY.path(bundle), FAMILY.fmt, "train.init", FAMILY.trainer)
    if obj["config"] != model_cfg.model_dump(mode="json"):
        raise ValueError(f"train.init: {bundle} holds another architecture than this config's "
                         f"model section")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in obj["state_dict"].items()}, strict=True)
    meta = obj["meta"]
    earlier = meta.get("init", {"stages": [], "validation": {}})
    return {"name": bundle,
            "stages": earlier["stages"] + [{"name": n, **m} for n, m in meta["stages"].items()],
            "validation": {**earlier["validation"], **meta["validation"]}}


def write_card(path: Path, title: str, model: BriGSC, meta: dict) -> None:
    c = model.cfg
    lines = [
        f"# {title}", "",
        f"BriGSC-small for {c.image_size}x{c.image_size} scenes: ViT encoder "
        f"({parameter_count(model.encoder):,} parameters; {c.tokens} tokens of "
        f"{c.token_values} values, saliency from its attention), Swin decoder "
        f"({parameter_count(model.decoder):,}; dims {list(c.decoder_dims)}), diffusion refiner "
        f"({parameter_count(model.refiner):,}: {c.refiner_depth} DiT blocks of width "
        f"{c.refiner_width} over 8x8 pixel patches, x0-prediction, text by adaLN).", "",
        f"- data: scenes train split 0..{meta['count'] - 1}, their captions through "
        f"all-MiniLM-L6-v2; validation on val split 0..{meta['val_count'] - 1}"]
    if "init" in meta:
        lines.append(f"- started from `{meta['init']['name']}`, trained before in these stages:")
        lines += ["  " + stage_line(s["name"], s) for s in meta["init"]["stages"]]
    lines += stage_card_lines(meta)
    write_text(path, "\n".join(lines + [""]))
