"""Training of SCVAR and Text2Para: `gscsim train scvar --config FILE [--out DIR]`.

The VQ-VAE (train.vqvae) is frozen. Each step takes a batch of train-split scenes: their tokens
(teacher forcing), depth maps and caption embeddings; Text2Para maps the embeddings to the 6 text
parameters; text and depth are each replaced by their learned null with probability text_drop /
depth_drop; the loss is the cross-entropy over all L tokens. Text2Para is trained jointly, from
the generator's loss, on clean embeddings (the channel comes with TarGSC); with
`text_aux_weight` > 0 an auxiliary loss also asks the parameters, through a small training-only
head, for the scene's colour-shape pairs (the one attribute the depth map cannot carry).

The run folder holds `last.pt` (resume), `data-*.pt` (tokens and embeddings), `log.csv`,
`loss.png` and at the end `model.pt` (float16 weights) with its card `model.md` (generation
scored on the test split).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from gscsim.data.scenes.attributes import GROUPS, labels
from gscsim.data.scenes.dataset import scene_at
from gscsim.io import load_yaml, shipped_config, write_text
from gscsim.nn import parameter_count
from gscsim.scvar.data import SceneTokens
from gscsim.scvar.evaluate import evaluate, generate, score
from gscsim.scvar.model import SCVAR, Sampling, SCVARConfig, Text2Para
from gscsim.scvar.zoo import SCVAR_FORMAT, checkpoint_path, load_vqvae, save_scvar
from gscsim.training.config import LoopConfig
from gscsim.training.loop import RunState, run_meta, train_steps
from gscsim.zoo import half_weights, load_bundle

CONFIG_DIR = Path(__file__).parent / "configs"
COLOUR_SHAPE_PAIRS = GROUPS["colour-shape"].stop - GROUPS["colour-shape"].start     # 8 x 4


class SamplingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    top_k: int = Field(1, ge=0, description="1: greedy; 0: the whole vocabulary")
    top_p: float = Field(0.0, ge=0, le=1)
    temperature: float = Field(1.0, gt=0)
    cfg_scale: float = Field(0.0, ge=0)


class SCVARTrainConfig(LoopConfig):
    vqvae: str = Field(description="the frozen VQ-VAE: zoo name or model.pt path")
    init: str | None = Field(None, description=(
        "start the generator and Text2Para from this trained SCVAR bundle (zoo name or "
        "model.pt path) instead of a random initialisation; steps count this run's steps"))
    count: int = Field(30000, ge=1, description="train-split scenes")
    val_count: int = Field(256, ge=1, description="val-split scenes for validation")
    steps: int = Field(4000, ge=1)
    batch: int = Field(32, ge=1)
    lr: float = Field(6e-4, gt=0)
    weight_decay: float = Field(0.05, ge=0)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    test_count: int = Field(300, ge=0, description="test-split scenes scored for the card")
    val_generated: int = Field(48, ge=1, description=(
        "val-split scenes generated (with text) at each validation"))
    text_aux_weight: float = Field(0.0, ge=0, description=(
        "weight of the auxiliary loss: binary cross-entropy of the scene's colour-shape pairs "
        "read from the text parameters by a training-only head; 0: the generator's loss alone"))


class SCVARRunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: SCVARConfig
    train: SCVARTrainConfig


def token_loss(model: SCVAR, text2para: Text2Para, vae, data: SceneTokens, rows: torch.Tensor,
               drop_text: torch.Tensor | None, drop_depth: torch.Tensor | None,
               depth: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy (nats) of the teacher-forced token predictions for these scenes,
    conditioned on their captions and on `depth` [B, 1, S, S] (m; default: the true depth)."""
    tokens = data.per_scale(rows, model.cfg.patch_nums)
    with torch.no_grad():
        inputs = vae.teacher_inputs(tokens)
    params = text2para(data.embeddings[rows].float())
    depth = data.depth[rows] if depth is None else depth
    cond, cond_tokens = model.conditions(params, depth.float(), len(rows), drop_text,
                                         drop_depth)
    logits = model(cond, inputs, cond_tokens)
    return F.cross_entropy(logits.float().flatten(0, 1), torch.cat(tokens, 1).flatten())


class ColourShapeHead(nn.Module):
    """Training-only head of the auxiliary loss: text parameters [B, P] -> logits [B, 32] of the
    colour-shape pairs present in the scene (an MLP P-128-128-32)."""

    def __init__(self, params: int, hidden: int = 128):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(params, hidden), nn.GELU(), nn.Linear(hidden, hidden),
                                 nn.GELU(), nn.Linear(hidden, COLOUR_SHAPE_PAIRS))

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        return self.mlp(params)


def initialise_from(bundle: str, model: SCVAR, text2para: Text2Para,
                    model_cfg: SCVARConfig) -> int:
    """Load a trained SCVAR bundle's weights into `model` and `text2para` (its config must equal
    `model_cfg`); returns the training steps the bundle had seen before (its own and its
    init's)."""
    path = checkpoint_path(bundle, "scvar")
    obj = load_bundle(path, SCVAR_FORMAT, "train.init", "gscsim train scvar")
    if obj["config"] != model_cfg.model_dump(mode="json"):
        raise ValueError(f"train.init: {path} holds another architecture than this config's "
                         f"model section")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in obj["state_dict"].items()}, strict=True)
    text2para.load_state_dict(obj["text2para"], strict=True)
    meta = obj.get("meta", {})
    return int(meta.get("steps", 0)) + int(meta.get("prior_steps", 0))


def colour_shape_targets(split: str, count: int) -> torch.Tensor:
    """float [count, 32]: which colour-shape pairs each of a split's first scenes holds (from
    the scene graphs)."""
    group = GROUPS["colour-shape"]
    return torch.from_numpy(np.stack([labels(scene_at(split, i)[0])[group]
                                      for i in range(count)])).float()


def text_aux_loss(text2para: Text2Para, head: ColourShapeHead, embeddings: torch.Tensor,
                  targets: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of the colour-shape pairs read from the text parameters."""
    return F.binary_cross_entropy_with_logits(head(text2para(embeddings.float())).float(),
                                              targets)


def train(config: str | Path, out: str | Path, steps: int | None = None, data: str | None = None,
          restart: bool = False, progress: bool = True) -> Path:
    """Run (or resume) an SCVAR training; returns the path of the final model.pt."""
    if data is not None:
        raise ValueError("gscsim train scvar trains on the scene set; --data does not apply")
    path = shipped_config(config, CONFIG_DIR)
    cfg: SCVARRunConfig = load_yaml(path, SCVARRunConfig)
    tc = cfg.train if steps is None else cfg.train.model_copy(update={"steps": steps})
    device, run_dir = torch.device(tc.device), Path(out)
    run_dir.mkdir(parents=True, exist_ok=True)
    vae = load_vqvae(tc.vqvae, str(device))
    if vae.cfg.vocab != cfg.model.var.vocab or vae.patch_nums != cfg.model.var.patch_nums:
        raise ValueError(f"{path}: model.var vocab / patch_nums must match the VQ-VAE "
                         f"{tc.vqvae} ({vae.cfg.vocab}, {list(vae.patch_nums)})")
    torch.manual_seed(tc.seed)
    model, text2para = SCVAR(cfg.model).to(device), Text2Para(params=cfg.model.text_params)
    text2para = text2para.to(device)
    prior_steps = 0
    if tc.init is not None:
        prior_steps = initialise_from(tc.init, model, text2para, cfg.model)
    modules = {"scvar": model, "text2para": text2para}
    if tc.text_aux_weight:
        modules["colour_shape_head"] = ColourShapeHead(cfg.model.text_params).to(device)
    params = [p for module in modules.values() for p in module.parameters()]
    opt = torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, 0.95))
    run = RunState(run_dir, cfg, tc.steps, modules, opt)
    run.restore(restart)
    prep_started = time.perf_counter()
    train_set = SceneTokens("train", tc.count, vae, run_dir / f"data-train-{tc.count}.pt",
                            progress)
    val_set = SceneTokens("val", tc.val_count, vae, run_dir / f"data-val-{tc.val_count}.pt",
                          progress)
    targets = colour_shape_targets("train", tc.count).to(device) if tc.text_aux_weight else None
    prep_s = time.perf_counter() - prep_started
    sampling = Sampling(**tc.sampling.model_dump())

    def step(g: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        rows = torch.randint(len(train_set), (tc.batch,), generator=g)
        drop_text = torch.rand(tc.batch, generator=g) < cfg.model.text_drop
        drop_depth = torch.rand(tc.batch, generator=g) < cfg.model.depth_drop
        loss = token_loss(model, text2para, vae, train_set, rows, drop_text, drop_depth)
        if targets is None:
            return loss, {}
        aux = text_aux_loss(text2para, modules["colour_shape_head"], train_set.embeddings[rows],
                            targets[rows])
        return loss + tc.text_aux_weight * aux, {"loss": loss.item(), "text_aux_loss": aux.item()}

    train_steps(run, tc, opt, step, trained=list(modules.values()), config_path=path,
                desc="scvar", progress=progress, max_norm=2.0,
                validate=lambda: validate(model, text2para, vae, val_set, sampling,
                                          tc.val_generated),
                after_update=lambda g: {"alpha": model.alpha.item()})
    # the checkpoint stores float16 weights (half the size, under the zoo's 25 MB); the model
    # is evaluated with exactly those rounded weights
    model.load_state_dict(half_weights(model.state_dict()))
    test = {}
    if tc.test_count:
        test_set = SceneTokens("test", tc.test_count, vae, None, progress)
        test = evaluate(model, vae, text2para, test_set, tc.test_count, sampling)
    meta = {**run_meta("scvar", config, out, tc, run, steps), "prior_steps": prior_steps,
            "prep_s": round(prep_s, 1), "test": test}
    final = run_dir / "model.pt"
    save_scvar(final, model, text2para, tc.vqvae, tc.sampling.model_dump(), meta)
    write_card(final.with_suffix(".md"), run_dir.name, model, text2para, meta)
    return final


@torch.no_grad()
def validate(model: SCVAR, text2para: Text2Para, vae, data: SceneTokens, sampling: Sampling,
             generated: int = 48) -> dict[str, float]:
    """Validation cross-entropy (all scenes, both conditions) and the PSNR, LPIPS, semantic_acc
    and its colour-shape part of `generated` scenes generated with text."""
    model.eval()
    rows = torch.arange(len(data))
    ce = float(token_loss(model, text2para, vae, data, rows, None, None))
    n = min(generated, len(data))
    scores = score(data.images[:n].float() / 255,
                   generate(model, vae, text2para, data, n, sampling), fid=False)
    return {"val_ce": ce, "val_psnr": scores["psnr"], "val_lpips": scores["lpips"],
            "val_semantic_acc": scores["semantic_acc"],
            "val_colour_shape": scores["semantic_acc.colour-shape"]}


def write_card(path: Path, title: str, model: SCVAR, text2para: Text2Para, meta: dict) -> None:
    v, t = model.cfg, meta["train"]
    lines = [
        f"# {title}", "",
        f"SCVAR: VAR ({v.depth} blocks, width {v.embed_dim}, {v.num_heads} heads, scales "
        f"{list(v.patch_nums)}, vocabulary {v.vocab}) with depth-token fusion and "
        f"cross-attention and AdaLN driven by {model.scfg.text_params} text parameters; "
        f"{parameter_count(model):,} parameters, plus Text2Para "
        f"({parameter_count(text2para):,}). Frozen VQ-VAE: `{t['vqvae']}`.", "",
        f"- command: `{meta['command']}`",
        f"- data: scenes train split 0..{t['count'] - 1} (64x64), their captions through "
        f"all-MiniLM-L6-v2; validation on val split 0..{t['val_count'] - 1}",
        f"- steps: {meta['steps']} (batch {t['batch']}, AdamW lr {t['lr']} betas (0.9, 0.95) "
        f"weight decay {t['weight_decay']}, {t['warmup']} warm-up steps then cosine decay, "
        f"token cross-entropy"
        + (f" + {t['text_aux_weight']} x the auxiliary colour-shape loss on the text parameters"
           if t["text_aux_weight"] else "")
        + f", condition dropout text {model.scfg.text_drop} / depth "
        f"{model.scfg.depth_drop}, bf16 autocast {t['bf16']})",
        *([f"- started from: `{t['init']}` ({meta['prior_steps']} steps); "
           f"{meta['prior_steps'] + meta['steps']} steps in all, "
           f"{(meta['prior_steps'] + meta['steps']) * t['batch']:,} scenes seen"]
          if t.get("init") else []),
        f"- seed: {meta['seed']}",
        f"- wall time: {meta['wall_s']:.0f} s of training on {meta['machine']}, after "
        f"{meta['prep_s']:.0f} s of data preparation in this start (rendering or reading the "
        f"scene cache, VQ tokens, caption embeddings)",
        f"- sampling: {t['sampling']}"]
    test = meta["test"]
    if test:
        lines += ["", f"Generation from clean depth maps and captions, scenes test split "
                      f"0..{t['test_count'] - 1}:", "",
                  "| condition | PSNR (dB) | semantic_acc | FID |", "|---|---|---|---|"]
        for name, s in test.items():
            fid = f"{s['fid']:.1f}" if "fid" in s else "-"
            lines.append(f"| {name.replace('_', ' ')} | {s['psnr']:.2f} | "
                         f"{s['semantic_acc']:.3f} | {fid} |")
    write_text(path, "\n".join(lines + [""]))
