"""Reverse-process samplers: DDPM ancestral sampling (Ho et al. 2020) and DDIM (Song et al. 2021).

Both follow ``diffusers``' scheduler API: ``set_timesteps``, then ``step`` per timestep, and
``sample`` runs the whole loop. ``model`` is a plain callable ``model(x_t, t) -> eps_hat``.
``COURSE_MAX_STEPS=N`` (environment: a smoke test of a configuration) stops every loop after N steps.
Shapes: ``x_t [B, ...]``, ``t`` a Python int (the same for the whole batch).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from ._checks import check_choice, check_positive_int, trusted_values
from .diffusion import p_mean_variance_from_eps, predict_x0, randn
from .guidance import Guided
from .schedules import NoiseSchedule
from .utils import max_steps_override, model_device


@dataclass
class Trajectory:
    """Every intermediate state of one sampling run, for the reverse-process scrubber.

    ``timesteps[i]`` is the t at which ``x_t[i]`` was denoised, and ``x0_pred[i]`` the model's
    estimate of x_0 there; ``x_t[-1]`` is the final sample. Tensors are kept on the CPU.
    """

    timesteps: list[int] = field(default_factory=list)
    x_t: list[torch.Tensor] = field(default_factory=list)
    x0_pred: list[torch.Tensor] = field(default_factory=list)


class Sampler:
    """Shared loop: start from x_T ~ N(0, I) and apply ``step`` at every t in ``self.timesteps``."""

    timesteps: list[int]

    def __init__(self, schedule: NoiseSchedule, clip_x0: bool = False):
        self.schedule, self.clip_x0 = schedule, clip_x0
        self._on_device: tuple = (None, None, None)  # (schedule, device, the schedule on that device)

    def _schedule_on(self, device: torch.device) -> NoiseSchedule:
        """``self.schedule`` with its tensors on ``device`` (kept): coefficients are picked where x_t lives, so a
        step on a GPU copies nothing to the host."""
        schedule, on, _ = self._on_device
        if schedule is not self.schedule or on != device:
            self._on_device = (self.schedule, device, self.schedule.to(device))
        return self._on_device[2]

    def _x0(self, x_t, t, eps):
        with trusted_values():  # t is one of this sampler's timesteps, checked by ``step``
            x0 = predict_x0(x_t, self._t(t, x_t), eps, self._schedule_on(x_t.device))
        return x0.clamp(-1, 1) if self.clip_x0 else x0

    def _t(self, t: int, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0],), int(t), device=x.device, dtype=torch.long)

    @torch.no_grad()
    def sample(self, model, shape, generator: torch.Generator | None = None, device="cpu",
               return_trajectory: bool = False, progress: bool = False, label=None, guidance: float = 1.0):
        """Draw ``shape[0]`` samples. Returns x_0 ``[*shape]``, or ``(x_0, Trajectory)``.

        ``label`` (an int, or one per sample) asks a class-conditional model for that class, with classifier-free
        guidance of scale ``guidance`` (``course_lib.guidance``: 0 ignores the label, 1 is the conditional model)."""
        if not isinstance(shape, (tuple, list, torch.Size)) or len(shape) < 2:
            raise ValueError(f"shape={shape!r} is not allowed; give (B, C, H, W) for images or (B, D) for points")
        if label is not None:
            if isinstance(label, torch.Tensor) and label.numel() not in (1, shape[0]):
                raise ValueError(f"label has {label.numel()} entries; give one label, or one per sample ({shape[0]})")
            model = Guided(model, label, guidance)
        elif guidance != 1.0:
            raise ValueError(f"guidance={guidance!r} needs a label to guide towards (label=7, say)")
        x = randn(tuple(shape), generator, torch.device(device))
        trajectory = Trajectory()
        timesteps = self.timesteps[:max_steps_override()]  # all of them, unless a smoke test caps the loop
        for t in tqdm(timesteps, desc=type(self).__name__, disable=not progress, leave=False):
            with trusted_values():  # x_T was drawn here and t is ours: the model's value checks would wait
                eps = model(x, self._t(t, x))  # for the GPU at every step
            x_next, x0 = self.step(eps, t, x, generator=generator)
            if return_trajectory:
                trajectory.timesteps.append(int(t))
                trajectory.x_t.append(x.cpu())
                trajectory.x0_pred.append(x0.cpu())
            x = x_next
        if return_trajectory:
            trajectory.x_t.append(x.cpu())
            return x, trajectory
        return x


class DDPMSampler(Sampler):
    """Ancestral sampling, Ho et al. Eq. 11 with sigma_t^2 = beta_tilde_t and no noise at t = 0:

        x_{t-1} = mu_tilde(x_t, x0_hat) + sigma_t z,   z ~ N(0, I).

    ``set_timesteps()`` visits every t from T - 1 down to 0 (the only choice for an ancestral sampler: its
    posterior is between t and t - 1).
    """

    def __init__(self, schedule: NoiseSchedule, clip_x0: bool = False):
        super().__init__(schedule, clip_x0)
        self.set_timesteps()

    def set_timesteps(self, num_steps: int | None = None) -> None:
        """The timesteps T - 1, ..., 0. ``num_steps`` (diffusers' argument) must be T or None: skipping
        steps needs DDIM (or DDPM's posterior between non-adjacent steps, which this sampler does not do)."""
        T = self.schedule.T
        if num_steps is not None and num_steps != T:
            raise ValueError(f"num_steps={num_steps!r} is not allowed; DDPMSampler visits all T={T} steps "
                             "(use DDIMSampler(schedule, num_steps, eta=1.0) to skip steps with DDPM-like noise)")
        self.timesteps = list(range(T - 1, -1, -1))

    def step(self, eps: torch.Tensor, t: int, x_t: torch.Tensor, generator=None):
        """One reverse step from x_t to x_{t-1}. Returns ``(x_{t-1}, x0_hat)``."""
        if not 0 <= int(t) < self.schedule.T:
            raise ValueError(f"t={t} is not one of this sampler's timesteps; it must lie in [0, {self.schedule.T})")
        with trusted_values():  # t was checked above
            mean, variance, x0 = p_mean_variance_from_eps(x_t, self._t(t, x_t), eps, self._schedule_on(x_t.device),
                                                          self.clip_x0)
        if t == 0:
            return mean, x0
        return mean + variance.sqrt() * randn(x_t.shape, generator, x_t.device, x_t.dtype), x0


def ddim_timesteps(T: int, num_steps: int, spacing: str = "leading") -> list[int]:
    """The S = ``num_steps`` timesteps a DDIM run visits, in decreasing order.

    "leading" (diffusers' default): t = k * (T // S) for k = S-1..0, e.g. 980, 960, ..., 0 for S = 50.
    "trailing": t = round(T - k * T / S) - 1, which starts at T - 1 (better with few steps).

    With "leading", T // S rounds down, so for T/2 < S < T the run starts at t = S - 1, far from pure
    noise (alpha_bar 0.08 at S = 501 for the linear schedule with T = 1000): a ``UserWarning`` says so
    whenever the first timestep is T/4 or more below T - 1; "trailing" always starts at T - 1.
    """
    check_positive_int("num_steps", num_steps)
    check_choice("spacing", spacing, ("leading", "trailing"))
    if num_steps > T:
        raise ValueError(f"num_steps={num_steps} is not allowed; it must be at most T={T}")
    if spacing == "leading":
        steps = [k * (T // num_steps) for k in range(num_steps - 1, -1, -1)]
        if T - 1 - steps[0] >= T / 4:
            warnings.warn(f"DDIM with num_steps={num_steps} and spacing='leading' starts at t={steps[0]}, not near "
                          f"T-1={T - 1} (T // num_steps = {T // num_steps} rounds down), so its first x_t is not "
                          f"close to pure noise; use spacing='trailing' or num_steps <= {T // 2} dividing T",
                          UserWarning, stacklevel=3)
        return steps
    return [round(T - k * T / num_steps) - 1 for k in range(num_steps)]


class DDIMSampler(Sampler):
    """DDIM, Song et al. Eq. 12, between consecutive visited timesteps t > t':

        x_{t'} = sqrt(alpha_bar_{t'}) x0_hat + sqrt(1 - alpha_bar_{t'} - sigma^2) eps_hat + sigma z,
        sigma  = eta * sqrt((1 - alpha_bar_{t'}) / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_{t'})),

    with alpha_bar_{t'} = 1 after the last step. ``eta = 0`` is deterministic; ``eta = 1`` with
    every timestep is DDPM.
    """

    def __init__(self, schedule: NoiseSchedule, num_steps: int = 50, eta: float = 0.0,
                 spacing: str = "leading", clip_x0: bool = False):
        super().__init__(schedule, clip_x0)
        if not 0.0 <= eta <= 1.0:
            raise ValueError(f"eta={eta!r} is not allowed; eta must lie in [0, 1]")
        self.eta = float(eta)
        self.set_timesteps(num_steps, spacing)

    def set_timesteps(self, num_steps: int, spacing: str = "leading") -> None:
        self.timesteps = ddim_timesteps(self.schedule.T, num_steps, spacing)
        self._alpha_bar = self.schedule.alpha_bar.tolist()  # Python floats: a step reads no tensor
        self._prev = dict(zip(self.timesteps, [*self.timesteps[1:], -1]))

    def step(self, eps: torch.Tensor, t: int, x_t: torch.Tensor, generator=None):
        """One DDIM step from x_t to x_{t'}, t' the next visited timestep. Returns ``(x_{t'}, x0_hat)``."""
        if t not in self._prev:
            raise ValueError(f"t={t} is not one of this sampler's timesteps; call set_timesteps first")
        t_prev = self._prev[t]
        alpha_bar = self._alpha_bar
        ab_t = alpha_bar[t]
        ab_prev = alpha_bar[t_prev] if t_prev >= 0 else 1.0
        x0 = self._x0(x_t, t, eps)
        if self.clip_x0:  # re-derive eps from the clipped x0, as diffusers does
            eps = (x_t - ab_t ** 0.5 * x0) / (1 - ab_t) ** 0.5
        sigma = self.eta * ((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev)) ** 0.5
        x_prev = ab_prev ** 0.5 * x0 + (1 - ab_prev - sigma ** 2) ** 0.5 * eps
        if sigma > 0:
            x_prev = x_prev + sigma * randn(x_t.shape, generator, x_t.device, x_t.dtype)
        return x_prev, x0


def timed_sample(sampler, model, n: int = 64, seed: int = 0, shape=(1, 8, 8)) -> tuple[torch.Tensor, float]:
    """``(samples [n, *shape] on the CPU, seconds)``: ``sampler.sample`` on the model's device from starting
    noise drawn with ``seed`` (on the CPU, so a GPU draws the same samples), timed to the last step's end."""
    device = model_device(model)
    start = time.perf_counter()
    x = sampler.sample(model, (n, *shape), generator=torch.Generator().manual_seed(seed), device=device).cpu()
    return x, time.perf_counter() - start
