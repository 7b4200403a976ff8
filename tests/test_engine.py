import math

import pytest
import torch

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
