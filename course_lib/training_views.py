"""Figures of notebook 05: points, loss per timestep bucket, toy samples for a number of DDIM steps."""

from __future__ import annotations

import torch

from .metrics import toy_quality
from .plotting import finish
from .samplers import DDIMSampler
from .trainer import History


def plot_points(clouds: dict[str, torch.Tensor], lim: float = 1.8):
    """Scatter plots of 2-D point clouds ``{title: [N, 2]}`` side by side, same axes."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(clouds), figsize=(3.6 * len(clouds), 3.4), squeeze=False)
    for ax, (title, pts) in zip(axes[0], clouds.items()):
        pts = pts.detach().cpu()
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5)
        ax.set_title(title)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
    fig.tight_layout()
    return finish(fig)


def plot_loss_by_t(history: History, T: int):
    """Bar chart of the mean training loss in each tenth of [0, T)."""
    import matplotlib.pyplot as plt

    means = history.mean_loss_by_t()
    width = T / len(means)
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.bar([width * (i + 0.5) for i in range(len(means))], means, width=0.9 * width)
    ax.set_xlabel("timestep t")
    ax.set_ylabel("mean eps-MSE")
    ax.set_title("the loss depends on t: small t (little noise) is hardest")
    return finish(fig)


@torch.no_grad()
def show_toy_samples(model, schedule, name: str = "moons", steps: int = 50, n: int = 2000, seed: int = 0):
    """Widget body: DDIM samples of a 2-D model with ``steps`` steps over the toy data ``name``, with their score."""
    import matplotlib.pyplot as plt

    from .data import make_toy_2d

    data = make_toy_2d(name, n, seed=seed)
    x = DDIMSampler(schedule, steps).sample(model.eval(), (n, 2), generator=torch.Generator().manual_seed(seed))
    q = toy_quality(x, name)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(data[:n, 0], data[:n, 1], s=2, alpha=0.3, color="C1", label="data")
    ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.5, color="C0", label="samples")
    ax.set_title(f"DDIM {steps} steps: SWD {q['swd']:.3f} (floor {q['swd_floor']:.3f})")
    ax.set_xlim(-1.8, 1.8)
    ax.set_ylim(-1.8, 1.8)
    ax.set_aspect("equal")
    ax.legend(fontsize=8, loc="lower left")
    return finish(fig)

