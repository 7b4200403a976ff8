"""Training of SGD-JSCC-small: `gscsim train sgd-jscc --config FILE [--out DIR]`.

Three stages, each with its own folder under the run folder (last.pt for resume, log.csv,
loss.png); a finished stage is kept on a rerun, also when only a later stage's settings changed:
1. `codec`: the image and edge JSCC codecs over AWGN. Each sample draws its SNR from
   codec.snr_db, each batch the number of image tokens and of edge tokens kept (1..L); MSE of
   the decoded image plus edge_weight x the binary cross-entropy of the decoded edge map.
2. `denoiser`: the latent denoiser (x0-prediction) with the codecs frozen. Each sample draws
   its SNR, its received tokens P (1..L) and a fraction f of the way from its start to t = 0:
   received tokens sit at f x t(SNR), the others at f (they start as pure noise), exactly as on
   the sampler's path. The caption embedding is replaced by the null text with probability
   text_drop (for classifier-free guidance).
3. `control`: the edge branch, the rest frozen; the edge map is the edge codec's output after
   the channel, as the receiver has it.
The final `model.pt` bundles all weights (float16); `model.md` is its card.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from gscsim.baselines.sgd_jscc.model import SGDJSCC, SGDConfig, soft_edges
from gscsim.baselines.sgd_jscc.zoo import FAMILY
from gscsim.conventions import real_awgn
from gscsim.data.scenes.shards import SceneSplit
from gscsim.io import save_torch, write_text
from gscsim.nn import parameter_count
from gscsim.nn.diffusion import CosineSchedule, alpha_bar_of_snr, diffuse
from gscsim.nn.text_encoder import embed_many
from gscsim.training.config import (
    ChannelStage,
    DenoiserStage,
    SceneSetConfig,
    run_config,
    staged_config,
)
from gscsim.training.data import uniform
from gscsim.training.loop import RunState, finish_staged, stage_card_lines, train_stage

CONFIG_DIR = Path(__file__).parent / "configs"
STAGES = ("codec", "denoiser", "control")
SCHEDULE = CosineSchedule()
VAL_SNRS = (1.0, 10.0)


class CodecStage(ChannelStage):
    edge_weight: float = Field(0.1, ge=0, description="weight of the edge map's loss")


class ControlStage(DenoiserStage):
    steps: int = Field(3000, ge=1)
    text_drop: float = Field(0.0, ge=0, le=1, description="probability of the null text")


class SGDTrainConfig(SceneSetConfig):
    codec: CodecStage = Field(default_factory=CodecStage)
    denoiser: DenoiserStage = Field(default_factory=DenoiserStage)
    control: ControlStage = Field(default_factory=ControlStage)


SGDRunConfig = run_config("SGDRunConfig", SGDConfig, SGDTrainConfig)


class SceneData:
    """A split's images (uint8), soft edge maps (float16) and caption embeddings (float16),
    computed once and cached in the run folder."""

    def __init__(self, split: str, count: int, size: int, cache: Path, progress: bool):
        scenes = SceneSplit(split, count, size, progress)
        self.images = scenes.images
        if cache.exists():
            stored = torch.load(cache, weights_only=True)
            self.edges, self.text = stored["edges"], stored["text"]
            return
        self.edges = torch.cat([soft_edges(scenes.images[i:i + 512].float() / 255)
                                for i in range(0, count, 512)]).half()
        self.text = embed_many(scenes.captions[:count])
        save_torch({"edges": self.edges, "text": self.text}, cache)

    def __len__(self) -> int:
        return len(self.images)

    def rows(self, rows: torch.Tensor, device: torch.device
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images float [B, 3, S, S] in [0, 1], edges [B, 1, S, S], text [B, 384])."""
        return (self.images[rows].float().div(255).to(device),
                self.edges[rows].float().to(device), self.text[rows].float().to(device))


def rank_mask(model: SGDJSCC, kept: torch.Tensor) -> torch.Tensor:
    """bool [B, L]: token l is among the first kept[b] tokens of the sending order."""
    rank = torch.empty_like(model.order)
    rank[model.order] = torch.arange(len(model.order), device=model.order.device)
    return rank.view(1, -1) < kept.to(rank.device).view(-1, 1)


def through_channel(codec, x: torch.Tensor, model: SGDJSCC, kept: torch.Tensor,
                    snr_db: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """x -> codec latent -> the first kept[b] tokens over AWGN (the rest zero) -> decoder."""
    tokens = model.to_tokens(codec.encode(x))
    noisy = real_awgn(tokens, snr_db, generator) * rank_mask(model, kept).unsqueeze(-1)
    return codec.decode(model.from_tokens(noisy), snr_db)


def noisy_latent(model: SGDJSCC, z0: torch.Tensor, kept: torch.Tensor, snr_db: torch.Tensor,
                 fraction: torch.Tensor, generator: torch.Generator | None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t [B, L, C], t [B, L]) of clean latent tokens z0 on the sampler's path: received
    tokens at fraction x t(SNR), the others at fraction x 1."""
    t_received = SCHEDULE.t_of_alpha_bar(alpha_bar_of_snr(snr_db)).view(-1, 1)
    mask = rank_mask(model, kept).to(z0.device)
    t = fraction.double().view(-1, 1) * torch.where(mask, t_received.to(z0.device), 1.0)
    x_t, _ = diffuse(z0, t, SCHEDULE, generator)
    return x_t, t.to(z0.dtype)


def train(config: str | Path, out: str | Path, steps: int | None = None, data: str | None = None,
          restart: bool = False, progress: bool = True) -> Path:
    """Run (or resume) the three stages; returns the path of the final model.pt. `steps`
    overrides every stage's step count."""
    path, cfg = staged_config(config, CONFIG_DIR, SGDRunConfig, STAGES, steps, data, "sgd-jscc")
    tc, mc = cfg.train, cfg.model
    run_dir = Path(out)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(tc.codec.device)
    train_set = SceneData("train", tc.count, mc.image_size, run_dir / f"data-train-{tc.count}.pt",
                          progress)
    val_set = SceneData("val", tc.val_count, mc.image_size,
                        run_dir / f"data-val-{tc.val_count}.pt", progress)
    torch.manual_seed(tc.codec.seed)
    model = SGDJSCC(mc).to(device)
    L = mc.tokens
    runs = {}

    def stage(name: str, trained: list[nn.Module], step: Callable, validate: Callable
              ) -> RunState:
        run = train_stage(name, STAGES, cfg, getattr(tc, name), run_dir, {"sgd_jscc": model},
                          trained, step, validate, path, restart, progress, "sgd-jscc")
        for module in trained:
            module.eval().requires_grad_(False)
        return run

    # ---------------------------------------------------------------- 1. the codecs
    def codec_step(g: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        images, edges, _ = train_set.rows(torch.randint(len(train_set), (tc.codec.batch,),
                                                        generator=g), device)
        snr = uniform(tc.codec.snr_db, len(images), g).to(device)
        kept = torch.randint(1, L + 1, (1,), generator=g).expand(len(images))
        kept_edges = torch.randint(1, L + 1, (1,), generator=g).expand(len(images))
        recon = through_channel(model.image, images, model, kept, snr, g)
        edge_logits = through_channel(model.edge, edges, model, kept_edges, snr, g)
        with torch.autocast(device.type, enabled=False):
            image_loss = F.mse_loss(recon.float(), images)
            edge_loss = F.binary_cross_entropy_with_logits(edge_logits.float(), edges)
        return image_loss + tc.codec.edge_weight * edge_loss, {"image_mse": image_loss.item(),
                                                              "edge_bce": edge_loss.item()}

    @torch.no_grad()
    def codec_validate() -> dict[str, float]:
        images, edges, _ = val_set.rows(torch.arange(len(val_set)), device)
        out = {}
        for snr in VAL_SNRS:
            g = torch.Generator().manual_seed(0)
            snr_b = torch.full((len(images),), snr, device=device)
            half = torch.full((len(images),), L // 2)
            recon = through_channel(model.image, images, model, half, snr_b, g).clamp(0, 1)
            mse = (recon - images).square().flatten(1).mean(1)
            out[f"psnr_{snr:g}dB_half_tokens"] = float((-10 * torch.log10(mse)).mean())
        return out

    runs["codec"] = stage("codec", [model.image, model.edge], codec_step, codec_validate)

    # ---------------------------------------------------------------- 2. the denoiser
    def latent_batch(data: SceneData, rows: torch.Tensor, loop: DenoiserStage,
                     g: torch.Generator) -> tuple:
        images, edges, text = data.rows(rows, device)
        with torch.no_grad():
            z0 = model.to_tokens(model.image.encode(images))
        b = len(rows)
        kept = torch.randint(1, L + 1, (b,), generator=g)
        snr = uniform(loop.snr_db, b, g).to(device)
        x_t, t = noisy_latent(model, z0, kept, snr, torch.rand(b, generator=g), g)
        has_text = (torch.rand(b, generator=g) >= loop.text_drop).to(device)
        return z0, x_t, t, text, has_text, edges, snr

    def denoiser_step(g: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        loop = tc.denoiser
        z0, x_t, t, text, has_text, _, _ = latent_batch(
            train_set, torch.randint(len(train_set), (loop.batch,), generator=g), loop, g)
        return F.mse_loss(model.denoiser(x_t, t, text, has_text).float(), z0), {}

    def latent_validate(control: bool) -> dict[str, float]:
        g = torch.Generator().manual_seed(0)
        loop = tc.control if control else tc.denoiser
        with torch.no_grad():
            z0, x_t, t, text, has_text, edges, snr = latent_batch(
                val_set, torch.arange(len(val_set)), loop, g)
            features = None
            if control:
                kept_edges = torch.full((len(z0),), L // 4)
                edge_map = torch.sigmoid(through_channel(model.edge, edges, model, kept_edges,
                                                         snr, g))
                features = model.control(edge_map)
            pred = model.denoiser(x_t, t, text, torch.ones_like(has_text), features)
        return {"x0_mse": float(F.mse_loss(pred, z0))}

    runs["denoiser"] = stage("denoiser", [model.denoiser], denoiser_step,
                             lambda: latent_validate(False))

    # ---------------------------------------------------------------- 3. the edge branch
    def control_step(g: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        loop = tc.control
        z0, x_t, t, text, has_text, edges, snr = latent_batch(
            train_set, torch.randint(len(train_set), (loop.batch,), generator=g), loop, g)
        kept_edges = torch.randint(1, L + 1, (len(z0),), generator=g)
        with torch.no_grad():
            edge_map = torch.sigmoid(through_channel(model.edge, edges, model, kept_edges, snr, g))
        features = model.control(edge_map)
        return F.mse_loss(model.denoiser(x_t, t, text, has_text, features).float(), z0), {}

    runs["control"] = stage("control", [model.control], control_step,
                            lambda: latent_validate(True))

    return finish_staged(FAMILY, config, out, runs, tc, STAGES, steps, model, mc, write_card)


def write_card(path: Path, title: str, model: SGDJSCC, meta: dict) -> None:
    c = model.cfg
    lines = [
        f"# {title}", "",
        f"SGD-JSCC-small for {c.image_size}x{c.image_size} scenes: image JSCC "
        f"({parameter_count(model.image):,} parameters; latent {c.latent_channels} x "
        f"{c.side}x{c.side}), edge JSCC ({parameter_count(model.edge):,}; {c.edge_channels} x "
        f"{c.side}x{c.side}), latent denoiser ({parameter_count(model.denoiser):,}: "
        f"{c.depth} DiT blocks of width {c.width}, x0-prediction, text by adaLN) and its "
        f"ControlNet-style edge branch ({parameter_count(model.control):,}).", "",
        f"- data: scenes train split 0..{meta['count'] - 1}, their captions through "
        f"all-MiniLM-L6-v2 and soft Canny edge maps; validation on val split "
        f"0..{meta['val_count'] - 1}"]
    lines += stage_card_lines(meta)
    write_text(path, "\n".join(lines + [""]))
