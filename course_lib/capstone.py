"""Notebook 07: the U-Net's residual connections (on/off) crossed with its long skips (none/add/concat).

Each variant is trained on the "train" split of the digits for the same budget (steps, or seconds in
``scripts/capstone.py``), then measured on three things:

* ``final_loss``: the training loss (mean of the last 50 steps);
* ``heldout_gap``: eps-loss on the 797 held-out digits minus on the 1,000 training digits, same t and noise
  (a direct measure of overfitting, one of the seed claims);
* ``fd``: the digit score of 300 DDIM-20 samples from the EMA weights, with its ``floor``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from .data import load_digits
from .diffusion import diffusion_loss
from .metrics import digit_quality
from .plotting import finish
from .samplers import DDIMSampler
from .schedules import NoiseSchedule
from .trainer import TrainConfig, Trainer
from .unet import SKIP_MODES, UNet
from .utils import count_parameters

VARIANTS = [(residual, skip) for residual in (True, False) for skip in SKIP_MODES]


@torch.no_grad()
def fixed_eps_loss(model, x0: torch.Tensor, schedule: NoiseSchedule, seed: int = 0, repeats: int = 4) -> float:
    """The eps-MSE of ``model`` on ``x0`` with t and noise drawn from a fixed seed (comparable across models)."""
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    losses = [diffusion_loss(model, x0, schedule, generator=gen).item() for _ in range(repeats)]
    return sum(losses) / len(losses)


def run_variant(residual: bool, skip: str, steps: int = 10**9, time_budget_s: float | None = None, seed: int = 0,
                batch_size: int = 64, device="cpu", progress: bool = False, n_samples: int = 300) -> dict:
    """Train one variant and measure it; returns one row (a dict of plain numbers and strings)."""
    train, held_out = load_digits(split="train"), load_digits(split="test")
    torch.manual_seed(seed)
    schedule = NoiseSchedule.make("linear", 1000)
    trainer = Trainer(UNet(skip=skip, residual=residual), schedule, train,
                      TrainConfig(steps=steps, time_budget_s=time_budget_s, batch_size=batch_size, seed=seed),
                      device=device, progress=progress)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    model = trainer.ema_model.cpu().eval()
    x = DDIMSampler(schedule, 20, clip_x0=True).sample(model, (n_samples, 1, 8, 8),
                                                       generator=torch.Generator().manual_seed(seed))
    q = digit_quality(x)
    return {"residual": residual, "skip": skip, "seed": seed, "params": count_parameters(model),
            "steps": trainer.step, "seconds": round(seconds, 1),
            "final_loss": sum(trainer.history.loss[-50:]) / len(trainer.history.loss[-50:]),
            "heldout_gap": fixed_eps_loss(model, held_out, schedule) - fixed_eps_loss(model, train, schedule),
            "fd": q["fd"], "floor": q["floor"]}


def run_capstone(steps: int = 10**9, time_budget_s: float | None = None, seeds=(0,), **kw) -> list[dict]:
    """All six variants (x seeds) at the same budget; a list of rows."""
    return [run_variant(r, s, steps=steps, time_budget_s=time_budget_s, seed=seed, **kw)
            for seed in seeds for r, s in VARIANTS]


def format_table(rows: list[dict], timing: bool = False) -> str:
    """A fixed-width text table of the rows (timings left out unless ``timing``: they vary between runs)."""
    head = f"{'residual':>8} {'skip':>7} {'params':>7} {'steps':>6} {'loss':>7} {'gap':>8} {'FD':>6} {'floor':>6}"
    lines = [head + ("  seconds" if timing else "")]
    for r in rows:
        line = (f"{r['residual']!s:>8} {r['skip']:>7} {r['params']:>7,} {r['steps']:>6} {r['final_loss']:>7.4f} "
                f"{r['heldout_gap']:>+8.4f} {r['fd']:>6.1f} {r['floor']:>6.1f}")
        lines.append(line + (f"  {r['seconds']:>7.1f}" if timing else ""))
    return "\n".join(lines)


def mean_by_variant(rows: list[dict]) -> list[dict]:
    """Average the numeric columns over seeds, one row per (residual, skip)."""
    out = []
    for residual, skip in VARIANTS:
        group = [r for r in rows if r["residual"] == residual and r["skip"] == skip]
        if not group:
            continue
        avg = {k: sum(r[k] for r in group) / len(group) for k in ("final_loss", "heldout_gap", "fd", "floor",
                                                                    "seconds")}
        out.append({"residual": residual, "skip": skip, "params": group[0]["params"],
                    "steps": round(sum(r["steps"] for r in group) / len(group)), "seeds": len(group), **avg})
    return out


def effects(rows: list[dict]) -> dict[str, float]:
    """Mean change when residual connections are switched on (FD, loss, gap), averaged over the skip modes."""
    rows = mean_by_variant(rows)
    pairs = [(on, off) for on in rows for off in rows
             if on["skip"] == off["skip"] and on["residual"] and not off["residual"]]
    mean = lambda key: sum(on[key] - off[key] for on, off in pairs) / len(pairs)
    return {"fd": mean("fd"), "final_loss": mean("final_loss"), "heldout_gap": mean("heldout_gap")}


def plot_capstone(rows: list[dict], title: str = ""):
    """Grouped bars: FD and final loss per skip mode, residual on vs off."""
    import matplotlib.pyplot as plt

    rows = mean_by_variant(rows)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3))
    for ax, key, label in [(axes[0], "final_loss", "training loss"), (axes[1], "fd", "FD of samples (lower = better)"),
                           (axes[2], "heldout_gap", "held-out minus train loss")]:
        for k, residual in enumerate((True, False)):
            vals = [next(r[key] for r in rows if r["skip"] == s and r["residual"] == residual) for s in SKIP_MODES]
            ax.bar([i + 0.4 * k for i in range(len(SKIP_MODES))], vals, 0.4,
                   label=f"residual {'on' if residual else 'off'}")
        ax.set_xticks([i + 0.2 for i in range(len(SKIP_MODES))], [f"skip={s}" for s in SKIP_MODES])
        ax.set_title(label)
        if key == "fd":
            ax.axhline(rows[0]["floor"], color="grey", ls="--", lw=1, label="floor")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return finish(fig)


def save_results(rows: list[dict], path: str | Path, meta: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")


RESULTS = Path(__file__).parent / "results" / "capstone.json"  # shipped with the package, so Colab has it too


def load_results(path: str | Path = RESULTS) -> tuple[dict, list[dict]]:
    """(meta, rows) written by ``save_results``; by default the budget-heavy runs of ``scripts/capstone.py``."""
    data = json.loads(Path(path).read_text())
    return data["meta"], data["rows"]
