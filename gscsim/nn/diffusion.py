"""The diffusion core shared by the diffusion transceivers (SGD-JSCC, BriGSC) and open to any
other: a variance-preserving noise schedule, conversions between the x0-, eps- and
v-parameterisations, classifier-free guidance, and DDIM and DPM-Solver++(2M) samplers that start
from any x_t at any noise level and count their network evaluations (NFE).

Conventions (Ho et al. 2020; Song et al. 2021): x_t = alpha_t x0 + sigma_t eps with
alpha_t^2 + sigma_t^2 = 1, alpha_bar = alpha_t^2, t in [0, 1] from data (t = 0, alpha = 1) to
noise (t = 1); lambda_t = log(alpha_t / sigma_t) is the half log-SNR. A denoiser is a function
(x_t [B, ...], t [B]) -> its prediction of x0, eps or v (v = alpha eps - sigma x0), all tensors
of x_t's shape. The samplers integrate the probability-flow ODE (deterministic; eta = 0), so a
start x_t and a denoiser fix the result.

Written here because no installed library provides samplers over a continuous schedule that
start from a given x_t and take a plain callable (diffusers is not a dependency of gscsim).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

import torch

Prediction = Literal["x0", "eps", "v"]
Sampler = Literal["dpmpp2m", "ddim"]
Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class CosineSchedule:
    """alpha_bar(t) = cos^2(pi/2 (t + s) / (1 + s)) / cos^2(pi/2 s / (1 + s)) (Nichol &
    Dhariwal 2021), clipped so that alpha_bar(1) >= `min_alpha_bar` (t = 1 is then not pure
    noise, which keeps lambda finite)."""

    offset: float = 0.008
    min_alpha_bar: float = 1e-5

    def alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        s = self.offset
        f = torch.cos(math.pi / 2 * (t.double() + s) / (1 + s)) ** 2
        return (f / math.cos(math.pi / 2 * s / (1 + s)) ** 2).clamp(self.min_alpha_bar, 1.0)

    def t_of_alpha_bar(self, alpha_bar: torch.Tensor) -> torch.Tensor:
        """The inverse of alpha_bar (float64 [B]): where the schedule reaches a noise level."""
        s = self.offset
        ab = alpha_bar.double().clamp(self.min_alpha_bar, 1.0)
        angle = torch.acos((ab * math.cos(math.pi / 2 * s / (1 + s)) ** 2).sqrt())
        return (angle * 2 / math.pi * (1 + s) - s).clamp(0.0, 1.0)

    def alpha_sigma(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ab = self.alpha_bar(t)
        return ab.sqrt(), (1 - ab).sqrt()


def alpha_bar_of_snr(snr_db: torch.Tensor) -> torch.Tensor:
    """The noise level at which a unit-power signal received at Es/N0 `snr_db` (dB) and scaled
    back to unit power is an x_t: y / sqrt(1 + N0) = sqrt(ab) x + sqrt(1 - ab) eps with
    ab = SNR / (1 + SNR)."""
    snr = 10.0 ** (snr_db.double() / 10.0)
    return snr / (1.0 + snr)


def to_x0(prediction: torch.Tensor, kind: Prediction, x_t: torch.Tensor, alpha: torch.Tensor,
          sigma: torch.Tensor) -> torch.Tensor:
    """A denoiser's output of parameterisation `kind` -> its estimate of x0."""
    a, s = _expand(alpha, x_t), _expand(sigma, x_t)
    if kind == "x0":
        return prediction
    if kind == "eps":
        return (x_t - s * prediction) / a
    return a * x_t - s * prediction                                 # v = a eps - s x0


def to_eps(x0: torch.Tensor, x_t: torch.Tensor, alpha: torch.Tensor, sigma: torch.Tensor
           ) -> torch.Tensor:
    """The noise implied by an x0 estimate: eps = (x_t - alpha x0) / sigma."""
    return (x_t - _expand(alpha, x_t) * x0) / _expand(sigma, x_t)


def target(kind: Prediction, x0: torch.Tensor, eps: torch.Tensor, alpha: torch.Tensor,
           sigma: torch.Tensor) -> torch.Tensor:
    """What a denoiser of parameterisation `kind` is trained to output for (x0, eps)."""
    if kind == "x0":
        return x0
    if kind == "eps":
        return eps
    return _expand(alpha, x0) * eps - _expand(sigma, x0) * x0


def diffuse(x0: torch.Tensor, t: torch.Tensor, schedule: CosineSchedule,
            generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, eps): x0 [B, ...] noised to times t [B] (the forward process, for training)."""
    alpha, sigma = schedule.alpha_sigma(t)
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return (_expand(alpha, x0).to(x0.dtype) * x0 + _expand(sigma, x0).to(x0.dtype) * eps), eps


class CountedDenoiser:
    """A denoiser with classifier-free guidance, returning x0 estimates, that counts the
    network evaluations (one per image per call of `net`; guidance doubles them).

    net(x_t, t, conditioned) -> prediction of `kind`; `conditioned` is a bool [B] tensor (False:
    the null condition). guidance w: x0 = x0_null + w (x0_cond - x0_null); w = 1 is the plain
    conditional model and costs one evaluation, w = 0 the unconditional one."""

    def __init__(self, net: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
                 kind: Prediction, schedule: CosineSchedule, guidance: float = 1.0):
        self.net, self.kind, self.schedule, self.guidance = net, kind, schedule, guidance
        self.nfe = 0

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        alpha, sigma = self.schedule.alpha_sigma(t)      # t: [B] or per token [B, L]
        b = len(x_t)
        w = self.guidance
        if w in (0.0, 1.0):
            flags = torch.full((b,), w == 1.0, dtype=torch.bool, device=x_t.device)
            out = to_x0(self.net(x_t, t, flags), self.kind, x_t, alpha, sigma)
            self.nfe += 1
            return out
        flags = torch.cat([torch.ones(b, dtype=torch.bool), torch.zeros(b, dtype=torch.bool)])
        both = self.net(torch.cat([x_t, x_t]), torch.cat([t, t]), flags.to(x_t.device))
        both = to_x0(both, self.kind, torch.cat([x_t, x_t]), torch.cat([alpha, alpha]),
                     torch.cat([sigma, sigma]))
        self.nfe += 2
        cond, null = both[:b], both[b:]
        return null + w * (cond - null)


def time_grid(t_start: torch.Tensor, steps: int) -> torch.Tensor:
    """float64 [steps + 1, *t_start.shape]: `steps` equal steps in time from each t_start down
    to 0 (every element of t_start moves by the same fraction of its own start per step)."""
    fractions = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    return fractions.view(-1, *([1] * t_start.dim())) * t_start.double().unsqueeze(0)


def sample(denoiser: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x_start: torch.Tensor,
           t_start: torch.Tensor, steps: int, schedule: CosineSchedule,
           sampler: Sampler = "dpmpp2m") -> torch.Tensor:
    """Integrate the probability-flow ODE from x_start (the x_t of times t_start [B], or per
    token [B, L] for x_start [B, L, ...]: tokens may start at different noise levels) to t = 0
    in `steps` denoiser calls; returns the x0 sample. `denoiser(x_t, t)` returns x0 estimates
    (a CountedDenoiser counts them). DDIM is first order (Song et al. 2021, eta = 0);
    DPM-Solver++(2M) is the second-order multistep data-prediction solver (Lu et al. 2022,
    Algorithm 2), whose last step, to sigma = 0, is first order, as in its reference code."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1; got {steps}")
    grid = time_grid(t_start, steps)
    x = x_start
    previous_x0, previous_h = None, None
    for i in range(steps):
        t_now, t_next = grid[i], grid[i + 1]
        alpha, sigma = schedule.alpha_sigma(t_now)
        alpha_next, sigma_next = schedule.alpha_sigma(t_next)
        x0 = denoiser(x, t_now.to(x.dtype)).to(torch.float64)
        if i == steps - 1:                         # t_next = 0: alpha 1, sigma 0
            x = x0
            break
        if sampler == "ddim":
            eps = to_eps(x0, x.double(), alpha, sigma)
            x = _expand(alpha_next, x0) * x0 + _expand(sigma_next, x0) * eps
        elif sampler == "dpmpp2m":
            h = _half_log_snr(alpha_next, sigma_next) - _half_log_snr(alpha, sigma)
            data = x0
            if previous_x0 is not None:
                half_inverse_r = _expand(h / (2 * previous_h), x0)          # 1 / (2 r)
                data = (1 + half_inverse_r) * x0 - half_inverse_r * previous_x0
            x = (_expand(sigma_next / sigma, x0) * x.double()
                 - _expand(alpha_next * torch.expm1(-h), x0) * data)
            previous_x0, previous_h = x0, h
        else:
            raise ValueError(f"unknown sampler '{sampler}'; choose dpmpp2m or ddim")
        x = x.to(x_start.dtype)
    return x.to(x_start.dtype)


def _half_log_snr(alpha: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return torch.log(alpha) - torch.log(sigma)


def _expand(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-sample values [B] (or per-token [B, L]) shaped to broadcast over `like` [B, ...]."""
    return values.to(like.device).view(*values.shape, *([1] * (like.dim() - values.dim())))
