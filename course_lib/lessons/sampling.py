"""Notebook 06: sampling experiments as plain functions (timing and scoring samplers, the scrubber,
2-D trajectories)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from ..metrics import digit_quality
from ..plotting import finish
from ..samplers import DDIMSampler, DDPMSampler, Trajectory
from .grading import graded, report


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


def show_samples_at(model, schedule, steps: int = 20, n: int = 32, seed: int = 0):
    """Widget body: DDIM samples with ``steps`` steps, titled with time and score."""
    import matplotlib.pyplot as plt

    from ..plotting import image_grid

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

    from ..plotting import image_grid

    i = min(max(int(i), 0), len(trajectory.timesteps) - 1)
    fig, axes = plt.subplots(1, 2, figsize=(8, 1.8))
    for ax, img, title in [(axes[0], trajectory.x_t[i][:n], f"x_t, t = {trajectory.timesteps[i]}"),
                           (axes[1], trajectory.x0_pred[i][:n], "predicted x_0")]:
        ax.imshow(image_grid(img, nrow=n), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    return finish(fig)


def show_trajectory_steps(trajectory: Trajectory, steps=(5, 25, 40), n: int = 8):
    """x_t (left) and the predicted x_0 (right) at several steps of one sampling trajectory, one row per step."""
    import matplotlib.pyplot as plt

    from ..plotting import image_grid

    steps = [min(max(int(i), 0), len(trajectory.timesteps) - 1) for i in steps]
    fig, axes = plt.subplots(len(steps), 2, figsize=(8, 1.5 * len(steps)), squeeze=False)
    for row, i in zip(axes, steps):
        for ax, img, title in [(row[0], trajectory.x_t[i][:n], f"x_t, t = {trajectory.timesteps[i]}"),
                               (row[1], trajectory.x0_pred[i][:n], f"predicted x_0 at t = {trajectory.timesteps[i]}")]:
            ax.imshow(image_grid(img, nrow=n), cmap="gray", vmin=0, vmax=1)
            ax.set_title(title, fontsize=9)
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


def plot_sample_grids(samples: dict[str, torch.Tensor], n: int = 48, nrow: int = 12, score: bool = True):
    """One grid of digits per entry ``{title: [N, 1, H, W]}``; with ``score``, each titled with its FD and floor
    (at the sample size N: compare scores only between equal N)."""
    import matplotlib.pyplot as plt

    from ..plotting import image_grid

    fig, axes = plt.subplots(1, len(samples), figsize=(5 * len(samples), 3), squeeze=False)
    for ax, (name, x) in zip(axes[0], samples.items()):
        title = name
        if score:
            q = digit_quality(x)
            title = f"{name}: FD {q['fd']:.1f} (floor {q['floor']:.1f}, n = {len(x)})"
        ax.imshow(image_grid(x[:n], nrow=nrow), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title)
        ax.axis("off")
    return finish(fig)


# ----------------------------------------------------------------------------- measured over seeds

def floor_by_n(ns=(100, 300, 797), seeds=(0, 1, 2)) -> dict[int, list[float]]:
    """The digit score's floor (FD of ``n`` real held-out digits, drawn with each seed) for each sample size
    ``n``: ``{n: [floor per seed]}``. No model involved: it shows how the FD itself depends on ``n``."""
    from ..data import load_digits
    from ..metrics import digit_fd

    held_out = load_digits(split="test")
    out = {}
    for n in ns:
        if not 2 <= n <= len(held_out):
            raise ValueError(f"ns contains {n}; each sample size must lie in [2, {len(held_out)}]")
        out[n] = [digit_fd(held_out[torch.randperm(len(held_out), generator=torch.Generator().manual_seed(s))[:n]])
                  for s in seeds]
    return out


def sweep_over_seeds(model, schedule, steps=(5, 10, 20, 50), n: int = 300, seeds=(0, 1, 2)) -> dict:
    """``time_and_score`` with DDIM for each number of ``steps`` and each sampling seed (same model, fresh
    starting noise):
    ``{"fd": {steps: [FD per seed]}, "seconds": {steps: [s per seed]}, "floor": [floor per seed]}``."""
    fd, seconds, floors = {s: [] for s in steps}, {s: [] for s in steps}, []
    for seed in seeds:
        for s in steps:
            r = time_and_score(model, schedule, "ddim", s, n, seed)
            fd[s].append(r["fd"])
            seconds[s].append(r["seconds"])
        floors.append(r["floor"])
    return {"fd": fd, "seconds": seconds, "floor": floors}


def plot_sweep_seeds(result: dict):
    """FD against DDIM steps, one dot per seed and the mean (with the floor), and seconds against steps."""
    import matplotlib.pyplot as plt

    steps = list(result["fd"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3))
    for s in steps:
        a.plot([s] * len(result["fd"][s]), result["fd"][s], "o", color="C0", alpha=0.5, ms=4)
    a.plot(steps, [sum(v) / len(v) for v in result["fd"].values()], "-", color="C0", label="samples (dots: seeds)")
    floor = sum(result["floor"]) / len(result["floor"])
    a.axhline(floor, color="grey", ls="--", label="floor (real held-out digits)")
    a.set_xscale("log")
    a.set_xlabel("DDIM steps")
    a.set_ylabel("Fréchet distance (lower is better)")
    a.legend(fontsize=8)
    b.plot(steps, [sum(v) / len(v) for v in result["seconds"].values()], "o-")
    b.set_xscale("log")
    b.set_xlabel("DDIM steps")
    b.set_ylabel("seconds")
    fig.tight_layout()
    return finish(fig)


def ddpm_vs_ddim(model, schedule, seeds=(0, 1, 2), n: int = 300, ddim_steps: int = 50) -> list[dict]:
    """DDPM (all T steps, sigma_t^2 = beta_tilde_t) against DDIM-``ddim_steps`` (eta = 0), both with clipped
    x0-hat, ``n`` samples per seed: ``[{"seed", "n", "ddpm", "ddim", "floor"}, ...]`` (Fréchet distances)."""
    rows = []
    for seed in seeds:
        ddpm = time_and_score(model, schedule, "ddpm", None, n, seed)
        ddim = time_and_score(model, schedule, "ddim", ddim_steps, n, seed)
        rows.append({"seed": seed, "n": n, "ddpm": ddpm["fd"], "ddim": ddim["fd"], "floor": ddim["floor"],
                     "ddpm_seconds": ddpm["seconds"], "ddim_seconds": ddim["seconds"]})
    return rows


RESULTS = Path(__file__).resolve().parents[1] / "results" / "sampling_studies.json"  # shipped, so Colab has it too


def load_studies(path: str | Path = RESULTS) -> dict:
    """The multi-seed studies of notebooks 05 and 06 written by ``scripts/sampling_studies.py``:
    ``{"meta": {...}, "ema": [rows of training_views.ema_study], "ddpm_vs_ddim": [rows of ddpm_vs_ddim]}``."""
    return json.loads(Path(path).read_text())


# ----------------------------------------------------------------------------- exercises

def ddim_step(x_t, eps, alpha_bar_t: float, alpha_bar_prev: float):
    """Reference DDIM step with eta = 0: x_prev = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev) eps."""
    x0 = (x_t - (1 - alpha_bar_t) ** 0.5 * eps) / alpha_bar_t ** 0.5
    return alpha_bar_prev ** 0.5 * x0 + (1 - alpha_bar_prev) ** 0.5 * eps


@graded
def check_ddim_step(fn) -> None:
    x_t, eps = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    cases = [(0.1, 0.3), (0.5, 0.9), (0.99, 1.0)]
    ok = all(torch.allclose(fn(x_t, eps, a, b), ddim_step(x_t, eps, a, b), atol=1e-5) for a, b in cases)
    return report(ok, "deterministic DDIM: estimate x_0, then re-noise it to the previous level with the same eps.",
                   "x0_hat = (x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t); "
                   "return sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev) eps.")


@graded
def check_speedup(value, seconds_ddpm: float, seconds_ddim: float) -> None:
    """06: the measured speed-up of DDIM over DDPM (a ratio of two measured times)."""
    ok = value is not None and abs(float(value) - seconds_ddpm / seconds_ddim) < 1e-6 * max(1.0, float(value))
    return report(ok, "fewer network calls, proportionally less time.",
                   "divide the DDPM time by the DDIM time.")
