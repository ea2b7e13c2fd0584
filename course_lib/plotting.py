"""Small plotting helpers shared by the notebooks and the command line."""

from __future__ import annotations

import math

import numpy as np
import torch


def finish(fig):
    """Close ``fig`` (so that Jupyter's inline backend does not draw it a second time) and return it:
    a notebook cell that ends with the call shows the figure exactly once, and so does a widget."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return fig


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
