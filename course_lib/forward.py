"""Notebook 04: what the forward process q(x_t | x_0) does to an image, as plain functions."""

from __future__ import annotations

import numpy as np
import torch

from .diffusion import q_sample, q_step
from .plotting import finish
from .schedules import NoiseSchedule


def chain_vs_closed_form(x0: torch.Tensor, t: int, schedule: NoiseSchedule, n: int = 4000, seed: int = 0):
    """Noise ``n`` copies of one image ``x0 [C, H, W]`` to step ``t`` twice: by iterating q(x_s | x_{s-1})
    and by the closed form q(x_t | x_0). Returns per-pixel means and variances of both, and the
    closed form's exact values: ``{"chain": (mean, var), "closed": (mean, var), "exact": (mean, var)}``,
    each a ``[C*H*W]`` tensor."""
    gen = torch.Generator().manual_seed(seed)
    batch = x0.expand(n, *x0.shape).double()
    x = batch
    for s in range(t + 1):
        x = q_step(x, torch.full((n,), s), schedule, generator=gen)
    direct = q_sample(batch, torch.full((n,), t), schedule, generator=gen)
    ab = schedule.alpha_bar[t].item()
    flat = lambda v: v.reshape(n, -1)
    return {"chain": (flat(x).mean(0), flat(x).var(0)), "closed": (flat(direct).mean(0), flat(direct).var(0)),
            "exact": (ab ** 0.5 * x0.reshape(-1).double(), torch.full((x0.numel(),), 1 - ab, dtype=torch.float64))}


def show_forward(t: int = 100, schedule: str = "linear", T: int = 1000, images: dict | None = None, seed: int = 0):
    """Widget body. Top row: each clean image x_0 of ``images`` and the curves alpha_bar_t and log-SNR_t
    against t, with t marked. Bottom row: each image noised to step ``t`` by q(x_t | x_0), and the
    histogram of the noised pixels against N(0, 1)."""
    import matplotlib.pyplot as plt

    from .data import load_digits, load_photo

    s = NoiseSchedule.make(schedule, T)
    t = min(int(t), T - 1)
    images = images or {"photo": load_photo("china.jpg", 64), "digit": load_digits()[0]}
    gen = torch.Generator().manual_seed(seed)
    k = len(images)
    fig, axes = plt.subplots(2, k + 1, figsize=(3.1 * (k + 1), 5.8), squeeze=False)
    noised = {}
    for j, (name, img) in enumerate(images.items()):
        x_t = q_sample(img[None], torch.tensor([t]), s, generator=gen)[0]
        noised[name] = x_t
        for ax, x, title in ((axes[0, j], img, f"{name}: x_0 (clean)"), (axes[1, j], x_t, f"{name}: x_t, t = {t}")):
            shown = ((x.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).squeeze(-1).numpy()
            ax.imshow(shown, cmap="gray", vmin=0, vmax=1)
            ax.set_title(title)
            ax.axis("off")
    ax = axes[0, -1]
    steps = np.arange(T)
    ax.plot(steps, s.alpha_bar.numpy(), label="alpha_bar")
    ax.set_xlabel("t")
    ax.set_ylim(0, 1)
    ax2 = ax.twinx()
    ax2.plot(steps, s.log_snr.numpy(), color="C1", label="log-SNR")
    ax2.set_ylabel("log-SNR", color="C1")
    ax.axvline(t, color="k", ls="--", lw=1)
    ax.set_title(f"{schedule}: alpha_bar = {s.alpha_bar[t]:.3f}")
    ax = axes[1, -1]
    pixels = torch.cat([v.flatten() for v in noised.values()]).numpy()
    ax.hist(pixels, bins=40, density=True, alpha=0.6, label="pixels of x_t")
    grid = np.linspace(-4, 4, 200)
    ax.plot(grid, np.exp(-grid ** 2 / 2) / np.sqrt(2 * np.pi), "k", label="N(0, 1)")
    ax.set_xlim(-4, 4)
    ax.set_title("pixel histogram of x_t")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return finish(fig)


def show_schedules(names=("linear", "cosine", "sigmoid", "quadratic"), T: int = 1000):
    """alpha_bar and log-SNR of several schedules on one figure."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3))
    for name in names:
        s = NoiseSchedule.make(name, T)
        a.plot(s.alpha_bar.numpy(), label=name)
        b.plot(s.log_snr.numpy(), label=name)
    a.set_title("alpha_bar_t")
    b.set_title("log-SNR_t = log(alpha_bar / (1 - alpha_bar))")
    for ax in (a, b):
        ax.set_xlabel("t")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return finish(fig)
