"""Notebook 06: sampling experiments as plain functions (timing and scoring samplers, the scrubber,
2-D trajectories)."""

from __future__ import annotations

import time

import torch

from .metrics import digit_quality
from .plotting import finish
from .samplers import DDIMSampler, DDPMSampler, Trajectory


def sampler_for(name: str, schedule, steps: int | None = None, clip_x0: bool = True):
    """``"ddpm"`` (all T steps) or ``"ddim"`` with ``steps`` steps."""
    return DDPMSampler(schedule, clip_x0=clip_x0) if name == "ddpm" else DDIMSampler(schedule, steps, clip_x0=clip_x0)


def time_and_score(model, schedule, name: str = "ddim", steps: int = 50, n: int = 300, seed: int = 0) -> dict:
    """Sample ``n`` digits; return ``{"seconds", "fd", "floor", "ceiling", "samples"}``."""
    sampler = sampler_for(name, schedule, steps)
    start = time.perf_counter()
    x = sampler.sample(model, (n, 1, 8, 8), generator=torch.Generator().manual_seed(seed))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **digit_quality(x), "samples": x}


def steps_sweep(model, schedule, steps=(5, 10, 20, 50, 100), n: int = 300, seed: int = 0) -> dict[int, dict]:
    """``time_and_score`` with DDIM for each number of steps."""
    return {s: time_and_score(model, schedule, "ddim", s, n, seed) for s in steps}


def plot_sweep(sweep: dict[int, dict]):
    """FD against DDIM steps (with the floor), and seconds against steps."""
    import matplotlib.pyplot as plt

    steps = list(sweep)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3))
    a.plot(steps, [r["fd"] for r in sweep.values()], "o-", label="samples")
    a.axhline(next(iter(sweep.values()))["floor"], color="grey", ls="--", label="floor (real digits)")
    a.set_xscale("log")
    a.set_xlabel("DDIM steps")
    a.set_ylabel("Fréchet distance (lower is better)")
    a.legend()
    b.plot(steps, [r["seconds"] for r in sweep.values()], "o-")
    b.set_xscale("log")
    b.set_xlabel("DDIM steps")
    b.set_ylabel("seconds")
    fig.tight_layout()
    return finish(fig)


def show_samples_at(model, schedule, steps: int = 20, n: int = 32, seed: int = 0):
    """Widget body: DDIM samples with ``steps`` steps, titled with time and score."""
    import matplotlib.pyplot as plt

    from .plotting import image_grid

    r = time_and_score(model, schedule, "ddim", steps, n=max(n, 100), seed=seed)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.imshow(image_grid(r["samples"][:n], nrow=16), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"DDIM {steps} steps: {r['seconds']:.2f} s for {max(n, 100)} digits, "
                 f"FD {r['fd']:.1f} (floor {r['floor']:.1f})")
    ax.axis("off")
    return finish(fig)


def show_trajectory_step(trajectory: Trajectory, i: int = 0, n: int = 8):
    """Widget body: x_t and the predicted x_0 at step ``i`` of a sampling trajectory, side by side."""
    import matplotlib.pyplot as plt

    from .plotting import image_grid

    i = min(max(int(i), 0), len(trajectory.timesteps) - 1)
    fig, axes = plt.subplots(1, 2, figsize=(8, 1.8))
    for ax, img, title in [(axes[0], trajectory.x_t[i][:n], f"x_t, t = {trajectory.timesteps[i]}"),
                           (axes[1], trajectory.x0_pred[i][:n], "predicted x_0")]:
        ax.imshow(image_grid(img, nrow=n), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    return finish(fig)


def plot_2d_trajectories(trajectory: Trajectory, data: torch.Tensor, n_paths: int = 40):
    """Sampling paths of 2-D points from noise (grey) to their end points (blue), over the data (orange)."""
    import matplotlib.pyplot as plt

    path = torch.stack(trajectory.x_t)  # [steps + 1, N, 2]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    axes[0].scatter(data[:, 0], data[:, 1], s=2, color="C1", alpha=0.4, label="data")
    for k in range(min(n_paths, path.shape[1])):
        axes[0].plot(path[:, k, 0], path[:, k, 1], color="grey", lw=0.6, alpha=0.6)
    axes[0].scatter(path[-1, :, 0], path[-1, :, 1], s=3, color="C0", label="samples")
    axes[0].set_title("reverse trajectories")
    axes[0].legend(fontsize=8)
    for frac, alpha in [(0.0, 0.3), (0.5, 0.5), (1.0, 1.0)]:
        k = int(frac * (len(path) - 1))
        t_label = trajectory.timesteps[k] if k < len(trajectory.timesteps) else 0
        axes[1].scatter(path[k, :, 0], path[k, :, 1], s=2, alpha=alpha, label=f"x_t at t={t_label}" if k < len(
            trajectory.timesteps) else "x_0 (samples)")
    axes[1].set_title("the cloud contracting onto the data")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xlim(-2.5, 2.5)
        ax.set_ylim(-2.5, 2.5)
        ax.set_aspect("equal")
    fig.tight_layout()
    return finish(fig)


def plot_sample_grids(samples: dict[str, torch.Tensor], n: int = 48, nrow: int = 12):
    """One grid of digits per entry ``{title: [N, 1, H, W]}``, each titled with its FD and floor."""
    import matplotlib.pyplot as plt

    from .plotting import image_grid

    fig, axes = plt.subplots(1, len(samples), figsize=(5 * len(samples), 3), squeeze=False)
    for ax, (name, x) in zip(axes[0], samples.items()):
        q = digit_quality(x)
        ax.imshow(image_grid(x[:n], nrow=nrow), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{name}: FD {q['fd']:.1f} (floor {q['floor']:.1f})")
        ax.axis("off")
    return finish(fig)
