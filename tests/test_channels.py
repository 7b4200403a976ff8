"""Channels against theory (closed-form uncoded BER) and against Sionna's own blocks.

Tolerance: a Monte Carlo BER estimate must lie within 4 standard errors of the closed form
(two-sided, ~99.99% for a correct channel); for block fading the standard error is taken from the
spread of per-frame BERs, since bits of one frame share a coefficient. Sionna agreement is a
two-sample Kolmogorov-Smirnov test at significance 1e-3 on 20k draws.
"""
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from scipy.special import erfc

from gscsim.channels.awgn import AWGN
from gscsim.channels.fading import RayleighBlock, RayleighFast, Rician
from gscsim.conventions import noise_variance

sionna_mapping = pytest.importorskip("sionna.phy.mapping")

# (constellation type, bits per symbol) for BPSK, QPSK, 16-QAM
MODULATIONS = {"bpsk": ("pam", 1), "qpsk": ("qam", 2), "16qam": ("qam", 4)}


def q(x):
    return 0.5 * erfc(np.asarray(x) / math.sqrt(2.0))


def awgn_ber(mod: str, snr_db: float) -> float:
    """Closed-form bit error rate with Gray mapping at Es/N0 = snr_db, unit symbol energy."""
    g = 10 ** (snr_db / 10)
    if mod == "bpsk":
        return float(q(math.sqrt(2 * g)))
    if mod == "qpsk":
        return float(q(math.sqrt(g)))
    d = math.sqrt(g / 5)                              # 16-QAM: 4-PAM per axis, spacing 2/sqrt(10)
    return float((3 * q(d) + 2 * q(3 * d) - q(5 * d)) / 4)


def rayleigh_q(rho: float) -> float:
    """E[Q(sqrt(2 rho |h|^2))] for |h|^2 ~ Exp(1)."""
    return 0.5 * (1 - math.sqrt(rho / (1 + rho)))


def rayleigh_ber(mod: str, snr_db: float) -> float:
    g = 10 ** (snr_db / 10)
    if mod == "bpsk":
        return rayleigh_q(g)
    if mod == "qpsk":
        return rayleigh_q(g / 2)
    return (3 * rayleigh_q(g / 10) + 2 * rayleigh_q(9 * g / 10) - rayleigh_q(25 * g / 10)) / 4


def simulate(channel, mod: str, snr_db: float, frames: int, symbols: int, seed: int = 1):
    """Hard-decision bit errors per frame -> (BER, standard error from per-frame spread)."""
    kind, k = MODULATIONS[mod]
    mapper = sionna_mapping.Mapper(kind, k)
    # max-log hard decisions are nearest-point decisions, which the closed forms assume
    demapper = sionna_mapping.Demapper("maxlog", kind, k, hard_out=True)
    g = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (frames, symbols * k), generator=g).float()
    rx = channel.transmit(mapper(bits), snr_db, g)
    decided = demapper(rx.symbols / rx.gain, rx.noise_var / rx.gain.square())
    per_frame = (decided != bits).float().mean(dim=1).double()
    return per_frame.mean().item(), per_frame.std().item() / math.sqrt(frames)


@pytest.mark.parametrize("mod", sorted(MODULATIONS))
@pytest.mark.parametrize("snr_db", [0.0, 6.0, 10.0])
def test_awgn_ber_matches_closed_form(mod, snr_db):
    ber, se = simulate(AWGN(), mod, snr_db, frames=200, symbols=2000)
    expected = awgn_ber(mod, snr_db)
    binomial_se = math.sqrt(expected * (1 - expected) / (200 * 2000 * MODULATIONS[mod][1]))
    assert abs(ber - expected) <= 4 * max(se, binomial_se), (ber, expected)


@pytest.mark.parametrize("mod", sorted(MODULATIONS))
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_rayleigh_fast_ber_matches_closed_form(mod, snr_db):
    ber, se = simulate(RayleighFast(), mod, snr_db, frames=200, symbols=2000)
    assert abs(ber - rayleigh_ber(mod, snr_db)) <= 4 * se, (ber, rayleigh_ber(mod, snr_db))


@pytest.mark.parametrize("mod", ["bpsk", "16qam"])
def test_rayleigh_block_ber_matches_closed_form(mod):
    ber, se = simulate(RayleighBlock(), mod, 10.0, frames=40_000, symbols=16)
    assert abs(ber - rayleigh_ber(mod, 10.0)) <= 4 * se, (ber, rayleigh_ber(mod, 10.0))


def test_rician_bpsk_ber_matches_numerical_average():
    k, snr_db = 4.0, 6.0
    g = 10 ** (snr_db / 10)
    # |h| is Rice-distributed with b = sqrt(2K) and scale sqrt(1/(2(K+1))) so that E|h|^2 = 1.
    rice = stats.rice(math.sqrt(2 * k), scale=math.sqrt(1 / (2 * (k + 1))))
    expected = integrate.quad(lambda a: q(math.sqrt(2 * g) * a) * rice.pdf(a), 0, np.inf)[0]
    channel = Rician(Rician.Options(k_factor=k, coherence_symbols=1))
    ber, se = simulate(channel, "bpsk", snr_db, frames=200, symbols=2000)
    assert abs(ber - expected) <= 4 * se, (ber, expected)


def test_block_fading_is_constant_within_a_block_and_unit_power():
    channel = RayleighBlock(RayleighBlock.Options(coherence_symbols=10, equalizer="mmse"))
    h = channel.draw_coefficients(20_000, 3, torch.Generator().manual_seed(3))
    assert abs(h.abs().square().mean().item() - 1.0) < 0.03
    x = torch.ones(4, 30, dtype=torch.complex64)
    rx = channel.transmit(x, 0.0, torch.Generator().manual_seed(0))
    # with perfect CSI the MMSE gain |h|^2 / (|h|^2 + N0) shows |h| symbol by symbol
    blocks = rx.gain.view(4, 3, 10)
    assert torch.equal(blocks, blocks[..., :1].expand_as(blocks))      # constant in a block
    assert (blocks[:, 1:, 0] != blocks[:, :-1, 0]).all()              # redrawn every block
    assert len(set(blocks[:, 0, 0].tolist())) == 4                     # and every frame
    fast = RayleighFast().transmit(x, 0.0, torch.Generator().manual_seed(0))
    assert not torch.equal(fast.gain[:, :10], fast.gain[:, :1].expand(-1, 10))


def test_pilot_estimation_costs_budget_and_adds_estimation_error():
    channel = RayleighBlock(RayleighBlock.Options(csi="pilots", pilots_per_block=4,
                                                  coherence_symbols=100))
    assert channel.overhead_symbols(1000) == 40
    assert channel.overhead_symbols(1001) == 44
    x = torch.ones(4000, 100, dtype=torch.complex64)
    rx = channel.transmit(x, 10.0, torch.Generator().manual_seed(0))
    err = (rx.symbols - x).abs().square()
    # Mean squared error of y/h_hat exceeds the perfect-CSI noise alone (N0 E[1/|h|^2] is infinite
    # for Rayleigh, so compare medians): the estimation error of N0/4 adds to N0.
    perfect = RayleighBlock().transmit(x, 10.0, torch.Generator().manual_seed(0))
    assert err.median() > (perfect.symbols - x).abs().square().median() * 1.1


def test_mmse_output_is_biased_by_the_reported_gain():
    channel = RayleighFast(RayleighFast.Options(equalizer="mmse"))
    g = torch.Generator().manual_seed(5)
    x = torch.ones(100, 1000, dtype=torch.complex64)
    rx = channel.transmit(x, 0.0, g)
    assert (rx.gain < 1).all() and (rx.gain > 0).all()
    residual = rx.symbols - rx.gain * x
    ratio = residual.abs().square().mean() / rx.noise_var.mean()
    assert abs(ratio.item() - 1) < 0.05


def test_rayleigh_fast_rejects_pilots():
    with pytest.raises(ValueError, match="fast fading cannot be estimated"):
        RayleighFast.Options(csi="pilots")


def test_awgn_agrees_with_sionna():
    channel_module = pytest.importorskip("sionna.phy.channel")
    import sionna.phy

    sionna.phy.config.seed = 11
    x = torch.zeros(1, 20_000, dtype=torch.complex64)
    no = noise_variance(3.0)
    theirs = channel_module.AWGN()(x, no)[0]
    ours = AWGN().transmit(x, 3.0, torch.Generator().manual_seed(11)).symbols[0]
    for part in (torch.real, torch.imag):
        assert stats.ks_2samp(part(ours).numpy(), part(theirs).numpy()).pvalue > 1e-3
    assert abs(ours.abs().square().mean().item() / theirs.abs().square().mean().item() - 1) < 0.05


def test_rayleigh_block_agrees_with_sionna():
    channel_module = pytest.importorskip("sionna.phy.channel")
    import sionna.phy

    sionna.phy.config.seed = 12
    a, _ = channel_module.RayleighBlockFading(1, 1, 1, 1)(batch_size=20_000, num_time_steps=4)
    theirs = a.reshape(20_000, 4)
    assert torch.equal(theirs[:, :1].expand(-1, 4), theirs)       # Sionna: constant in a block
    ours = RayleighBlock().draw_coefficients(20_000, 1, torch.Generator().manual_seed(12))[:, 0]
    for f in (lambda h: h.abs().square(), lambda h: h.angle()):
        assert stats.ks_2samp(f(ours).numpy(), f(theirs[:, 0]).numpy()).pvalue > 1e-3
