"""Noise schedules: beta_t for t = 0..T-1 and everything derived from it.

    alpha_t     = 1 - beta_t
    alpha_bar_t = prod_{s <= t} alpha_s          (strictly decreasing, inside (0, 1))
    log_snr_t   = log(alpha_bar_t / (1 - alpha_bar_t))

Indexing follows ``diffusers`` (Ho et al. 2020 number the steps 1..T): timestep t is x_0 after t + 1 noising
steps, so alpha_bar[t] is Ho et al.'s alpha_bar_{t+1}, so
alpha_bar[0] = alpha_0 = 1 - beta_0 and x_{T-1} is (almost) pure noise.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch

from ._checks import check_choice, check_positive_int, check_timesteps

SCHEDULES = ("linear", "cosine", "sigmoid", "quadratic")


def linear_betas(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Ho et al. (2020): beta_t evenly spaced from 1e-4 to 0.02 at T = 1000.

    For other T both ends are multiplied by 1000 / T (as in Nichol and Dhariwal's code), so
    that alpha_bar_{T-1} stays near 0: without it, T = 50 leaves alpha_bar_{T-1} = 0.60.
    """
    scale = 1000 / T
    return torch.linspace(scale * beta_start, min(scale * beta_end, 0.999), T, dtype=torch.float64)


def quadratic_betas(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """sqrt(beta_t) evenly spaced (diffusers' "scaled_linear"), rescaled by 1000 / T like ``linear_betas``."""
    scale = 1000 / T
    return torch.linspace(math.sqrt(scale * beta_start), math.sqrt(min(scale * beta_end, 0.999)), T,
                          dtype=torch.float64) ** 2


def cosine_alpha_bar(t: torch.Tensor, T: int, s: float = 0.008) -> torch.Tensor:
    """f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2), Nichol and Dhariwal (2021), Eq. 17 (unnormalised)."""
    return torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2


def cosine_betas(T: int, max_beta: float = 0.999) -> torch.Tensor:
    """beta_t = min(1 - f(t + 1) / f(t), 0.999), so alpha_bar_t = f(t + 1) / f(0) until the clip."""
    t = torch.arange(T + 1, dtype=torch.float64)
    f = cosine_alpha_bar(t, T)
    return torch.clamp(1 - f[1:] / f[:-1], max=max_beta)


def sigmoid_betas(T: int, start: float = -3.0, end: float = 3.0, tau: float = 1.0) -> torch.Tensor:
    """Sigmoid schedule of Jabri et al. (2022): alpha_bar follows a rescaled sigmoid from 1 to 0."""
    t = torch.arange(T + 1, dtype=torch.float64) / T
    v_start, v_end = torch.sigmoid(torch.tensor(start / tau)), torch.sigmoid(torch.tensor(end / tau))
    f = (-torch.sigmoid((t * (end - start) + start) / tau) + v_end) / (v_end - v_start)
    return torch.clamp(1 - f[1:] / f[:-1], min=1e-8, max=0.999)


BETA_FUNCTIONS = {"linear": linear_betas, "cosine": cosine_betas, "sigmoid": sigmoid_betas,
                  "quadratic": quadratic_betas}


@dataclass(frozen=True, eq=False)
class NoiseSchedule:
    """A noise schedule with T steps; all tensors have shape ``[T]`` and dtype float64.

    Build one with ``NoiseSchedule.make("linear", T=1000)``.
    """

    name: str
    betas: torch.Tensor

    @classmethod
    def make(cls, name: str = "linear", T: int = 1000) -> NoiseSchedule:
        check_choice("schedule", name, SCHEDULES)
        check_positive_int("T", T)
        schedule = cls(name, BETA_FUNCTIONS[name](T))
        last = float(schedule.alpha_bar[-1])
        if last > 0.05:
            warnings.warn(f"NoiseSchedule.make({name!r}, T={T}): alpha_bar[T-1] = {last:.2f}, so x_(T-1) keeps "
                          f"{last ** 0.5:.0%} of the data's scale and is far from the pure noise that sampling "
                          f"starts from; use a larger T (at least 2)", UserWarning, stacklevel=2)
        return schedule

    @property
    def T(self) -> int:
        return len(self.betas)

    def to(self, device) -> NoiseSchedule:
        """The same schedule with its tensors on ``device``, so that ``at`` picks coefficients where ``t`` lives
        (a CPU schedule indexed with a CUDA ``t`` copies ``t`` to the host, which waits for the GPU)."""
        device = torch.device(device)
        return self if self.betas.device == device else NoiseSchedule(self.name, self.betas.to(device))

    @property
    def alphas(self) -> torch.Tensor:
        return 1.0 - self.betas

    @property
    def alpha_bar(self) -> torch.Tensor:
        return torch.cumprod(self.alphas, dim=0)

    @property
    def alpha_bar_prev(self) -> torch.Tensor:
        """alpha_bar_{t-1}, with alpha_bar_{-1} = 1 (before timestep 0 comes the clean x_0)."""
        return torch.cat([self.betas.new_ones(1), self.alpha_bar[:-1]])

    @property
    def log_snr(self) -> torch.Tensor:
        ab = self.alpha_bar
        return torch.log(ab) - torch.log1p(-ab)

    @property
    def posterior_variance(self) -> torch.Tensor:
        """beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) * beta_t, Ho et al. Eq. 7."""
        return (1 - self.alpha_bar_prev) / (1 - self.alpha_bar) * self.betas

    @property
    def posterior_mean_coef1(self) -> torch.Tensor:
        """Weight of x_0 in mu_tilde: sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t)."""
        return self.alpha_bar_prev.sqrt() * self.betas / (1 - self.alpha_bar)

    @property
    def posterior_mean_coef2(self) -> torch.Tensor:
        """Weight of x_t in mu_tilde: sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)."""
        return self.alphas.sqrt() * (1 - self.alpha_bar_prev) / (1 - self.alpha_bar)

    def at(self, values: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Pick ``values[t]`` for a batch of timesteps ``t [B]`` and shape it ``[B, 1, ..., 1]`` like ``x``."""
        t = torch.as_tensor(t, device=values.device)
        check_timesteps("t", t, self.T)
        if t.dim() > 1 or (t.dim() == 1 and t.numel() not in (1, x.shape[0])):
            raise ValueError(f"t has shape {list(t.shape)} but x has batch size {x.shape[0]} (x: {list(x.shape)}); "
                             f"allowed: one timestep per example, t of shape [{x.shape[0]}], or a single timestep")
        out = values[t].to(device=x.device, dtype=x.dtype)
        return out.reshape(out.shape + (1,) * (x.dim() - out.dim()))

    def __repr__(self) -> str:
        return f"NoiseSchedule({self.name!r}, T={self.T})"


def check_schedule(name: str, schedule) -> None:
    """Raise ``TypeError`` unless ``schedule`` is a ``NoiseSchedule`` (not its name)."""
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"{name} must be a NoiseSchedule, got {type(schedule).__name__} {schedule!r}; "
                        f"build one with NoiseSchedule.make('linear', T=1000)")
