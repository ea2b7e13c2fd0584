"""Instrumentation for the vanishing-gradient lessons: per-layer gradient norms (``layer_gradient_norms``, and
``layer_profile`` for a fresh ``DeepMLP`` on the first digits), their ratios in decades, and shattered gradients.

Everything returns plain NumPy arrays, ready for ``plt.semilogy``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ._checks import check_positive_int, check_rank
from .classify import first_digits
from .deep_nets import DeepMLP
from .utils import one_thread


def layer_gradient_norms(model, x: torch.Tensor, y: torch.Tensor, loss_fn=F.cross_entropy) -> np.ndarray:
    """||dL/dW_l||_F for every hidden layer l of ``model`` (a ``DeepMLP`` or ``DeepCNN``), for one batch.

    Returns an array of shape ``[depth]``; entry 0 is the layer nearest the input. In a plain
    sigmoid network the entries fall geometrically towards the input (vanishing gradients).

    The gradient is computed in the model's dtype (float32), but its norm in float64: the entries of a
    vanishing gradient can be ~1e-28, whose squares (~1e-56) underflow to 0 in float32, so a float32
    ``.norm()`` returns 0 for a gradient whose every entry is nonzero. A norm of 0 here means the gradient
    itself is exactly 0 (every entry underflowed in the float32 backward pass).
    """
    model.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    norms = [layer.linear.weight.grad.double().norm().item() for layer in model.layers]
    model.zero_grad(set_to_none=True)
    return np.asarray(norms)


def layer_profile(depth: int = 20, residual: bool = False, activation: str = "relu", init: str = "default",
                  scale_branch: bool = True, norm: str = "none", width: int = 64, seed: int = 0,
                  n: int = 256) -> np.ndarray:
    """||dL/dW_l|| for l = 1..depth (shape ``[depth]``) of one freshly initialised ``DeepMLP`` (weights
    from ``seed``), for the cross-entropy on the first ``n`` digits.

    Runs on one thread: the matrices are ``[n, width]``, too small for a second thread to help, and on a busy
    2-core machine two threads that wait for each other at every layer make it many times slower.
    """
    x, y = first_digits(n)
    with one_thread():
        torch.manual_seed(seed)
        net = DeepMLP(depth=depth, width=width, activation=activation, init=init, residual=residual,
                      scale_branch=scale_branch, norm=norm)
        return layer_gradient_norms(net, x, y)


def log_ratio(a, b) -> np.ndarray:
    """log10(a / b) elementwise, with log10(0) = -inf (an exact zero is infinitely small)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(divide="ignore"):
        return np.log10(a) - np.log10(b)


def input_gradients(model, x: torch.Tensor) -> torch.Tensor:
    """d sum_j y_j / d x for each input row: ``[N, D] -> [N, D]`` (a model with one output gives dy/dx)."""
    check_rank("x", x, 2, "[N, D]")
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).sum(), x)
    return grad.detach()


def neighbour_gradient_correlation(grads: torch.Tensor | np.ndarray) -> float:
    """Pearson correlation between the gradients at neighbouring inputs g_i and g_{i+1}.

    ``grads`` is ``[N, D]`` (or ``[N]``), computed at N inputs ordered along a line. Near 1:
    nearby inputs see the same gradient (a smooth function); near 0: "shattered" gradients
    that look like white noise (Balduzzi et al. 2017).
    """
    g = np.asarray(grads, dtype=np.float64).reshape(len(grads), -1)
    if len(g) < 3:
        raise ValueError(f"grads has {len(g)} rows; need at least 3 inputs along the line")
    g = g - g.mean(axis=0, keepdims=True)
    a, b = g[:-1].ravel(), g[1:].ravel()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def shattered_gradients(model, n_points: int = 256, low: float = -2.0, high: float = 2.0):
    """Gradients of a 1-input, 1-output ``model`` along ``n_points`` inputs in [low, high].

    Returns ``(x, dy_dx, correlation)``: NumPy arrays of shape ``[n_points]`` and the
    neighbour correlation of ``dy_dx``, as in Balduzzi et al. (2017), Fig. 1.
    """
    check_positive_int("n_points", n_points)
    x = torch.linspace(low, high, n_points).unsqueeze(1)
    grads = input_gradients(model, x)
    return x.squeeze(1).numpy(), grads.squeeze(1).numpy(), neighbour_gradient_correlation(grads)
