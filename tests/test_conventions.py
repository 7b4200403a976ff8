import math

import torch

from gscsim.conventions import (achieved_cbr, average_power, noise_variance, normalize_power,
                                parse_ratio, symbol_budget)


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
