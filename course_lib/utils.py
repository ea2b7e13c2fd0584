"""Reproducibility and device helpers used by every notebook."""

from __future__ import annotations

import os
import platform
import random

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
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


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
