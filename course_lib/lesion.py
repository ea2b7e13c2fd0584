"""Notebook 02's lesion experiment (Veit et al. 2016): delete one block at a time from a trained
network and measure the test accuracy. A residual network behaves like an ensemble of paths
and barely notices; a plain network is a single path and collapses.
"""

from __future__ import annotations

import torch

from .blocks import SmallResNet
from .classify import accuracy, digits_flat, train_classifier
from .plotting import finish


def train_small_resnet(residual: bool, num_blocks: int = 8, width: int = 16, steps: int = 300,
                       block: str = "basic", seed: int = 0) -> tuple[SmallResNet, float]:
    """Train a ``SmallResNet`` (or its plain twin) on the digits; returns ``(net, test accuracy)``."""
    torch.manual_seed(seed)
    net = SmallResNet(num_blocks=num_blocks, width=width, block=block, residual=residual)
    _, acc = train_classifier(net, steps=steps, lr=3e-3, seed=seed, images=True)
    return net, acc


def lesion_study(net: SmallResNet) -> dict[int, float]:
    """Test accuracy with each deletable block removed in turn: ``{block index: accuracy}``."""
    x, y = digits_flat("test")
    x = x.view(-1, 1, 8, 8)
    out = {}
    for i in net.lesionable_blocks():
        net.skip_blocks = {i}
        out[i] = accuracy(net, x, y)
    net.skip_blocks = set()
    return out


def plot_lesion(results: dict[str, tuple[float, dict[int, float]]], ax=None):
    """Bars of the accuracy after deleting each block, per network, with the intact accuracy as a line.

    ``results``: ``{"residual": (intact accuracy, lesion_study(...)), "plain": ...}``.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(results)
    for k, (name, (intact, lesions)) in enumerate(results.items()):
        idx = np.arange(len(lesions))
        bars = ax.bar(idx + k * width, list(lesions.values()), width, label=f"{name} (intact {intact:.0%})")
        ax.axhline(intact, color=bars.patches[0].get_facecolor(), ls="--", lw=1)
        ax.set_xticks(idx + width * (len(results) - 1) / 2, [str(i) for i in lesions])
    ax.axhline(0.1, color="grey", ls=":", lw=1, label="chance")
    ax.set_xlabel("deleted block")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right")
    return finish(ax.figure)


def accuracy_without(net: SmallResNet, deleted: set[int]) -> float:
    """Test accuracy of ``net`` with the blocks in ``deleted`` removed."""
    x, y = digits_flat("test")
    net.skip_blocks = set(deleted)
    try:
        return accuracy(net, x.view(-1, 1, 8, 8), y)
    finally:
        net.skip_blocks = set()


def show_lesion(nets: dict[str, SmallResNet], block: int = 1):
    """Widget body: each network's test accuracy intact and with ``block`` deleted."""
    import matplotlib.pyplot as plt

    names = list(nets)
    intact = [accuracy_without(nets[n], set()) for n in names]
    lesioned = [accuracy_without(nets[n], {block}) for n in names]
    fig, ax = plt.subplots(figsize=(5, 3))
    idx = range(len(names))
    ax.bar([i - 0.2 for i in idx], intact, 0.4, label="intact")
    ax.bar([i + 0.2 for i in idx], lesioned, 0.4, label=f"block {block} deleted")
    ax.axhline(0.1, color="grey", ls=":", lw=1, label="chance")
    ax.set_xticks(list(idx), names)
    ax.set_ylim(0, 1)
    ax.set_ylabel("test accuracy")
    ax.legend(loc="lower right", fontsize=8)
    return finish(fig)


def identity_error(block, x: torch.Tensor) -> tuple[float, float]:
    """``(max |block(x) - x|, max |J - I|)`` for a block in eval mode, J its Jacobian at one example."""
    block.eval()
    with torch.no_grad():
        out_err = (block(x) - x).abs().max().item()
    jac = block_jacobian(block, x[:1])
    return out_err, (jac - torch.eye(len(jac))).abs().max().item()


def block_jacobian(block, x: torch.Tensor) -> torch.Tensor:
    """d vec(block(x)) / d vec(x) for one example ``x [1, C, H, W]``: ``[CHW, CHW]``."""
    n = x.numel()
    jac = torch.autograd.functional.jacobian(lambda v: block(v.view_as(x)).flatten(), x.flatten())
    return jac.reshape(n, n)
