"""Training of SwinJSCC: `gscsim train swinjscc --config FILE [--out DIR] [--steps N]`.

Each step draws one SNR (uniform over `snr_db`, in dB) and one rate C (from `rates`) for the whole
batch, sends the kept latent values through AWGN and minimises MSE (or 1 - MS-SSIM) between the
clamped reconstruction and the input. The run folder holds `last.pt` (everything needed to
resume; an interrupted run continues from it), `log.csv`, `loss.png`, and at the end `model.pt`
(config + weights, what the transceiver loads) with its model card `model.md`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from gscsim.baselines.swinjscc.model import ModelConfig, SwinJSCC, cbr_of, channels_for
from gscsim.baselines.swinjscc.zoo import CHECKPOINT_FORMAT, checkpoint_path, config_path
from gscsim.conventions import parse_ratio
from gscsim.io import load_yaml, save_torch, write_text
from gscsim.nn import parameter_count
from gscsim.training.config import LoopConfig, with_overrides
from gscsim.training.data import DataConfig, ImageSource
from gscsim.training.loop import RunState, run_meta, train_steps


class TrainConfig(LoopConfig):
    data: DataConfig
    snr_db: tuple[float, float] = Field((0.0, 14.0), description="SNR range (dB), one per batch")
    rates: list[int] | None = Field(None, description="C values drawn per batch; model.rates if "
                                                      "unset")
    loss: Literal["mse", "ms-ssim"] = "mse"
    init: str | None = Field(None, description="start from these weights (zoo name or path of a "
                                                "model.pt of the same architecture)")
    eval_snr_db: list[float] = Field(default_factory=lambda: [1.0, 10.0])
    eval_cbr: float | str = "1/48"


class SwinJSCCConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig


def distortion(recon: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean MSE, or 1 - MS-SSIM with as many scales as the image side allows (at most 5)."""
    if kind == "mse":
        return F.mse_loss(recon, target)
    from pytorch_msssim import ms_ssim

    weights = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    scales = 1
    while scales < 5 and min(target.shape[-2:]) > 10 * 2 ** scales:
        scales += 1
    w = torch.tensor(weights[:scales], device=target.device)
    return 1.0 - ms_ssim(recon, target, data_range=1.0, weights=(w / w.sum()).tolist())


@torch.no_grad()
def validate(model: SwinJSCC, images: torch.Tensor, channels: int, snrs: list[float],
             seed: int) -> dict[str, float]:
    """Mean PSNR (dB) of the validation images at each SNR, fixed noise."""
    model.eval()
    out = {}
    for snr in snrs:
        g = torch.Generator(images.device).manual_seed(seed)
        recon = model(images, torch.full((len(images),), snr, device=images.device), channels,
                      generator=g).clamp(0, 1)
        mse = ((recon - images) ** 2).flatten(1).mean(1)
        out[f"val_psnr_{snr:g}dB"] = float((-10 * torch.log10(mse)).mean())
    return out


def train(config: str | Path, out: str | Path, steps: int | None = None, data: str | None = None,
          restart: bool = False, progress: bool = True) -> Path:
    """Run (or resume) a training; `steps` and `data` (an image folder) override the config.
    Returns the path of the final model.pt."""
    path = config_path(config)
    cfg: SwinJSCCConfig = load_yaml(path, SwinJSCCConfig)
    tc = with_overrides(cfg.train, steps, data)
    rates = tc.rates or cfg.model.rates
    eval_channels = channels_for(parse_ratio(tc.eval_cbr))
    device = torch.device(tc.device)
    run_dir = Path(out)
    torch.manual_seed(tc.seed)
    model = SwinJSCC(cfg.model).to(device)
    if tc.init:
        start = torch.load(checkpoint_path(tc.init), map_location=device, weights_only=True)
        model.load_state_dict(start["state_dict"])
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    run = RunState(run_dir, cfg, tc.steps, {"model": model}, opt)
    run.restore(restart)
    source = ImageSource(tc.data, base_dir=path.parent, progress=progress)
    val = source.validation()
    val = None if val is None else val.to(device)

    lo, hi = tc.snr_db

    def step(g: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        images = source.batch(tc.batch, g).to(device)
        snr = lo + (hi - lo) * float(torch.rand(1, generator=g))
        rate = rates[int(torch.randint(len(rates), (1,), generator=g))]
        noise = torch.Generator(device).manual_seed(tc.seed * 1_000_003 + run.step)
        recon = model(images, torch.full((tc.batch,), snr, device=device), rate, generator=noise)
        with torch.autocast(device.type, enabled=False):
            loss = distortion(recon.float().clamp(0, 1), images, tc.loss)
        return loss, {"snr_db": snr, "rate": rate}

    train_steps(run, tc, opt, step, trained=[model], config_path=path, desc="swinjscc",
                progress=progress,
                validate=None if val is None else lambda: validate(model, val, eval_channels,
                                                                   tc.eval_snr_db, tc.seed))
    meta = {**run_meta("swinjscc", config, out, tc, run, steps, data),
            "validation": {k: v for r in run.log.rows for k, v in r.items()
                           if k.startswith("val_")}}
    final = run_dir / "model.pt"
    save_torch({"format": CHECKPOINT_FORMAT, "config": cfg.model.model_dump(mode="json"),
                 "state_dict": model.state_dict(), "meta": meta}, final)
    write_card(final.with_suffix(".md"), run_dir.name, cfg.model, meta, eval_channels)
    return final


def write_card(path: Path, title: str, model_cfg: ModelConfig, meta: dict,
               eval_channels: int) -> None:
    """The model card of a finished run: architecture, command, data, steps, seed, wall time
    and validation PSNR (evaluations on test sets are added where the checkpoint is published)."""
    n_params = parameter_count(SwinJSCC(model_cfg))
    t = meta["train"]
    val = ", ".join(f"{k.removeprefix('val_psnr_')}: {v:.2f} dB"
                    for k, v in meta["validation"].items())
    write_text(path, "\n".join([
        f"# {title}", "",
        f"SwinJSCC (SNR- and rate-adaptive), {n_params:,} parameters; dims {model_cfg.embed_dims},"
        f" depths {model_cfg.depths}, heads {model_cfg.num_heads}, window {model_cfg.window}, "
        f"built for {model_cfg.img_size[0]}x{model_cfg.img_size[1]}; rates C {model_cfg.rates}"
        f" (CBR {cbr_of(min(model_cfg.rates)):.4f}..{cbr_of(max(model_cfg.rates)):.4f}).", "",
        f"- command: `{meta['command']}`",
        f"- data: {t['data']}",
        f"- steps: {meta['steps']} (batch {t['batch']}, AdamW lr {t['lr']} with {t['warmup']} "
        f"warm-up steps and cosine decay, SNR uniform in {t['snr_db']} dB per batch, C from "
        f"{t['rates'] or model_cfg.rates}, loss {t['loss']}, bf16 autocast {t['bf16']})",
        f"- initial weights: {t['init'] or 'random (seed below)'}",
        f"- seed: {meta['seed']}",
        f"- wall time: {meta['wall_s']:.0f} s on {meta['machine']}",
        f"- validation PSNR at C={eval_channels} (CBR {cbr_of(eval_channels):.4f}), AWGN: {val}",
        ""]))
