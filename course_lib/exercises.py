"""Reference solutions of the notebooks' exercises, and the ``check_...`` functions that grade them.

A check never raises: it prints a hint when the answer is missing or wrong ("Not yet"), and a
congratulation when it is right. Tests call the checks on these reference solutions.
"""

from __future__ import annotations

import math

import torch

from .diffusion import q_sample as _q_sample
from .schedules import NoiseSchedule


def _report(ok: bool, success: str, hint: str) -> None:
    """Print the verdict. Returns nothing, so that a notebook cell shows only the message."""
    print(f"✅ Correct! {success}" if ok else f"❌ Not yet. Hint: {hint}")


def _safely(check):
    """Turn any exception raised by the student's code into a "not yet" with the error's text."""

    def wrapper(*args, **kwargs):
        try:
            return check(*args, **kwargs)
        except NotImplementedError:
            return _report(False, "", "replace the `raise NotImplementedError` (the TODO) with your code.")
        except Exception as err:
            return _report(False, "", f"your code raised {type(err).__name__}: {err}")

    wrapper.__name__, wrapper.__doc__ = check.__name__, check.__doc__
    return wrapper


# ----------------------------------------------------------------------------- 00 start here

def check_hello(answer) -> None:
    """00: the answer is 2 + 2."""
    return _report(answer == 4, "You know how exercises work.", "set `answer = 2 + 2` and run the cell again.")


# ----------------------------------------------------------------------------- 01 vanishing gradients

def sigmoid_derivative_max() -> float:
    """max_z sigma'(z) = sigma(0) (1 - sigma(0)) = 1/4."""
    return 0.25


@_safely
def check_sigmoid_derivative_max(value) -> None:
    return _report(value is not None and math.isclose(float(value), 0.25, rel_tol=1e-3),
                   "sigma'(z) <= 1/4, so the slopes of 20 sigmoid layers multiply a gradient by at most "
                   "(1/4)^20 ~ 1e-12.",
                   "sigma'(z) = sigma(z)(1 - sigma(z)); where is it largest?")


def gradient_ratio(norms) -> float:
    """First-layer over last-layer gradient norm."""
    return float(norms[0] / norms[-1])


@_safely
def check_gradient_ratio(fn) -> None:
    import numpy as np

    norms = np.array([1e-6, 1e-3, 1.0, 2.0])
    return _report(fn(norms) == gradient_ratio(norms), "a ratio << 1 means the first layers barely learn.",
                   "divide the first entry (input side) by the last entry (output side).")


# ----------------------------------------------------------------------------- 02 residual blocks

def residual_forward(branch, x: torch.Tensor) -> torch.Tensor:
    """y = F(x) + x."""
    return branch(x) + x


@_safely
def check_residual_forward(fn) -> None:
    branch = torch.nn.Linear(4, 4)
    x = torch.randn(3, 4)
    return _report(torch.allclose(fn(branch, x), residual_forward(branch, x)),
                   "y = F(x) + x: the shortcut adds the input back.", "return the branch's output plus x.")


@_safely
def check_identity_jacobian(jacobian) -> None:
    """02: the Jacobian of a zero-initialised residual block is the identity."""
    j = torch.as_tensor(jacobian)
    ok = j.dim() == 2 and j.shape[0] == j.shape[1] and torch.allclose(j, torch.eye(len(j)), atol=1e-5)
    return _report(ok, "dy/dx = I + dF/dx = I when F starts at zero.",
                   "use torch.autograd.functional.jacobian on the zero-initialised block; expect torch.eye(n).")


# ----------------------------------------------------------------------------- 03 residual vs skip

def concat_channels(decoder_channels: int, skip_channels: int, mode: str) -> int:
    """Channels entering the decoder block after the long skip."""
    return decoder_channels + skip_channels if mode == "concat" else decoder_channels


@_safely
def check_concat_channels(fn) -> None:
    cases = [(32, 32, "concat"), (32, 32, "add"), (64, 32, "concat"), (16, 16, "none")]
    ok = all(fn(*c) == concat_channels(*c) for c in cases)
    return _report(ok, "concatenation stacks channels; addition keeps them (and needs equal shapes).",
                   "concat: c_dec + c_skip; add and none: c_dec.")


def unet_parameters(skip: str, residual: bool) -> int:
    """Parameter count of ``UNet(skip=skip, residual=residual)`` (the defaults otherwise)."""
    from .unet import UNet
    from .utils import count_parameters

    return count_parameters(UNet(skip=skip, residual=residual))


@_safely
def check_unet_parameters(value) -> None:
    """03: parameters of the U-Net with additive skips and no residual connections."""
    return _report(value == unet_parameters("add", False),
                   "residual shortcuts cost almost nothing (1x1 projections only where channels change).",
                   "build UNet(skip='add', residual=False) and call count_parameters on it.")


# ----------------------------------------------------------------------------- 04 forward diffusion

def q_sample(x0, t, schedule: NoiseSchedule, noise):
    """Reference: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps."""
    return _q_sample(x0, t, schedule, noise=noise)


@_safely
def check_q_sample(fn) -> None:
    s = NoiseSchedule.make("linear", 1000)
    x0, noise = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    t = torch.tensor([0, 10, 500, 999])
    got = fn(x0, t, s, noise)
    ok = got.shape == x0.shape and torch.allclose(got, q_sample(x0, t, s, noise), atol=1e-5)
    return _report(ok, "that is the closed form q(x_t | x_0).",
                   "take alpha_bar[t], reshape it to [B, 1, 1, 1], and mix x0 and noise with square roots.")


def t_half(schedule: NoiseSchedule) -> int:
    """First t with alpha_bar_t < 1/2."""
    return int(torch.nonzero(schedule.alpha_bar < 0.5)[0])


@_safely
def check_t_half(value, schedule: NoiseSchedule) -> None:
    return _report(value == t_half(schedule), f"half of the signal's variance is gone by t = {t_half(schedule)}.",
                   "find the first index where schedule.alpha_bar < 0.5.")


# ----------------------------------------------------------------------------- 05 training

def eps_loss(model, x0, t, noise, schedule: NoiseSchedule):
    """Reference: || noise - model(q_sample(x0, t, noise), t) ||^2, averaged."""
    x_t = _q_sample(x0, t, schedule, noise=noise)
    return ((model(x_t, t) - noise) ** 2).mean()


@_safely
def check_eps_loss(fn) -> None:
    s = NoiseSchedule.make("linear", 1000)
    x0, noise = torch.randn(8, 2), torch.randn(8, 2)
    t = torch.tensor([0, 1, 10, 100, 300, 500, 800, 999])
    model = lambda x, tt: 0.5 * x
    got = fn(model, x0, t, noise, s)
    ok = torch.as_tensor(got).numel() == 1 and torch.allclose(torch.as_tensor(got).float(),
                                                              eps_loss(model, x0, t, noise, s).float(), atol=1e-5)
    return _report(ok, "that is L_simple, the loss every DDPM is trained with.",
                   "x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise; then mean((model(x_t, t) - noise)**2).")


# ----------------------------------------------------------------------------- 06 sampling

def ddim_step(x_t, eps, alpha_bar_t: float, alpha_bar_prev: float):
    """Reference DDIM step with eta = 0: x_prev = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev) eps."""
    x0 = (x_t - (1 - alpha_bar_t) ** 0.5 * eps) / alpha_bar_t ** 0.5
    return alpha_bar_prev ** 0.5 * x0 + (1 - alpha_bar_prev) ** 0.5 * eps


@_safely
def check_ddim_step(fn) -> None:
    x_t, eps = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    cases = [(0.1, 0.3), (0.5, 0.9), (0.99, 1.0)]
    ok = all(torch.allclose(fn(x_t, eps, a, b), ddim_step(x_t, eps, a, b), atol=1e-5) for a, b in cases)
    return _report(ok, "deterministic DDIM: estimate x_0, then re-noise it to the previous level with the same eps.",
                   "x0_hat = (x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t); "
                   "return sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev) eps.")


@_safely
def check_speedup(value, seconds_ddpm: float, seconds_ddim: float) -> None:
    """06: the measured speed-up of DDIM over DDPM (a ratio of two measured times)."""
    ok = value is not None and abs(float(value) - seconds_ddpm / seconds_ddim) < 1e-6 * max(1.0, float(value))
    return _report(ok, "fewer network calls, proportionally less time.",
                   "divide the DDPM time by the DDIM time.")


# ----------------------------------------------------------------------------- 07 capstone

def paired_interval(rows, skip: str = "add") -> tuple[float, float, float]:
    """07: (mean, low, high) of the per-seed FD differences "plain minus residual" (same seed), 95% t-interval."""
    from .capstone import paired, t_interval

    return t_interval(paired(rows, "fd", "plain", "residual", skip))


@_safely
def check_paired_interval(value, rows, skip: str = "add") -> None:
    """07: the paired t-interval of "plain minus residual" FD over the shipped seeds."""
    from .capstone import select

    expected = paired_interval(rows, skip)
    got = tuple(float(v) for v in value) if value is not None else ()
    ok = len(got) == 3 and all(abs(g - e) <= 1e-6 * max(1.0, abs(e)) for g, e in zip(got, expected))
    unpaired_mean = (sum(r["fd"] for r in select(rows, "plain", skip)) / len(select(rows, "plain", skip))
                     - sum(r["fd"] for r in select(rows, "residual", skip)) / len(select(rows, "residual", skip)))
    if not ok and len(got) == 3 and abs(got[0] - unpaired_mean) < 1e-6 * max(1.0, abs(unpaired_mean)):
        hint = ("the mean is right, the interval is not: take the t-interval of the per-seed *differences* "
                "(one per seed), not of the two groups separately.")
    else:
        hint = (f"diffs = paired(rows, 'fd', 'plain', 'residual', {skip!r}) pairs each seed's plain FD with the "
                "residual FD of the same seed; t_interval(diffs) gives (mean, low, high).")
    return _report(ok, "pairing by seed removes what the two variants share (the seed's data order, t and "
                   "noise), so the interval is about the switch alone.", hint)
