"""The Gaussian diffusion of Ho et al. (2020), one small function per equation.

Shapes: images ``x [B, ...]`` (``[B, C, H, W]`` or 2-D points ``[B, 2]``), timesteps
``t [B]`` of integers in [0, T). ``model`` is any callable ``model(x_t, t) -> eps_hat``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import check_finite, check_float_tensor, check_same_shape, check_timesteps
from .schedules import NoiseSchedule, check_schedule


def _check_x(name: str, x, schedule) -> None:
    check_float_tensor(name, x)
    check_schedule("schedule", schedule)


def _noise_like(x: torch.Tensor, noise: torch.Tensor | None, generator: torch.Generator | None, x_name: str = "x"):
    if noise is not None:
        check_same_shape("noise", noise, x_name, x)
        check_float_tensor("noise", noise)
        return noise
    return randn(x.shape, generator, x.device, x.dtype)


def randn(shape, generator: torch.Generator | None, device, dtype=torch.float32) -> torch.Tensor:
    """N(0, I) noise drawn on the generator's device (a CPU generator works for a CUDA x: the same seed gives
    the same noise on every device), then moved; to a GPU through pinned memory, so the host does not wait."""
    device = torch.device(device)
    gen_device = generator.device if generator is not None else device
    z = torch.randn(shape, generator=generator, device=gen_device, dtype=dtype)
    if z.device.type == "cpu" and device.type == "cuda":
        return z.pin_memory().to(device, non_blocking=True)
    return z.to(device)


def q_step(x_prev: torch.Tensor, t: torch.Tensor, schedule: NoiseSchedule, noise=None, generator=None):
    """One forward step, q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, (1 - alpha_t) I), alpha_t = 1 - beta_t.

    ``x_prev`` is x_{t-1} (x_0 itself when t = 0), a floating-point tensor. Returns x_t, same shape.
    """
    _check_x("x_prev", x_prev, schedule)
    noise = _noise_like(x_prev, noise, generator, "x_prev")
    alpha_t = schedule.at(schedule.alphas, t, x_prev)
    return alpha_t.sqrt() * x_prev + (1 - alpha_t).sqrt() * noise


def q_sample(x0: torch.Tensor, t: torch.Tensor, schedule: NoiseSchedule, noise=None, generator=None):
    """Closed form q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I):

        x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps,   eps ~ N(0, I).

    ``x0 [B, ...]`` must be floating point (integer images are refused: cast to their dtype, alpha_bar_t
    would be 0 and x_t pure noise); ``t [B]`` (or one timestep for the whole batch).
    """
    _check_x("x0", x0, schedule)
    noise = _noise_like(x0, noise, generator, "x0")
    alpha_bar_t = schedule.at(schedule.alpha_bar, t, x0)
    return alpha_bar_t.sqrt() * x0 + (1 - alpha_bar_t).sqrt() * noise


def predict_x0(x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: NoiseSchedule):
    """Invert q_sample for x_0 given the noise: x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)."""
    _check_x("x_t", x_t, schedule)
    check_same_shape("eps", eps, "x_t", x_t)
    ab = schedule.alpha_bar
    return schedule.at(1 / ab.sqrt(), t, x_t) * x_t - schedule.at((1 / ab - 1).sqrt(), t, x_t) * eps


def q_posterior_mean_variance(x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, schedule: NoiseSchedule):
    """q(x_{t-1} | x_t, x_0) = N(mu_tilde, beta_tilde I), Ho et al. Eq. 6-7:

        mu_tilde = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0
                 + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t

    Returns ``(mean [B, ...], variance [B, 1, ...])``.
    """
    # coefficients computed in float64 on the schedule, then cast: 1 - alpha_bar_t is tiny near t = 0
    mean = (schedule.at(schedule.posterior_mean_coef1, t, x_t) * x0
            + schedule.at(schedule.posterior_mean_coef2, t, x_t) * x_t)
    return mean, schedule.at(schedule.posterior_variance, t, x_t)


def p_mean_variance_from_eps(x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: NoiseSchedule,
                             clip_x0: bool = False):
    """The reverse step p(x_{t-1} | x_t) = N(mu, sigma_t^2 I) for a predicted noise ``eps`` = eps_hat:

        x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t)        (predict_x0)
        mu, sigma_t^2 = mu_tilde(x_t, x0_hat), beta_tilde_t                        (Ho et al. Eq. 6-7)

    ``x_t, eps [B, ...]``, ``t [B]``. ``clip_x0`` clamps x0_hat to [-1, 1] (right for images, wrong for
    2-D data). Returns ``(mean [B, ...], variance [B, 1, ...], x0_hat [B, ...])``.
    """
    x0 = predict_x0(x_t, t, eps, schedule)
    if clip_x0:
        x0 = x0.clamp(-1, 1)
    mean, variance = q_posterior_mean_variance(x0, x_t, t, schedule)
    return mean, variance, x0


def p_mean_variance(model, x_t: torch.Tensor, t: torch.Tensor, schedule: NoiseSchedule, clip_x0: bool = False):
    """The learned reverse step p(x_{t-1} | x_t): ``p_mean_variance_from_eps`` with eps_hat = model(x_t, t).

    Returns ``(mean, variance, x0_hat, eps_hat)``.
    """
    eps = model(x_t, t)
    if eps.shape != x_t.shape:
        raise ValueError(f"model(x_t, t) returned shape {list(eps.shape)}; it must equal x_t's {list(x_t.shape)}")
    mean, variance, x0 = p_mean_variance_from_eps(x_t, t, eps, schedule, clip_x0)
    return mean, variance, x0, eps


def diffusion_loss(model, x0: torch.Tensor, schedule: NoiseSchedule, t: torch.Tensor | None = None,
                   noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
                   reduction: str = "mean") -> torch.Tensor:
    """The simplified DDPM objective, Ho et al. Eq. 14: || eps - eps_theta(q_sample(x_0, t, eps), t) ||^2
    with t ~ U{0, ..., T-1} and eps ~ N(0, I). ``reduction="none"`` gives one loss per example ``[B]``.
    ``x0`` must be a floating-point tensor of finite values.
    """
    _check_x("x0", x0, schedule)
    check_finite("x0", x0, " (the training data)")
    if t is None:
        t = torch.randint(0, schedule.T, (x0.shape[0],), generator=generator,
                          device=generator.device if generator is not None else x0.device).to(x0.device)
    check_timesteps("t", t, schedule.T)
    noise = _noise_like(x0, noise, generator)
    x_t = q_sample(x0, t, schedule, noise=noise)
    per_elem = F.mse_loss(model(x_t, t), noise, reduction="none")
    per_example = per_elem.reshape(len(x0), -1).mean(dim=1)
    return per_example if reduction == "none" else per_example.mean()
