"""Digit classification helpers shared by notebooks 01 and 02: data, a training loop, accuracy."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .data import load_digits


def digits_flat(split: str = "all"):
    """Digits as ``([N, 64] in [-1, 1], labels [N])`` for the MLPs."""
    x, y = load_digits(split=split, return_labels=True)
    return x.flatten(1), y


def train_classifier(net, steps: int = 300, lr: float = 1e-3, batch_size: int = 128, seed: int = 0,
                     images: bool = False):
    """Adam on the digits' "train" split; returns ``(losses [steps], test accuracy)``.

    ``images=True`` feeds ``[B, 1, 8, 8]`` images (CNNs) instead of ``[B, 64]`` vectors (MLPs).
    """
    x, y = digits_flat("train")
    x_test, y_test = digits_flat("test")
    if images:
        x, x_test = x.view(-1, 1, 8, 8), x_test.view(-1, 1, 8, 8)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    net.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch_size,), generator=gen)
        loss = F.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.asarray(losses), accuracy(net, x_test, y_test)


def accuracy(net, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``x`` that ``net`` (put in eval mode) classifies as ``y``."""
    net.eval()
    with torch.no_grad():
        return (net(x).argmax(1) == y).float().mean().item()
