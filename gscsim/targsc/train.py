"""Training of TarGSC's link: `gscsim train targsc --config FILE [--out DIR]`.

Three stages and an optional fourth, each with its own folder under the run folder (last.pt
for resume, log.csv, loss.png); a finished stage is kept on a rerun, also when only a later
stage's settings changed:
1. `unet`: the depth U-Net, RGB -> log-depth features, L1 loss against the scenes' true depth;
2. `codec`: the depth codec over AWGN with the U-Net frozen. Each sample draws its SNR from
   codec.snr_db and each batch the kept channels C from 1..D; L1 loss between the restored and
   the true log depth, plus codec.condition_weight x the error in what the frozen SCVAR reads
   of the depth (`condition_error`);
3. `text`: the Text2Para decoder, on the clean parameters of the frozen Text2Para of the SCVAR
   checkpoint, centred on their mean over the stage's captions and normalised as the sender
   sends them, plus channel noise at SNRs drawn from text.snr_db; MSE loss on the parameters.
   The stage's clean parameters are kept as the receiver's prior (`TextDecoder.most_likely`).
4. `generator` (optional): a copy of SCVAR's generator fine-tuned on the depth the trained
   link restores (`finetune_generator`), written beside model.pt as generator.name + ".pt".
SCVAR and its Text2Para are trained together by `gscsim train scvar` and frozen here (only the
optional fourth stage changes a copy of the generator); the codec is trained to deliver what
SCVAR reads of the true depth (the condition loss). The final
`model.pt` bundles the U-Net, the codec and the text decoder and names its SCVAR checkpoint;
`model.md` is its card, with test-split figures.
"""
from __future__ import annotations

import platform
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from gscsim.conventions import real_awgn
from gscsim.data.scenes.shards import SceneSplit
from gscsim.io import save_torch, write_text
from gscsim.nn import parameter_count
from gscsim.plugins import LinkContext
from gscsim.scvar.model import SCVAR, depth_features
from gscsim.targsc.codec import (
    CodecConfig,
    DepthCodec,
    TextDecoder,
    latent_layout,
    receive_latent,
    send_latent,
)
from gscsim.targsc.depth import DepthUNet, abs_rel, to_metres
from gscsim.targsc.zoo import TARGSC_FORMAT, TEXT_SYMBOLS
from gscsim.training.config import (
    ChannelStage,
    LoopConfig,
    SceneSetConfig,
    run_config,
    staged_config,
)
from gscsim.training.data import uniform
from gscsim.training.loop import train_stage

CONFIG_DIR = Path(__file__).parent / "configs"
STAGES = ("unet", "codec", "text", "generator")    # in training order; generator optional
REPORT_SNRS = (-13.0, -5.0, 1.0, 10.0)
REPORT_CBR = 1 / 48


class UNetStage(LoopConfig):
    steps: int = Field(1500, ge=1)
    batch: int = Field(32, ge=1)
    lr: float = Field(2e-3, gt=0)
    warmup: int = Field(100, ge=0)


class CodecStage(ChannelStage):
    snr_db: tuple[float, float] = Field((-15.0, 15.0), description="training SNR range (dB)")
    condition_weight: float = Field(0.0, ge=0, description=(
        "weight of the condition loss: the error in SCVAR's depth condition tokens of the "
        "restored depth against those of the true depth (0: L1 on log depth alone)"))
    pooled_share: float = Field(0.0, ge=0, le=1, description=(
        "share of batches sent as a pooled map (one of model.pool_levels, 1..4 channels): "
        "what the budgets below one full channel send"))


class TextStage(LoopConfig):
    steps: int = Field(2000, ge=1)
    batch: int = Field(256, ge=1)
    lr: float = Field(3e-3, gt=0)
    warmup: int = Field(100, ge=0)
    bf16: bool = False
    snr_db: tuple[float, float] = Field((-15.0, 15.0), description="training SNR range (dB)")
    captions: int = Field(8000, ge=1, description="train-split captions embedded")


class GeneratorStage(ChannelStage):
    steps: int = Field(2000, ge=1)
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.05, ge=0)
    snr_db: tuple[float, float] = Field((-15.0, 15.0), description="training SNR range (dB)")
    pooled_share: float = Field(0.0, ge=0, le=1, description="as codec.pooled_share")
    name: str = Field(description=(
        "name of the fine-tuned SCVAR: the run folder's NAME.pt, which the TarGSC bundle "
        "names; shipped as gscsim/zoo/NAME.pt beside the bundle"))


class TarGSCTrainConfig(SceneSetConfig):
    scvar: str = Field(description="the frozen SCVAR (with its Text2Para): zoo name or path")
    test_count: int = Field(300, ge=0, description="test-split scenes scored for the card")
    unet: UNetStage = Field(default_factory=UNetStage)
    codec: CodecStage = Field(default_factory=CodecStage)
    text: TextStage = Field(default_factory=TextStage)
    generator: GeneratorStage | None = Field(None, description=(
        "optional fourth stage: SCVAR's generator (Text2Para stays frozen) fine-tuned on depth "
        "maps restored by the trained link, as the receiver will give it; without it the "
        "bundle names the frozen `scvar`"))


TarGSCRunConfig = run_config("TarGSCRunConfig", CodecConfig, TarGSCTrainConfig)


def draw_layout(cfg: CodecConfig, pooled_share: float, g: torch.Generator) -> tuple[int, int]:
    """(pool, kept channels) of one training batch: with probability pooled_share a pooled map
    (one of cfg.pool_levels, 1..4 channels), else the full map with 1..D channels."""
    if cfg.pool_levels and float(torch.rand(1, generator=g)) < pooled_share:
        pool = cfg.pool_levels[int(torch.randint(len(cfg.pool_levels), (1,), generator=g))]
        return pool, int(torch.randint(1, min(4, cfg.latent_channels) + 1, (1,), generator=g))
    return 1, int(torch.randint(1, cfg.latent_channels + 1, (1,), generator=g))


def depth_over_link(unet: DepthUNet, codec: DepthCodec, images: torch.Tensor,
                    snr_db: torch.Tensor, channels: int, generator: torch.Generator | None,
                    pool: int = 1) -> torch.Tensor:
    """Images -> U-Net -> codec over AWGN keeping `channels` (of a token map pooled by `pool`)
    -> restored log-depth features."""
    with torch.no_grad():
        features = unet(images)
    sent = send_latent(codec.encode(features, snr_db), channels, pool)
    received = real_awgn(sent, snr_db, generator)
    return codec.decode(receive_latent(received, codec.cfg.tokens, codec.cfg.latent_channels,
                                       pool), snr_db)


def report_layouts(cfg: CodecConfig) -> dict[str, tuple[int, int]]:
    """{CBR label: (pool, kept channels)} the card reports, beside one copy of the 3 text
    symbols: CBR 1/48, and where the codec has pooled maps, the smallest CBR they serve."""
    out = {}
    for label, cbr in (("1/48", REPORT_CBR), ("0.001", 0.001)):
        ctx = LinkContext.for_budget(cbr, (3, cfg.image_size, cfg.image_size))
        layout = latent_layout(cfg, ctx, [TEXT_SYMBOLS])
        if layout is not None:
            out[label] = layout
    return out


@torch.no_grad()
def depth_errors(unet: DepthUNet, codec: DepthCodec | None, data: SceneSplit, count: int
                 ) -> dict[str, float]:
    """AbsRel of the U-Net on `count` scenes, and with a codec, of the depth restored after
    AWGN at REPORT_SNRS (CBR 1/48, fixed noise seed)."""
    unet.eval()
    rows = torch.arange(min(count, len(data.images)))
    images, depth = data.batch(rows)
    out = {"abs_rel_unet": float(abs_rel(unet.metres(images), depth).mean())}
    if codec is not None:
        codec.eval()
        for label, (pool, channels) in report_layouts(codec.cfg).items():
            suffix = "" if label == "1/48" else f"_cbr{label}"
            for snr in REPORT_SNRS:
                g = torch.Generator().manual_seed(0)
                restored = depth_over_link(unet, codec, images, torch.full((len(rows),), snr),
                                           channels, g, pool)
                out[f"abs_rel_link_{snr:g}dB{suffix}"] = float(
                    abs_rel(to_metres(restored), depth).mean())
    return out


@torch.no_grad()
def text_errors(decoder: TextDecoder, params: torch.Tensor) -> dict[str, float]:
    """Mean squared parameter error at REPORT_SNRS of the received values put back on the
    sphere (`raw`, no denoising), of the decoder's MLP estimate and of its prior's most likely
    entry."""
    decoder.eval()
    out = {}
    for snr in REPORT_SNRS:
        snr_b = torch.full((len(params),), snr)
        noisy = real_awgn(decoder.centre(params), snr_b, torch.Generator().manual_seed(0))
        out[f"mse_raw_{snr:g}dB"] = float(F.mse_loss(decoder.on_sphere(noisy), params))
        out[f"mse_decoded_{snr:g}dB"] = float(F.mse_loss(decoder(noisy, snr_b), params))
        out[f"mse_prior_{snr:g}dB"] = float(F.mse_loss(decoder.most_likely(noisy), params))
    return out


def condition_error(scvar: SCVAR, restored: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """Mean squared error between SCVAR's depth condition tokens [B, L, C] of the restored
    log-depth features [B, 1, S, S] and of the true depth [B, 1, S, S] (m), over the true
    tokens' variance: the part of the depth map the generator reads."""
    with torch.no_grad():
        target = scvar.depth_tokens(depth.float())
    return F.mse_loss(scvar.depth_tokens(to_metres(restored.float())), target) / target.var()


def run_stage(name: str, stage: LoopConfig, cfg: TarGSCRunConfig, run_dir: Path,
              modules: dict[str, nn.Module], trained: nn.Module,
              loss_of: Callable[[torch.Generator, int], torch.Tensor],
              validate: Callable[[], dict[str, float]], config_path: Path, restart: bool,
              progress: bool) -> float:
    """Train `trained` (part of `modules`, all saved in the stage's last.pt) for stage.steps
    steps of loss_of(generator, batch); resumes, logs and validates. Returns the wall time (s)."""
    run = train_stage(name, STAGES, cfg, stage, run_dir, modules, [trained],
                      lambda g: (loss_of(g, stage.batch), {}), validate, config_path, restart,
                      progress, "targsc")
    return run.elapsed


def train(config: str | Path, out: str | Path, steps: int | None = None, data: str | None = None,
          restart: bool = False, progress: bool = True) -> Path:
    """Run (or resume) the three stages; returns the path of the final model.pt. `steps`
    overrides every stage's step count."""
    from gscsim.nn.text_encoder import embed
    from gscsim.scvar.zoo import load_scvar

    path, cfg = staged_config(config, CONFIG_DIR, TarGSCRunConfig, STAGES, steps, data, "targsc")
    tc, mc = cfg.train, cfg.model
    run_dir = Path(out)
    run_dir.mkdir(parents=True, exist_ok=True)
    scvar, text2para, _, _ = load_scvar(tc.scvar)
    scvar.eval().requires_grad_(False)
    if scvar.scfg.image_size != mc.image_size or scvar.scfg.text_params != mc.text_params:
        raise ValueError(f"{path}: model.image_size / text_params must match the SCVAR "
                         f"{tc.scvar} ({scvar.scfg.image_size}, {scvar.scfg.text_params})")
    train_set = SceneSplit("train", tc.count, mc.image_size, progress)
    val_set = SceneSplit("val", tc.val_count, mc.image_size, progress)
    torch.manual_seed(tc.unet.seed)
    unet, codec = DepthUNet(mc.unet_widths), DepthCodec(mc)
    decoder = TextDecoder(mc.text_params, mc.text_hidden)
    wall = {}

    def unet_loss(g: torch.Generator, batch: int) -> torch.Tensor:
        images, depth = train_set.batch(torch.randint(len(train_set.images), (batch,),
                                                      generator=g))
        return F.l1_loss(unet(images).float(), depth_features(depth))

    wall["unet"] = run_stage("unet", tc.unet, cfg, run_dir, {"unet": unet}, unet, unet_loss,
                             lambda: depth_errors(unet, None, val_set, tc.val_count), path,
                             restart, progress)
    unet.eval().requires_grad_(False)

    def codec_loss(g: torch.Generator, batch: int) -> torch.Tensor:
        images, depth = train_set.batch(torch.randint(len(train_set.images), (batch,),
                                                      generator=g))
        pool, channels = draw_layout(mc, tc.codec.pooled_share, g)
        restored = depth_over_link(unet, codec, images, uniform(tc.codec.snr_db, batch, g),
                                   channels, g, pool)
        loss = F.l1_loss(restored.float(), depth_features(depth))
        if tc.codec.condition_weight:
            loss = loss + tc.codec.condition_weight * condition_error(scvar, restored, depth)
        return loss

    wall["codec"] = run_stage("codec", tc.codec, cfg, run_dir, {"unet": unet, "codec": codec},
                              codec, codec_loss,
                              lambda: depth_errors(unet, codec, val_set, tc.val_count), path,
                              restart, progress)
    with torch.no_grad():
        train_params = text2para(embed(train_set.captions[:tc.text.captions]))
        val_params = text2para(embed(val_set.captions))
    decoder.mean.copy_(train_params.mean(0))
    decoder.set_prior(train_params)

    def text_loss(g: torch.Generator, batch: int) -> torch.Tensor:
        clean = train_params[torch.randint(len(train_params), (batch,), generator=g)]
        snr = uniform(tc.text.snr_db, batch, g)
        return F.mse_loss(decoder(real_awgn(decoder.centre(clean), snr, g), snr), clean)

    wall["text"] = run_stage("text", tc.text, cfg, run_dir, {"text_decoder": decoder}, decoder,
                             text_loss, lambda: text_errors(decoder, val_params), path, restart,
                             progress)
    generator = tc.scvar
    if tc.generator is not None:
        wall["generator"] = finetune_generator(tc, cfg, run_dir, unet, codec, path, restart,
                                               progress)
        generator = tc.generator.name
    test = {}
    if tc.test_count:
        test_set = SceneSplit("test", tc.test_count, mc.image_size, progress)
        test = depth_errors(unet, codec, test_set, tc.test_count)
        with torch.no_grad():
            test.update(text_errors(decoder, text2para(embed(test_set.captions))))
    meta = {"command": " ".join(["gscsim train targsc --config", str(config), "--out", str(out)]
                                + ([f"--steps {steps}"] if steps else [])),
            "wall_s": {k: round(v, 1) for k, v in wall.items()},
            "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
            "train": tc.model_dump(mode="json"), "test": test}
    final = run_dir / "model.pt"
    save_torch({"format": TARGSC_FORMAT, "config": mc.model_dump(mode="json"),
                 "scvar": generator, "unet": unet.state_dict(), "codec": codec.state_dict(),
                 "text_decoder": decoder.state_dict(), "text_prior": decoder.prior,
                 "meta": meta}, final)
    write_card(final.with_suffix(".md"), run_dir.name, mc, (unet, codec, decoder), meta)
    return final


def finetune_generator(tc: TarGSCTrainConfig, cfg, run_dir: Path, unet: DepthUNet,
                       codec: DepthCodec, config_path: Path, restart: bool, progress: bool
                       ) -> float:
    """The generator stage: a copy of the frozen SCVAR's generator trained on the token
    cross-entropy of train scenes conditioned on their clean captions and on their depth
    restored by the link (SNR from generator.snr_db per frame, kept channels as the codec
    stage draws them), with SCVAR's own condition dropout. Writes run_dir/NAME.pt (an SCVAR
    bundle, Text2Para unchanged) and returns the stage's wall time (s)."""
    import copy
    import dataclasses

    from gscsim.scvar.data import SceneTokens
    from gscsim.scvar.train import token_loss
    from gscsim.scvar.zoo import checkpoint_path, load_scvar, save_scvar
    from gscsim.zoo import bundle_reference

    stage, mc = tc.generator, cfg.model
    frozen, text2para, vae, sampling = load_scvar(tc.scvar)
    text2para.requires_grad_(False)                       # frozen: no backward through it
    generator = copy.deepcopy(frozen).train().requires_grad_(True)
    train_set = SceneTokens("train", tc.count, vae, run_dir / f"data-train-{tc.count}.pt",
                            progress)
    val_set = SceneTokens("val", tc.val_count, vae, run_dir / f"data-val-{tc.val_count}.pt",
                          progress)
    layout = report_layouts(mc)["1/48"]

    def restored_depth(data: SceneTokens, rows: torch.Tensor, snr: torch.Tensor,
                       pool: int, channels: int, g: torch.Generator) -> torch.Tensor:
        images, _ = data.batch(rows)
        with torch.no_grad():
            return to_metres(depth_over_link(unet, codec, images, snr, channels, g, pool))

    def loss_of(g: torch.Generator, batch: int) -> torch.Tensor:
        rows = torch.randint(len(train_set.images), (batch,), generator=g)
        pool, channels = draw_layout(mc, stage.pooled_share, g)
        depth = restored_depth(train_set, rows, uniform(stage.snr_db, batch, g), pool,
                               channels, g)
        drop_text = torch.rand(batch, generator=g) < generator.scfg.text_drop
        drop_depth = torch.rand(batch, generator=g) < generator.scfg.depth_drop
        return token_loss(generator, text2para, vae, train_set, rows, drop_text, drop_depth,
                          depth)

    @torch.no_grad()
    def validate() -> dict[str, float]:
        """Validation token cross-entropy from the true depth and from the depth the link
        restores at CBR 1/48 and REPORT_SNRS (fixed noise)."""
        generator.eval()
        rows = torch.arange(len(val_set.images))
        out = {"ce_true_depth": float(token_loss(generator, text2para, vae, val_set, rows,
                                                 None, None))}
        for snr in REPORT_SNRS:
            depth = restored_depth(val_set, rows, torch.full((len(rows),), snr), *layout,
                                   torch.Generator().manual_seed(0))
            out[f"ce_link_{snr:g}dB"] = float(token_loss(generator, text2para, vae, val_set,
                                                         rows, None, None, depth))
        generator.train()
        return out

    run = train_stage("generator", STAGES, cfg, stage, run_dir,
                      {"generator": generator}, [generator],
                      lambda g: (loss_of(g, stage.batch), {}), validate, config_path, restart,
                      progress, "targsc")
    generator.eval()
    meta = {"init": tc.scvar, "steps": run.step, "batch": stage.batch,
            "snr_db": list(stage.snr_db), "wall_s": round(run.elapsed, 1),
            "validation": {k: v for r in run.log.rows for k, v in r.items()
                           if k.startswith("val_")}}
    save_scvar(run_dir / f"{stage.name}.pt", generator, text2para,
               bundle_reference(checkpoint_path(tc.scvar, "scvar"), "vqvae"),
               dataclasses.asdict(sampling), meta)
    return run.elapsed


def write_card(path: Path, title: str, mc: CodecConfig, parts: tuple[nn.Module, ...],
               meta: dict) -> None:
    unet, codec, decoder = parts
    t, wall = meta["train"], meta["wall_s"]
    stage = {s: t[s] for s in STAGES if t.get(s) is not None}
    lines = [
        f"# {title}", "",
        f"TarGSC's link for the SCVAR checkpoint `{t['scvar']}` (generator and Text2Para "
        f"frozen while the link's stages train): depth U-Net {list(mc.unet_widths)} "
        f"({parameter_count(unet):,} parameters), "
        f"depth codec ({parameter_count(codec):,}: separable conv encoder "
        f"{list(mc.encoder_widths)}, {mc.swin_depth} Swin blocks each side on the "
        f"{mc.token_side}x{mc.token_side} token map, SNR ModNets, D = {mc.latent_channels} "
        f"channels per token, decoder {list(mc.decoder_widths)}), Text2Para decoder "
        f"{list(mc.text_hidden)} ({parameter_count(decoder):,}).", "",
        f"- command: `{meta['command']}`",
        f"- data: scenes train split 0..{t['count'] - 1} ({mc.image_size}x{mc.image_size}); "
        f"text stage: the first {stage['text']['captions']} train captions through "
        f"all-MiniLM-L6-v2 and the frozen Text2Para; validation on val split "
        f"0..{t['val_count'] - 1}",
        f"- machine: {meta['machine']}"]
    for name, s in stage.items():
        extra = f", SNR {s['snr_db']} dB" if "snr_db" in s else ""
        if s.get("condition_weight"):
            extra += f", condition loss weight {s['condition_weight']}"
        lines.append(f"- stage {name}: {s['steps']} steps x {s['batch']}, AdamW lr {s['lr']} "
                     f"({s['warmup']} warm-up, cosine), seed {s['seed']}, bf16 {s['bf16']}"
                     f"{extra}; {wall[name]:.0f} s here")
    if "generator" in stage:
        lines.append(f"- generator: `{stage['generator']['name']}`, `{t['scvar']}`'s "
                     f"generator fine-tuned on the depth this link restores (Text2Para "
                     f"unchanged); the bundle generates with it")
    test = meta["test"]
    if test:
        layouts = report_layouts(mc)
        lines += ["", f"Test split 0..{t['test_count'] - 1}, AWGN. Depth: CBR 1/48 "
                      f"({layouts['1/48'][1]} channels per token after the 3 text symbols). "
                      "Text: one copy of its 3 symbols at the SNR given (the transceiver sends "
                      "as many copies as the budget leaves room for, and combining R of them "
                      "adds 10 log10 R dB):",
                  "", f"- U-Net depth AbsRel (clean images): {test['abs_rel_unet']:.4f}", "",
                  "| SNR (dB) | depth AbsRel after the link | text MSE received (on the sphere) | "
                  "text MSE, MLP decoder | text MSE, prior decoder |", "|---|---|---|---|---|"]
        for snr in REPORT_SNRS:
            lines.append(f"| {snr:g} | {test[f'abs_rel_link_{snr:g}dB']:.4f} | "
                         f"{test[f'mse_raw_{snr:g}dB']:.3f} | "
                         f"{test[f'mse_decoded_{snr:g}dB']:.3f} | "
                         f"{test[f'mse_prior_{snr:g}dB']:.3f} |")
        if "0.001" in layouts:
            pool, c = layouts["0.001"]
            side = mc.token_side // pool
            lines += ["", f"Depth at CBR 0.001 ({c} channel(s) of the {side}x{side} pooled "
                          f"token map beside the 3 text symbols), AbsRel after the link: "
                      + ", ".join(f"{test[f'abs_rel_link_{snr:g}dB_cbr0.001']:.4f} at {snr:g} dB"
                                  for snr in REPORT_SNRS) + "."]
    write_text(path, "\n".join(lines + [""]))
