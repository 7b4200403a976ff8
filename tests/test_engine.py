import math

import pytest
import torch

from gscsim.io import read_csv
from gscsim.plugins import Transceiver
from gscsim.run.link import BudgetExceeded, TrialError, build_plugins
from gscsim.run.scenario import expand, validate
from gscsim.run.trial import run_trial


class Greedy(Transceiver):
    """Sends one symbol more than the budget allows."""

    def encode(self, batch, ctx):
        return {"image": torch.ones(len(batch), ctx.total_budget + 1, dtype=torch.complex64)}


class Loud(Transceiver):
    """Sends at power 9 and records what the channel delivered."""

    def encode(self, batch, ctx):
        return {"image": 3 * torch.ones(len(batch), 100, dtype=torch.complex64)}

    def decode(self, received, ctx):
        self.seen = received["image"].symbols
        return torch.full((received["image"].symbols.shape[0], *ctx.image_shape), 0.5)


class NaNDecoder(Loud):
    def decode(self, received, ctx):
        return torch.full((received["image"].symbols.shape[0], *ctx.image_shape), math.nan)


def _plugins(tiny_scenario, transceiver):
    scenario = validate(tiny_scenario)
    trial = expand(scenario)[0]
    plugins = build_plugins(scenario, trial)
    plugins.transceiver = transceiver
    return scenario, trial, plugins


def test_budget_is_enforced(tiny_scenario):
    scenario, trial, plugins = _plugins(tiny_scenario, Greedy())
    with pytest.raises(BudgetExceeded, match="allows 1024"):
        run_trial(scenario, trial, plugins=plugins)


def test_streams_are_normalised_to_unit_power_and_power_is_logged(tiny_scenario):
    tiny_scenario["sweep"]["snr_db"] = [300]                    # effectively noiseless
    tx = Loud()
    scenario, trial, plugins = _plugins(tiny_scenario, tx)
    result = run_trial(scenario, trial, plugins=plugins)
    assert torch.allclose(tx.seen, torch.ones_like(tx.seen), atol=1e-5)
    assert all(abs(f["tx_power"] - 9.0) < 1e-5 for f in result.frames)
    assert all(f["achieved_cbr"] == 100 / (3 * 64 * 64) for f in result.frames)


def test_nan_from_a_decoder_is_a_clear_error(tiny_scenario):
    scenario, trial, plugins = _plugins(tiny_scenario, NaNDecoder())
    with pytest.raises(TrialError, match="decoded NaN"):
        run_trial(scenario, trial, plugins=plugins)


def test_trial_is_reproducible_and_seed_dependent(tiny_scenario):
    scenario = validate(tiny_scenario)
    trial = expand(scenario)[0]
    a, b = run_trial(scenario, trial), run_trial(scenario, trial)
    assert [f["psnr"] for f in a.frames] == [f["psnr"] for f in b.frames]
    tiny_scenario["seed"] = 8
    other = validate(tiny_scenario)
    c = run_trial(other, expand(other)[0])
    assert [f["psnr"] for f in a.frames] != [f["psnr"] for f in c.frames]


def test_frames_carry_metrics_and_timings(tiny_scenario):
    scenario = validate(tiny_scenario)
    result = run_trial(scenario, expand(scenario)[0])
    assert len(result.frames) == 3
    for frame in result.frames:
        assert {"frame", "psnr", "ssim", "achieved_cbr", "symbols", "encode_s", "channel_s",
                "decode_s", "metrics_s", "tx_power"} <= set(frame)
        assert frame["achieved_cbr"] <= 1 / 12


def test_an_snr_sweep_encodes_each_batch_once_where_the_encoder_allows(tmp_path, tiny_scenario,
                                                                         monkeypatch):
    from gscsim.baselines.softcast import SoftCast
    from gscsim.run import link
    from gscsim.run.runner import run_loaded
    from gscsim.run.scenario import validate

    tiny_scenario |= {"channels": [{"name": "awgn"}],
                      "sweep": {"snr_db": [0, 5, 10], "cbr": ["1/6"]}}
    calls = []
    real = SoftCast.encode

    def counted(self, batch, ctx):
        calls.append((tuple(batch.ids), ctx.snr_db))
        return real(self, batch, ctx)

    monkeypatch.setattr(SoftCast, "encode", counted)
    link.ENCODINGS.entries.clear()
    shared = run_loaded(validate(tiny_scenario), tmp_path / "shared", progress=False,
                        plots=False)
    assert len(calls) == 2                          # 2 batches, once each, not once per SNR
    assert all(snr != snr for _, snr in calls)      # encode saw no SNR (NaN)
    monkeypatch.setattr(SoftCast, "encoding_is_snr_free", lambda self: False)
    calls.clear()
    alone = run_loaded(validate(tiny_scenario), tmp_path / "alone", progress=False,
                       plots=False)
    assert len(calls) == 6
    strip = {"encode_s", "channel_s", "decode_s", "metrics_s"}
    rows = [{k: v for k, v in r.items() if k not in strip}
            for r in read_csv(shared / "frames.csv")]
    assert rows == [{k: v for k, v in r.items() if k not in strip}
                    for r in read_csv(alone / "frames.csv")]           # the same numbers


def test_an_snr_free_encoder_that_reads_the_snr_fails_loudly(tmp_path, tiny_scenario,
                                                            monkeypatch):
    from gscsim.baselines.softcast import SoftCast
    from gscsim.run import link
    from gscsim.run.runner import TrialsFailed, run_loaded
    from gscsim.run.scenario import validate

    real = SoftCast.encode

    def peeks(self, batch, ctx):
        torch.randn(1, generator=ctx.generator)     # a random draw it promised not to make
        return real(self, batch, ctx)

    monkeypatch.setattr(SoftCast, "encode", peeks)
    link.ENCODINGS.entries.clear()
    tiny_scenario |= {"channels": [{"name": "awgn"}], "sweep": {"snr_db": [0], "cbr": ["1/6"]}}
    with pytest.raises(TrialsFailed, match="says its encoding is SNR-free .* random draws"):
        run_loaded(validate(tiny_scenario), tmp_path / "o", progress=False, plots=False)
