"""Deep plain and residual networks for the vanishing-gradient lessons (notebook 01).

Both networks are stacks of identical *layers* ``f_l``; only the shortcut differs:

    plain:     h_{l+1} = f_l(h_l)
    residual:  h_{l+1} = h_l + s * f_l(h_l)

with ``f_l(h) = act(W_l norm(h) + b_l)`` and ``s`` the branch scale. Without a fix, an
unscaled residual stack *explodes* with depth (each layer adds a branch of similar size),
while the plain stack *vanishes*. Real residual networks tame the sum with one of

* ``scale_branch=True``: s = 1 / sqrt(depth), so the variance of the sum stays O(1);
* ``norm="layer"``: a LayerNorm at the start of each branch (the pre-activation design of
  He et al. 2016b); ``norm="batch"``: a BatchNorm there (Balduzzi et al.'s setting).
  The norm is applied to the plain network too, so that only the shortcut differs.

``scale_branch=False, norm="none"`` shows the explosion.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_choice, check_positive_int, check_rank

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}
INITS = ("default", "xavier", "kaiming", "orthogonal")
NORMS = ("none", "layer", "batch")


def init_weight_(weight: torch.Tensor, init: str, activation: str) -> None:
    """Initialise ``weight`` in place: PyTorch's default, Xavier/Glorot, Kaiming/He or orthogonal."""
    check_choice("init", init, INITS)
    if init == "xavier":
        nn.init.xavier_normal_(weight, gain=nn.init.calculate_gain(_gain_name(activation)))
    elif init == "kaiming":
        nn.init.kaiming_normal_(weight, nonlinearity="relu")
    elif init == "orthogonal":
        nn.init.orthogonal_(weight, gain=nn.init.calculate_gain(_gain_name(activation)))
    # "default": keep PyTorch's own (Kaiming-uniform with a=sqrt(5)).


def _gain_name(activation: str) -> str:
    return {"gelu": "relu"}.get(activation, activation)


class DeepNet(nn.Module):
    """A stem, ``depth`` identical hidden layers with or without shortcuts, and a linear head.

    Subclasses provide ``_layer(norm)`` (one hidden layer), ``stem`` and ``head``.
    ``self.layers[l]`` is f_l; notebook 01 reads the gradient of each one's weight.
    """

    def __init__(self, depth, activation, init, residual, scale_branch, norm):
        super().__init__()
        check_positive_int("depth", depth)
        check_choice("activation", activation, ACTIVATIONS)
        check_choice("norm", norm, NORMS)
        check_choice("init", init, INITS)
        self.depth, self.activation, self.residual, self.norm = depth, activation, bool(residual), norm
        self.branch_scale = 1.0 / math.sqrt(depth) if (residual and scale_branch) else 1.0

    def _build(self, init: str) -> None:
        self.layers = nn.ModuleList(self._layer() for _ in range(self.depth))
        for layer in self.layers:
            init_weight_(layer.linear.weight, init, self.activation)

    def hidden(self, h: torch.Tensor) -> torch.Tensor:
        """Run the hidden stack: h_{l+1} = h_l + s f_l(h_l) if residual else f_l(h_l)."""
        for f in self.layers:
            h = h + self.branch_scale * f(h) if self.residual else f(h)
        return h


class _Layer(nn.Module):
    """f(h) = act(linear(norm(h))); ``linear`` is a Linear or a 3x3 Conv2d."""

    def __init__(self, norm: nn.Module, linear: nn.Module, act: nn.Module):
        super().__init__()
        self.norm, self.linear, self.act = norm, linear, act

    def forward(self, h):
        return self.act(self.linear(self.norm(h)))


class DeepMLP(DeepNet):
    """Deep MLP: ``[B, in_features] -> [B, out_features]``, ``depth`` hidden layers of ``width``.

    >>> DeepMLP(depth=32, residual=True)(torch.zeros(5, 64)).shape
    torch.Size([5, 10])
    """

    def __init__(self, in_features=64, out_features=10, width=64, depth=16, activation="relu",
                 init="default", residual=False, scale_branch=True, norm="none"):
        super().__init__(depth, activation, init, residual, scale_branch, norm)
        check_positive_int("width", width)
        self.in_features, self.width = in_features, width
        self.stem = nn.Linear(in_features, width)
        self.head = nn.Linear(width, out_features)
        self._build(init)

    def _layer(self) -> nn.Module:
        norm = {"none": nn.Identity, "layer": nn.LayerNorm, "batch": nn.BatchNorm1d}[self.norm]
        return _Layer(norm(self.width),
                      nn.Linear(self.width, self.width), ACTIVATIONS[self.activation]())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_rank("x", x, 2, "[B, in_features]")
        if x.shape[1] != self.in_features:
            raise ValueError(f"x has {x.shape[1]} features; this DeepMLP expects in_features={self.in_features}")
        return self.head(self.hidden(self.stem(x)))


class DeepCNN(DeepNet):
    """Deep CNN: ``[B, in_channels, H, W] -> [B, out_features]``; 3x3 convolutions of ``width``
    channels at full resolution, then global average pooling and a linear head.
    """

    def __init__(self, in_channels=1, out_features=10, width=16, depth=16, activation="relu",
                 init="default", residual=False, scale_branch=True, norm="none"):
        super().__init__(depth, activation, init, residual, scale_branch, norm)
        check_positive_int("width", width)
        self.in_channels, self.width = in_channels, width
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1)
        self.head = nn.Linear(width, out_features)
        self._build(init)

    def _layer(self) -> nn.Module:
        norm = {"none": lambda c: nn.Identity(), "layer": lambda c: nn.GroupNorm(1, c), "batch": nn.BatchNorm2d}
        return _Layer(norm[self.norm](self.width),
                      nn.Conv2d(self.width, self.width, 3, padding=1), ACTIVATIONS[self.activation]())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_rank("x", x, 4, "[B, C, H, W]")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x has {x.shape[1]} channels; this DeepCNN expects in_channels={self.in_channels}")
        return self.head(self.hidden(self.stem(x)).mean(dim=(2, 3)))
