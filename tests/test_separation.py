import math

import numpy as np
import pytest
import torch

from gscsim.baselines.bounds import capacity_bits, normal_approximation_bits
from gscsim.baselines.codecs import CODECS, heif_container_bytes
from gscsim.baselines.separation import adaptive_mcs, mcs_thresholds
from gscsim.io import read_csv
from gscsim.run.runner import run_loaded
from gscsim.run.scenario import validate


@pytest.fixture(scope="module")
def photo():
    from gscsim.data.datasets import SamplePhotos

    image = SamplePhotos(SamplePhotos.Options(size=64))[2].image
    return np.round(image.permute(1, 2, 0).numpy() * 255).astype(np.uint8)


@pytest.mark.parametrize("name", sorted(CODECS))
def test_codecs_fit_the_byte_budget_and_quality_rises_with_it(name, photo):
    codec = CODECS[name]
    small, large = codec.fit(photo, 900), codec.fit(photo, 3000)
    assert large is not None and len(large[0]) <= 3000
    decoded = codec.decode(large[0])
    assert decoded.shape == photo.shape
    if small is not None:
        assert len(small[0]) <= 900
        mse = [np.mean((codec.decode(f).astype(float) - photo) ** 2) for f, _ in (small, large)]
        assert mse[1] < mse[0]
    assert codec.fit(photo, 10) is None


def test_heif_container_is_counted_and_measured(photo):
    data, _ = CODECS["bpg"].fit(photo, 3000)
    overhead = heif_container_bytes(data)
    assert 200 < overhead < 600 and overhead < len(data)


def test_bounds_formulas():
    assert capacity_bits(1000, 0.0) == pytest.approx(1000.0)
    assert capacity_bits(10, 10 * math.log10(3)) == pytest.approx(20.0)
    # the normal approximation lies below capacity and approaches it as the blocklength grows
    gaps = [1 - normal_approximation_bits(k, 5.0, 1e-3) / capacity_bits(k, 5.0)
            for k in (100, 1000, 10_000)]
    assert all(0 < a and a > b for a, b in zip(gaps, gaps[1:]))
    # PPV 2010, fig. 1 style sanity: at 0 dB, n = 1000 complex uses, eps = 1e-3, rate ~ 0.9 C
    assert 0.85 < normal_approximation_bits(1000, 0.0, 1e-3) / 1000 < 0.95


def test_adaptive_mcs_thresholds_are_measured_and_ordered():
    thresholds = mcs_thresholds()
    assert len(thresholds) == 15
    for mcs, snr in thresholds.items():        # each threshold lies above the Shannon limit
        assert snr > 10 * math.log10(2 ** mcs.spectral_efficiency - 1)
    assert adaptive_mcs(-20.0, 0.5) is None
    low, high = adaptive_mcs(2.0, 0.5), adaptive_mcs(20.0, 0.5)
    assert low.spectral_efficiency < high.spectral_efficiency


def _scenario(transceivers, snrs, cbr="1/48"):
    return {"name": "sep", "seed": 3, "dataset": {"name": "samples",
                                                  "options": {"size": 64, "limit": 2}},
            "transceivers": transceivers, "channels": [{"name": "awgn"}],
            "sweep": {"snr_db": snrs, "cbr": [cbr]}, "metrics": ["psnr"], "batch_size": 2}


def test_separation_shows_the_cliff_and_stays_below_its_bound(tmp_path):
    raw = _scenario([{"name": "separation", "label": "jpeg+ldpc",
                      "options": {"codec": "jpeg", "mcs": {"modulation": "qpsk",
                                                           "code_rate": 0.5}}},
                     {"name": "bound_capacity", "label": "bound", "options": {"codec": "jpeg"}}],
                    [-3.0, 8.0], cbr="1/2")          # 64x64 JPEG needs ~400 bytes
    root = run_loaded(validate(raw), tmp_path / "out", progress=False, plots=False)
    rows = {(r["transceiver"], r["snr_db"]): r for r in read_csv(root / "summary.csv")}
    assert rows[("jpeg+ldpc", -3.0)]["frame_error_rate"] == 1.0      # below the cliff: lost
    assert rows[("jpeg+ldpc", 8.0)]["frame_error_rate"] == 0.0       # above it: delivered
    grey = rows[("jpeg+ldpc", -3.0)]["psnr"]
    assert rows[("jpeg+ldpc", 8.0)]["psnr"] > grey + 5
    assert rows[("bound", 8.0)]["psnr"] >= rows[("jpeg+ldpc", 8.0)]["psnr"]
    assert all(r["achieved_cbr"] <= 1 / 2 for r in rows.values())


def test_concealment_last_good_frame():
    from gscsim.baselines.separation import Separation
    from gscsim.plugins import LinkContext

    tx = Separation(Separation.Options(codec="jpeg", concealment="last"))
    ctx = LinkContext(total_budget=100, image_shape=(3, 8, 8), cbr=0.5, snr_db=-30.0,
                      stream_snr_db={}, overhead=lambda n: 0, generator=torch.Generator())
    tx._last_good = torch.rand(3, 8, 8)
    out = tx.decode({}, ctx)
    assert not out.frame_ok.any() and torch.equal(out.images[0], tx._last_good)


def test_a_link_too_small_for_the_header_sends_nothing_and_conceals():
    """CBR 0.006 at 64x64 and 1 dB: the adaptive MCS (QPSK, rate 0.3) fits an LDPC block of
    20 payload bits, fewer than the 32-bit length header; the frame is concealed (nothing
    sent) instead of failing the trial."""
    from gscsim.baselines.separation import HEADER_BITS, Separation, _cached_link
    from gscsim.plugins import Batch, LinkContext

    tx = Separation(Separation.Options(codec="bpg"))
    ctx = LinkContext.for_budget(0.006, (3, 64, 64), snr_db=1.0)
    mcs = adaptive_mcs(1.0, tx.options.margin_db)
    tiny = _cached_link(mcs, ctx.single_stream_capacity(), tx.options.decoder,
                        tx.options.iterations)
    assert tiny is not None and tiny.payload_bits < HEADER_BITS
    assert tx.link(ctx) is None
    sent = tx.encode(Batch(images=torch.rand(2, 3, 64, 64), captions=["", ""], ids=["a", "b"]),
                     ctx)
    assert sent == {}
    out = tx.decode({}, ctx)
    assert not out.frame_ok.any() and torch.all(out.images == 0.5)
