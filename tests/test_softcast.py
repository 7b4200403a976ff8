import numpy as np
import pytest
import torch

from gscsim.baselines.softcast import SoftCast
from gscsim.channels.awgn import AWGN
from gscsim.conventions import average_power, symbol_budget
from gscsim.data.datasets import SamplePhotos
from gscsim.metrics.pixel import PSNR
from gscsim.plugins import Batch, LinkContext


def _ctx(cbr, snr, shape=(3, 64, 64), batch_size=9):
    return LinkContext(total_budget=symbol_budget(cbr, shape), image_shape=shape, cbr=cbr,
                       snr_db=snr, stream_snr_db={}, overhead=lambda n: 0,
                       generator=torch.Generator().manual_seed(0), batch_size=batch_size)


@pytest.fixture(scope="module")
def photos():
    ds = SamplePhotos(SamplePhotos.Options(size=64))
    return torch.stack([ds[i].image for i in range(len(ds))])


def _psnr(photos, cbr, snr, seed=0, **options):
    sc = SoftCast(SoftCast.Options(**options))
    ctx = _ctx(cbr, snr)
    streams = sc.encode(Batch(photos, [], []), ctx)
    g = torch.Generator().manual_seed(seed)
    received = {k: AWGN().transmit(v, snr, g) for k, v in streams.items()}
    return PSNR()(photos, sc.decode(received, ctx)).mean().item(), streams, ctx


def test_transforms_are_lossless_without_noise(photos):
    sc = SoftCast(SoftCast.Options(chunks_per_side=4))
    ctx = _ctx(1.0, 100.0)
    back = sc._from_chunks(sc._to_chunks(photos, ctx), ctx)
    assert torch.allclose(back, photos, atol=1e-5)


@pytest.mark.parametrize("cbr", [1 / 48, 1 / 12])
def test_uses_budget_and_sends_every_frame_at_unit_power(photos, cbr):
    _, streams, ctx = _psnr(photos, cbr, 10.0, chunks_per_side=4)
    used = sum(s.shape[1] for s in streams.values())
    assert used <= ctx.total_budget and used > 0.8 * ctx.total_budget
    # every frame, not just the batch mean: the engine normalises each frame to unit power
    # and the decoder is not told; 6 power bits over [-1/4, 1/4] in log2 leave at most
    # 2^(0.25/63) - 1 = 0.28% in amplitude, so 0.55% in power
    power = average_power(streams["image"])
    assert (power - 1).abs().max().item() < 6e-3, power


def test_quality_rises_with_snr_and_cbr(photos):
    by_snr = [_psnr(photos, 1 / 12, s, chunks_per_side=4)[0] for s in (0, 10, 20, 30)]
    assert all(a < b for a, b in zip(by_snr, by_snr[1:])), by_snr
    by_cbr = [_psnr(photos, c, 20, chunks_per_side=4)[0] for c in (1 / 48, 1 / 12, 1 / 3)]
    assert all(a < b for a, b in zip(by_cbr, by_cbr[1:])), by_cbr


def test_side_information_is_exact_at_high_snr(photos):
    sc = SoftCast(SoftCast.Options(chunks_per_side=4))
    ctx = _ctx(1 / 12, 40.0)
    k = sc.chunks_that_fit(ctx)
    rng = np.random.default_rng(0)
    codes, power = rng.integers(0, 2 ** 6, size=(5, k)), rng.integers(0, 2 ** 6, size=5)
    meta = sc._meta_encode(codes, power)
    assert meta.shape[1] == sc._meta_symbols(k)
    rx = AWGN().transmit(meta, 40.0, torch.Generator().manual_seed(1))
    got_codes, got_power = sc._meta_decode(rx, k)
    assert (got_codes == codes).all() and (got_power == power).all()


def test_odd_image_size_is_a_clear_error():
    sc = SoftCast(SoftCast.Options(chunks_per_side=8))
    with pytest.raises(ValueError, match="must be divisible by chunks_per_side=8"):
        sc.chunks_that_fit(_ctx(1 / 12, 0.0, shape=(3, 60, 60)))


def test_budget_too_small_for_a_chunk_is_refused_with_the_smallest_cbr(photos):
    from gscsim.plugins import PointRefused

    sc = SoftCast(SoftCast.Options(chunks_per_side=2))
    with pytest.raises(PointRefused, match="smallest CBR it serves is 0.049479"):
        sc.encode(Batch(photos[:1], [], []), _ctx(1 / 1000, 10.0, batch_size=1))
