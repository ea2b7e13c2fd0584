"""Figures of notebook 05: points, loss per timestep bucket, toy samples for a number of DDIM steps."""

from __future__ import annotations

import torch

from ..diffusion import q_sample
from ..metrics import toy_quality
from ..plotting import finish
from ..samplers import DDIMSampler
from ..schedules import NoiseSchedule
from ..trainer import History
from .grading import graded, report


def plot_points(clouds: dict[str, torch.Tensor], lim: float = 1.8):
    """Scatter plots of 2-D point clouds ``{title: [N, 2]}`` side by side, same axes."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(clouds), figsize=(3.6 * len(clouds), 3.4), squeeze=False)
    for ax, (title, pts) in zip(axes[0], clouds.items()):
        pts = pts.detach().cpu()
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5)
        ax.set_title(title)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
    fig.tight_layout()
    return finish(fig)


def plot_loss_by_t(history: History, T: int):
    """Bar chart of the mean training loss in each tenth of [0, T)."""
    import matplotlib.pyplot as plt

    means = history.mean_loss_by_t()
    width = T / len(means)
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.bar([width * (i + 0.5) for i in range(len(means))], means, width=0.9 * width)
    ax.set_xlabel("timestep t")
    ax.set_ylabel("mean eps-MSE")
    ax.set_title("the loss depends on t: small t (little noise) is hardest")
    return finish(fig)


@torch.no_grad()
def show_toy_samples(model, schedule, name: str = "moons", steps: int = 50, n: int = 2000, seed: int = 0):
    """Widget body: DDIM samples of a 2-D model with ``steps`` steps over the toy data ``name``, with their score."""
    import matplotlib.pyplot as plt

    from ..data import make_toy_2d

    data = make_toy_2d(name, n, seed=seed)
    x = DDIMSampler(schedule, steps).sample(model.eval(), (n, 2), generator=torch.Generator().manual_seed(seed))
    q = toy_quality(x, name)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(data[:n, 0], data[:n, 1], s=2, alpha=0.3, color="C1", label="data")
    ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.5, color="C0", label="samples")
    ax.set_title(f"DDIM {steps} steps: SWD {q['swd']:.3f} (floor {q['swd_floor']:.3f})")
    ax.set_xlim(-1.8, 1.8)
    ax.set_ylim(-1.8, 1.8)
    ax.set_aspect("equal")
    ax.legend(fontsize=8, loc="lower left")
    return finish(fig)



# ----------------------------------------------------------------------------- EMA over seeds

def train_digit_unet(seed: int = 0, steps: int = 500, width: int = 16, lr: float = 2e-3, ema_decay: float = 0.995,
                     device="cpu", progress: bool = False, **trainer_kwargs):
    """The digits run of notebook 05 for one ``seed`` (U-Net init and batches): ``steps`` AdamW steps at a
    constant learning rate ``lr``, batch 128, with EMA weights of decay ``ema_decay``. Returns the ``Trainer``."""
    from ..data import load_digits
    from ..schedules import NoiseSchedule
    from ..trainer import TrainConfig, Trainer
    from ..unet import UNet

    torch.manual_seed(seed)
    trainer = Trainer(UNet(base_channels=width), NoiseSchedule.make("linear", 1000), load_digits(),
                      TrainConfig(steps=steps, batch_size=128, lr=lr, ema_decay=ema_decay, seed=seed, log_every=50),
                      device=device, progress=progress, **trainer_kwargs)
    trainer.train()
    return trainer


@torch.no_grad()
def raw_vs_ema(trainer, n: int = 300, sample_seed: int = 0, steps: int = 50) -> dict[str, float]:
    """Fréchet distances of ``n`` DDIM-``steps`` samples (clipped x0-hat, same noise) from the raw and the
    EMA weights of ``trainer``: ``{"raw", "ema", "floor", "ceiling"}`` (floor and ceiling: see
    ``metrics.digit_quality``)."""
    from ..metrics import digit_quality

    sampler = DDIMSampler(trainer.schedule, num_steps=steps, clip_x0=True)
    out = {}
    for label, model in (("raw", trainer.model), ("ema", trainer.ema_model)):
        x = sampler.sample(model.cpu().eval(), (n, 1, 8, 8), generator=torch.Generator().manual_seed(sample_seed))
        q = digit_quality(x)
        out[label] = q["fd"]
    out.update(floor=q["floor"], ceiling=q["ceiling"])
    return out


def ema_study(seeds=(0, 1, 2), steps: int = 500, width: int = 16, n: int = 300) -> list[dict]:
    """``raw_vs_ema`` for one training run per seed: ``[{"seed", "steps", "width", "raw", "ema", "floor"}, ...]``.
    The margin of the claim "EMA samples score better than the raw weights" is ``raw / ema``."""
    rows = []
    for seed in seeds:
        trainer = train_digit_unet(seed, steps=steps, width=width)
        rows.append({"seed": seed, "steps": steps, "width": width, "n": n, **raw_vs_ema(trainer, n)})
    return rows


def plot_ema_study(rows: list[dict]):
    """FD of the raw and the EMA weights, one line per seed (rows of ``ema_study``), with the floor."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3))
    for r in rows:
        ax.plot([0, 1], [r["raw"], r["ema"]], "o-", color="C0", alpha=0.6)
    floor = sum(r["floor"] for r in rows) / len(rows)
    ax.axhline(floor, color="grey", ls="--", label="floor (real held-out digits)")
    ax.set_xticks([0, 1], ["raw weights", "EMA weights"])
    ax.set_xlim(-0.4, 1.4)
    ax.set_ylabel("Fréchet distance (lower is better)")
    ax.set_title(f"{len(rows)} seeds, {rows[0]['steps']} steps, constant lr")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return finish(fig)


# ----------------------------------------------------------------------------- exercises

def eps_loss(model, x0, t, noise, schedule: NoiseSchedule):
    """Reference: || noise - model(q_sample(x0, t, noise), t) ||^2, averaged."""
    x_t = q_sample(x0, t, schedule, noise=noise)
    return ((model(x_t, t) - noise) ** 2).mean()


@graded
def check_eps_loss(fn) -> None:
    s = NoiseSchedule.make("linear", 1000)
    x0, noise = torch.randn(8, 2), torch.randn(8, 2)
    t = torch.tensor([0, 1, 10, 100, 300, 500, 800, 999])
    model = lambda x, tt: 0.5 * x
    got = fn(model, x0, t, noise, s)
    ok = torch.as_tensor(got).numel() == 1 and torch.allclose(torch.as_tensor(got).float(),
                                                              eps_loss(model, x0, t, noise, s).float(), atol=1e-5)
    return report(ok, "that is L_simple, the loss every DDPM is trained with.",
                   "x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise; then mean((model(x_t, t) - noise)**2).")
