"""Training of the multi-scale VQ-VAE: `gscsim train vqvae --config FILE [--out DIR]`.

Loss: MSE between the reconstruction and the image (both in [-1, 1]) plus VAR's VQ loss
(codebook + beta x commitment, averaged over scales). Every `reset_every` steps, codes hardly
used lately move onto recent residuals. The run folder holds `last.pt` (resume), `log.csv`,
`loss.png` and at the end `model.pt` (config + weights) with its card `model.md`, which reports
PSNR and codebook usage on the scene test split.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from gscsim.io import load_yaml, save_torch, shipped_config, write_text
from gscsim.nn import parameter_count
from gscsim.scvar.vqvae import VQVAE, VQVAEConfig
from gscsim.scvar.zoo import VQVAE_FORMAT
from gscsim.training.config import LoopConfig, with_overrides
from gscsim.training.data import DataConfig, ImageSource
from gscsim.training.loop import RunState, run_meta, train_steps

CONFIG_DIR = Path(__file__).parent / "configs"


class VQTrainConfig(LoopConfig):
    data: DataConfig
    steps: int = Field(2000, ge=1)
    batch: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0)
    warmup: int = Field(100, ge=0)
    eval_every: int = Field(250, ge=1)
    reset_every: int = Field(100, ge=0, description="dead-code reset period in steps (0: off)")
    dead_fraction: float = Field(0.03, gt=0, description="a code is dead below this fraction of "
                                                         "the uniform hit rate")
    test_count: int = Field(300, ge=0, description="test-split scenes scored for the model card")


class VQVAERunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: VQVAEConfig
    train: VQTrainConfig


@torch.no_grad()
def reconstruction_quality(vae: VQVAE, images: torch.Tensor, batch: int = 64
                           ) -> dict[str, float]:
    """Mean PSNR (dB, images in [0, 1]) of reconstructions through the quantiser, and the share
    of the codebook used over these images."""
    was_training = vae.training
    vae.eval()
    psnrs, used = [], torch.zeros(vae.cfg.vocab, dtype=torch.bool)
    for start in range(0, len(images), batch):
        x = images[start:start + batch]
        tokens = vae.tokens(x * 2 - 1)
        recon = (vae.decode(vae.f_hat(tokens)) + 1) / 2
        mse = (recon - x).square().flatten(1).mean(1)
        psnrs.append(-10 * torch.log10(mse))
        for idx in tokens:
            used[idx.flatten().cpu()] = True
    vae.train(was_training)
    return {"psnr": float(torch.cat(psnrs).mean()), "code_usage": float(used.float().mean())}


def test_images(count: int, size: int) -> torch.Tensor:
    """The first `count` scenes of the test split, float [N, 3, size, size] in [0, 1]."""
    from gscsim.data.scenes.shards import cached_split

    images = cached_split("test", count, size, progress=False)["images"]
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255


def train(config: str | Path, out: str | Path, steps: int | None = None, data: str | None = None,
          restart: bool = False, progress: bool = True) -> Path:
    """Run (or resume) a VQ-VAE training; returns the path of the final model.pt."""
    path = shipped_config(config, CONFIG_DIR)
    cfg: VQVAERunConfig = load_yaml(path, VQVAERunConfig)
    tc = with_overrides(cfg.train, steps, data)
    device, run_dir = torch.device(tc.device), Path(out)
    torch.manual_seed(tc.seed)
    vae = VQVAE(cfg.model).to(device)
    opt = torch.optim.AdamW(vae.parameters(), lr=tc.lr, weight_decay=tc.weight_decay,
                            betas=(0.9, 0.95))
    run = RunState(run_dir, cfg, tc.steps, {"vae": vae}, opt)
    run.restore(restart)
    source = ImageSource(tc.data, base_dir=path.parent, progress=progress)
    val = source.validation()
    threshold = tc.dead_fraction * len(cfg.model.patch_nums) / cfg.model.vocab

    def step(g: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        images = source.batch(tc.batch, g).to(device) * 2 - 1
        recon, vq_loss = vae(images)
        with torch.autocast(device.type, enabled=False):
            rec_loss = F.mse_loss(recon.float(), images)
        return rec_loss + vq_loss.float(), {"rec_mse": rec_loss.item(), "vq": vq_loss.item()}

    def reset_dead_codes(g: torch.Generator) -> dict[str, float]:
        due = tc.reset_every and run.step % tc.reset_every == 0
        return {"codes_reset": vae.quantize.reset_dead_codes(threshold, g) if due else 0}

    def validate() -> dict[str, float]:
        q = reconstruction_quality(vae, val.to(device))
        return {"val_psnr": q["psnr"], "val_code_usage": q["code_usage"]}

    train_steps(run, tc, opt, step, trained=[vae], config_path=path, desc="vqvae",
                progress=progress, validate=None if val is None else validate,
                after_update=reset_dead_codes)
    test = (reconstruction_quality(vae, test_images(tc.test_count, cfg.model.img_size).to(device))
            if tc.test_count else {})
    meta = {**run_meta("vqvae", config, out, tc, run, steps, data), "test": test}
    final = run_dir / "model.pt"
    save_torch({"format": VQVAE_FORMAT, "config": cfg.model.model_dump(mode="json"),
                 "state_dict": vae.state_dict(), "meta": meta}, final)
    write_card(final.with_suffix(".md"), run_dir.name, vae, meta)
    return final


def write_card(path: Path, title: str, vae: VQVAE, meta: dict) -> None:
    m, t, test = vae.cfg, meta["train"], meta["test"]
    lines = [
        f"# {title}", "",
        f"Multi-scale residual VQ-VAE (VAR), {parameter_count(vae):,} parameters: ch {m.ch}, "
        f"ch_mult {list(m.ch_mult)}, {m.num_res_blocks} res block(s) per level, downsampling "
        f"{m.downsample}, {m.vocab} codes of width {m.cvae}, scales {list(m.patch_nums)}, "
        f"{m.share_quant_resi} partially shared Phi convs; {m.img_size}x{m.img_size} images.", "",
        f"- command: `{meta['command']}`",
        f"- data: {t['data']}",
        f"- steps: {meta['steps']} (batch {t['batch']}, AdamW lr {t['lr']} betas (0.9, 0.95), "
        f"{t['warmup']} warm-up steps then cosine decay, loss MSE + VQ loss, dead-code reset "
        f"every {t['reset_every']} steps, bf16 autocast {t['bf16']})",
        f"- seed: {meta['seed']}",
        f"- wall time: {meta['wall_s']:.0f} s on {meta['machine']}"]
    if test:
        lines.append(f"- evaluation on scenes test split 0..{t['test_count'] - 1}: reconstruction "
                     f"PSNR **{test['psnr']:.2f} dB**, codebook usage {test['code_usage']:.1%}")
    write_text(path, "\n".join(lines + [""]))

