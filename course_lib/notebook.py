"""What every notebook does first, and the small demo functions of notebook 00."""

from __future__ import annotations

import numpy as np
import torch

from .plotting import finish
from .utils import get_device, seed_everything, use_large_config


def setup_notebook(seed: int = 0) -> torch.device:
    """Seed everything, pick the device (CUDA, MPS or CPU) and set readable plot defaults.

    Returns the device; notebooks choose a larger configuration when it is not the CPU.
    """
    import matplotlib.pyplot as plt

    seed_everything(seed)
    plt.rcParams.update({"figure.dpi": 80, "axes.spines.top": False, "axes.spines.right": False,
                         "image.cmap": "gray"})
    device = get_device()
    print(f"device: {device.type}" + (" (a larger configuration will be used)" if use_large_config(device) else ""))
    return device


def plot_wave(frequency: float = 1.0, damping: float = 0.0):
    """y = exp(-damping x) sin(2 pi frequency x) on [0, 2]: the slider demo of notebook 00."""
    import matplotlib.pyplot as plt

    x = np.linspace(0, 2, 400)
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.plot(x, np.exp(-damping * x) * np.sin(2 * np.pi * frequency * x))
    ax.set_ylim(-1.1, 1.1)
    ax.set_title(f"frequency = {frequency:.1f}, damping = {damping:.1f}")
    return finish(fig)
