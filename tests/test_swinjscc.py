"""SwinJSCC: official checkpoint layout, Swin attention against a direct computation, the CBR
mapping, the transceiver against the model's own channel path, training and resume."""
import json

import numpy as np
import pytest
import torch
import yaml
from conftest import SHARED, interrupt_on_call

from gscsim.baselines.swinjscc.model import ModelConfig, SwinJSCC, cbr_of, channels_for
from gscsim.baselines.swinjscc.train import SwinJSCCConfig, config_path, train
from gscsim.baselines.swinjscc.transceiver import SwinJSCCLink, load_model, size_multiple
from gscsim.io import load_yaml
from gscsim.nn.swin import SwinBlock, WindowAttention, shifted_window_mask, window_partition
from gscsim.plugins import Batch, LinkContext, Received
from gscsim.training.data import ImageSource

OFFICIAL = SHARED / "data" / "official_keys"
TINY = {"img_size": [64, 64], "embed_dims": [16, 16, 24, 32], "depths": [2, 2, 2, 2],
        "num_heads": [1, 1, 2, 2], "window": 4, "rates": [8, 16, 32]}


@pytest.mark.parametrize("size", ["small", "base"])
def test_official_layout_key_for_key(size):
    """The shipped small/base configs build exactly the official state_dict (names, order,
    shapes, int64 index buffers), so the official file loads with strict=True."""
    layout = json.loads((OFFICIAL / f"swinjscc_w_SAandRA_div2k_{size}.json").read_text())
    cfg = load_yaml(config_path(size), SwinJSCCConfig).model
    state = SwinJSCC(cfg).state_dict()
    assert list(state) == list(layout["tensors"])
    assert {k: list(v.shape) for k, v in state.items()} == layout["tensors"]
    assert {k for k, v in state.items() if v.dtype == torch.int64} == set(
        layout["non_float32_dtypes"])
    params = sum(v.numel() for k, v in state.items() if k not in layout["buffer_keys"])
    assert params == layout["num_params"]


def test_official_state_dict_loads_by_config(tmp_path):
    cfg = load_yaml(config_path("small"), SwinJSCCConfig).model
    reference = SwinJSCC(cfg)
    torch.save(reference.state_dict(), tmp_path / "official.model")
    with pytest.raises(ValueError, match="config: base"):
        load_model(str(tmp_path / "official.model"))
    loaded = load_model(str(tmp_path / "official.model"), "small")
    for key, value in reference.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    with pytest.raises(ValueError, match="does not fit"):
        load_model(str(tmp_path / "official.model"), "base")
    link = SwinJSCCLink(SwinJSCCLink.Options(checkpoint=str(tmp_path / "official.model"),
                                             config="small"))
    assert link.weights() == [tmp_path / "official.model"]    # what a resumed sweep checks


def test_window_attention_matches_direct_softmax():
    torch.manual_seed(0)
    attn = WindowAttention(dim=8, window=4, num_heads=2)
    x = torch.randn(2 * 4, 16, 8)                     # 2 images x 4 windows of a 8x8 map
    mask = shifted_window_mask(8, 8, 4, 2)
    q, k, v = attn.qkv(x).view(8, 16, 3, 2, 4).permute(2, 0, 3, 1, 4)
    bias = attn.relative_position_bias_table[attn.relative_position_index.view(-1)]
    logits = q @ k.transpose(-1, -2) / 2.0 + bias.view(16, 16, 2).permute(2, 0, 1)
    logits = logits + mask.repeat(2, 1, 1).unsqueeze(1)
    direct = attn.proj((logits.softmax(-1) @ v).transpose(1, 2).reshape(8, 16, 8))
    assert torch.allclose(attn(x, mask), direct, atol=1e-5)


def test_shift_mask_separates_wrapped_regions():
    mask = shifted_window_mask(8, 8, 4, 2)
    assert mask.shape == (4, 16, 16)
    assert (mask[0] == 0).all()                    # the top-left window holds one region only
    ids = window_partition(torch.arange(64.).view(1, 8, 8, 1), 4)[3, :, 0]
    # last window: rows/cols 4..7; tokens at row 5 and row 6 come from different regions
    assert mask[3, int((ids == 5 * 8 + 5).nonzero()), int((ids == 6 * 8 + 5).nonzero())] == -100


def test_block_runs_at_other_resolutions_and_rejects_odd_maps():
    block = SwinBlock(8, (8, 8), 2, 4, shift=True)
    assert block(torch.randn(1, 16 * 8, 8), 16, 8).shape == (1, 128, 8)
    with pytest.raises(ValueError, match="does not split"):
        block(torch.randn(1, 6 * 8, 8), 6, 8)


def test_cbr_maps_to_channels_as_the_paper_defines():
    assert channels_for(1 / 48) == 32 and cbr_of(32) == pytest.approx(0.0208, abs=1e-4)
    assert [channels_for(cbr_of(c)) for c in (32, 64, 96, 128, 192)] == [32, 64, 96, 128, 192]


def _tiny_checkpoint(tmp_path, seed=0):
    torch.manual_seed(seed)
    model = SwinJSCC(ModelConfig(**TINY))
    path = tmp_path / "tiny.pt"
    torch.save({"format": "gscsim-swinjscc-1", "config": model.config.model_dump(mode="json"),
                "state_dict": model.state_dict(), "meta": {}}, path)
    return model.eval(), path


def _ctx(cbr, snr_db, shape=(3, 64, 64)):
    budget = int(cbr * 3 * shape[1] * shape[2])
    return LinkContext(total_budget=budget, image_shape=shape, cbr=cbr, snr_db=snr_db,
                       stream_snr_db={}, overhead=lambda n: 0,
                       generator=torch.Generator().manual_seed(0))


def test_transceiver_fills_the_budget_and_matches_the_model(tmp_path):
    """The link path (gather kept channels, pack to complex, unit power, genie scale) decodes
    to what the model itself decodes from the same noiseless latent."""
    model, path = _tiny_checkpoint(tmp_path)
    link = SwinJSCCLink(SwinJSCCLink.Options(checkpoint=str(path)))
    images = torch.rand(2, 3, 64, 64)
    ctx = _ctx(1 / 48, 7.0)
    streams = link.encode(Batch(images, ["", ""], ["a", "b"]), ctx)
    x = streams["latent"]
    assert x.shape == (2, ctx.total_budget)                 # 32 channels x 16 positions / 2
    assert torch.allclose(x.abs().pow(2).mean(1), torch.ones(2), atol=1e-5)
    ones = torch.ones(x.shape)
    decoded = link.decode({"latent": Received(x, ones, ones * 10 ** -0.7)}, ctx)
    with torch.no_grad():
        latent, _, size = model.encoder(images, torch.full((2,), 7.0), 32)
        direct = model.decoder(latent, torch.full((2,), 7.0), size).clamp(0, 1)
    assert torch.allclose(decoded, direct, atol=1e-5)


def test_transceiver_rejects_sizes_the_windows_cannot_tile(tmp_path):
    _, path = _tiny_checkpoint(tmp_path)
    link = SwinJSCCLink(SwinJSCCLink.Options(checkpoint=str(path)))
    assert size_multiple(link.model) == 64
    with pytest.raises(ValueError, match="multiples of 64"):
        link.encode(Batch(torch.rand(1, 3, 96, 96), [""], ["a"]), _ctx(1 / 48, 5, (3, 96, 96)))
    with pytest.raises(FileNotFoundError, match="gscsim train swinjscc"):
        _ = SwinJSCCLink(SwinJSCCLink.Options(checkpoint="no-such-model")).model


def _train_config(tmp_path, steps):
    cfg = {"model": TINY, "train": {
        "data": {"kind": "scenes", "crop": 64, "count": 48, "val_count": 4},
        "steps": steps, "batch": 4, "lr": 2e-3, "warmup": 5, "snr_db": [5, 15],
        "log_every": 1, "eval_every": 10, "checkpoint_every": 10}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_folder_validation_crops_follow_val_crop(tmp_path):
    """Held-out files give centre crops val_crop on a side (default 2 x crop), rounded down to
    a multiple of crop and to what the smallest held-out file allows."""
    from PIL import Image

    from gscsim.training.data import DataConfig

    rng = np.random.default_rng(0)
    for name, (h, w) in {"a": (70, 90), "b": (100, 140), "c": (200, 150)}.items():
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{name}.png")

    def side(**fields):
        cfg = DataConfig(kind="folder", path=str(tmp_path), crop=32, holdout=1, **fields)
        return ImageSource(cfg).validation().shape[-1]

    assert side() == 64                        # the last file (c, 150 px) held out: 2 x crop
    assert side(val_crop=128) == 128
    assert side(val_crop=100) == 96            # rounded down to a multiple of crop
    assert side(val_crop=256) == 128           # the held-out file is 150 px on its short side
    assert side(val_crop=16) == 32


def test_training_lowers_the_loss_and_resumes_exactly(tmp_path, monkeypatch):
    config = _train_config(tmp_path, 30)
    train(config, tmp_path / "full", progress=False)
    rows = [r for r in torch.load(tmp_path / "full" / "last.pt", weights_only=False)["log"]
            if "loss" in r]
    first = sum(r["loss"] for r in rows[:5]) / 5
    last = sum(r["loss"] for r in rows[-5:]) / 5
    assert last < 0.7 * first
    assert (tmp_path / "full" / "loss.png").stat().st_size > 0
    assert "validation PSNR" in (tmp_path / "full" / "model.md").read_text()
    # interrupt at step 15 (last checkpoint: step 10), rerun: same weights as without the stop
    with monkeypatch.context() as patch:
        patch.setattr(ImageSource, "batch", interrupt_on_call(ImageSource.batch, 16))
        with pytest.raises(KeyboardInterrupt):
            train(config, tmp_path / "parts", progress=False)
    assert torch.load(tmp_path / "parts" / "last.pt", weights_only=False)["step"] == 10
    train(config, tmp_path / "parts", progress=False)
    a = torch.load(tmp_path / "full" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "parts" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)


def test_zoo_models_adapt_to_snr_and_cbr(tmp_path):
    """One shipped model, run through the engine: PSNR rises with SNR at every CBR and with CBR
    at every SNR, and the link uses exactly the CBR's budget."""
    from gscsim.io import read_csv
    from gscsim.run.runner import run_loaded
    from gscsim.run.scenario import validate

    scenario = validate({
        "name": "swin", "seed": 3,
        "dataset": {"name": "scenes", "options": {"count": 8, "split": "test"}},
        "transceivers": [{"name": "swinjscc", "options": {"checkpoint": "swinjscc-tiny-scenes64"}}],
        "channels": [{"name": "awgn"}],
        "sweep": {"snr_db": [1, 7, 13], "cbr": ["1/96", "1/48", "1/16"]},
        "metrics": ["psnr"], "batch_size": 8})
    rows = read_csv(run_loaded(scenario, tmp_path / "out", progress=False) / "summary.csv")
    psnr = {(r["snr_db"], round(r["cbr"], 5)): r["psnr"] for r in rows}
    snrs, cbrs = [1.0, 7.0, 13.0], [round(1 / 96, 5), round(1 / 48, 5), round(1 / 16, 5)]
    for cbr in cbrs:
        assert psnr[(1.0, cbr)] < psnr[(7.0, cbr)] < psnr[(13.0, cbr)]
    for snr in snrs:
        assert psnr[(snr, cbrs[0])] < psnr[(snr, cbrs[1])] < psnr[(snr, cbrs[2])]
    assert all(r["achieved_cbr"] == pytest.approx(r["cbr"]) for r in rows)


def test_transceiver_sends_only_rates_it_was_trained_for(tmp_path):
    """Between two trained rates the lower is sent; below the smallest the point is refused,
    naming the smallest CBR served (it used to send 1 channel, untrained, with no word)."""
    from gscsim.plugins import PointRefused

    model, path = _tiny_checkpoint(tmp_path)
    link = SwinJSCCLink(SwinJSCCLink.Options(checkpoint=str(path)))
    rates = sorted(model.config.rates)
    images = torch.rand(2, 3, 64, 64)
    for cbr in (1 / 48, 1 / 40, 1 / 60):
        ctx = _ctx(cbr, 7.0)
        sent = link.encode(Batch(images, ["", ""], ["a", "b"]), ctx)["latent"].shape[1]
        assert sent * 2 // 16 in rates                     # channels x 16 positions / 2
    smallest = rates[0] * 16 / 2 / (3 * 64 * 64)
    with pytest.raises(PointRefused, match=f"smallest CBR it serves is {smallest:.6f}"):
        link.encode(Batch(images, ["", ""], ["a", "b"]), _ctx(smallest * 0.9, 7.0))
