"""Notebook 00, start here: the slider demo and the first exercise."""

from __future__ import annotations

import numpy as np

from ..plotting import finish
from .grading import graded, report


def plot_wave(frequency: float = 1.0, damping: float = 0.0):
    """y = exp(-damping x) sin(2 pi frequency x) on [0, 2]: the slider demo of notebook 00."""
    import matplotlib.pyplot as plt

    x = np.linspace(0, 2, 400)
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.plot(x, np.exp(-damping * x) * np.sin(2 * np.pi * frequency * x))
    ax.set_ylim(-1.1, 1.1)
    ax.set_title(f"frequency = {frequency:.1f}, damping = {damping:.1f}")
    return finish(fig)


# ----------------------------------------------------------------------------- exercises

@graded
def check_hello(answer) -> None:
    """00: the answer is 2 + 2."""
    return report(answer == 4, "You know how exercises work.", "set `answer = 2 + 2` and run the cell again.")
