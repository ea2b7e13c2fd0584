"""Small plotting helpers shared by the notebooks and the command line."""

from __future__ import annotations

import math

import torch


def image_grid(x: torch.Tensor, nrow: int | None = None, pad: int = 1) -> torch.Tensor:
    """Tile ``[N, C, H, W]`` images in [-1, 1] into one ``[H', W', C]`` array in [0, 1] for ``imshow``."""
    x = x.detach().float().cpu().clamp(-1, 1)
    n, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    grid = torch.ones(c, ncol * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        grid[:, pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = \
            (x[i] + 1) / 2
    return grid.permute(1, 2, 0).squeeze(-1) if c == 1 else grid.permute(1, 2, 0)


def save_image_grid(x: torch.Tensor, path, nrow: int | None = None) -> None:
    """Write ``image_grid(x)`` as a PNG (grey colour map for one channel)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.imsave(path, image_grid(x, nrow).numpy(), cmap="gray", vmin=0, vmax=1)
