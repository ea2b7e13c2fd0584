"""Notebook 07: the U-Net's residual connections crossed with its long skips (none/add/concat).

The module, in the order of its sections:

1. **the variants**, listed in one place: a ``Variant(kind, skip)`` is a kind of ResBlock (``KIND_SWITCHES``)
   and a long-skip mode of ``UNet``; ``VARIANTS`` (all 9), ``MAIN_VARIANTS`` (6), ``SWEEP_VARIANTS`` (the 7 of
   the shipped sweep) and ``COMPARISONS`` (which kinds are subtracted from which);
2. **one run**: ``run_variant`` trains one variant for a fixed number of steps and measures it (one row);
3. **equal time**: ``calibrate`` and ``steps_for_budget`` turn a wall-clock budget into step counts;
4. **statistics over seeds**: ``t_interval``, ``paired``, ``effect_rows``, ``summary``;
5. **reports, claims, plots, the samples widget** (``SamplesView``), the **shipped results**
   (``load_results``) and the notebook's **exercises**.

Three *kinds* of ResBlock times the three long-skip modes of ``UNet``:

* ``"residual"``: h = x + F(x, t) with F's last convolution zero-initialised (``UNet(residual=True)``);
* ``"plain"``: h = F(x, t) with PyTorch's default init (``UNet(residual=False)``). This switches off *two*
  things at once: the shortcut (identity or 1x1 convolution) and the zero-init of F's last convolution;
* ``"residual, default init"``: the shortcut kept, the zero-init dropped (``UNet(residual=True,
  zero_init=False)``), the control that separates the two.

Each variant trains on the 1,000 "train" digits for a number of *steps* fixed in advance; the script
``scripts/capstone.py`` turns an equal wall-clock budget into one step count per variant by timing each
variant's steps interleaved (``calibrate``, ``steps_for_budget``), so the stored results depend on
(variant, seed, steps) only, not on how busy the machine was while they trained.
Each trained model is measured by (``run_variant``):

* ``final_loss``: training eps-MSE, mean of the last 50 steps;
* ``gap`` (overfitting): eps-MSE on 500 held-out digits minus on 500 training digits ("train half A"),
  with the *same* t and noise for both, averaged over ``eval_draws`` draws (new t, noise and subsets each
  draw); ``null``: the same statistic between two disjoint halves of the training digits (B minus A),
  whose expectation is exactly 0; ``gap_se``, ``null_se``: their standard errors over the draws;
* ``fd``: Fréchet distance of ``n_samples`` DDIM-20 samples (EMA weights) to the 797 *held-out* digits,
  with its ``floor`` (as many real training digits, same reference) and ``fd_train`` (the same samples
  against the training digits, which rewards memorisation).

Summaries over seeds: ``paired`` (per-seed differences between two variants with the same seed),
``t_interval`` (a 95% t-interval over seeds), ``effect_rows`` / ``format_effects`` (the capstone's table).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._checks import check_choice
from ..data import load_digits
from ..diffusion import diffusion_loss
from ..metrics import digit_fd, digit_quality
from ..plotting import finish
from ..samplers import DDIMSampler
from ..schedules import NoiseSchedule
from ..trainer import TrainConfig, Trainer
from ..unet import SKIP_MODES, UNet
from ..utils import count_parameters
from .grading import answer_text, as_float64, diagnose, graded, report

# ----------------------------------------------------------------------------- the variants (one place)

# kind -> (residual, zero_init): the two switches of ``UNet`` each kind of block sets
KIND_SWITCHES = {
    "residual": (True, True),  # h = shortcut(x) + F(x, t), F's last conv zero-initialised
    "residual, default init": (True, False),  # the shortcut kept, the zero-init dropped (the control)
    "plain": (False, False),  # h = F(x, t), PyTorch's default init
}
KINDS = tuple(KIND_SWITCHES)


@dataclass(frozen=True)
class Variant:
    """One U-Net of the capstone: a kind of block (``KINDS``) and a long-skip mode (``SKIP_MODES``).

    Rows of results (plain dicts, as stored in JSON) carry it as ``row["kind"]`` and ``row["skip"]``;
    the shipped file's "meta" names it by ``name``, e.g. ``"residual / skip=concat"``.
    """

    kind: str
    skip: str

    def __post_init__(self):
        check_choice("kind", self.kind, KINDS)
        check_choice("skip", self.skip, SKIP_MODES)

    @property
    def name(self) -> str:
        return f"{self.kind} / skip={self.skip}"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def parse(cls, name: str) -> Variant:
        """The variant named ``name`` (inverse of ``name``)."""
        kind, _, skip = name.partition(" / skip=")
        return cls(kind, skip)

    @classmethod
    def of(cls, row: dict) -> Variant:
        """The variant a row of results belongs to."""
        return cls(row["kind"], row["skip"])

    def build(self) -> UNet:
        """A freshly initialised U-Net of this variant."""
        residual, zero_init = KIND_SWITCHES[self.kind]
        return UNet(skip=self.skip, residual=residual, zero_init=zero_init)

    def rows(self, rows) -> list[dict]:
        """This variant's rows, sorted by seed."""
        return sorted((r for r in rows if r["kind"] == self.kind and r["skip"] == self.skip), key=lambda r: r["seed"])

    def by_seed(self, rows, key: str) -> dict[int, float]:
        """``{seed: row[key]}`` over this variant's rows."""
        return {r["seed"]: r[key] for r in self.rows(rows)}


VARIANTS = [Variant(kind, skip) for kind in KINDS for skip in SKIP_MODES]  # all 9
MAIN_VARIANTS = [v for v in VARIANTS if v.kind in ("residual", "plain")]  # the 6 of the live run
# what scripts/capstone.py runs: the six main variants, and the control where the switch matters most
SWEEP_VARIANTS = [*MAIN_VARIANTS, Variant("residual, default init", "none")]
REFERENCE = Variant("residual", "concat")  # the variant whose step count sets the equal-time budget


@dataclass(frozen=True)
class Comparison:
    """The per-seed difference "kind ``a`` minus kind ``b``" at each skip mode."""

    name: str
    a: str
    b: str

    def at(self, skip: str) -> tuple[Variant, Variant]:
        return Variant(self.a, skip), Variant(self.b, skip)


COMPARISONS = [
    Comparison("residual on - off", "residual", "plain"),
    Comparison("shortcut alone", "residual, default init", "plain"),
    Comparison("zero-init alone", "residual", "residual, default init"),
]
BATCH_SIZE = 64


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


def to_pixels(x: torch.Tensor) -> list:
    """``[B, 1, 8, 8]`` in [-1, 1] -> nested lists of integers 0..255 (compact for JSON)."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).squeeze(1).tolist()


def from_pixels(p) -> torch.Tensor:
    """Inverse of ``to_pixels``: ``[B, 1, 8, 8]`` in [-1, 1]."""
    return torch.tensor(p, dtype=torch.float32).unsqueeze(1) / 127.5 - 1.0


def run_variant(variant: Variant, steps: int, seed: int = 0, batch_size: int = BATCH_SIZE, device="cpu",
                n_samples: int = 300, eval_draws: int = 32, keep_samples: int = 0, progress: bool = False) -> dict:
    """Train ``variant`` for ``steps`` steps from ``seed`` and measure it; one row of plain numbers.

    The row depends only on (variant, steps, seed, batch_size, n_samples, eval_draws), up to the last digits
    that differ between CPUs. ``keep_samples`` > 0 stores that many samples (as 0..255 pixels).
    """
    train = load_digits(split="train")
    torch.manual_seed(seed)
    schedule = NoiseSchedule.make("linear", 1000)
    trainer = Trainer(variant.build(), schedule, train,
                      TrainConfig(steps=steps, batch_size=batch_size, seed=seed), device=device, progress=progress)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    model = trainer.ema_model.eval()
    gap = split_gap(model, schedule, draws=eval_draws, seed=seed)
    model = model.cpu()
    x = DDIMSampler(schedule, 20, clip_x0=True).sample(model, (n_samples, 1, 8, 8),
                                                       generator=torch.Generator().manual_seed(seed))
    q = digit_quality(x, reference="test")
    last = trainer.history.loss[-50:]
    row = {"kind": variant.kind, "skip": variant.skip, "seed": seed, "params": count_parameters(model),
           "steps": trainer.step, "seconds": round(seconds, 2), "final_loss": sum(last) / len(last), **gap,
           "fd": q["fd"], "floor": q["floor"], "fd_train": digit_fd(x, reference="train")}
    if keep_samples:
        row["samples"] = to_pixels(x[:keep_samples])
    return row


def run_capstone(steps: int | dict[Variant, int], seeds=(0,), variants=MAIN_VARIANTS, **kw) -> list[dict]:
    """Every variant x seed (``run_variant``'s settings in ``kw``); ``steps``: one number for all variants, or
    one per variant ``{Variant: steps}`` (from ``steps_for_budget``)."""
    per_variant = steps if isinstance(steps, dict) else dict.fromkeys(variants, steps)
    return [run_variant(v, per_variant[v], seed=seed, **kw) for seed in seeds for v in variants]


# ----------------------------------------------------------------------------- equal wall-clock time

def calibrate(variants=SWEEP_VARIANTS, rounds: int = 7, steps_per_round: int = 8, batch_size: int = BATCH_SIZE,
              device="cpu") -> dict[Variant, float]:
    """Seconds per training step of each variant, timed *interleaved* (round r times every variant once),
    median over ``rounds``: a slow spell of the machine then hits all variants alike. ``{variant: s/step}``.

    "residual" and "residual, default init" differ only in initial values, not in the operations they run,
    so they share one timing (the median over both), rather than differ by the timing's noise.
    """
    train = load_digits(split="train")
    schedule = NoiseSchedule.make("linear", 1000)
    trainers = {}
    for v in variants:
        torch.manual_seed(0)
        tr = Trainer(v.build(), schedule, train, TrainConfig(batch_size=batch_size), device=device, progress=False)
        tr._tick = time.perf_counter()
        for _ in range(3):  # warm-up
            tr.train_step()
        trainers[v] = tr
    times = {v: [] for v in trainers}
    for _ in range(rounds):
        for v, tr in trainers.items():
            start = time.perf_counter()
            for _ in range(steps_per_round):
                tr.train_step()
            times[v].append((time.perf_counter() - start) / steps_per_round)
    same_ops = lambda v: (KIND_SWITCHES[v.kind][0], v.skip)  # (residual, skip): the operations a step runs
    pooled = {}
    for v, seconds in times.items():
        pooled.setdefault(same_ops(v), []).extend(seconds)
    return {v: float(np.median(pooled[same_ops(v)])) for v in times}


def steps_for_budget(sec_per_step: dict[Variant, float], ref_steps: int,
                     reference: Variant = REFERENCE) -> dict[Variant, int]:
    """Equal wall-clock time -> one step count per variant.

    The ``reference`` variant gets ``ref_steps`` steps; every other variant v as many as take the same time:

        steps_v = round(ref_steps * s_ref / s_v),    s = seconds per step from ``calibrate``.

    Only the *ratios* s_ref / s_v enter, and an interleaved timing measures them well even on a busy
    machine; the budget in seconds, ref_steps * s_ref, is what the reference takes on the timed machine.
    """
    s_ref = sec_per_step[reference]
    return {v: max(1, round(ref_steps * s_ref / s)) for v, s in sec_per_step.items()}


# ----------------------------------------------------------------------------- statistics over seeds

def t_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the t-interval mean ± t_{df} sd / sqrt(n) over ``values`` (one per seed)."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"values must list at least 2 numbers, one per seed; got {values!r}")
    from scipy.stats import t as student_t

    half = float(student_t.ppf(0.5 + level / 2, v.size - 1)) * v.std(ddof=1) / math.sqrt(v.size)
    return float(v.mean()), float(v.mean() - half), float(v.mean() + half)


def paired(rows, key: str, a: Variant, b: Variant) -> list[float]:
    """Per-seed differences ``key(a) - key(b)``, seed by seed, over the seeds both variants have."""
    va, vb = a.by_seed(rows, key), b.by_seed(rows, key)
    return [va[s] - vb[s] for s in sorted(va) if s in vb]


def effect_rows(rows, keys=("fd", "final_loss", "gap")) -> list[dict]:
    """For each comparison of ``COMPARISONS`` and skip mode the rows have: per-seed differences and their
    t-interval (``key`` and ``key + "_ci"``)."""
    out = []
    for comparison in COMPARISONS:
        for skip in SKIP_MODES:
            a, b = comparison.at(skip)
            entry = {"comparison": comparison.name, "skip": skip, "a": a, "b": b}
            for key in keys:
                diffs = paired(rows, key, a, b)
                entry[key] = diffs
                entry[key + "_ci"] = t_interval(diffs) if len(diffs) > 1 else (diffs[0],) * 3 if diffs else None
            if entry[keys[0]]:
                out.append(entry)
    return out


def format_effects(rows, keys=("fd", "final_loss", "gap")) -> str:
    """The paired differences as a table: mean [95% CI] over seeds, per comparison and skip mode."""
    fmt = {"fd": "{:+7.1f}", "final_loss": "{:+.4f}", "gap": "{:+.4f}"}
    label = {"fd": "FD (held-out ref.)", "final_loss": "training loss", "gap": "held-out gap"}
    n = len({r["seed"] for r in rows})
    lines = [f"paired differences, same seed, mean [95% t-interval over {n} seeds]",
             f"{'comparison':<18} {'skip':>6}  " + "  ".join(f"{label[k]:^28}" for k in keys)]
    for e in effect_rows(rows, keys):
        cells = []
        for k in keys:
            m, lo, hi = e[k + "_ci"]
            f = fmt[k]
            cells.append(f"{f.format(m)} [{f.format(lo)}, {f.format(hi)}]".center(28))
        lines.append(f"{e['comparison']:<18} {e['skip']:>6}  " + "  ".join(cells))
    return "\n".join(lines)


def summary(rows) -> list[dict]:
    """One row per variant: means over seeds of the measurements, and the gap's verdict against its null.

    ``gap_vs_null`` is the t-interval over seeds of (gap - null); ``gap_resolved`` is True when it excludes 0
    (the held-out gap differs from what two halves of the training set show), else the gap is unresolved.
    """
    out = []
    for v in VARIANTS:
        group = v.rows(rows)
        if not group:
            continue
        def mean(k, group=group):
            return float(np.mean([r[k] for r in group]))

        entry = {"kind": v.kind, "skip": v.skip, "seeds": len(group), "params": group[0]["params"],
                 "steps": round(mean("steps")), **{k: mean(k) for k in ("final_loss", "gap", "null", "gap_se",
                                                                     "fd", "floor", "fd_train")}}
        entry["fd_sd"] = float(np.std([r["fd"] for r in group], ddof=1)) if len(group) > 1 else 0.0
        if len(group) > 1:
            ci = t_interval([r["gap"] - r["null"] for r in group])
            entry["gap_vs_null"] = ci
            entry["gap_resolved"] = not (ci[1] <= 0.0 <= ci[2])
        out.append(entry)
    return out


def format_table(rows, timing: bool = False) -> str:
    """Means over seeds per variant, fixed width (timings left out unless ``timing``: they vary)."""
    head = (f"{'kind':>22} {'skip':>6} {'params':>7} {'steps':>5} {'loss':>7} {'gap':>8} {'null':>8} "
            f"{'gap-null [95% CI]':>24} {'FD':>6} {'FD sd':>5} {'floor':>5} {'FD(train)':>9}")
    lines = [head]
    for e in summary(rows):
        ci = e.get("gap_vs_null")
        ci_s = (f"{ci[0]:+.4f} [{ci[1]:+.4f},{ci[2]:+.4f}]" if ci else "")
        lines.append(f"{e['kind']:>22} {e['skip']:>6} {e['params']:>7,} {e['steps']:>5} {e['final_loss']:>7.4f} "
                     f"{e['gap']:>+8.4f} {e['null']:>+8.4f} {ci_s:>24} {e['fd']:>6.1f} {e['fd_sd']:>5.1f} "
                     f"{e['floor']:>5.1f} {e['fd_train']:>9.1f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- claims and predictions

# claim name -> (key, variant a, variant b): the claim is "key(a) - key(b) > 0 for every seed"
CLAIMS = {
    **{f"plain_worse_fd_{skip}": ("fd", Variant("plain", skip), Variant("residual", skip)) for skip in SKIP_MODES},
    "shortcut_alone_helps_none": ("fd", Variant("plain", "none"), Variant("residual, default init", "none")),
}


def capstone_claims(rows) -> dict[str, list[float]]:
    """Per-seed margins of the capstone's claims ``CLAIMS`` (each > 0 when the claim held for that seed)."""
    return {name: paired(rows, key, a, b) for name, (key, a, b) in CLAIMS.items()}


def claim_margins(name: str, seeds, **run_kw) -> list[float]:
    """Re-run the two variants of claim ``name`` with other ``seeds`` (``run_variant``'s settings in ``run_kw``,
    ``steps`` among them) and return the per-seed margins."""
    check_choice("name", name, CLAIMS)
    key, a, b = CLAIMS[name]
    rows = [run_variant(v, seed=seed, **run_kw) for seed in seeds for v in (a, b)]
    return paired(rows, key, a, b)


# ----------------------------------------------------------------------------- reports (text from the rows)

def describe_budget(meta: dict) -> str:
    """The equal-time design in words: budget, seeds, and the step count each variant got from its timing."""
    ref = Variant(*meta["reference"]).name
    lines = [f"equal time: {ref} gets {meta['ref_steps']} steps ({meta['budget_s']:.1f} s at the timed speed, "
             f"{meta['threads']} thread), every other variant the steps that take as long; seeds {meta['seeds']}, "
             f"batch {meta['batch_size']}:"]
    for name, steps in meta["steps"].items():
        lines.append(f"  {name:<38} {1000 * meta['calibration_s_per_step'][name]:5.1f} ms/step -> {steps} steps")
    return "\n".join(lines)


def gap_report(rows, eval_draws: int) -> str:
    """How stable one model's gap is under the evaluation's draws, and which gaps leave their null."""
    se = np.array([r["gap_se"] for r in rows])
    s = summary(rows)
    resolved = [Variant.of(e).name for e in s if e.get("gap_resolved")]
    unresolved = [Variant.of(e).name for e in s if "gap_resolved" in e and not e["gap_resolved"]]
    nulls = np.array([r["null"] for r in rows])
    return "\n".join([
        f"evaluation spread of one model's gap: one draw (500 digits per set) has sd "
        f"{np.median(se) * eval_draws ** 0.5:.4f} (median over models); the mean of {eval_draws} draws, "
        f"a standard error of {np.median(se):.4f} "
        f"(largest {se.max():.4f}).",
        f"null (training half B minus half A): {nulls.min():+.4f} to {nulls.max():+.4f} over all models and seeds.",
        f"gap resolved from its null (95% t-interval of gap - null over seeds excludes 0): "
        f"{', '.join(resolved) if resolved else 'none'}.",
        f"unresolved: {', '.join(unresolved) if unresolved else 'none'}."])


def fd_report(rows) -> str:
    """FD against the training digits vs against the held-out digits, for the same samples."""
    lower = sum(r["fd_train"] < r["fd"] for r in rows)
    diff = np.array([r["fd"] - r["fd_train"] for r in rows])
    return (f"FD against the training digits is lower than against the held-out digits for {lower} of {len(rows)} "
            f"models (by {diff.min():.1f} to {diff.max():.1f}); the floor, 300 real training digits against the "
            f"held-out digits, is {np.mean([r['floor'] for r in rows]):.1f}.")


def _ci_words(m: float, lo: float, hi: float, fmt: str = "+.1f") -> str:
    return f"{m:{fmt}} (95% CI {lo:{fmt}} to {hi:{fmt}})"


def interpretation(rows) -> str:
    """The sentences the numbers support, built from the rows (so they cannot contradict the table)."""
    out = []
    n = len({r["seed"] for r in rows})
    for e in effect_rows(rows, keys=("fd", "final_loss", "gap")):
        m, lo, hi = e["fd_ci"]
        sign = ("lower (better)" if hi < 0 else "higher (worse)" if lo > 0 else "not resolved (the interval covers 0)")
        a, b = e["a"].kind, e["b"].kind
        g = e["gap_ci"]
        gap_sign = ("smaller" if g[2] < 0 else "larger" if g[1] > 0 else "not resolved")
        out.append(f"- {a} minus {b}, skip={e['skip']}: FD {_ci_words(m, lo, hi)}: {sign}; "
                   f"training loss {_ci_words(*e['final_loss_ci'], fmt='+.4f')}; "
                   f"held-out gap {_ci_words(*g, fmt='+.4f')}: {gap_sign}.")
    best = min(summary(rows), key=lambda e: e["fd"])
    out.append(f"- lowest mean FD over the {n} seeds: {Variant.of(best).name} "
               f"({best['fd']:.1f}, floor {best['floor']:.1f}).")
    return "\n".join(out)


# ----------------------------------------------------------------------------- plots

_COLORS = {"residual": "tab:blue", "residual, default init": "tab:green", "plain": "tab:orange"}


def plot_capstone(rows, title: str = ""):
    """Per-seed points (dots) and means (bars) per variant: FD (held-out reference), training loss, and the
    held-out gap next to its null (hollow markers)."""
    import matplotlib.pyplot as plt

    kinds = [k for k in KINDS if any(r["kind"] == k for r in rows)]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    width = 0.8 / len(kinds)
    for ax, key, label in [(axes[0], "fd", "FD to held-out digits (lower = better)"),
                           (axes[1], "final_loss", "training loss"),
                           (axes[2], "gap", "held-out gap (filled) vs null (hollow)")]:
        for k, kind in enumerate(kinds):
            for i, skip in enumerate(SKIP_MODES):
                group = Variant(kind, skip).rows(rows)
                if not group:
                    continue
                x = i + (k - (len(kinds) - 1) / 2) * width
                vals = [r[key] for r in group]
                first = kind not in ax.get_legend_handles_labels()[1]
                ax.bar(x, np.mean(vals), width * 0.9, color=_COLORS[kind], alpha=0.35, label=kind if first else None)
                jitter = np.linspace(-0.25, 0.25, len(vals)) * width
                ax.plot(x + jitter, vals, "o", color=_COLORS[kind], ms=3.5)
                if key == "gap":
                    ax.plot(x + jitter, [r["null"] for r in group], "o", mfc="none", color="k", ms=3.5, lw=0)
        ax.set_xticks(range(len(SKIP_MODES)), [f"skip={s}" for s in SKIP_MODES])
        ax.set_title(label, fontsize=9)
        ax.set_ylabel({"fd": "FD (log scale)", "final_loss": "eps-MSE", "gap": "eps-MSE difference"}[key])
        if key == "fd":
            ax.set_yscale("log")
            ax.axhline(np.mean([r["floor"] for r in rows]), color="grey", ls="--", lw=1, label="floor (real digits)")
        if key == "gap":
            ax.axhline(0, color="grey", lw=0.8)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return finish(fig)


def plot_effects(rows, title: str = ""):
    """Paired differences (same seed) per skip mode: per-seed points and the 95% t-interval of their mean."""
    import matplotlib.pyplot as plt

    effects = effect_rows(rows)
    names = [c.name for c in COMPARISONS if any(e["comparison"] == c.name for e in effects)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    for ax, key, label in [(axes[0], "fd", "FD difference (a - b)"),
                           (axes[1], "gap", "held-out gap difference (a - b)")]:
        for j, name in enumerate(names):
            for i, skip in enumerate(SKIP_MODES):
                e = next((e for e in effects if e["comparison"] == name and e["skip"] == skip), None)
                if e is None:
                    continue
                x = i + (j - (len(names) - 1) / 2) * 0.25
                m, lo, hi = e[key + "_ci"]
                first = name not in ax.get_legend_handles_labels()[1]
                ax.errorbar(x, m, yerr=[[m - lo], [hi - m]], fmt="s", color=f"C{j}", capsize=3,
                            label=name if first else None)
                ax.plot(np.full(len(e[key]), x + 0.06), e[key], ".", color=f"C{j}", alpha=0.6)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(range(len(SKIP_MODES)), [f"skip={s}" for s in SKIP_MODES])
        ax.set_title(label, fontsize=9)
        ax.set_ylabel(f"{'FD' if key == 'fd' else 'gap'} of a minus b" + (" (symlog)" if key == "fd" else ""))
        if key == "fd":
            ax.set_yscale("symlog", linthresh=10)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return finish(fig)


def plot_sample_grids(samples: dict, title: str = "", n: int = 16):
    """One 4x4 grid of samples per variant; ``samples``: ``{Variant: [B, 1, 8, 8]}``. Pixels are shown
    as blocks (nearest-neighbour upscaling), not blurred."""
    import matplotlib.pyplot as plt

    from ..plotting import image_grid

    kinds = [k for k in KINDS if any(v.kind == k for v in samples)]
    fig, axes = plt.subplots(len(kinds), len(SKIP_MODES), figsize=(2.8 * len(SKIP_MODES), 3.0 * len(kinds)),
                             squeeze=False)
    for r, kind in enumerate(kinds):
        for c, skip in enumerate(SKIP_MODES):
            ax = axes[r][c]
            ax.axis("off")
            if Variant(kind, skip) not in samples:
                continue
            ax.imshow(image_grid(samples[Variant(kind, skip)][:n], nrow=4), cmap="gray", interpolation="nearest",
                      vmin=0, vmax=1)
            ax.set_title(f"{kind}\nskip={skip}", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return finish(fig)


def shipped_samples(rows, seed: int | None = None) -> dict[Variant, torch.Tensor]:
    """``{Variant: samples [B, 1, 8, 8]}`` from rows that stored samples (the first seed that has them, by
    default)."""
    out = {}
    for r in rows:
        if "samples" in r and (seed is None or r["seed"] == seed) and Variant.of(r) not in out:
            out[Variant.of(r)] = from_pixels(r["samples"])
    return out


# ----------------------------------------------------------------------------- the samples widget

class SamplesView:
    """Widget body of notebook 07, built once: the 16 stored samples of two variants side by side (each pixel
    a block: nearest-neighbour scaling), and the FD of both variants for every seed, one grey line per seed
    joining its two FDs (the pairing), the chosen seed's line in black with its difference written out.

    ``update(a, b, seed)`` (variant names, a seed) only swaps precomputed image arrays and sets line data and
    titles (``animated``); the axes never change. Rows store samples for some seeds only (the shipped file:
    the first seed); for a seed without samples the grids show the first seed that has them, and say so.
    """

    def __init__(self, rows, n: int = 16):
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        from ..plotting import image_grid

        self.variants = [v for v in VARIANTS if v.rows(rows)]
        self.seeds = sorted({r["seed"] for r in rows})
        self.grids = {(Variant.of(r), r["seed"]): image_grid(from_pixels(r["samples"])[:n], nrow=4)
                      for r in rows if "samples" in r}
        if not self.grids:
            raise ValueError("no row stores samples: run the variants with keep_samples > 0")
        self.fd = {v: v.by_seed(rows, "fd") for v in self.variants}
        floor = float(np.mean([r["floor"] for r in rows]))
        self.fig, (self.ax_a, self.ax_b, ax) = plt.subplots(
            1, 3, figsize=(12, 4.4), gridspec_kw={"width_ratios": [1, 1, 1.25]})
        blank = np.ones_like(next(iter(self.grids.values())))
        self.images, self.titles = [], []
        for side, axis in (("a", self.ax_a), ("b", self.ax_b)):
            self.images.append(axis.imshow(blank, cmap="gray", vmin=0, vmax=1, interpolation="nearest"))
            self.titles.append(axis.set_title(f"{side}: kind, skip\nseed, FD", fontsize=9))  # room for 2 lines
            axis.axis("off")
            for spine in axis.spines.values():
                spine.set_visible(False)
        self.seed_lines = {seed: ax.plot([0, 1], [1, 1], "o-", color="0.75", lw=1, ms=4)[0] for seed in self.seeds}
        (self.chosen,) = ax.plot([0, 1], [1, 1], "o-", color="k", lw=2.5, ms=7, label="chosen seed")
        ax.axhline(floor, color="grey", ls="--", lw=1, label="floor (real digits)")
        ax.plot([], [], "o-", color="0.75", lw=1, ms=4, label="other seeds")
        fds = [fd for v in self.variants for fd in self.fd[v].values()]
        ax.set_yscale("log")
        ax.set_ylim(0.8 * min(floor, *fds), 1.3 * max(fds))
        ax.set_yticks([t for t in (10, 20, 50, 100, 200, 500, 1000) if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]])
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(-0.4, 1.4)
        ax.set_xticks([0, 1], ["a (left)", "b (middle)"])
        ax.set_ylabel("FD to held-out digits (log scale; lower = better)")
        ax.legend(fontsize=8, loc="lower right")
        self.difference = ax.set_title("FD a - b\nseed", fontsize=10)
        self.fig.tight_layout()
        plt.close(self.fig)  # shown by LiveFigure or show_samples, not a second time by the inline backend
        self.animated = [*self.images, *self.titles, *self.seed_lines.values(), self.chosen, self.difference]

    def grid(self, variant: Variant, seed: int) -> tuple[np.ndarray, int]:
        """The sample grid of ``variant`` for ``seed``, or for the first seed that stored samples, and that seed."""
        if (variant, seed) in self.grids:
            return self.grids[(variant, seed)], seed
        stored = sorted(s for v, s in self.grids if v == variant)
        if not stored:
            return np.ones_like(next(iter(self.grids.values()))), seed
        return self.grids[(variant, stored[0])], stored[0]

    def update(self, a: str = "residual / skip=concat", b: str = "plain / skip=concat", seed: int = 0) -> None:
        va, vb = Variant.parse(a), Variant.parse(b)
        for variant, image, title, side in ((va, self.images[0], self.titles[0], "a"),
                                            (vb, self.images[1], self.titles[1], "b")):
            grid, shown = self.grid(variant, seed)
            image.set_data(grid)
            fd = self.fd[variant].get(shown, float("nan"))
            note = "" if shown == seed else f" (samples of seed {seed} not stored)"
            title.set_text(f"{side}: {variant.kind}, skip={variant.skip}\nseed {shown}: FD {fd:.0f}{note}")
        for s, line in self.seed_lines.items():
            line.set_ydata([self.fd[va].get(s, np.nan), self.fd[vb].get(s, np.nan)])
        fa, fb = self.fd[va].get(seed, np.nan), self.fd[vb].get(seed, np.nan)
        self.chosen.set_ydata([fa, fb])
        diffs = [self.fd[va][s] - self.fd[vb][s] for s in self.seeds if s in self.fd[va] and s in self.fd[vb]]
        self.difference.set_text(f"FD of a minus FD of b, same seed:\nseed {seed}: {fa - fb:+.0f}; "
                                 f"mean of the {len(diffs)} seeds: {np.mean(diffs):+.0f}")


def samples_widget(rows, a: str = "residual / skip=concat", b: str = "plain / skip=concat"):
    """The notebook's widget on ``rows``: two variant dropdowns and a seed slider over ``SamplesView``."""
    from ipywidgets import Dropdown, IntSlider

    from ..widgets import LiveFigure

    view = SamplesView(rows)
    names = [v.name for v in view.variants]
    return LiveFigure(view, a=Dropdown(options=names, value=a, description="a"),
                      b=Dropdown(options=names, value=b, description="b"),
                      seed=IntSlider(value=view.seeds[0], min=view.seeds[0], max=view.seeds[-1], description="seed"))


def show_samples(rows, a: str = "residual / skip=concat", b: str = "plain / skip=concat", seed: int = 0):
    """The figure of ``SamplesView`` for one choice, as a static figure."""
    view = SamplesView(rows)
    view.update(a, b, seed)
    return finish(view.fig)


def demo_widgets() -> dict:
    """Notebook 07's widget on the shipped results (small and already computed): ``{"capstone samples": ...}``."""
    return {"capstone samples": samples_widget(load_results()[1])}


# ----------------------------------------------------------------------------- shipped results

def save_results(rows: list[dict], path: str | Path, meta: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"meta": meta, "rows": rows}, indent=None, separators=(",", ":")) + "\n")


RESULTS = Path(__file__).resolve().parents[1] / "results" / "capstone.json"  # shipped, so Colab has it too


def load_results(path: str | Path = RESULTS) -> tuple[dict, list[dict]]:
    """(meta, rows) written by ``save_results``; by default the equal-time runs of ``scripts/capstone.py``."""
    data = json.loads(Path(path).read_text())
    return data["meta"], data["rows"]


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
    formula = ("for every seed s that both variants have, in increasing order of s: row(a, s)[key] - "
               "row(b, s)[key], where row(v, s) is the row with kind v.kind, skip v.skip and seed s.")
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
                          "course_lib.lessons.residual_in_diffusion.paired")
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
    """07, exercise 2 (reference): (mean, low, high), the 95% t-interval of the per-seed FD differences
    "plain minus residual" at ``skip``."""
    return t_interval(paired(rows, "fd", Variant("plain", skip), Variant("residual", skip)))


def interval_mistakes(rows, skip: str = "add") -> dict[str, tuple[float, float, float]]:
    """What the common mistakes give for exercise 2, by the diagnosis a student sees (no formula in it)."""
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
                "independent groups{}; take the interval of the per-seed differences (one number per seed).")
    return {
        unpaired.format(""): interval(float(student_t.ppf(0.975, welch_df)) * welch_se),
        unpaired.format(" (a pooled variance)"): interval(float(student_t.ppf(0.975, len(xa) + len(xb) - 2))
                                                          * pooled_se),
        "the interval uses the normal quantile (1.96); with this few seeds it must be Student's t, which is "
        "wider.": interval(1.959963984540054 * d.std(ddof=1) / math.sqrt(n)),
        "the t quantile has the wrong degrees of freedom (the interval is a little too narrow).":
            interval(float(student_t.ppf(0.975, n)) * d.std(ddof=1) / math.sqrt(n)),
        "the standard deviation is the population one (it divides by n); the sample one divides by n - 1.":
            interval(q * d.std(ddof=0) / math.sqrt(n)),
        "the half-width is far too narrow: the standard error of a mean divides the sd by the square root of "
        "n, not by n.": interval(q * d.std(ddof=1) / n),
        "the half-width is too wide: it uses the spread of one difference, not the standard error of their "
        "mean.": interval(q * d.std(ddof=1)),
        "the sign is flipped: the exercise asks for plain minus residual (positive = plain is worse).":
            (-m, -m - q * d.std(ddof=1) / math.sqrt(n), -m + q * d.std(ddof=1) / math.sqrt(n)),
    }


@graded
def check_paired_interval(value, rows, skip: str = "add") -> None:
    """07, exercise 2: ``value`` = (mean, low, high), the paired 95% t-interval of "plain minus residual" FD."""
    want = torch.tensor(paired_interval(rows, skip), dtype=torch.float64)
    got = as_float64(value)
    formula = ("with d the list of per-seed differences and n = len(d): mean ± t_{0.975, n-1} * sd(d, ddof=1) / "
               "sqrt(n), where t_{0.975, n-1} = scipy.stats.t.ppf(0.975, n - 1).")
    reference = "course_lib.lessons.residual_in_diffusion.t_interval"
    if got is not None and got.shape == (3,) and not (got[1] <= got[0] <= got[2]):
        return report(False, "", "give the tuple as (mean, low, high), the mean between the two bounds.", formula,
                      reference)
    mistakes = {k: torch.tensor(v, dtype=torch.float64) for k, v in interval_mistakes(rows, skip).items()}
    wrong = diagnose(value, want, mistakes=mistakes, atol=1e-6, rtol=1e-6)
    return report(wrong is None, "pairing by seed removes what the two variants share (the seed's batches, t and "
                  "noise), so the interval is about the switch alone; it excludes 0, so the data resolve the "
                  "difference." if want[1] > 0 or want[2] < 0 else "pairing by seed removes what the two variants "
                  "share; this interval covers 0, so these seeds cannot tell the sign.",
                  wrong or "", formula, reference)


def largest_cost_skip(rows) -> str:
    """The skip mode where switching the residual connections off raises the mean FD the most."""
    cost = {skip: float(np.mean(paired(rows, "fd", Variant("plain", skip), Variant("residual", skip))))
            for skip in SKIP_MODES}
    return max(cost, key=cost.get)


@graded
def check_cost_prediction(prediction, rows) -> None:
    """07, predict-then-run: with which long skip does switching the residual connections off cost the most FD?"""
    answer = answer_text(answer_text(prediction).removeprefix("skip="))
    if answer not in SKIP_MODES:
        return report(False, "", f"answer with one of {', '.join(repr(s) for s in SKIP_MODES)} "
                      f"(you wrote {prediction!r}).")
    measured = largest_cost_skip(rows)
    why = ("without long skips, everything the decoder knows about the input has come through every block of "
           "the encoder and the middle: the residual connections are its only short path. With long skips "
           "(add or concat) the encoder's features reach the decoder directly, so the blocks' own shortcuts "
           "matter less.")
    return report(answer == measured, f"the FD cost is largest with skip={measured!r} (read the first lines of the "
                  f"table). {why}", f"you predicted skip={answer!r}; the shipped seeds say skip={measured!r}: read "
                  "the rows \"residual on - off\" of the table.", why)
