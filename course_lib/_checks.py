"""Argument checks that fail with a message naming the argument, the value and what is allowed.

Every public function in ``course_lib`` validates its input with these helpers, so a
student who passes a 28x28 image to a depth-3 U-Net, or ``t = 1000`` to a schedule with
``T = 1000``, reads what went wrong instead of a shape error deep inside PyTorch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import torch

_trusted = 0  # > 0 inside ``trusted_values()``


@contextlib.contextmanager
def trusted_values():
    """Inside this block, checks that read tensor *values* (finite entries, timesteps in range) are skipped: for
    callers that validated their data once (the ``Trainer`` checks its data set when built and draws t itself),
    so that a training step never waits for a value to reach the host. Shape and dtype checks still run."""
    global _trusted
    _trusted += 1
    try:
        yield
    finally:
        _trusted -= 1


def checking_values() -> bool:
    """Whether value checks run here: not inside ``trusted_values()``, not while ``torch.compile`` traces and not
    while a CUDA graph is being captured (where reading a value on the host is impossible)."""
    if _trusted or torch.compiler.is_compiling():
        return False
    return not (torch.cuda.is_available() and torch.cuda.is_current_stream_capturing())


def check_choice(name: str, value, allowed: Iterable) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not supported; allowed: {', '.join(map(repr, allowed))}")


def check_positive_int(name: str, value) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; {name} must be a positive integer (>= 1)")


def check_rank(name: str, x: torch.Tensor, rank: int, layout: str) -> None:
    """Raise ``ValueError`` unless tensor ``x`` has ``rank`` dimensions (``layout`` e.g. '[B, C, H, W]')."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {layout}, got {type(x).__name__}")
    if x.dim() != rank:
        raise ValueError(f"{name} has shape {list(x.shape)} ({x.dim()} dims); expected {rank} dims {layout}")


def check_timesteps(name: str, t: torch.Tensor, T: int) -> None:
    """Raise ``ValueError`` unless every timestep in ``t`` is an integer in [0, T)."""
    if t.is_floating_point():
        raise ValueError(f"{name} must hold integer timesteps in [0, {T}), got dtype {t.dtype}")
    if t.numel() and checking_values() and (int(t.min()) < 0 or int(t.max()) >= T):
        raise ValueError(
            f"{name} holds values in [{int(t.min())}, {int(t.max())}]; allowed: integers in [0, {T}) (T={T})"
        )


def check_float_tensor(name: str, x, where: str = "") -> None:
    """Raise ``TypeError`` unless ``x`` is a floating-point tensor.

    Integer images (``uint8`` 0..255, ``int64``) are refused rather than cast: the schedule's
    coefficients cast to an integer dtype are 0, which silently turns x_t into pure noise.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor{where}, got {type(x).__name__}")
    if not x.is_floating_point():
        hint = (" (uint8 pixels 0..255: x.float() / 127.5 - 1)" if x.dtype == torch.uint8 else "")
        raise TypeError(f"{name} has dtype {x.dtype}{where}; allowed: a floating-point tensor (float32, float64, "
                        f"float16, bfloat16) scaled to about [-1, 1]; convert it first{hint}")


def check_finite(name: str, x: torch.Tensor, where: str = "") -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or infinite values (naming how many and the first index)."""
    if not checking_values():
        return
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = (~finite).nonzero()
        first = tuple(int(i) for i in bad[0])
        raise ValueError(f"{name}{where} holds {len(bad)} NaN or infinite value(s), the first at index {first} "
                         f"({x[first].item()}); allowed: finite values only")


def check_same_shape(name: str, x: torch.Tensor, like_name: str, like: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``x.shape == like.shape``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {list(like.shape)}, got {type(x).__name__}")
    if x.shape != like.shape:
        raise ValueError(f"{name} has shape {list(x.shape)}; it must match {like_name}'s shape {list(like.shape)}")


def config_with(config, config_class, overrides: dict, example: str):
    """``config`` (default: ``config_class()``) with ``overrides`` applied; ``TypeError`` for anything else,
    e.g. a plain dict. ``example`` shows the keyword form in the message."""
    from dataclasses import replace

    config = config_class() if config is None else config
    if not isinstance(config, config_class):
        raise TypeError(f"config must be a {config_class.__name__}, got {type(config).__name__}; "
                        f"give the fields as keywords, e.g. {example}")
    return replace(config, **overrides) if overrides else config
