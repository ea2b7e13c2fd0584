"""A small MLP denoiser eps_theta(x_t, t) for 2-D points, as in tiny-diffusion: ``[B, D], [B] -> [B, D]``.

    h_0 = W_in [x_t, emb(t)];   h_{l+1} = h_l + MLP_l(h_l)   (or MLP_l(h_l) with residual=False);
    eps = W_out h_L
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_finite, check_float_tensor, check_positive_int, check_rank
from .unet import timestep_embedding


class MLPDenoiser(nn.Module):
    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, t_dim: int = 32, residual: bool = True):
        super().__init__()
        for name, value in [("dim", dim), ("hidden", hidden), ("depth", depth), ("t_dim", t_dim)]:
            check_positive_int(name, value)
        if t_dim < 2:
            raise ValueError(f"t_dim={t_dim!r} is not allowed; t_dim must be >= 2 (a 1-dim timestep embedding is 0 "
                             f"for every t)")
        self.config = dict(dim=dim, hidden=hidden, depth=depth, t_dim=t_dim, residual=residual)
        self.dim, self.t_dim, self.residual = dim, t_dim, residual
        self.inp = nn.Linear(dim + t_dim, hidden)
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.GELU())
                                    for _ in range(depth))
        self.out = nn.Linear(hidden, dim)

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
