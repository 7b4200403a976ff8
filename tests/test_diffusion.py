"""The diffusion core against a problem with a known answer: Gaussian data x0 ~ N(mu, s^2) per
dimension, whose exact x0-predictor E[x0 | x_t] is linear and whose probability-flow ODE maps
x_T to x0 = mu + s (x_T - alpha_T mu) / sqrt(alpha_T^2 s^2 + sigma_T^2) (the standardised
value is constant along the flow). Tolerances are stated at each assertion."""
import math

import pytest
import torch

from gscsim.nn.diffusion import (
    CosineSchedule,
    CountedDenoiser,
    alpha_bar_of_snr,
    diffuse,
    sample,
    target,
    to_x0,
)

MU, S = 0.7, 2.5
SCHEDULE = CosineSchedule()


def exact_x0(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    alpha, sigma = SCHEDULE.alpha_sigma(t)
    a, sg = alpha.view(-1, 1), sigma.view(-1, 1)
    return MU + a * S ** 2 / (a ** 2 * S ** 2 + sg ** 2) * (x_t.double() - a * MU)


def ode_solution(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    alpha, sigma = SCHEDULE.alpha_sigma(t)
    a, sg = alpha.view(-1, 1), sigma.view(-1, 1)
    return MU + S * (x_t.double() - a * MU) / (a ** 2 * S ** 2 + sg ** 2).sqrt()


def _errors(sampler: str, steps_list: list[int]) -> list[float]:
    g = torch.Generator().manual_seed(0)
    t_start = torch.tensor([0.9, 0.6, 0.3])                       # three noise levels at once
    alpha, sigma = SCHEDULE.alpha_sigma(t_start)
    x0 = MU + S * torch.randn(3, 256, generator=g, dtype=torch.float64)
    x_t = alpha.view(-1, 1) * x0 + sigma.view(-1, 1) * torch.randn(3, 256, generator=g,
                                                                    dtype=torch.float64)
    truth = ode_solution(x_t, t_start)
    return [float((sample(exact_x0, x_t, t_start, n, SCHEDULE, sampler) - truth).abs().max())
            / S for n in steps_list]


def test_dpm_solver_lands_on_the_ode_solution_with_second_order_convergence():
    errors = _errors("dpmpp2m", [10, 20, 40, 80])
    assert errors[-1] < 3e-3, errors                  # 80 steps: within 0.3% of s
    assert all(a / b > 3.0 for a, b in zip(errors, errors[1:])), errors   # order 2: ~4x


def test_ddim_converges_to_the_ode_solution_at_first_order():
    errors = _errors("ddim", [10, 20, 40, 80])
    assert errors[-1] < 5e-2, errors                  # 80 steps: within 5% of s
    assert all(1.6 < a / b < 2.6 for a, b in zip(errors, errors[1:])), errors  # order 1: ~2x
    assert _errors("dpmpp2m", [20])[0] < errors[1] / 4        # 2M beats DDIM at equal steps


def test_a_received_unit_power_signal_is_x_t_at_alpha_bar_snr_over_one_plus_snr():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(200_000, generator=g, dtype=torch.float64)     # unit power
    for snr_db in (-13.0, 0.0, 10.0):
        n0 = 10 ** (-snr_db / 10)
        y = (x + math.sqrt(n0) * torch.randn(200_000, generator=g, dtype=torch.float64))
        y = y / math.sqrt(1 + n0)
        ab = float(alpha_bar_of_snr(torch.tensor(snr_db)))
        # x_t = sqrt(ab) x + sqrt(1 - ab) eps: unit variance, correlation sqrt(ab) with x
        assert abs(y.var().item() - 1) < 0.01
        assert abs((y * x).mean().item() - math.sqrt(ab)) < 0.01
        t = SCHEDULE.t_of_alpha_bar(torch.tensor([ab], dtype=torch.float64))
        assert abs(SCHEDULE.alpha_bar(t).item() - ab) < 1e-9       # the inverse schedule


@pytest.mark.parametrize("kind", ["x0", "eps", "v"])
def test_parameterisations_convert_back_to_x0(kind):
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(4, 3, 8, 8, generator=g, dtype=torch.float64)
    t = torch.tensor([0.1, 0.4, 0.7, 0.95])
    x_t, eps = diffuse(x0, t, SCHEDULE, g)
    alpha, sigma = SCHEDULE.alpha_sigma(t)
    assert torch.allclose(to_x0(target(kind, x0, eps, alpha, sigma), kind, x_t, alpha, sigma),
                          x0, atol=1e-9)


@pytest.mark.parametrize("guidance, per_step", [(1.0, 1), (0.0, 1), (4.0, 2)])
def test_guidance_combines_and_counts_network_evaluations(guidance, per_step):
    calls = []

    def net(x_t, t, conditioned):           # x0-prediction: 1 for the condition, 0 for null
        calls.append(len(x_t))
        return conditioned.double().view(-1, 1).expand_as(x_t).clone()

    denoiser = CountedDenoiser(net, "x0", SCHEDULE, guidance)
    out = sample(denoiser, torch.zeros(2, 5, dtype=torch.float64), torch.full((2,), 0.5), 7,
                 SCHEDULE)
    assert denoiser.nfe == 7 * per_step and sum(calls) == 7 * per_step * 2
    assert torch.allclose(out, torch.full((2, 5), guidance, dtype=torch.float64))


def test_tokens_may_start_at_their_own_noise_levels():
    """Per-token start times: each token lands on its own exact ODE solution, as if sampled
    alone (the flow is elementwise for this separable toy problem)."""
    g = torch.Generator().manual_seed(3)
    t_start = torch.tensor([[0.9, 0.2, 0.6, 1.0]], dtype=torch.float64)          # [B=1, L=4]
    alpha, sigma = SCHEDULE.alpha_sigma(t_start)
    x0 = MU + S * torch.randn(1, 4, 64, generator=g, dtype=torch.float64)
    x_t = alpha[..., None] * x0 + sigma[..., None] * torch.randn(1, 4, 64, generator=g,
                                                                   dtype=torch.float64)

    def per_token_exact(x, t):
        a, sg = (v[..., None] for v in SCHEDULE.alpha_sigma(t))
        return MU + a * S ** 2 / (a ** 2 * S ** 2 + sg ** 2) * (x.double() - a * MU)

    out = sample(per_token_exact, x_t, t_start, 80, SCHEDULE)
    a, sg = (v[..., None] for v in SCHEDULE.alpha_sigma(t_start))
    truth = MU + S * (x_t - a * MU) / (a ** 2 * S ** 2 + sg ** 2).sqrt()
    assert (out - truth).abs().max().item() / S < 1e-2     # the token at t = 1 is hardest
