"""TDL/CDL through an OFDM grid: budget accounting, equaliser output, reproducibility."""
import pytest
import torch

from gscsim.channels.ofdm import CDLOFDM, TDLOFDM

pytest.importorskip("sionna.phy.ofdm")


def _qpsk(b, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (b, n, 2), generator=g).float()
    return torch.complex(1 - 2 * bits[..., 0], 1 - 2 * bits[..., 1]) / 2 ** 0.5


def test_pilots_and_filler_count_as_channel_uses():
    channel = TDLOFDM()
    assert channel.data_per_slot == 12 * 72
    assert channel.overhead_symbols(864) == 2 * 72
    assert channel.overhead_symbols(865) == 2 * 14 * 72 - 865


@pytest.mark.parametrize("cls", [TDLOFDM, CDLOFDM])
def test_equalised_symbols_and_reported_noise_are_consistent(cls):
    channel = cls()
    x = _qpsk(8, 3000)
    high = channel.transmit(x, 30.0, torch.Generator().manual_seed(1))
    assert high.symbols.shape == x.shape
    assert (high.symbols - x).abs().square().mean() < 0.02
    low = channel.transmit(x, 5.0, torch.Generator().manual_seed(1))
    ratio = (low.symbols - x).abs().square().mean() / low.noise_var.mean()
    assert 0.5 < ratio.item() < 2.0            # the LMMSE noise estimate is about right
    wrong = ((low.symbols.real > 0) != (x.real > 0)).float().mean()
    assert 0.001 < wrong < 0.2                 # QPSK at 5 dB over fading: errors, not chaos


def test_same_generator_same_channel():
    channel = TDLOFDM(TDLOFDM.Options(model="C", speed_mps=30.0))
    x = _qpsk(2, 1000)
    a = channel.transmit(x, 10.0, torch.Generator().manual_seed(5)).symbols
    b = channel.transmit(x, 10.0, torch.Generator().manual_seed(5)).symbols
    c = channel.transmit(x, 10.0, torch.Generator().manual_seed(6)).symbols
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_any_transceiver_runs_over_tdl_in_a_scenario(tmp_path, tiny_scenario):
    from gscsim.io import read_csv
    from gscsim.run.runner import run_loaded
    from gscsim.run.scenario import validate

    tiny_scenario["channels"] = [{"name": "tdl", "options": {"model": "B"}}]
    tiny_scenario["sweep"] = {"snr_db": [0, 20], "cbr": ["1/6"]}
    root = run_loaded(validate(tiny_scenario), tmp_path / "out", progress=False, plots=False)
    rows = {r["snr_db"]: r for r in read_csv(root / "summary.csv")}
    assert rows[20.0]["psnr"] > rows[0.0]["psnr"] + 3
    assert rows[20.0]["achieved_cbr"] <= 1 / 6               # pilots and filler included
