"""Digit classification helpers shared by notebooks 01 and 02: data, a training loop, accuracy."""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from .data import load_digits


def digits_flat(split: str = "all"):
    """Digits as ``([N, 64] in [-1, 1], labels [N])`` for the MLPs."""
    x, y = load_digits(split=split, return_labels=True)
    return x.flatten(1), y


@functools.lru_cache(maxsize=4)
def first_digits(n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` digits, ``([n, 64] in [-1, 1], labels [n])``, loaded once (a widget asks for them often)."""
    x, y = digits_flat()
    return x[:n], y[:n]


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


def classifier_curve(net, budgets, lr: float = 1e-3, batch_size: int = 128, seed: int = 0) -> list[dict]:
    """``train_classifier``'s run (the same batches, Adam at ``lr``), stopped at each of the increasing step
    counts ``budgets`` to measure it: one row ``{"steps", "train_loss", "test_loss", "accuracy"}`` per budget,
    the losses the mean cross-entropy over the whole "train" and "test" splits (the net in eval mode)."""
    x, y = digits_flat("train")
    x_test, y_test = digits_flat("test")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    rows, done = [], 0
    for budget in budgets:
        net.train()
        for _ in range(done, budget):
            idx = torch.randint(0, len(x), (batch_size,), generator=gen)
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        done = budget
        net.eval()
        with torch.no_grad():
            rows.append({"steps": budget, "train_loss": F.cross_entropy(net(x), y).item(),
                         "test_loss": F.cross_entropy(net(x_test), y_test).item(),
                         "accuracy": accuracy(net, x_test, y_test)})
    return rows


def linear_baseline(seed: int = 0) -> dict:
    """The trivial baselines beside a classifier's curve: a linear (softmax) classifier on the 64 pixels, fitted
    to convergence on the "train" split (scikit-learn's L-BFGS), and chance (always the same class: loss ln 10)."""
    from sklearn.linear_model import LogisticRegression

    x, y = digits_flat("train")
    x_test, y_test = digits_flat("test")
    fit = LogisticRegression(max_iter=5000, random_state=seed).fit(x.numpy(), y.numpy())
    return {"linear_train_loss": float(-np.log(fit.predict_proba(x.numpy())[np.arange(len(y)), y.numpy()]).mean()),
            "linear_accuracy": float(fit.score(x_test.numpy(), y_test.numpy())),
            "chance_loss": float(np.log(10)), "chance_accuracy": float(np.bincount(y_test).max() / len(y_test))}


def accuracy(net, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``x`` that ``net`` (put in eval mode) classifies as ``y``."""
    net.eval()
    with torch.no_grad():
        return (net(x).argmax(1) == y).float().mean().item()
