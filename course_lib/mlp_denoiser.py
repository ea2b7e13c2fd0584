"""A small MLP denoiser eps_theta(x_t, t) for 2-D points, as in tiny-diffusion: ``[B, D], [B] -> [B, D]``.

    h_0 = W_in [x_t, emb(t)];   h_{l+1} = h_l + MLP_l(h_l)   (or MLP_l(h_l) with residual=False);
    eps = W_out h_L
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ._checks import check_finite, check_float_tensor, check_positive_int, check_rank, config_with
from .unet import timestep_embedding


@dataclass(frozen=True)
class MLPConfig:
    """Everything that defines an ``MLPDenoiser``: point dimension, width, number of blocks, timestep-embedding
    size, and residual blocks on or off."""

    dim: int = 2
    hidden: int = 128
    depth: int = 3
    t_dim: int = 32
    residual: bool = True

    def __post_init__(self):
        for name in ("dim", "hidden", "depth", "t_dim"):
            check_positive_int(name, getattr(self, name))
        if self.t_dim < 2:
            raise ValueError(f"t_dim={self.t_dim!r} is not allowed; t_dim must be >= 2 (a 1-dim timestep embedding "
                             f"is 0 for every t)")

    def to_dict(self) -> dict:
        return asdict(self)


class MLPDenoiser(nn.Module):
    """``MLPDenoiser(config)`` with an ``MLPConfig``, or ``MLPDenoiser(hidden=64, ...)`` with its fields."""

    def __init__(self, config: MLPConfig | None = None, **overrides):
        super().__init__()
        self.config = config = config_with(config, MLPConfig, overrides, "MLPDenoiser(hidden=64)")
        self.dim, self.t_dim, self.residual = config.dim, config.t_dim, config.residual
        self.inp = nn.Linear(config.dim + config.t_dim, config.hidden)
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(config.hidden), nn.Linear(config.hidden, config.hidden),
                                                  nn.GELU()) for _ in range(config.depth))
        self.out = nn.Linear(config.hidden, config.dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        check_rank("x", x, 2, "[B, D]")
        check_float_tensor("x", x, " (the MLPDenoiser's input)")
        check_finite("x", x, " (the MLPDenoiser's input)")
        if x.shape[1] != self.dim:
            raise ValueError(f"x has {x.shape[1]} coordinates; this MLPDenoiser expects dim={self.dim}")
        h = self.inp(torch.cat([x, timestep_embedding(t, self.t_dim)], dim=1))
        for block in self.blocks:
            h = h + block(h) if self.residual else block(h)
        return self.out(h)
