"""Reference solutions of the notebooks' exercises, and the ``check_...`` functions that grade them.

A check never raises: it prints a hint when the answer is missing or wrong ("Not yet"), and a
congratulation when it is right. Tests call the checks on these reference solutions.
"""

from __future__ import annotations

import math

import torch

from .diffusion import q_sample as _q_sample
from .schedules import NoiseSchedule


def _report(ok: bool, success: str, hint: str) -> bool:
    print(f"✅ Correct! {success}" if ok else f"❌ Not yet. Hint: {hint}")
    return ok


def _safely(check):
    """Turn any exception raised by the student's code into a "not yet" with the error's text."""

    def wrapper(*args, **kwargs):
        try:
            return check(*args, **kwargs)
        except NotImplementedError:
            return _report(False, "", "replace the `raise NotImplementedError` (the TODO) with your code.")
        except Exception as err:  # noqa: BLE001 - a student's bug must not crash the notebook
            return _report(False, "", f"your code raised {type(err).__name__}: {err}")

    wrapper.__name__, wrapper.__doc__ = check.__name__, check.__doc__
    return wrapper


# ----------------------------------------------------------------------------- 00 start here

def check_hello(answer) -> bool:
    """00: the answer is 2 + 2."""
    return _report(answer == 4, "You know how exercises work.", "set `answer = 2 + 2` and run the cell again.")


# ----------------------------------------------------------------------------- 01 vanishing gradients

def sigmoid_derivative_max() -> float:
    """max_z sigma'(z) = sigma(0) (1 - sigma(0)) = 1/4."""
    return 0.25


@_safely
def check_sigmoid_derivative_max(value) -> bool:
    return _report(value is not None and math.isclose(float(value), 0.25, rel_tol=1e-3),
                   "sigma'(z) <= 1/4, so 20 sigmoid layers can shrink a gradient by up to 4^20 ~ 1e12.",
                   "sigma'(z) = sigma(z)(1 - sigma(z)); where is it largest?")


def gradient_ratio(norms) -> float:
    """First-layer over last-layer gradient norm."""
    return float(norms[0] / norms[-1])


@_safely
def check_gradient_ratio(fn) -> bool:
    import numpy as np

    norms = np.array([1e-6, 1e-3, 1.0, 2.0])
    return _report(fn(norms) == gradient_ratio(norms), "a ratio << 1 means the first layers barely learn.",
                   "divide the first entry (input side) by the last entry (output side).")


# ----------------------------------------------------------------------------- 02 residual blocks

def residual_forward(branch, x: torch.Tensor) -> torch.Tensor:
    """y = F(x) + x."""
    return branch(x) + x


@_safely
def check_residual_forward(fn) -> bool:
    branch = torch.nn.Linear(4, 4)
    x = torch.randn(3, 4)
    return _report(torch.allclose(fn(branch, x), residual_forward(branch, x)),
                   "y = F(x) + x: the shortcut adds the input back.", "return the branch's output plus x.")


@_safely
def check_identity_jacobian(jacobian) -> bool:
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
def check_concat_channels(fn) -> bool:
    cases = [(32, 32, "concat"), (32, 32, "add"), (64, 32, "concat"), (16, 16, "none")]
    ok = all(fn(*c) == concat_channels(*c) for c in cases)
    return _report(ok, "concatenation stacks channels; addition keeps them (and needs equal shapes).",
                   "concat: c_dec + c_skip; add and none: c_dec.")


# ----------------------------------------------------------------------------- 04 forward diffusion

def q_sample(x0, t, schedule: NoiseSchedule, noise):
    """Reference: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps."""
    return _q_sample(x0, t, schedule, noise=noise)


@_safely
def check_q_sample(fn) -> bool:
    s = NoiseSchedule.make("linear", 1000)
    x0, noise = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    t = torch.tensor([0, 10, 500, 999])
    got = fn(x0, t, s, noise)
    ok = got.shape == x0.shape and torch.allclose(got, q_sample(x0, t, s, noise), atol=1e-5)
    return _report(ok, "that is the closed form q(x_t | x_0).",
                   "take alpha_bar[t], reshape it to [B, 1, 1, 1], and mix x0 and noise with square roots.")
