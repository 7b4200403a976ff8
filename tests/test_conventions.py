import math

import torch

from gscsim.conventions import (
    achieved_cbr,
    average_power,
    noise_variance,
    normalize_power,
    parse_ratio,
    symbol_budget,
)


def test_noise_variance_is_es_over_n0():
    assert noise_variance(0) == 1.0
    assert math.isclose(noise_variance(10), 0.1)
    assert math.isclose(noise_variance(-13), 10 ** 1.3)


def test_cbr_budget_counts_complex_uses_per_real_source_value():
    shape = (3, 256, 256)
    assert symbol_budget(1 / 48, shape) == 4096            # 3*256*256/48
    assert symbol_budget(parse_ratio("1/12"), shape) == 16384
    assert achieved_cbr(4096, shape) == 1 / 48


def test_normalize_power_gives_unit_power_per_row():
    x = torch.randn(4, 1000, dtype=torch.complex64) * torch.tensor([[0.1], [1.0], [3.0], [10.0]])
    assert torch.allclose(average_power(normalize_power(x)), torch.ones(4), atol=1e-5)


def test_complex_randn_has_half_variance_per_real_dimension():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(400_000, dtype=torch.complex64, generator=g)
    assert abs(z.real.var().item() - 0.5) < 0.005
    assert abs(z.imag.var().item() - 0.5) < 0.005


def test_packing_puts_the_first_half_in_real_parts_and_inverts():
    from gscsim.conventions import pack_complex, unpack_real

    values = torch.arange(1.0, 8.0).view(1, 7)                   # odd: padded with one zero
    symbols = pack_complex(values)
    assert symbols.dtype == torch.complex64 and symbols.shape == (1, 4)
    assert symbols[0, 0] == complex(1, 5) and symbols[0, 3] == complex(4, 0)
    assert torch.equal(unpack_real(symbols)[:, :7], values)


def test_real_awgn_scales_the_noise_with_the_values_power():
    from gscsim.conventions import real_awgn

    g = torch.Generator().manual_seed(1)
    zeros = torch.zeros(2, 3, 40_000)
    noise = real_awgn(zeros, torch.tensor([0.0, 10.0]), g, power=torch.tensor([4.0, 2.0]))
    for row, expected in zip(noise, (4.0, 0.2)):            # power x 10^(-snr/10)
        assert abs(row.var().item() / expected - 1) < 4 * math.sqrt(2 / 120_000)
