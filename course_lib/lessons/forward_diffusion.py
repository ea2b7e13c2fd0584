"""Notebook 04: what the forward process q(x_t | x_0) does to an image, as plain functions."""

from __future__ import annotations

import numpy as np
import torch

from ..diffusion import q_sample, q_step
from ..plotting import finish
from ..schedules import NoiseSchedule
from .grading import graded, report


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


class ForwardView:
    """Widget body of notebook 04, built once. Top row: each clean image x_0 of ``images`` and the curves
    alpha_bar_t and log-SNR_t against t, with t marked. Bottom row: each image noised to step t by
    q(x_t | x_0), and the histogram of the noised pixels against N(0, 1).

    ``update(t, schedule, T)`` changes only ``animated`` artists (noised images, curves, marker, titles,
    histogram), except that T sets the t axis: it returns T as the name of the background to draw on.
    """

    def __init__(self, images: dict | None = None, seed: int = 0):
        import matplotlib.pyplot as plt

        from ..data import load_digits, load_photo

        self.images = images or {"photo": load_photo("china.jpg", 64), "digit": load_digits()[0]}
        self.noise = {name: torch.randn(img.shape, generator=torch.Generator().manual_seed(seed + j))
                      for j, (name, img) in enumerate(self.images.items())}
        self.schedules: dict[tuple[str, int], NoiseSchedule] = {}
        k = len(self.images)
        self.fig, axes = plt.subplots(2, k + 1, figsize=(3.1 * (k + 1), 5.8), squeeze=False)
        self.noised_images, self.noised_titles = [], []
        for j, (name, img) in enumerate(self.images.items()):
            top, bottom = axes[0, j], axes[1, j]
            top.imshow(_to_unit(img), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            top.set_title(f"{name}: x_0 (clean)")
            self.noised_images.append(bottom.imshow(_to_unit(img), cmap="gray", vmin=0, vmax=1,
                                                    interpolation="nearest"))
            self.noised_titles.append(bottom.set_title(f"{name}: x_t"))
            top.axis("off")
            bottom.axis("off")
        ax = self.curve_axes = axes[0, -1]
        (self.alpha_bar_line,) = ax.plot([], [], label="alpha_bar")
        ax.set_xlabel("t")
        ax.set_ylabel("alpha_bar", color="C0")
        ax.set_ylim(0, 1)
        self.log_snr_axes = ax.twinx()
        (self.log_snr_line,) = self.log_snr_axes.plot([], [], color="C1", label="log-SNR")
        self.log_snr_axes.set_ylabel("log-SNR", color="C1")
        self.log_snr_axes.set_ylim(-21, 11)  # every schedule and T offered fits, so the axis never moves
        self.marker = ax.axvline(0, color="k", ls="--", lw=1)
        self.curve_title = ax.set_title("")
        ax = axes[1, -1]
        self.bins = np.linspace(-4, 4, 41)
        self.histogram = ax.stairs(np.zeros(40), self.bins, fill=True, alpha=0.6, label="pixels of x_t")
        grid = np.linspace(-4, 4, 200)
        ax.plot(grid, np.exp(-grid ** 2 / 2) / np.sqrt(2 * np.pi), "k", label="N(0, 1)")
        ax.set_xlim(-4, 4)
        ax.set_ylim(0, 1.0)
        ax.set_xlabel("pixel value")
        ax.set_ylabel("density (axis cut at 1)")
        ax.set_title("pixel histogram of x_t")
        ax.legend(fontsize=8, loc="upper right")
        self.fig.tight_layout()
        self.animated = [*self.noised_images, *self.noised_titles, self.alpha_bar_line, self.log_snr_line,
                         self.marker, self.curve_title, self.histogram]

    def schedule(self, name: str, T: int) -> NoiseSchedule:
        if (name, T) not in self.schedules:
            self.schedules[(name, T)] = NoiseSchedule.make(name, T)
        return self.schedules[(name, T)]

    def update(self, t: int = 100, schedule: str = "linear", T: int = 1000) -> int:
        T = int(T)
        s = self.schedule(schedule, T)
        t = min(int(t), T - 1)
        steps = np.arange(T)
        self.alpha_bar_line.set_data(steps, s.alpha_bar.numpy())
        self.log_snr_line.set_data(steps, s.log_snr.numpy())
        self.curve_axes.set_xlim(0, T - 1)
        pixels = []
        for (name, img), image, title in zip(self.images.items(), self.noised_images, self.noised_titles):
            x_t = q_sample(img[None], torch.tensor([t]), s, noise=self.noise[name][None])[0]
            image.set_data(_to_unit(x_t))
            title.set_text(f"{name}: x_t, t = {t}")
            pixels.append(x_t.flatten())
        self.histogram.set_data(np.histogram(torch.cat(pixels).numpy(), bins=self.bins, density=True)[0])
        self.marker.set_xdata([t, t])
        self.curve_title.set_text(f"{schedule}, T = {T}: alpha_bar_t = {s.alpha_bar[t]:.3f}")
        return T


def _to_unit(x: torch.Tensor) -> np.ndarray:
    """An image in [-1, 1], ``[C, H, W]``, as an ``imshow`` array in [0, 1]."""
    return ((x.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).squeeze(-1).numpy()


def show_forward(t: int = 100, schedule: str = "linear", T: int = 1000, images: dict | None = None, seed: int = 0):
    """The figure of ``ForwardView`` for one setting, as a static figure (to call with fixed arguments)."""
    view = ForwardView(images, seed)
    view.update(t, schedule, T)
    return finish(view.fig)


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


# ----------------------------------------------------------------------------- exercises

@graded
def check_q_sample(fn) -> None:
    s = NoiseSchedule.make("linear", 1000)
    x0, noise = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    t = torch.tensor([0, 10, 500, 999])
    got = fn(x0, t, s, noise)
    ok = got.shape == x0.shape and torch.allclose(got, q_sample(x0, t, s, noise=noise), atol=1e-5)
    return report(ok, "that is the closed form q(x_t | x_0).",
                   "take alpha_bar[t], reshape it to [B, 1, 1, 1], and mix x0 and noise with square roots.")


def t_half(schedule: NoiseSchedule) -> int:
    """First t with alpha_bar_t < 1/2."""
    return int(torch.nonzero(schedule.alpha_bar < 0.5)[0])


@graded
def check_t_half(value, schedule: NoiseSchedule) -> None:
    return report(value == t_half(schedule), f"half of the signal's variance is gone by t = {t_half(schedule)}.",
                   "find the first index where schedule.alpha_bar < 0.5.")


# ----------------------------------------------------------------------------- widgets

def forward_controls() -> dict:
    """The controls of notebook 04's widget: t (view-only: about 30 ms a move), the schedule and T."""
    from ipywidgets import Dropdown, IntSlider

    return {"t": IntSlider(value=100, min=0, max=999, step=10),
            "schedule": Dropdown(options=["linear", "cosine", "sigmoid", "quadratic"], value="linear"),
            "T": Dropdown(options=[50, 100, 250, 500, 1000], value=1000)}


def demo_widgets() -> dict:
    """Notebook 04's widget (``ForwardView`` over the photo and a digit), with the notebook's controls."""
    from ..widgets import LiveFigure

    return {"forward": LiveFigure(ForwardView(), **forward_controls()).warm()}
