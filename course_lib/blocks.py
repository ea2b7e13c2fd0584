"""Residual blocks of He et al. (2016a, 2016b): y = F(x) + shortcut(x).

* ``BasicBlock``: F = conv3x3-BN-ReLU-conv3x3-BN, then ReLU after the sum (ResNet-18/34).
* ``BottleneckBlock``: F = 1x1 reduce, 3x3, 1x1 expand (ResNet-50 and deeper).
* ``PreActBlock``: F = BN-ReLU-conv3x3-BN-ReLU-conv3x3, nothing after the sum, so the
  identity path is clean end to end (He et al. 2016b, "identity mappings").

The shortcut is the identity when shapes match and a projection (1x1 conv with stride,
plus BN) when channels or stride change. ``zero_init=True`` zeroes the last layer of F
(its BN's gamma, or its conv for the pre-activation block) so that F = 0 at the start: with an
identity shortcut a pre-activation block is then the exact identity (y = x, dy/dx = I), while a basic or
bottleneck block computes ReLU(x), the identity only on inputs >= 0 (as after an earlier ReLU).
``residual=False`` drops the shortcut, giving the matching *plain* block.
All blocks map ``[B, in_channels, H, W] -> [B, out_channels, H / stride, W / stride]``.
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_choice, check_positive_int, check_rank


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


def projection_shortcut(c_in: int, c_out: int, stride: int) -> nn.Module:
    """Identity if shapes match, else a 1x1 convolution with stride and BN (He et al. option B)."""
    if c_in == c_out and stride == 1:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))


class ResidualBlock(nn.Module):
    """Shared logic: checks, the shortcut and ``forward`` = post(F(x) + shortcut(x))."""

    expansion = 1

    def __init__(self, in_channels, channels, stride, residual):
        super().__init__()
        check_positive_int("in_channels", in_channels)
        check_positive_int("channels", channels)
        check_choice("stride", stride, (1, 2))
        self.in_channels, self.out_channels = in_channels, channels * self.expansion
        self.residual, self.stride = bool(residual), stride
        self.shortcut = projection_shortcut(in_channels, self.out_channels, stride) if residual else None
        self.post = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_rank("x", x, 4, "[B, C, H, W]")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x has {x.shape[1]} channels; this block expects in_channels={self.in_channels}")
        out = self.branch(x)
        if self.residual:
            out = out + self.shortcut(x)
        return self.post(out)


class BasicBlock(ResidualBlock):
    """Two 3x3 convolutions; output channels = ``channels``."""

    def __init__(self, in_channels, channels, stride=1, residual=True, zero_init=False):
        super().__init__(in_channels, channels, stride, residual)
        self.branch = nn.Sequential(
            conv3x3(in_channels, channels, stride), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            conv3x3(channels, channels), nn.BatchNorm2d(channels),
        )
        self.post = nn.ReLU()
        if zero_init:
            nn.init.zeros_(self.branch[-1].weight)


class BottleneckBlock(ResidualBlock):
    """1x1 reduce to ``channels``, 3x3, 1x1 expand to ``4 * channels``."""

    expansion = 4

    def __init__(self, in_channels, channels, stride=1, residual=True, zero_init=False):
        super().__init__(in_channels, channels, stride, residual)
        out = channels * self.expansion
        self.branch = nn.Sequential(
            nn.Conv2d(in_channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            conv3x3(channels, channels, stride), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, out, 1, bias=False), nn.BatchNorm2d(out),
        )
        self.post = nn.ReLU()
        if zero_init:
            nn.init.zeros_(self.branch[-1].weight)


class PreActBlock(ResidualBlock):
    """Pre-activation block: y = x + conv(relu(bn(conv(relu(bn(x)))))), no activation after the sum."""

    def __init__(self, in_channels, channels, stride=1, residual=True, zero_init=False):
        super().__init__(in_channels, channels, stride, residual)
        self.branch = nn.Sequential(
            nn.BatchNorm2d(in_channels), nn.ReLU(), conv3x3(in_channels, channels, stride),
            nn.BatchNorm2d(channels), nn.ReLU(), conv3x3(channels, channels),
        )
        if zero_init:
            nn.init.zeros_(self.branch[-1].weight)


BLOCKS = {"basic": BasicBlock, "bottleneck": BottleneckBlock, "preact": PreActBlock}


class SmallResNet(nn.Module):
    """A stem, ``num_blocks`` blocks of one kind (the middle one halves the resolution) and a head.

    ``[B, in_channels, H, W] -> [B, num_classes]``. ``residual=False`` gives the plain twin.
    ``skip_blocks`` (a set of block indices) deletes blocks at run time for the lesion
    experiment of Veit et al. (2016); a deleted block becomes its shortcut.
    """

    def __init__(self, in_channels=1, num_classes=10, width=16, num_blocks=6, block="basic",
                 residual=True, zero_init=False):
        super().__init__()
        check_choice("block", block, BLOCKS)
        check_positive_int("num_blocks", num_blocks)
        cls = BLOCKS[block]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        blocks, c = [], width
        for i in range(num_blocks):
            stride = 2 if i == num_blocks // 2 else 1
            channels = width * (2 if i >= num_blocks // 2 else 1)
            blocks.append(cls(c, channels, stride=stride, residual=residual, zero_init=zero_init))
            c = blocks[-1].out_channels
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(c, num_classes)
        self.skip_blocks: set[int] = set()

    def lesionable_blocks(self) -> list[int]:
        """Indices of blocks whose input and output shapes match: deleting one leaves h unchanged."""
        return [i for i, b in enumerate(self.blocks)
                if b.in_channels == b.out_channels and b.stride == 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in self.skip_blocks:
            if i not in self.lesionable_blocks():
                raise ValueError(f"skip_blocks contains {i}; only blocks that keep the shape can be deleted: "
                                 f"{self.lesionable_blocks()}")
        h = self.stem(x)
        for i, block in enumerate(self.blocks):
            h = h if i in self.skip_blocks else block(h)
        return self.head(h.mean(dim=(2, 3)))
