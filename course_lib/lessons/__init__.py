"""What each notebook shows: one module per notebook, named after it.

====================================  ====================================
notebook                              module
====================================  ====================================
``00_start_here``                     ``lessons.start_here``
``01_vanishing_gradients``            ``lessons.vanishing_gradients``
``01b_gradient_pathologies``          ``lessons.gradient_pathologies``
``02_residual_blocks``                ``lessons.residual_blocks``
``03_residual_vs_skip``               ``lessons.residual_vs_skip``
``04_forward_diffusion``              ``lessons.forward_diffusion``
``05_training``                       ``lessons.training``
``06_sampling``                       ``lessons.sampling``
``06b_sample_quality``                ``lessons.sample_quality``
``07_residual_in_diffusion``          ``lessons.residual_in_diffusion``
``07b_comparing_variants``            ``lessons.comparing_variants``
``08_guidance``                       ``lessons.guidance``
====================================  ====================================

Each holds the notebook's figures, widget bodies, experiments, the exercises' reference solutions and their
``check_...`` functions (graded by ``lessons.grading``). The library (``course_lib`` outside this folder)
never imports from here, and no lesson imports another: what two notebooks share lives in the library.
"""

from __future__ import annotations

import torch

from ..utils import get_device, seed_everything, use_large_config


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
