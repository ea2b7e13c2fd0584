"""Held-out denoising, the measure of notebook 03 that the capstone (07) records along its learning curves:
noise clean digits ``x0`` to one level ``t`` with a fixed seed, let the model predict x0-hat, and score the
mean squared error against ``x0``. Images are ``[B, C, H, W]`` in [-1, 1]; ``t`` is one Python int."""

from __future__ import annotations

import torch

from .diffusion import predict_x0, q_sample
from .schedules import NoiseSchedule


@torch.no_grad()
def denoise(model, x0: torch.Tensor, t: int, schedule: NoiseSchedule, seed: int = 0):
    """Noise ``x0`` to level ``t`` and return ``(x_t, x0_hat)``, x0_hat = predict_x0(x_t, t, model(x_t, t))."""
    model.eval()
    tt = torch.full((len(x0),), t, dtype=torch.long)
    x_t = q_sample(x0, tt, schedule, generator=torch.Generator().manual_seed(seed))
    return x_t, predict_x0(x_t, tt, model(x_t, tt), schedule).clamp(-1, 1)


def denoising_mse(model, x0: torch.Tensor, t: int, schedule: NoiseSchedule, seed: int = 0) -> float:
    """Mean squared error of x0_hat against x0 at noise level ``t``."""
    _, x0_hat = denoise(model, x0, t, schedule, seed)
    return float(((x0_hat - x0) ** 2).mean())
