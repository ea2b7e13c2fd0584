"""Notebook 07: the U-Net's residual connections crossed with its long skips (none/add/concat).

The variants (``Variant(kind, skip)``, ``VARIANTS``, ``MAIN_VARIANTS``, ``SWEEP_VARIANTS``, ``COMPARISONS``), the
shipped curves (``load_curves``, ``load_results`` at one budget) and the statistics that notebook 07b reads too
(``paired``, ``summary``, ``sampler_table``) live in the library, ``course_lib.variants``, and are imported here.
The module, in the order of its sections:

1. **measurements**: ``split_gap`` (the held-out gap and its null);
2. **learning curves**: ``variant_curve`` trains one variant with one seed and measures it at each budget
   (``measure_at_budget``), through ``course_lib.study.learning_curve``; ``run_curves`` is the live run;
3. **statistics over seeds** (``course_lib.stats``): the tables;
4. **claims, the curves widget with the live run drawn on, the verdicts** and the notebook's **exercises**.

The statistics beyond one paired comparison (FD ratios along the budget axis, Bonferroni, sign tests, the gap
against its null) and the samples widget are notebook 07b's, in ``lessons.comparing_variants``; neither lesson
imports the other.

Three *kinds* of ResBlock times the three long-skip modes of ``UNet``:

* ``"residual"``: h = x + F(x, t) with F's last convolution zero-initialised (``UNet(residual=True)``);
* ``"plain"``: h = F(x, t) with PyTorch's default init (``UNet(residual=False)``). This switches off *two*
  things at once: the shortcut (identity or 1x1 convolution) and the zero-init of F's last convolution;
* ``"residual, default init"``: the shortcut kept, the zero-init dropped (``UNet(residual=True,
  zero_init=False)``), the control that separates the two.

Each variant trains on the 1,000 "train" digits with the same batch, learning rate, EMA schedule and step counts
(``CURVE_BUDGETS``); budgets are step counts, never seconds, so the stored results depend on (variant, seed,
steps) only. At each budget (``measure_at_budget``):

* ``loss``: training eps-MSE, mean of the last 50 steps;
* ``fd_ema``, ``fd_raw``: Fréchet distance of 300 DDIM-20 samples from the EMA and the raw weights to the 797
  *held-out* digits (the floor and ceiling are stored once, in the curves' meta);
* ``gap`` (overfitting): eps-MSE on 500 held-out digits minus on 500 training digits ("train half A"),
  with the *same* t and noise for both, averaged over draws; ``null``: the same statistic between two
  disjoint halves of the training digits (B minus A), whose expectation is exactly 0;
* ``x0_mse``: held-out x0-MSE at notebook 03's t (``PROBE_TS``).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from .. import stats
from ..data import load_digits
from ..denoising import denoising_mse
from ..diffusion import diffusion_loss
from ..metrics import digit_fd
from ..samplers import DDIMSampler, DDPMSampler
from ..schedules import NoiseSchedule
from ..trainer import TrainConfig, Trainer
from ..unet import SKIP_MODES
from ..variants import (
    CURVE_COMPARISONS,
    CURVES,
    LONG_VARIANTS,
    MAIN_VARIANTS,
    RESCORED_VARIANTS,
    SWEEP_VARIANTS,
    Variant,
    common_budget,
    curve_rows,
    load_curves,
    load_results,  # noqa: F401  (the notebook calls capstone.load_results)
    paired,
    reference_band,
    summary,
    to_pixels,
)
from .grading import answer_text, as_float64, diagnose, graded, report

# ----------------------------------------------------------------------------- measurements

@torch.no_grad()
def split_gap(model, schedule: NoiseSchedule, draws: int = 32, n: int = 500, seed: int = 0) -> dict:
    """Overfitting gap and its null, with identical t and noise on every set.

    Each draw picks disjoint training halves A and B (``n`` digits each) and ``n`` held-out digits H,
    one t ``[n]`` and one noise ``[n, 1, 8, 8]``, and computes the eps-MSE L of each set with them:

        gap  = L(H) - L(A)     (held-out minus training: positive = overfitting)
        null = L(B) - L(A)     (two sets the model was trained on: its expectation is exactly 0)

    Returns the means over ``draws`` and their standard errors ``gap_se``, ``null_se`` (sd / sqrt(draws)).
    """
    train, held = load_digits(split="train"), load_digits(split="test")
    if 2 * n > len(train) or n > len(held):
        raise ValueError(f"n={n} is too large; it allows at most {min(len(train) // 2, len(held))} digits per set")
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    gaps, nulls = [], []
    for _ in range(draws):
        perm = torch.randperm(len(train), generator=gen)
        a, b = train[perm[:n]], train[perm[n:2 * n]]
        h = held[torch.randperm(len(held), generator=gen)[:n]]
        t = torch.randint(0, schedule.T, (n,), generator=gen)
        noise = torch.randn(n, 1, 8, 8, generator=gen)
        la, lb, lh = (diffusion_loss(model, x.to(device), schedule, t=t.to(device), noise=noise.to(device)).item()
                      for x in (a, b, h))
        gaps.append(lh - la)
        nulls.append(lb - la)
    g, z = np.array(gaps), np.array(nulls)
    se = lambda v: float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
    return {"gap": float(g.mean()), "gap_se": se(g), "null": float(z.mean()), "null_se": se(z)}


# ----------------------------------------------------------------------------- learning curves (the budget axis)

CURVE_BUDGETS = (125, 250, 500, 1000, 2000, 4000)  # training steps at which every variant is measured
CURVE_BATCH = 128  # batch size of the curves (and of the shipped checkpoint, which trains 4,000 steps)
PROBE_TS = (50, 100, 300, 600, 900)  # the t at which notebook 03 scores held-out denoising
LONG_BUDGETS = (*CURVE_BUDGETS, 8000)  # the residual variants without long skips train on: still improving at 4,000
SAMPLER_BUDGET = 4000  # where the rescored runs (LONG_ and RESCORED_VARIANTS) are also scored with DDIM-50 and DDPM
MEASURES = ("fd_ema", "fd_raw", "gap", "x0_mse")  # what measure_at_budget takes (the gap: with its null)


def check_measures(measures) -> None:
    unknown = set(measures) - set(MEASURES)
    if unknown:
        raise ValueError(f"measures={measures!r} names {sorted(unknown)}; allowed: {MEASURES}")


@torch.no_grad()
def measure_at_budget(trainer: Trainer, n_samples: int = 300, eval_draws: int = 16, ts=PROBE_TS,
                      keep_samples: int = 0, samplers: bool = False, measures=MEASURES) -> dict:
    """What a curve records at one budget: training loss (mean of the last 50 steps); FD of ``n_samples``
    DDIM-20 samples (clipped x0-hat, the seed's starting noise) from the EMA weights (``fd_ema``) and from the
    raw weights (``fd_raw``), against the 797 held-out digits; the held-out gap and its null (``split_gap``);
    and the held-out x0-MSE at each t in ``ts`` (EMA weights, notebook 03's measure). ``samplers``: also the FD
    of the EMA weights' samples from the same starting noise with DDIM-50 (``fd_ddim50``) and DDPM-1000
    (``fd_ddpm``), to measure the sampler's own share of the score. ``measures``: which of ``MEASURES`` to take
    (each is drawn with its own seeded generator, so leaving one out changes none of the others)."""
    check_measures(measures)
    seed, schedule = trainer.config.seed, trainer.schedule
    last = trainer.history.loss[-50:]
    row = {"loss": sum(last) / len(last)}
    sampler = DDIMSampler(schedule, 20, clip_x0=True)
    for label, model in (("ema", trainer.ema_model), ("raw", trainer.model)):
        if f"fd_{label}" not in measures:
            continue
        model.eval()
        x = sampler.sample(model, (n_samples, 1, 8, 8), generator=torch.Generator().manual_seed(seed),
                           device=trainer.device).cpu()
        row[f"fd_{label}"] = digit_fd(x, reference="test")
        if label == "ema" and keep_samples:
            row["samples"] = to_pixels(x[:keep_samples])
    if samplers:
        for label, other in (("ddim50", DDIMSampler(schedule, 50, clip_x0=True)),
                             ("ddpm", DDPMSampler(schedule, clip_x0=True))):
            x = other.sample(trainer.ema_model, (n_samples, 1, 8, 8), device=trainer.device,
                             generator=torch.Generator().manual_seed(seed)).cpu()
            row[f"fd_{label}"] = digit_fd(x, reference="test")
    if "gap" in measures:
        row.update(split_gap(trainer.ema_model, schedule, draws=eval_draws, seed=seed))
    if "x0_mse" in measures:
        ema_cpu = copy.deepcopy(trainer.ema_model).cpu().eval()
        held_out = load_digits(split="test")
        row["x0_mse"] = [denoising_mse(ema_cpu, held_out, t, schedule) for t in ts]
    trainer.model.train()
    return row


def variant_curve(kind: str, skip: str, seed: int = 0, budgets=CURVE_BUDGETS, batch_size: int = CURVE_BATCH,
                  device="cpu", keep_samples: int = 16, samplers: bool = False, **measure_kw) -> list[dict]:
    """One variant's learning curve for one seed: a row per budget (``measure_at_budget``), samples kept at the
    last budget only; ``samplers``: DDIM-50 and DDPM scored too at ``SAMPLER_BUDGET`` and the last budget."""
    from ..study import learning_curve

    variant, budgets = Variant(kind, skip), list(budgets)

    def measure(trainer):
        last = trainer.step == budgets[-1]
        return measure_at_budget(trainer, keep_samples=keep_samples if last else 0,
                                 samplers=samplers and (last or trainer.step == SAMPLER_BUDGET), **measure_kw)

    return learning_curve(variant.build, load_digits(split="train"), budgets, measure, seed=seed,
                          config=TrainConfig(batch_size=batch_size, log_every=budgets[-1]), device=device)


def checkpoint_samplers(n_samples: int = 300, seed: int = 0) -> dict:
    """The sampler's share on a model *with* long skips: the shipped checkpoint (residual / skip=concat, seed 0,
    4,000 steps of batch 128: the same run as that variant's seed 0) scored as ``measure_at_budget`` scores every
    run, with DDIM-20, DDIM-50 and DDPM-1000 from the same starting noise."""
    from ..checkpoints import load_denoiser

    model, schedule, _ = load_denoiser(None)
    model.eval()
    out = {"variant": "residual / skip=concat", "seed": seed, "steps": 4000}
    with torch.no_grad():
        for label, sampler in (("fd_ema", DDIMSampler(schedule, 20, clip_x0=True)),
                               ("fd_ddim50", DDIMSampler(schedule, 50, clip_x0=True)),
                               ("fd_ddpm", DDPMSampler(schedule, clip_x0=True))):
            x = sampler.sample(model, (n_samples, 1, 8, 8), generator=torch.Generator().manual_seed(seed))
            out[label] = digit_fd(x, reference="test")
    return out


def capstone_study():
    """The shipped learning curves (``python -m course_lib study capstone``): ``SWEEP_VARIANTS`` x 5 seeds, each
    measured at ``CURVE_BUDGETS``; the residual variants without long skips (``LONG_VARIANTS``), still improving
    at 4,000 steps and close to the long-skip variants, train on to ``LONG_BUDGETS``. Their samples, and those of
    ``RESCORED_VARIANTS`` (plain blocks, the best and the worst skip mode), are also scored with DDIM-50 and DDPM
    at 4,000 steps and at the end (the sampler's own share of the score)."""
    from ..metrics import digit_ceiling, digit_classifier, digit_floor
    from ..study_runner import Study

    order = sorted(SWEEP_VARIANTS, key=lambda v: v.skip != "none")  # the long runs first
    rescored = {"kwargs": {"samplers": True}, "required": ("fd_ddpm",)}
    variants = [{"kind": v.kind, "skip": v.skip, **({"budgets": LONG_BUDGETS, **rescored} if v in LONG_VARIANTS
                                                    else rescored if v in RESCORED_VARIANTS else {})} for v in order]

    def meta():
        digit_classifier()  # train and cache the score's classifier once, before the workers start
        return {"variants": [[v.kind, v.skip] for v in SWEEP_VARIANTS], "seeds": [0, 1, 2, 3, 4],
                "budgets": list(CURVE_BUDGETS), "long_budgets": list(LONG_BUDGETS), "batch_size": CURVE_BATCH,
                "lr": TrainConfig().lr, "ema_decay": TrainConfig().ema_decay, "probe_ts": list(PROBE_TS),
                "n_samples": 300, "sampler": "DDIM-20, clipped x0-hat (fd_ddim50, fd_ddpm: the same EMA weights and "
                "starting noise with DDIM-50 and DDPM-1000)", "torch": torch.__version__,
                "reference": {"floor": [digit_floor(300, s) for s in range(10)],
                              "ceiling": [digit_ceiling(300, s) for s in range(10)]},
                "checkpoint_samplers": checkpoint_samplers(), "command": "python -m course_lib study capstone"}

    return Study("capstone", variant_curve, variants, seeds=range(5), budgets=CURVE_BUDGETS, out=CURVES,
                 meta=meta, required=("fd_ema", "x0_mse"))


LIVE_MEASURES = ("fd_ema",)  # what the live run shows: its table, its crosses on the curves, its check (and the loss)


def run_curves(budgets, variants=MAIN_VARIANTS, seeds=(0,), device="cpu", eval_draws: int = 2,
               measures=LIVE_MEASURES) -> list[dict]:
    """Notebook 07's live run: ``variant_curve`` for every variant and seed; ``measures``: those of
    ``measure_at_budget`` to take (by default only what the notebook shows of the live run; with ``"gap"``, a
    cheaper gap: ``eval_draws``)."""
    check_measures(measures)
    return [{"kind": v.kind, "skip": v.skip, "seed": seed, **row} for seed in seeds for v in variants
            for row in variant_curve(v.kind, v.skip, seed=seed, budgets=budgets, device=device,
                                     eval_draws=eval_draws, measures=measures)]


# ----------------------------------------------------------------------------- statistics over seeds

def format_table(rows) -> str:
    """Means over seeds per variant at one budget, fixed width: FD of the EMA weights (min-max over seeds) and
    of the raw weights, training loss, held-out gap and its null."""
    head = (f"{'kind':>22} {'skip':>6} {'params':>7} {'steps':>5} {'FD (EMA) [min-max]':>20} {'FD raw':>7} "
            f"{'loss':>7} {'gap':>8} {'null':>8}")
    n = len({r["seed"] for r in rows})
    lines = [f"arithmetic means over {n} seeds (the curves' table: geometric means). FD (EMA): samples of the EMA "
             "weights, what every verdict reads; FD raw: the same from the raw weights; gap: eps-MSE on held-out minus "
             "training digits; null: the same between two halves of the training digits (0 expected)", head]
    for e in summary(rows):
        fd = f"{e['fd']:.1f} [{e['fd_min']:.0f}-{e['fd_max']:.0f}]"
        lines.append(f"{e['kind']:>22} {e['skip']:>6} {e['params']:>7,} {e['steps']:>5} {fd:>20} {e['fd_raw']:>7.1f} "
                     f"{e['final_loss']:>7.4f} {e['gap']:>+8.4f} {e['null']:>+8.4f}")
    return "\n".join(lines)


def gap_differences(rows, a: str = "plain", b: str = "residual") -> str:
    """The held-out gap of kind ``a`` minus kind ``b`` at each skip mode (means over seeds), in absolute terms and
    as a share of ``b``'s training loss."""
    by = {(e["kind"], e["skip"]): e for e in summary(rows)}
    lines = [f"held-out gap, {a} minus {b}, means over seeds at {round(np.mean([r['steps'] for r in rows])):,} "
             f"steps:"]
    for skip in SKIP_MODES:
        if (a, skip) in by and (b, skip) in by:
            d, loss = by[(a, skip)]["gap"] - by[(b, skip)]["gap"], by[(b, skip)]["final_loss"]
            lines.append(f"  skip={skip:<6} {by[(a, skip)]['gap']:+.4f} - {by[(b, skip)]['gap']:+.4f} = {d:+.4f}, "
                         f"{100 * abs(d) / loss:.1f}% of {b}'s training loss ({loss:.4f})")
    return "\n".join(lines)


def curve_table(meta: dict, rows) -> str:
    """Mean FD (EMA weights) over seeds of every variant at every budget, with the CPU time of one step; the floor
    and ceiling underneath."""
    budgets = sorted({r["steps"] for r in rows})
    n = len({r["seed"] for r in rows})
    sec = meta.get("cpu_s_per_step", {})
    lines = [f"FD to the held-out digits (EMA weights), geometric mean of {n} seeds, by training steps (batch "
             f"{meta['batch_size']}; -: not run)",
             f"{'variant':<36}" + "".join(f"{b:>7}" for b in budgets) + "   ms/step (CPU)"]
    for v in SWEEP_VARIANTS:
        if not v.rows(rows):
            continue
        cells = []
        for b in budgets:
            fds = [r["fd_ema"] for r in v.rows(rows) if r["steps"] == b]
            cells.append(f"{np.exp(np.mean(np.log(fds))):7.1f}" if fds else f"{'-':>7}")
        ms = f"{1000 * sec[v.name]:10.1f}" if v.name in sec else ""
        lines.append(f"{v.name:<36}" + "".join(cells) + ms)
    band = reference_band(meta)
    for k in ("floor", "ceiling"):
        m, lo, hi = band[k]
        what = "300 real training digits" if k == "floor" else "300 noise images"
        lines.append(f"{k} ({what}): {m:.1f} (min {lo:.1f}, max {hi:.1f} over {len(meta['reference'][k])} draws)")
    return "\n".join(lines)


def live_table(live) -> str:
    """The live run's FD (EMA weights) and training loss, per variant and budget."""
    budgets = sorted({r["steps"] for r in live})
    lines = [f"{'variant':<36}" + "".join(f"{'FD @' + str(b):>10}{'loss @' + str(b):>12}" for b in budgets)]
    for v in SWEEP_VARIANTS:
        mine = v.rows(live)
        if mine:
            cells = "".join(f"{r['fd_ema']:>10.1f}{r['loss']:>12.4f}" for b in budgets for r in mine
                            if r["steps"] == b)
            lines.append(f"{v.name:<36}" + cells)
    return "\n".join(lines)


# ----------------------------------------------------------------------------- claims (per-seed margins in log units)

def _logs(rows, steps: int, a: Variant, b: Variant) -> np.ndarray:
    at = [r for r in rows if r["steps"] == steps]
    return np.array(stats.log_ratios(a.by_seed(at, "fd_ema"), b.by_seed(at, "fd_ema")))


def _last_common(rows, a: Variant, b: Variant) -> int | None:
    """The last budget both variants reached in ``rows``."""
    both = {r["steps"] for r in a.rows(rows)} & {r["steps"] for r in b.rows(rows)}
    return max(both) if both else None


def curve_claims(rows, early=(125, 250, 500), late: int | None = None) -> dict[str, np.ndarray | None]:
    """Per-seed margins (natural-log units; > 0 where the claim held) of the capstone's claims on learning-curve
    rows. ``early``: the small budgets of "trains faster"; ``late``: the largest budget every variant reached
    (default ``common_budget``); the variants without long skips are compared at their own last budget.
    A claim whose budgets or variants are missing from ``rows`` gets ``None`` (not measured).

    - ``faster``: at every early budget and every skip mode, plain's FD is above residual's: min of log(plain / res);
    - ``none_ends_better``: at their last budget, plain/none's FD is more than twice residual/none's:
      log(plain / res) - log 2;
    - ``skips_catch_up``: at the late budget, with concat and with add, plain and residual are within 25% of each
      other: log 1.25 - max |log(plain / res)|;
    - ``crossover``: residual-only (residual/none) beats skip-only (plain/concat) at the first early budget, and
      skip-only beats residual-only at the late budget: min of the two log ratios on the claimed sides.
    """
    have = sorted({r["steps"] for r in rows})
    late = common_budget(rows) if late is None else late
    late_none = _last_common(rows, Variant("plain", "none"), Variant("residual", "none")) or late
    early = [b for b in early if b in have]

    def logs(steps, a, b):
        x = _logs(rows, steps, a, b)
        return x if len(x) else None

    out: dict[str, np.ndarray | None] = {}
    parts = [logs(b, Variant("plain", s), Variant("residual", s)) for b in early for s in SKIP_MODES]
    out["faster"] = np.min(parts, axis=0) if parts and all(p is not None for p in parts) else None
    x = logs(late_none, Variant("plain", "none"), Variant("residual", "none"))
    out["none_ends_better"] = None if x is None else x - math.log(2)
    parts = [logs(late, Variant("plain", s), Variant("residual", s)) for s in ("concat", "add")]
    out["skips_catch_up"] = (None if any(p is None for p in parts)
                             else math.log(1.25) - np.max(np.abs(parts), axis=0))
    first = logs(early[0], Variant("plain", "concat"), Variant("residual", "none")) if early else None
    last = logs(late, Variant("residual", "none"), Variant("plain", "concat"))
    out["crossover"] = None if first is None or last is None or late in early else np.minimum(first, last)
    return out


CLAIM_TEXT = {
    "faster": "at {early} steps, residual blocks give a lower FD than plain ones under every kind of long skip",
    "none_ends_better": "without long skips, plain blocks still score more than twice residual's FD at {late_none} "
                        "steps",
    "skips_catch_up": "with long skips (concat, add), plain blocks come within 25% of residual's FD by {late} steps",
    "crossover": "residual-only (residual, none) beats skip-only (plain, concat) at {first} steps, and loses to it "
                 "at {late} steps",
}


def check_curve_claims(rows, early=(125, 250, 500)) -> None:
    """Print each claim's verdict seed by seed (``claims.check_claim``); a claim not measured says so."""
    from ..claims import check_claim

    have = sorted({r["steps"] for r in rows})
    early_have = [b for b in early if b in have]
    late_none = _last_common(rows, Variant("plain", "none"), Variant("residual", "none")) or common_budget(rows)
    words = {"early": ", ".join(map(str, early_have)) or "-", "late": f"{common_budget(rows):,}",
             "late_none": f"{late_none:,}",
             "first": early_have[0] if early_have else "-"}
    for name, margins in curve_claims(rows, early).items():
        text = CLAIM_TEXT[name].format(**words)
        if margins is None:
            print(f"- not measured: {text} (the budgets or variants it needs are not in these rows)")
        else:
            check_claim(text, margins)


_COLORS = {"residual": "tab:blue", "residual, default init": "tab:green", "plain": "tab:orange"}


# ----------------------------------------------------------------------------- curves with the live run drawn on

_STYLES = {"concat": "-", "add": "--", "none": ":"}


def curve_panels(rows) -> dict[str, dict]:
    """The shipped curves by panel: FD (EMA weights) with long skips, FD without, and the training loss."""
    from ..curves import Curve

    def curves(variants, score):
        return {v.name: Curve.of(rows, {"kind": v.kind, "skip": v.skip}, score, label=v.name) for v in variants
                if v.rows(rows)}

    return {"FD, with long skips": curves([v for v in SWEEP_VARIANTS if v.skip != "none"], "fd_ema"),
            "FD, without long skips": curves([v for v in SWEEP_VARIANTS if v.skip == "none"], "fd_ema"),
            "training loss (mean of the last 50 steps)": curves(SWEEP_VARIANTS, "loss")}


def live_points(live, score: str) -> dict[str, list[tuple[int, float]]]:
    """The live run's rows as points ``(steps, score)`` per variant name."""
    out: dict[str, list] = {}
    for r in live:
        out.setdefault(Variant.of(r).name, []).append((r["steps"], r[score]))
    return out


def capstone_curves_widget(meta: dict, rows, live=None, budget: int | None = None):
    """Every variant's learning curve (5 seeds: line = geometric mean, band = where a new seed lands 95% of the
    time) of FD and of training loss, the floor (real digits) and the noise ceiling, the live run as crosses, and
    a budget slider."""
    from ipywidgets import SelectionSlider

    from ..curves import CurvesView
    from ..widgets import LiveFigure

    panels = curve_panels(rows)
    band = reference_band(meta)
    fd_lines = {"floor: 300 real digits": band["floor"][0], "ceiling: 300 noise images": band["ceiling"][0]}
    colors = {v.name: _COLORS[v.kind] for v in SWEEP_VARIANTS}
    styles = {v.name: _STYLES[v.skip] for v in SWEEP_VARIANTS}
    points = {title: live_points(live, "loss" if title.startswith("training") else "fd_ema") if live else {}
              for title in panels}
    view = CurvesView(panels, colors, {k: fd_lines for k in panels if k.startswith("FD")}, points,
                      ylabel={k: "training loss" if k.startswith("training") else "FD to held-out digits (log)"
                              for k in panels}, fmt=".3g", width=4.6, styles=styles,
                      what="FD of samples and training loss of every U-Net variant (residual or plain blocks, each "
                           "kind of long skip)")
    budgets = sorted({r["steps"] for r in rows})
    return LiveFigure(view, budget=SelectionSlider(options=budgets, value=budget or budgets[0],
                                                   description="budget"))


def check_live_run(rows, live) -> None:
    """Whether the live run lands inside the shipped bands (FD and training loss), and whether it shows, on its
    own, the early verdict "residual blocks train faster", in words."""
    from ..curves import agreement, describe_agreement

    if not live:
        print("No live run to compare: run the cell under \"Your run\" first (under a minute on 2 CPU cores), "
              "then this one.")
        return
    panels = curve_panels(rows)
    for score, what, key in (("fd_ema", "FD", "FD"), ("loss", "training loss", "training")):
        curves = {label: c for title, p in panels.items() if title.startswith(key) for label, c in p.items()}
        print(f"{what}: " + describe_agreement(agreement(curves, live_points(live, score)), what=what))
    for steps in sorted({r["steps"] for r in live}):
        at = [r for r in live if r["steps"] == steps]
        won = [s for s in SKIP_MODES if Variant("residual", s).rows(at) and Variant("plain", s).rows(at)
               and Variant("residual", s).rows(at)[0]["fd_ema"] < Variant("plain", s).rows(at)[0]["fd_ema"]]
        print(f"In this run at {steps:,} steps, residual blocks scored a lower FD than plain ones under "
              f"{len(won)} of {len(SKIP_MODES)} kinds of long skip ({', '.join(won) or 'none'}).")


def curve_verdicts(rows, early: int = 125) -> str:
    """Each comparison of ``CURVE_COMPARISONS`` read where the curves allow: at the first budget (paired by seed)
    and at the end ("ends better" only where both curves have stopped moving, else "not settled by N steps")."""
    from ..curves import ends_verdict, faster_verdict

    curves = {label: c for p in list(curve_panels(rows).values())[:2] for label, c in p.items()}
    lines = []
    for name, a, b in CURVE_COMPARISONS:
        lines.append(f"{name}:\n    early: {faster_verdict(curves[a.name], curves[b.name], early)}"
                     f"\n    end:   {ends_verdict(curves[a.name], curves[b.name])}")
    return "\n".join(lines)


def demo_widgets() -> dict:
    """Notebook 07's widget on the shipped curves (already computed): ``{"capstone curves": ...}``."""
    return {"capstone curves": capstone_curves_widget(*load_curves())}


# ----------------------------------------------------------------------------- exercises

def paired_differences(rows, key: str, a: Variant, b: Variant) -> list[float]:
    """07, exercise 1 (reference): ``key(a) - key(b)`` seed by seed, over the seeds both have, in seed order.
    The same as ``paired``, written out on the plain rows."""
    va = {r["seed"]: r[key] for r in rows if r["kind"] == a.kind and r["skip"] == a.skip}
    vb = {r["seed"]: r[key] for r in rows if r["kind"] == b.kind and r["skip"] == b.skip}
    return [va[s] - vb[s] for s in sorted(va) if s in vb]


def exercise_rows(rows) -> list[dict]:
    """The rows a check hands to the student's function: shuffled (a fixed permutation), with the plain
    variants' seed-1 rows removed, so that pairing by position, not by seed, gives other numbers."""
    kept = [r for r in rows if not (r["kind"] == "plain" and r["seed"] == 1)]
    return [kept[i] for i in np.random.default_rng(7).permutation(len(kept))]


@graded
def check_paired_differences(fn, rows) -> None:
    """07, exercise 1: ``fn(rows, key, a, b)`` returns the per-seed differences of ``key``, a minus b."""
    shuffled = exercise_rows(rows)
    formula = ("pair the rows by seed: only the seeds both variants ran, in increasing order, and for each the value "
               "of a minus the value of b (a row belongs to a variant by its kind and its skip).")
    for key, a, b in [("fd", Variant("plain", "add"), Variant("residual", "add")),
                      ("gap", Variant("residual", "none"), Variant("residual, default init", "none"))]:
        want = paired(shuffled, key, a, b)
        got = fn(shuffled, key, a, b)
        wrong = diagnose(got, torch.tensor(want, dtype=torch.float64),
                         mistakes=_pairing_mistakes(got, shuffled, key, a, b))
        if wrong and np.ndim(got) == 0 and abs(float(got) - float(np.mean(want))) < 1e-9 * (1 + abs(np.mean(want))):
            wrong = "you returned one number, the difference of the means; the table needs one difference per seed."
        elif wrong and np.ndim(got) == 1 and len(got) == len({r["seed"] for r in shuffled}) > len(want):
            wrong = ("your list has a difference for a seed that only one variant has (in these rows, one variant "
                     "lacks a seed); leave such seeds out.")
        if wrong:
            return report(False, "", f"{key}, {a} minus {b}: {wrong}", formula,
                          "the paragraph above the exercise (what two runs with the same seed share), and the table "
                          "above it: one row per variant and seed")
    return report(True, "each difference compares two runs that shared their seed: the same batches, the same t "
                  "and noise at every step, the same starting noise for the samples.", "")


def _pairing_mistakes(got, rows, key: str, a: Variant, b: Variant) -> dict[str, torch.Tensor]:
    """What pairing mistakes give on ``rows`` (only those of the right length), by their diagnosis."""
    want = paired(rows, key, a, b)
    in_order = {v: [r[key] for r in rows if r["kind"] == v.kind and r["skip"] == v.skip] for v in (a, b)}
    by_position = [x - y for x, y in zip(in_order[a], in_order[b])]
    mistakes = {
        "the rows are paired by their position in the list, not by seed: these rows are shuffled and one "
        "variant lacks a seed, so the i-th row of a and the i-th row of b are not the same seed.": by_position,
        "the sign is flipped: the table reports a minus b.": [-d for d in want],
        "these are the right differences in another order: list them by increasing seed.": _same_values(got, want),
    }
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in mistakes.items()
            if v is not None and len(v) == len(want)}


def _same_values(got, want) -> torch.Tensor | None:
    """``got`` itself when it holds the values of ``want`` in another order (for a mistake's diagnosis)."""
    g = as_float64(got)
    if g is None or g.shape != (len(want),):
        return None
    if torch.allclose(g.sort().values, torch.tensor(sorted(want), dtype=torch.float64), atol=1e-9):
        return g.tolist()
    return None


def paired_interval(rows, skip: str = "add") -> tuple[float, float, float]:
    """07, exercise 3 (reference): (mean, low, high), the 95% t-interval of the per-seed FD differences
    "plain minus residual" at ``skip``."""
    return stats.t_interval(paired(rows, "fd", Variant("plain", skip), Variant("residual", skip)))


INTERVAL_IDEA = ("the per-seed differences are n numbers; their mean has a standard error of their sample sd over "
                 "the square root of n. With n this small the sd itself is uncertain, so the multiplier of the "
                 "standard error must come from a distribution that accounts for it (with n - 1 degrees of "
                 "freedom), not from the normal.")
INTERVAL_REFERENCE = ("Student (1908), 'The Probable Error of a Mean', Biometrika 6(1), or the one-sample "
                      "interval for a mean in any statistics text; the paired differences are your one sample")
BOOTSTRAP = ("that looks like a percentile bootstrap of the mean. With {n} seeds it can only resample {n} numbers, "
             "and its interval is too narrow: it covers the true mean less often than 95% (Efron and Tibshirani "
             "1993, An Introduction to the Bootstrap, Chapter 13, on percentile intervals in small samples). With "
             "this few seeds, use an interval built for a small sample.")


def interval_mistakes(rows, skip: str = "add") -> dict[str, tuple[float, float, float]]:
    """What the common mistakes give for exercise 3, by the diagnosis a student sees (no formula in it)."""
    from scipy.stats import t as student_t

    a, b = Variant("plain", skip), Variant("residual", skip)
    d = np.asarray(paired(rows, "fd", a, b))
    n, m = len(d), float(d.mean())
    xa = np.array([r["fd"] for r in a.rows(rows)])
    xb = np.array([r["fd"] for r in b.rows(rows)])
    interval = lambda half: (m, m - half, m + half)
    q = float(student_t.ppf(0.975, n - 1))
    va, vb = xa.var(ddof=1) / len(xa), xb.var(ddof=1) / len(xb)
    welch_se = math.sqrt(va + vb)
    welch_df = (va + vb) ** 2 / (va ** 2 / (len(xa) - 1) + vb ** 2 / (len(xb) - 1))  # Welch-Satterthwaite
    pooled_var = ((len(xa) - 1) * xa.var(ddof=1) + (len(xb) - 1) * xb.var(ddof=1)) / (len(xa) + len(xb) - 2)
    pooled_se = math.sqrt(pooled_var * (1 / len(xa) + 1 / len(xb)))
    unpaired = ("the mean is right but the interval is not the paired one: it treats the two variants as "
                "independent groups{}, so the spread between seeds, which the two runs of a seed share, counts "
                "against the difference; build it from the per-seed differences (one number per seed).")
    return {
        unpaired.format(""): interval(float(student_t.ppf(0.975, welch_df)) * welch_se),
        unpaired.format(" (a pooled variance)"): interval(float(student_t.ppf(0.975, len(xa) + len(xb) - 2))
                                                          * pooled_se),
        f"the interval uses the normal quantile (1.96), as if the spread were known; it is estimated from only "
        f"{n} seeds, and an interval that ignores that is too narrow (it covers less than 95%).":
            interval(1.959963984540054 * d.std(ddof=1) / math.sqrt(n)),
        f"the degrees of freedom are n = {n}; the spread is estimated around the sample mean, which uses one of "
        f"them up (the interval is a little too narrow).":
            interval(float(student_t.ppf(0.975, n)) * d.std(ddof=1) / math.sqrt(n)),
        "the standard deviation is the population one (it divides by n); the sample one divides by n - 1.":
            interval(q * d.std(ddof=0) / math.sqrt(n)),
        "the half-width is far too narrow: the standard error of a mean divides the sd by the square root of "
        "n, not by n.": interval(q * d.std(ddof=1) / n),
        "the half-width is too wide: it uses the spread of one difference (the standard deviation), not the "
        "standard error of their mean.": interval(q * d.std(ddof=1)),
        "the half-width is too wide: it uses the spread of one difference (the standard deviation), not the "
        "standard error of their mean, and the normal quantile.": interval(1.959963984540054 * d.std(ddof=1)),
        "the sign is flipped: the exercise asks for plain minus residual (positive = plain is worse).":
            (-m, -m - q * d.std(ddof=1) / math.sqrt(n), -m + q * d.std(ddof=1) / math.sqrt(n)),
    }


def bootstrap_interval(diffs, level: float = 0.95) -> tuple[float, float, float] | None:
    """The percentile-bootstrap interval of the mean of ``diffs``, exact (every one of the n^n equally likely
    resamples) for n <= 7, else None: what a student's bootstrap estimates."""
    d = np.asarray(diffs, dtype=float)
    n = len(d)
    if not 2 <= n <= 7:
        return None
    idx = np.stack(np.meshgrid(*[np.arange(n)] * n, indexing="ij"), -1).reshape(-1, n)
    means = np.sort(d[idx].mean(axis=1))
    tail = (1 - level) / 2
    return float(d.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def _interval_shape(got, want, d) -> str:
    """A diagnosis for an interval that matches no listed mistake: its centre, or its width."""
    m, _, hi = (float(v) for v in want)
    g = [float(v) for v in got]
    scale = max(hi - m, 1e-12)
    if abs(g[0] - m) > 1e-3 * scale:
        return "the centre (the first number) is not the mean of the per-seed differences, plain minus residual."
    half = (g[2] - g[1]) / 2
    if half < (hi - m) * (1 - 1e-3):
        return (f"the interval is too narrow for {len(d)} seeds: it would cover the true mean difference less often "
                "than 95%.")
    return "the interval is wider than a 95% interval from these seeds needs to be."


@graded
def check_paired_interval(value, rows, skip: str = "add") -> None:
    """07, exercise 3: ``value`` = (mean, low, high), a 95% interval of the mean per-seed FD difference "plain minus
    residual". Accepts the paired t-interval; names the normal quantile, n degrees of freedom, the sd for the
    standard error, unpaired intervals and a percentile bootstrap (too narrow for five seeds)."""
    want = torch.tensor(paired_interval(rows, skip), dtype=torch.float64)
    got = as_float64(value)
    if got is None or got.shape != (3,):
        return report(False, "", "give `interval` as a tuple of three numbers, (mean, low, high).", INTERVAL_IDEA,
                      INTERVAL_REFERENCE)
    if not (got[1] <= got[0] <= got[2]):
        return report(False, "", "give the tuple as (mean, low, high), the mean between the two bounds.",
                      INTERVAL_IDEA, INTERVAL_REFERENCE)
    mistakes = {k: torch.tensor(v, dtype=torch.float64) for k, v in interval_mistakes(rows, skip).items()}
    wrong = diagnose(got, want, mistakes=mistakes, atol=1e-6, rtol=1e-4)
    d = paired(rows, "fd", Variant("plain", skip), Variant("residual", skip))
    if wrong is not None and wrong not in mistakes:
        boot = bootstrap_interval(d)
        spread = float(np.std(d, ddof=0)) / math.sqrt(len(d))  # the bootstrap distribution's sd
        if boot is not None and abs(float(got[0]) - boot[0]) < 0.1 * spread and \
                max(abs(float(got[1]) - boot[1]), abs(float(got[2]) - boot[2])) < 0.35 * spread:
            wrong = BOOTSTRAP.format(n=len(d))
        else:
            wrong = _interval_shape(got, want, d)
    return report(wrong is None, "a t-interval of the per-seed differences: pairing by seed removes what the two "
                  "variants share (the seed's batches, t and noise), so the interval is about the switch alone; "
                  + ("it excludes 0, so the data resolve the difference." if want[1] > 0 or want[2] < 0 else
                     "it covers 0, so these seeds cannot tell which of the two is better."),
                  wrong or "", INTERVAL_IDEA, INTERVAL_REFERENCE)


def cost_ratios(rows) -> dict[str, float]:
    """``{skip: FD plain / FD residual}``, the median over seeds of the per-seed ratio, at the rows' budget."""
    return {skip: float(np.exp(np.median(stats.log_ratios(Variant("plain", skip).by_seed(rows, "fd"),
                                                          Variant("residual", skip).by_seed(rows, "fd")))))
            for skip in SKIP_MODES}


def largest_cost_skip(rows) -> str:
    """The skip mode where switching the residual connections off multiplies the FD the most (median over seeds
    of FD plain / FD residual, at the rows' budget)."""
    cost = cost_ratios(rows)
    return max(cost, key=cost.get)


def cost_by_budget(curves) -> dict[int, str]:
    """``largest_cost_skip`` at every budget of the learning-curve rows ``curves``."""
    out = {}
    for steps in sorted({r["steps"] for r in curves}):
        at = curve_rows(curves, steps)
        if all(Variant(k, s).rows(at) for k in ("plain", "residual") for s in SKIP_MODES):
            out[steps] = largest_cost_skip(at)
    return out


def _budget_note(curves, measured: str) -> str:
    """In words, the budgets at which another skip mode shows the largest cost (the noise ceiling caps plain /
    none's FD early on)."""
    by = cost_by_budget(curves)
    other = [f"{steps:,} steps: {skip}" for steps, skip in by.items() if skip != measured]
    if not other:
        return ""
    return (f" The answer depends on the budget: the largest cost is elsewhere at {'; '.join(other)}. Early on, "
            "plain / none is still at the noise ceiling (its FD cannot get much worse than noise), which caps its "
            "ratio. Your own run, at the first budget, may rank them that way too.")


@graded
def check_cost_prediction(prediction, rows, curves=None) -> None:
    """07, predict-then-run: with which long skip does switching the residual connections off cost the most FD, at
    the rows' budget? ``curves`` (every budget): also say where the answer changes with the budget."""
    answer = answer_text(answer_text(prediction).removeprefix("skip="))
    if answer not in SKIP_MODES:
        return report(False, "", f"answer with one of {', '.join(repr(s) for s in SKIP_MODES)} "
                      f"(you wrote {prediction!r}).")
    measured = largest_cost_skip(rows)
    steps = round(np.mean([r["steps"] for r in rows])) if rows and "steps" in rows[0] else None
    at = f"at {steps:,} steps" if steps else "at this budget"
    cost = ", ".join(f"{skip} {ratio:.2f}" for skip, ratio in cost_ratios(rows).items())
    why = ("without long skips, everything the decoder knows about the input has come through every block of "
           "the encoder and the middle: the residual connections are its only short path. With long skips "
           "(add or concat) the encoder's features reach the decoder directly, so the blocks' own shortcuts "
           "matter less.")
    note = _budget_note(curves, measured) if curves else ""
    return report(answer == measured, f"{at} the FD cost is largest with skip={measured!r} (FD plain over "
                  f"residual, median over seeds: {cost}). {why[0].upper() + why[1:]}{note}",
                  f"you predicted skip={answer!r}; {at} the shipped seeds say skip={measured!r}: the ratios "
                  "\"plain over residual\" of the shipped learning curves below show it.", why,
                  f"the shipped learning curves below: plain against residual, with and without long skips, {at}")
