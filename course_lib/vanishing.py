"""The experiments of notebook 01 (vanishing gradients, degradation), as plain functions.

Widgets call these with the values of their controls; tests call them directly.
"""

from __future__ import annotations

import numpy as np
import torch

from .classify import digits_flat, train_classifier
from .deep_nets import DeepMLP
from .gradients import layer_gradient_norms
from .plotting import finish


def gradient_profiles(depth: int = 20, activation: str = "sigmoid", init: str = "default",
                      scale_branch: bool = True, norm: str = "none", width: int = 64, seed: int = 0,
                      n: int = 256) -> dict[str, np.ndarray]:
    """Per-layer gradient norms ``[depth]`` of the plain and the residual twin, on ``n`` digits."""
    x, y = digits_flat()
    x, y = x[:n], y[:n]
    out = {}
    for name, residual in (("plain", False), ("residual", True)):
        torch.manual_seed(seed)
        net = DeepMLP(depth=depth, width=width, activation=activation, init=init, residual=residual,
                      scale_branch=scale_branch, norm=norm)
        out[name] = layer_gradient_norms(net, x, y)
    return out


def plot_gradient_profiles(profiles: dict[str, np.ndarray], title: str = "", ax=None):
    """Log-scale gradient norm against layer index (1 = next to the input), one line per network."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    floor = 1e-30  # log axes cannot show an exact 0: draw it at the floor
    for name, norms in profiles.items():
        layers = np.arange(1, len(norms) + 1)
        ax.semilogy(layers, np.maximum(norms, floor), "o-", ms=3, label=name)
    ax.set_xlabel("layer (1 = input side)")
    ax.set_ylabel("||dL/dW_l||")
    ax.set_title(title)
    ax.legend()
    ax.grid(True, which="major", alpha=0.3)
    return finish(ax.figure)


def first_layer_table(depths=(2, 8, 16, 32, 64), **kw) -> dict[str, list[float]]:
    """First-layer gradient norm against depth for the plain and residual twins (other settings: ``kw``)."""
    rows: dict[str, list[float]] = {"plain": [], "residual": []}
    for depth in depths:
        p = gradient_profiles(depth=depth, **kw)
        rows["plain"].append(float(p["plain"][0]))
        rows["residual"].append(float(p["residual"][0]))
    return rows


def degradation_experiment(depths=(4, 32), activation: str = "relu", steps: int = 300, width: int = 64,
                           seed: int = 0) -> dict[str, dict]:
    """He et al. (2016) Fig. 1 at toy scale: train plain and residual MLPs of each depth, same budget.

    Returns ``{"plain-4": {"loss": [steps], "accuracy": float}, ...}``.
    """
    runs = {}
    for residual in (False, True):
        for depth in depths:
            torch.manual_seed(seed)
            net = DeepMLP(depth=depth, width=width, activation=activation, residual=residual)
            losses, acc = train_classifier(net, steps=steps, seed=seed)
            runs[f"{'residual' if residual else 'plain'}-{depth}"] = {"loss": losses, "accuracy": acc}
    return runs


def smooth(values, window: int = 20) -> np.ndarray:
    """Moving average (``valid`` part) for readable loss curves."""
    values = np.asarray(values, dtype=float)
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def plot_training_losses(runs: dict[str, dict], ax=None, title: str = "training loss"):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for name, run in runs.items():
        style = "-" if name.startswith("residual") else "--"
        label = f"{name} (acc {run['accuracy']:.0%})" if "accuracy" in run else name
        ax.plot(smooth(run["loss"]), style, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (moving average)")
    ax.set_title(title)
    ax.legend()
    return finish(ax.figure)


def show_gradient_profiles(depth: int = 30, activation: str = "sigmoid", init: str = "default",
                           residual: bool = True, scale_branch: bool = True, norm: str = "none"):
    """Widget body: the plain network's profile, and next to it the residual twin's (if ``residual``)."""
    profiles = gradient_profiles(depth=depth, activation=activation, init=init, scale_branch=scale_branch,
                                 norm=norm)
    if not residual:
        profiles.pop("residual")
    fix = "branch x 1/sqrt(depth)" if scale_branch else "unscaled branch"
    return plot_gradient_profiles(profiles, title=f"depth {depth}, {activation}, {init} init, {fix}, norm={norm}")


def shattered_gradient_curves(depth: int = 32, width: int = 128, seed: int = 0) -> dict[str, tuple]:
    """``{"plain": (x, dy/dx, correlation), "residual": ...}`` for 1-input BatchNorm MLPs (Balduzzi et al.)."""
    from .gradients import shattered_gradients

    out = {}
    for name, residual in (("plain", False), ("residual", True)):
        torch.manual_seed(seed)
        net = DeepMLP(in_features=1, out_features=1, depth=depth, width=width, residual=residual,
                      scale_branch=False, norm="batch")
        out[name] = shattered_gradients(net)
    return out


def plot_shattered(curves: dict[str, tuple]):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(9, 2.8))
    for ax, (name, (x, g, corr)) in zip(axes, curves.items()):
        ax.plot(x, g, lw=1)
        ax.set_title(f"{name}: neighbour correlation {corr:.2f}")
        ax.set_xlabel("input x")
    axes[0].set_ylabel("dy/dx")
    fig.tight_layout()
    return finish(fig)
