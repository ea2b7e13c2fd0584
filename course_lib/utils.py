"""Reproducibility and device helpers used by every notebook."""

from __future__ import annotations

import os
import platform
import random
from contextlib import contextmanager

import numpy as np
import torch


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA); return a CPU ``torch.Generator`` seeded the same.

    Notebooks call this once at the top so that nbval compares real, repeatable values.
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (seeds the legacy global RNG that libraries still use)
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)
    return torch.Generator().manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """Pick the best available device: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` ("cpu", "cuda", "mps") overrides the choice, e.g. ``get_device("cpu")`` to
    reproduce the committed notebook outputs on a machine that has a GPU.
    The environment variable ``COURSE_DEVICE`` does the same without editing a notebook.
    """
    prefer = prefer or os.environ.get("COURSE_DEVICE")
    if prefer is not None:
        from ._checks import check_choice

        check_choice("prefer", prefer, ("cpu", "cuda", "mps"))
        return check_device(prefer, "prefer" if os.environ.get("COURSE_DEVICE") != prefer else "COURSE_DEVICE")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_device(device, name: str = "device") -> torch.device:
    """``torch.device(device)``, or a ``ValueError`` naming ``name`` if that device is not available here."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{name}={device!r} is not a device; allowed: 'cpu', 'cuda', 'cuda:0', 'mps'") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={device!r} is not available: this PyTorch ({torch.__version__}) sees no CUDA GPU; "
                         f"use 'cpu' (or leave the device out to pick the best available)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                  and torch.backends.mps.is_available()):
        raise ValueError(f"{name}={device!r} is not available: no Apple MPS device here; use 'cpu'")
    return dev


CONFIG_ENV = "COURSE_CONFIG"
MAX_STEPS_ENV = "COURSE_MAX_STEPS"


def use_large_config(device: torch.device | str | None = None) -> bool:
    """Whether a notebook should pick its larger configuration (the one meant for a GPU).

    By default: when ``device`` (default ``get_device()``) is not the CPU. The environment variable
    ``COURSE_CONFIG`` overrides it: ``COURSE_CONFIG=large`` forces the larger configuration on the CPU
    (to test the GPU branch on a machine without one, together with ``COURSE_MAX_STEPS`` to keep it
    short), ``COURSE_CONFIG=small`` forces the CPU configuration on a GPU.
    """
    forced = os.environ.get(CONFIG_ENV)
    if forced:
        from ._checks import check_choice

        check_choice(CONFIG_ENV, forced, ("large", "small"))
        return forced == "large"
    device = torch.device(device) if device is not None else get_device()
    return device.type != "cpu"


def max_steps_override() -> int | None:
    """``COURSE_MAX_STEPS`` as an int (every ``Trainer.train`` call and every sampling loop stops after that many
    steps: a smoke test of a configuration), or None."""
    text = os.environ.get(MAX_STEPS_ENV)
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{MAX_STEPS_ENV}={text!r} is not allowed; give a positive integer or leave it unset")
    return int(text)


def environment_report() -> dict[str, str]:
    """Versions and the selected device, as a dict of strings (notebook 00 prints it)."""
    import matplotlib
    import sklearn

    device = get_device()
    report = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "matplotlib": matplotlib.__version__,
        "device": str(device),
        "torch threads": str(torch.get_num_threads()),
    }
    if device.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(0)
    return report


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@contextmanager
def one_thread():
    """Run the block with ``torch.set_num_threads(1)``, then restore the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def model_device(model) -> torch.device:
    """The device a model's weights live on (where its samples are drawn); the CPU for a plain function."""
    weight = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    return weight.device if weight is not None else torch.device("cpu")
