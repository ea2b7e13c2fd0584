"""Sample-quality scores the course uses to compare samplers, budgets and architectures.

Digits: a Fréchet distance (as in FID) between feature statistics of samples and of real digits,
in the 32-d penultimate layer of a small classifier trained on the real digits (a few seconds,
deterministic, cached). A score alone means little, so ``digit_quality`` reports it next to its
*floor* (real training digits against the held-out ones, same count) and *ceiling* (Gaussian noise, same count).

2-D points: the maximum mean discrepancy (MMD, Gaussian kernels) and the sliced Wasserstein
distance to fresh samples of the same distribution, with the floor of another fresh draw.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_choice, check_rank
from .checkpoints import load_checkpoint, save_checkpoint
from .data import default_cache_dir, load_digits, make_toy_2d

FEATURE_DIM = 32


class DigitClassifier(nn.Module):
    """``[B, 1, 8, 8] -> [B, 10]`` logits; ``features`` gives the 32-d penultimate activations."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1),
                                  nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 16, FEATURE_DIM),
                                  nn.ReLU())
        self.head = nn.Linear(FEATURE_DIM, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@functools.lru_cache(maxsize=1)
def digit_classifier(epochs: int = 20, seed: int = 0) -> DigitClassifier:
    """The classifier behind the digit score: trained once (about 4 s on a CPU) on the "train"
    split of the digits with a fixed seed, then cached on disk in ``default_cache_dir()``.
    """
    path = default_cache_dir() / f"digit_classifier-v1-e{epochs}-s{seed}.pt"
    if path.exists():
        net = DigitClassifier()
        net.load_state_dict(load_checkpoint(path))
        return net.eval()
    net = train_digit_classifier(epochs, seed)
    try:
        save_checkpoint(net.state_dict(), path)
    except OSError:  # a read-only home directory: keep the classifier in memory only
        pass
    return net


@torch.enable_grad()
def train_digit_classifier(epochs: int, seed: int) -> DigitClassifier:
    x, y = load_digits(split="train", return_labels=True)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = DigitClassifier()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 100):
            idx = perm[i:i + 100]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def classifier_accuracy(x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (digit_classifier()(to_8x8(x)).argmax(1) == y).float().mean().item()


def to_8x8(x: torch.Tensor) -> torch.Tensor:
    """Bring ``[B, 1, H, W]`` digits to the classifier's 8x8 (area resize), clamped to [-1, 1]."""
    check_rank("samples", x, 4, "[B, 1, H, W]")
    if x.shape[1] != 1:
        raise ValueError(f"samples have {x.shape[1]} channels; the digit score expects 1")
    x = x.detach().float().cpu().clamp(-1, 1)
    return x if x.shape[-2:] == (8, 8) else F.interpolate(x, size=(8, 8), mode="area")


def digit_features(x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return digit_classifier().features(to_8x8(x)).double().numpy()


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)) between Gaussians fitted to ``[N, D]`` features."""
    mu_a, mu_b = feats_a.mean(0), feats_b.mean(0)
    c_a, c_b = np.cov(feats_a, rowvar=False), np.cov(feats_b, rowvar=False)
    # Tr((C_a C_b)^(1/2)) = sum of sqrt of the eigenvalues of C_a C_b (real and >= 0 up to round-off)
    eig = np.linalg.eigvals(c_a @ c_b).real.clip(min=0)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(c_a) + np.trace(c_b) - 2 * np.sqrt(eig).sum())


REFERENCES = ("train", "test")


@functools.lru_cache(maxsize=2)
def _reference_features(reference: str = "train") -> np.ndarray:
    return digit_features(load_digits(split=reference))


def digit_fd(samples: torch.Tensor, reference: str = "test") -> float:
    """Fréchet distance between ``samples [N, 1, H, W]`` and real digits: the 797 held-out "test" digits
    (``reference="test"``, the default) or the 1,000 "train" digits (``reference="train"``).

    The course's generators train on the "train" split only, so the default compares them with digits they
    never saw; against "train", a model that memorised its training digits would score as well as real data.
    """
    check_choice("reference", reference, REFERENCES)
    return frechet_distance(digit_features(samples), _reference_features(reference))


def _other(reference: str) -> torch.Tensor:
    return load_digits(split="train" if reference == "test" else "test")


def digit_floor(n: int, seed: int = 0, reference: str = "test") -> float:
    """The FD of ``n`` real digits of the *other* split (drawn with ``seed``) against the ``reference`` split:
    what a perfect generator scores at this sample size. ``n`` is capped at the other split's size. It varies
    from draw to draw (about 14 to 19 at n = 300): compare a score with several draws, not one."""
    check_choice("reference", reference, REFERENCES)
    other = _other(reference)
    pick = torch.randperm(len(other), generator=torch.Generator().manual_seed(seed))[:min(n, len(other))]
    return digit_fd(other[pick], reference)


def floor_by_n(ns=(100, 300, 1000), seeds=(0, 1, 2)) -> dict[int, list[float]]:
    """The digit score's floor (``digit_floor``: FD of ``n`` real training digits, drawn with each seed, against
    the held-out digits) for each sample size ``n``: ``{n: [floor per seed]}``. No model involved: it shows how
    the FD itself depends on ``n`` and how much it moves from draw to draw. ``n = 1000`` is the whole training
    split, so its draws coincide."""
    most = len(load_digits(split="train"))
    out = {}
    for n in ns:
        if not 2 <= n <= most:
            raise ValueError(f"ns contains {n}; each sample size must lie in [2, {most}]")
        out[n] = [digit_floor(n, s) for s in seeds]
    return out


def digit_ceiling(n: int, seed: int = 0, reference: str = "test") -> float:
    """The FD of ``n`` Gaussian-noise images (clipped to [-1, 1], drawn with ``seed``): a model that learned
    nothing."""
    noise = torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(10_000 + seed)).clamp(-1, 1)
    return digit_fd(noise, reference)


def digit_quality(samples: torch.Tensor, seed: int = 0, reference: str = "test") -> dict[str, float]:
    """``{"fd", "floor", "ceiling", "n"}``: the samples' FD against the ``reference`` split (default: the
    held-out digits), the ``digit_floor`` and the ``digit_ceiling`` at the same ``n``, drawn with ``seed``
    (pass the seed of the samples' draw, so that repeated draws show the floor's own spread)."""
    check_choice("reference", reference, REFERENCES)
    n = len(samples)
    if n < FEATURE_DIM + 1:
        raise ValueError(f"samples has {n} images; the digit score needs at least {FEATURE_DIM + 1}")
    return {"fd": digit_fd(samples, reference), "floor": digit_floor(n, seed, reference),
            "ceiling": digit_ceiling(n, seed, reference), "n": n}


# ----------------------------------------------------------------------------- 2-D scores

def mmd(x: torch.Tensor, y: torch.Tensor, bandwidths=(0.05, 0.1, 0.2, 0.5, 1.0)) -> float:
    """Squared MMD with a sum of Gaussian kernels k(a, b) = exp(-|a - b|^2 / (2 h^2)), unbiased estimate."""
    check_rank("x", x, 2, "[N, D]")
    check_rank("y", y, 2, "[M, D]")
    x, y = x.double(), y.double()

    def k(a, b):
        d2 = torch.cdist(a, b) ** 2
        return sum(torch.exp(-d2 / (2 * h * h)) for h in bandwidths)

    n, m = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return float((kxx.sum() - kxx.diag().sum()) / (n * (n - 1)) + (kyy.sum() - kyy.diag().sum()) / (m * (m - 1))
                 - 2 * kxy.mean())


def sliced_wasserstein(x: torch.Tensor, y: torch.Tensor, n_projections: int = 256, seed: int = 0) -> float:
    """Sliced 1-Wasserstein distance: the mean, over random directions, of the 1-D W1 distance between
    the projected point sets (equal sizes; the larger set is subsampled)."""
    check_rank("x", x, 2, "[N, D]")
    check_rank("y", y, 2, "[M, D]")
    gen = torch.Generator().manual_seed(seed)
    n = min(len(x), len(y))
    x = x[torch.randperm(len(x), generator=gen)[:n]].double()
    y = y[torch.randperm(len(y), generator=gen)[:n]].double()
    dirs = torch.randn(x.shape[1], n_projections, generator=gen, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    px, _ = torch.sort(x @ dirs, dim=0)
    py, _ = torch.sort(y @ dirs, dim=0)
    return float((px - py).abs().mean())


def toy_quality(samples: torch.Tensor, name: str, seed: int = 0) -> dict[str, float]:
    """``{"swd", "mmd", "swd_floor", "mmd_floor"}`` of 2-D ``samples`` against fresh points of ``name``;
    the floors compare two fresh draws of the same size."""
    n = len(samples)
    ref = make_toy_2d(name, n, seed=10_000 + seed)
    other = make_toy_2d(name, n, seed=20_000 + seed)
    samples = samples.detach().float().cpu()
    return {"swd": sliced_wasserstein(samples, ref), "mmd": mmd(samples, ref),
            "swd_floor": sliced_wasserstein(other, ref), "mmd_floor": mmd(other, ref)}
