"""Small plotting helpers shared by the notebooks and the command line."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

# A gradient norm of 0 is drawn as a triangle with this label (``log_plot_with_zeros``, ``mark_zero_row``). Norms are
# taken in float64 (``gradients.layer_gradient_norms``), so 0 means every entry of the float32 gradient is 0: the
# backward pass underflowed.
ZERO_LABEL = "exactly 0 (the float32 gradient underflowed)"


def _described(description: str, include=None, exclude=None, **_) -> dict:
    """A figure's ``_repr_mimebundle_``: its description as the output's plain text. IPython still asks the
    inline backend for the PNG (a bundle without ``image/png`` leaves that to the registered formatter)."""
    return {"text/plain": description}


def describe(fig, description: str):
    """Attach ``description`` to ``fig`` and return ``fig``: what the figure shows (axes, panels) and what to see in
    it, in one or two sentences. A notebook output of the figure carries it as its ``text/plain`` (beside the
    PNG), so a reader without the picture (a screen reader, the website's alt text, a diff of the notebook) gets
    the words, not ``<Figure size 560x256 with 1 Axes>``. Written from parameters, never from computed numbers:
    the notebook tests compare it on any CPU."""
    if not isinstance(description, str) or len(description.split()) < 8:
        raise ValueError(f"a figure needs a description of at least 8 words, got {description!r}")
    fig.description = description
    fig._repr_mimebundle_ = functools.partial(_described, description)
    return fig


def finish(fig, description: str):
    """Close ``fig`` (so that Jupyter's inline backend does not draw it a second time), attach ``description``
    (``describe``) and return it: a notebook cell that ends with the call shows the figure exactly once, with
    its description as the output's text."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return describe(fig, description)


def smooth(values, window: int = 20) -> np.ndarray:
    """Moving average (``valid`` part) for readable loss curves."""
    values = np.asarray(values, dtype=float)
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def image_grid(x: torch.Tensor, nrow: int | None = None, pad: int = 1) -> torch.Tensor:
    """Tile ``[N, C, H, W]`` images in [-1, 1] into one ``[H', W', C]`` NumPy array in [0, 1] for ``imshow``."""
    x = x.detach().float().cpu().clamp(-1, 1)
    n, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    grid = torch.ones(c, ncol * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        grid[:, pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = \
            (x[i] + 1) / 2
    return (grid.permute(1, 2, 0).squeeze(-1) if c == 1 else grid.permute(1, 2, 0)).numpy()


def log_plot_with_zeros(ax, x, values, style, label, color=None, zero_y=None, **kw):
    """Plot positive ``values`` on a log axis; exact zeros become downward triangles at ``zero_y``.

    A log axis cannot show 0, and clipping it to a floor such as 1e-30 draws a plateau that is
    not there; a separate marker says "this gradient is exactly zero".
    """
    values = np.asarray(values, dtype=float)
    shown = np.where(values > 0, values, np.nan)
    (line,) = ax.plot(x, shown, style, color=color, label=label, **kw)
    zeros = values == 0
    if zeros.any() and zero_y is not None:
        ax.plot(np.asarray(x)[zeros], np.full(zeros.sum(), zero_y), "v", color=line.get_color(), ms=7,
                linestyle="none")
    return line


def zero_floor(arrays) -> float | None:
    """Where to draw exact zeros: a decade below the smallest positive value (None if nothing is 0)."""
    values = np.concatenate([np.ravel(a) for a in arrays]).astype(float)
    if not (values == 0).any():
        return None
    positive = values[values > 0]
    return 10 ** (math.floor(math.log10(positive.min())) - 1) if positive.size else 1e-30


def mark_zero_row(ax, zero_y) -> None:
    """A dotted line at ``zero_y`` and a legend entry (``ZERO_LABEL``) for the triangles drawn there."""
    if zero_y is not None:
        ax.axhline(zero_y, color="0.6", lw=0.8, ls=":")
        ax.plot([], [], "v", color="0.4", linestyle="none", label=ZERO_LABEL)


def legend_outside(ax, **kw):
    """A legend to the right of ``ax``, where it hides no data."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **{"fontsize": 8, **kw})


def plot_sample_grids(samples: dict[str, torch.Tensor], n: int = 48, nrow: int = 12, score: bool = True,
                      description: str | None = None):
    """One grid of digits per entry ``{title: [N, 1, H, W]}``; with ``score``, each titled with its FD and floor
    (``metrics.digit_quality``, at the sample size N: compare scores only between equal N). ``description``: the
    figure's (``describe``), by default one naming the grids."""
    import matplotlib.pyplot as plt

    from .metrics import digit_quality

    fig, axes = plt.subplots(1, len(samples), figsize=(5 * len(samples), 3), squeeze=False)
    for ax, (name, x) in zip(axes[0], samples.items()):
        title = name
        if score:
            q = digit_quality(x)
            title = f"{name}: FD {q['fd']:.1f} (floor {q['floor']:.1f}, n = {len(x)})"
        ax.imshow(image_grid(x[:n], nrow=nrow), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title)
        ax.axis("off")
    scored = (": each title gives the grid's Frechet distance (FD) to held-out digits, lower is better, and the "
              "floor that real digits score" if score else "")
    return finish(fig, description or f"Grids of generated 8x8 digits, up to {n} per grid, one grid per set "
                  f"({'; '.join(samples)}){scored}. Compare the grids as wholes: do the strokes read as digits?")


def save_image_grid(x: torch.Tensor, path, nrow: int | None = None) -> None:
    """Write ``image_grid(x)`` as a PNG (grey colour map for one channel)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.imsave(path, image_grid(x, nrow), cmap="gray", vmin=0, vmax=1)


class LiveLossPlot:
    """A ``Trainer`` callback that redraws the loss curve in place while training runs in a notebook.

    >>> trainer = Trainer(model, schedule, data, callback=LiveLossPlot(logy=True))

    ``logy=True`` draws the loss on a log axis, for a loss that falls by decades (a diffusion loss does, in
    its first tens of steps).
    """

    def __init__(self, window: int = 25, figsize=(6, 2.6), logy: bool = False):
        self.window, self.figsize, self.logy, self.handle, self.fig = window, figsize, logy, None, None
        self.shown = False

    def __call__(self, trainer) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        if self.fig is None:
            self.fig, self.ax = plt.subplots(figsize=self.figsize)
            plt.close(self.fig)  # drawn through the display handle only
            loss = "Training loss (eps-MSE, log scale)" if self.logy else "Training loss"
            describe(self.fig, f"{loss} against the training step, redrawn while training runs: the loss of "
                     f"each batch (faint) and its moving average over {self.window} steps (the title gives the step "
                     "and that average). Read the trend, not the batch-to-batch "
                     "noise.")
        ax = self.ax
        ax.clear()
        loss = trainer.history.loss
        ax.plot(loss, alpha=0.3, lw=0.8, label="batch loss")
        if len(loss) >= self.window:
            ax.plot(range(self.window - 1, len(loss)), smooth(loss, self.window), label=f"moving avg ({self.window})")
        ax.set_xlabel("step")
        ax.set_ylabel("eps-MSE (log scale)" if self.logy else "eps-MSE")
        if self.logy:
            ax.set_yscale("log")
        ax.set_title(f"step {trainer.step}, loss {sum(loss[-self.window:]) / len(loss[-self.window:]):.4f}")
        ax.legend(loc="upper right", fontsize=8)
        if not self.shown:  # outside IPython display() returns no handle: show once, then just redraw
            self.handle, self.shown = display(self.fig, display_id=True), True
        elif self.handle is not None:
            self.handle.update(self.fig)
