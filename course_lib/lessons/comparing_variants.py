"""Notebook 07b (optional): comparing variants beyond one paired interval.

Notebook 07 compares two variants at one budget with a paired t-interval. Here the same shipped learning curves
(``course_lib.variants.load_curves``) are read along the budget axis and across every comparison:

1. **the paired table** of every comparison at one budget (``effect_rows``, ``format_effects``): FD, training
   loss and the held-out gap;
2. **FD ratios along the budget axis** (``ratio_effects``, ``format_ratio_effects``, ``plot_ratio_effects``):
   per seed FD(a) / FD(b), their geometric mean with a t-interval on log FD, and how many seeds agree;
3. **many intervals at once** (``joint_verdicts``: Bonferroni) and the **sign test** (``course_lib.stats``);
4. **the gap against its null** (``gap_report``), **the sampler's share** (``sampler_table``) and **the samples
   widget** (``SamplesView``: two variants side by side, one line per seed joining their FDs);
5. the notebook's **exercises**: the ratio interval at one budget, the level of each of many intervals, and the
   sign test's p.

The variants, the shipped curves and the statistics that notebook 07 uses too come from the library
(``course_lib.variants``); this module re-exports what the notebook needs, so that the notebook imports one name.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import stats
from ..plotting import finish
from ..unet import SKIP_MODES
from ..variants import (
    COMPARISONS,
    CURVE_COMPARISONS,
    KINDS,
    SWEEP_VARIANTS,
    VARIANTS,
    Variant,
    from_pixels,
    load_curves,
    load_results,
    paired,
    sampler_table,
    summary,
)
from .grading import as_float64, diagnose, graded, report

__all__ = [
    "SamplesView",
    "Variant",
    "check_joint_level",
    "check_ratio_interval",
    "check_sign_test",
    "effect_rows",
    "format_effects",
    "format_ratio_effects",
    "format_sampler_ratios",
    "gap_report",
    "joint_verdicts",
    "last_rows",
    "load_curves",
    "load_results",
    "plot_ratio_effects",
    "plot_sample_grids",
    "ratio_effects",
    "ratio_interval",
    "sampler_ratios",
    "sampler_table",
    "samples_widget",
    "shipped_samples",
    "show_samples",
    "sign_test_p",
]

# ----------------------------------------------------------------------------- the paired table at one budget

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
                entry[key + "_ci"] = stats.t_interval(diffs) if len(diffs) > 1 else (diffs[0],) * 3 if diffs else None
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



# ----------------------------------------------------------------------------- FD ratios along the budget axis

def ratio_effects(rows, level: float = 0.95) -> list[dict]:
    """For each comparison of ``CURVE_COMPARISONS`` and each budget: the per-seed log FD ratios log(a / b), the
    ratio exp(mean) with its t-interval at ``level`` (exponentiated), the number of seeds where a scored better,
    and the two-sided sign test's p."""
    out = []
    for name, a, b in CURVE_COMPARISONS:
        for steps in sorted({r["steps"] for r in rows}):
            at = [r for r in rows if r["steps"] == steps]
            logs = stats.log_ratios(a.by_seed(at, "fd_ema"), b.by_seed(at, "fd_ema"))
            if len(logs) < 2:
                continue
            m, lo, hi = stats.t_interval(logs, level)
            out.append({"comparison": name, "steps": steps, "logs": logs, "ratio": math.exp(m),
                        "low": math.exp(lo), "high": math.exp(hi), "a_better": sum(x < 0 for x in logs),
                        "n": len(logs), "sign_p": stats.sign_test(logs)})
    return out


def format_ratio_effects(rows, level: float = 0.95) -> str:
    """``ratio_effects`` as a table: one line per comparison, one column per budget, ``ratio [interval] k/n``."""
    effects = ratio_effects(rows, level)
    budgets = sorted({e["steps"] for e in effects})
    lines = [f"FD ratio a / b (EMA weights; below 1: a is better), geometric mean over seeds [{100 * level:.1f}% "
             f"t-interval on log FD]; k/n: seeds where a is better. {len(effects)} intervals in all.",
             f"{'comparison (a vs b)':<30}" + "".join(f"{b:>22}" for b in budgets)]
    for name, _, _ in CURVE_COMPARISONS:
        cells = []
        for b in budgets:
            e = next((e for e in effects if e["comparison"] == name and e["steps"] == b), None)
            cells.append(f"{e['ratio']:.2f} [{e['low']:.2f},{e['high']:.2f}] {e['a_better']}/{e['n']}" if e else "")
        lines.append(f"{name:<30}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


SAMPLER_KEYS = {"DDIM-20": "fd_ema", "DDIM-50": "fd_ddim50", "DDPM-1000": "fd_ddpm"}


def sampler_ratios(rows, steps: int = 4000, level: float = 0.95) -> list[dict]:
    """Each comparison of ``CURVE_COMPARISONS`` whose two variants were both scored with every sampler at
    ``steps``: the FD ratio a / b (geometric mean over seeds, t-interval on log FD, seeds where a is better) once
    per sampler, the same weights and starting noise each time. A ratio that keeps its side of 1 from DDIM-20 to
    DDPM does not depend on the sampler's own error."""
    at = [r for r in rows if r["steps"] == steps and "fd_ddpm" in r]
    out = []
    for name, a, b in CURVE_COMPARISONS:
        if not (a.rows(at) and b.rows(at)):
            continue
        row = {"comparison": name, "steps": steps}
        for label, key in SAMPLER_KEYS.items():
            logs = stats.log_ratios(a.by_seed(at, key), b.by_seed(at, key))
            m, lo, hi = stats.t_interval(logs, level)
            row[label] = (math.exp(m), math.exp(lo), math.exp(hi), sum(x < 0 for x in logs), len(logs))
        out.append(row)
    return out


def side(low: float, high: float) -> str:
    """Where a ratio's interval lies: "a better" (below 1), "b better" (above 1) or "not resolved"."""
    return "a better" if high < 1 else "b better" if low > 1 else "not resolved"


def format_sampler_ratios(rows, steps: int = 4000, level: float = 0.95) -> str:
    """``sampler_ratios`` as a table, and in words whether each verdict is the same with every sampler."""
    ratios = sampler_ratios(rows, steps, level)
    lines = [f"FD ratio a / b at {steps:,} steps, the same weights scored by three samplers "
             f"[{100 * level:.0f}% t-interval on log FD] k/n: seeds where a is better",
             f"{'comparison (a vs b)':<30}" + "".join(f"{label:>24}" for label in SAMPLER_KEYS)]
    for r in ratios:
        lines.append(f"{r['comparison']:<30}" + "".join(
            f"{f'{m:.2f} [{lo:.2f},{hi:.2f}] {k}/{n}':>24}" for m, lo, hi, k, n in (r[x] for x in SAMPLER_KEYS)))
    for r in ratios:
        sides = {label: side(*r[label][1:3]) for label in SAMPLER_KEYS}
        same = len(set(sides.values())) == 1
        lines.append(f"{r['comparison']}: {sides['DDIM-20']} with DDIM-20; "
                     + ("the same with DDIM-50 and DDPM" if same else
                        ", ".join(f"{v} with {k}" for k, v in sides.items() if k != "DDIM-20")))
    return "\n".join(lines)


def plot_ratio_effects(rows, title: str = ""):
    """Every comparison of ``CURVE_COMPARISONS`` against the budget: the FD ratio a / b (geometric mean over
    seeds) with its 95% t-interval as a bar, one panel per comparison (below 1: a scores better)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    effects = ratio_effects(rows)
    fig, axes = plt.subplots(2, 3, figsize=(11, 5.6), sharey=True)
    steps_all = sorted({e["steps"] for e in effects})
    for ax, (name, _, _) in zip(axes.flat, CURVE_COMPARISONS):
        mine = [e for e in effects if e["comparison"] == name]
        x = [e["steps"] for e in mine]
        ratio = np.array([e["ratio"] for e in mine])
        err = [ratio - [e["low"] for e in mine], [e["high"] for e in mine] - ratio]
        ax.errorbar(x, ratio, yerr=err, fmt="o-", color="C0", ms=4, capsize=3, label="ratio, 95% t-interval")
        for j, e in enumerate(mine):  # each seed's ratio, beside its bar (not under it)
            ax.plot([e["steps"] * 1.12] * e["n"], np.exp(e["logs"]), "o", color="C1", ms=3.5, mec="black",
                    mew=0.4, alpha=0.8, label="one seed's ratio" if j == 0 else None)
        ax.axhline(1, color="black", lw=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(steps_all[0] / 1.4, steps_all[-1] * 1.4)
        ax.set_xticks(x, [f"{s:,}" for s in x], fontsize=7, rotation=45)  # only the budgets this panel has
        ax.xaxis.set_minor_formatter(NullFormatter())
    for ax in axes[1]:
        ax.set_xlabel("training steps (log scale)")
    for ax in axes[:, 0]:
        ax.set_ylabel("FD(a) / FD(b)")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(title or "FD ratio a / b per comparison (below 1: a better; orange dots: seeds; bars: 95% "
                 "t-interval)",
                 fontsize=10)
    fig.tight_layout()
    names = "; ".join(name for name, _, _ in CURVE_COMPARISONS)
    return finish(fig, "The FD ratio a / b (geometric mean over seeds) against the training budget, log-log, with its "
                  f"95% t-interval as a bar, one panel per comparison ({names}); orange dots are the seeds' own "
                  "ratios, and the black line marks 1 (below it, a scores better). Which intervals lie wholly on "
                  "one side of 1, and where do the seeds disagree?")



def joint_verdicts(rows, level: float = 0.95) -> str:
    """How many of the ratio intervals exclude 1 at ``level``, and which still do when each is widened so that
    all of them hold together (Bonferroni)."""
    plain = ratio_effects(rows, level)
    joint_level = stats.bonferroni_level(len(plain), level)
    joint = ratio_effects(rows, joint_level)
    resolved = lambda e: e["high"] < 1 or e["low"] > 1
    names = [f"{e['comparison']} at {e['steps']}" for e in joint if resolved(e)]
    return (f"{sum(map(resolved, plain))} of {len(plain)} intervals exclude 1 at {100 * level:.0f}%; at the joint "
            f"level ({100 * joint_level:.2f}% each, so that all {len(plain)} hold together with "
            f"{100 * level:.0f}%), {len(names)} do:\n  " + "\n  ".join(names))



# ----------------------------------------------------------------------------- the gap, the samples

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
        f"for scale, the training loss (mean over seeds): {min(e['final_loss'] for e in s):.4f} to "
        f"{max(e['final_loss'] for e in s):.4f} over the models.",
        f"gap resolved from its null (95% t-interval of gap - null over seeds excludes 0): "
        f"{', '.join(resolved) if resolved else 'none'}.",
        f"unresolved: {', '.join(unresolved) if unresolved else 'none'}."])



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
    return finish(fig, f"{title + ': o' if title else 'O'}ne 4x4 grid of up to {n} samples per U-Net variant, a row "
                  f"per kind of block ({'; '.join(kinds)}) and a column per long skip ({', '.join(SKIP_MODES)}), "
                  "each pixel a block. Compare the variants' digits: which read as digits?")


def shipped_samples(rows, seed: int | None = None) -> dict[Variant, torch.Tensor]:
    """``{Variant: samples [B, 1, 8, 8]}`` from rows that stored samples (each run stores them at its last
    budget; the first seed that has them, by default)."""
    out = {}
    for r in rows:
        if "samples" in r and (seed is None or r["seed"] == seed) and Variant.of(r) not in out:
            out[Variant.of(r)] = from_pixels(r["samples"])
    return out



# ----------------------------------------------------------------------------- the samples widget

class SamplesView:
    """Widget body of notebook 07b, built once: the 16 stored samples of two variants side by side (each pixel
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
        self.steps = {v: max(r.get("steps", 0) for r in v.rows(rows)) for v in self.variants}
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
        ax.legend(fontsize=8, loc="upper right")
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

    def describe(self, a: str = "residual / skip=concat", b: str = "plain / skip=concat", seed: int = 0) -> str:
        return (f"Left, variant a ({a}); middle, variant b ({b}): their stored samples for seed {seed} (or the first "
                "seed that stored some), each titled with its FD. Right: both variants' FD to held-out digits (log "
                f"scale), one grey line per seed joining a to b, seed {seed}'s in black, the floor of real digits "
                "dashed; the title gives the difference. Do the seeds' lines slope the same way?")

    def update(self, a: str = "residual / skip=concat", b: str = "plain / skip=concat", seed: int = 0) -> None:
        va, vb = Variant.parse(a), Variant.parse(b)
        for variant, image, title, side in ((va, self.images[0], self.titles[0], "a"),
                                            (vb, self.images[1], self.titles[1], "b")):
            grid, shown = self.grid(variant, seed)
            image.set_data(grid)
            fd = self.fd[variant].get(shown, float("nan"))
            note = "" if shown == seed else f" (samples of seed {seed} not stored)"
            steps = f", {self.steps[variant]:,} steps" if self.steps.get(variant) else ""
            title.set_text(f"{side}: {variant.kind}, skip={variant.skip}{steps}\nseed {shown}: FD {fd:.0f}{note}")
        for s, line in self.seed_lines.items():
            line.set_ydata([self.fd[va].get(s, np.nan), self.fd[vb].get(s, np.nan)])
        fa, fb = self.fd[va].get(seed, np.nan), self.fd[vb].get(seed, np.nan)
        self.chosen.set_ydata([fa, fb])
        diffs = [self.fd[va][s] - self.fd[vb][s] for s in self.seeds if s in self.fd[va] and s in self.fd[vb]]
        budgets = "" if self.steps.get(va) == self.steps.get(vb) else " (not the same steps)"
        self.difference.set_text(f"FD of a minus FD of b, same seed{budgets}:\nseed {seed}: {fa - fb:+.0f}; "
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
    return finish(view.fig, view.describe(a, b, seed))



def last_rows(meta: dict, rows) -> list[dict]:
    """Each variant's rows at its own last budget (where its samples are stored), shaped like ``load_results``'s."""
    floor = float(np.mean(meta["reference"]["floor"]))
    out = []
    for v in SWEEP_VARIANTS:
        mine = v.rows(rows)
        if mine:
            top = max(r["steps"] for r in mine)
            out += [{**r, "fd": r["fd_ema"], "final_loss": r["loss"], "floor": floor} for r in mine
                    if r["steps"] == top]
    return out


def demo_widgets() -> dict:
    """Notebook 07b's widget on the shipped results (small and already computed): ``{"capstone samples": ...}``."""
    return {"capstone samples": samples_widget(load_results()[1])}


# ----------------------------------------------------------------------------- exercise 1: a ratio with its interval

RATIO_STEPS, RATIO_SKIP = 500, "concat"  # exercise 1: residual vs plain with skip=concat at 500 steps


def _fds(rows, steps: int, v: Variant) -> dict[int, float]:
    return v.by_seed([r for r in rows if r["steps"] == steps], "fd_ema")


def ratio_interval(rows, steps: int = RATIO_STEPS, skip: str = RATIO_SKIP, level: float = 0.95):
    """07b, exercise 1 (reference): (ratio, low, high) of FD(residual) / FD(plain) at ``skip`` and ``steps``: the
    geometric mean of the per-seed ratios and its t-interval, both computed on log FD and mapped back."""
    logs = stats.log_ratios(_fds(rows, steps, Variant("residual", skip)), _fds(rows, steps, Variant("plain", skip)))
    m, lo, hi = stats.t_interval(logs, level)
    return math.exp(m), math.exp(lo), math.exp(hi)


RATIO_IDEA = ("a ratio of 2 and a ratio of 1/2 are the same size of effect in opposite directions, yet they do "
              "not average to 1. On which scale are they symmetric? Build the interval of notebook 07 on that "
              "scale, seed by seed, then map its centre and both ends back to ratios.")
RATIO_REFERENCE = ("Bland and Altman (1996), 'Transformations, means, and confidence intervals', BMJ 312:1079 "
                   "(an interval computed on logs and transformed back is an interval for a ratio)")


def ratio_mistakes(rows, steps: int = RATIO_STEPS, skip: str = RATIO_SKIP) -> dict[str, tuple[float, float, float]]:
    """What the common mistakes give for exercise 1, by the diagnosis a student sees (no formula in it)."""
    from scipy.stats import t as student_t

    fa, fb = _fds(rows, steps, Variant("residual", skip)), _fds(rows, steps, Variant("plain", skip))
    seeds = [s for s in sorted(fa) if s in fb]
    logs = np.log([fa[s] / fb[s] for s in seeds])
    ratios = np.exp(logs)
    n, m, sd = len(logs), float(logs.mean()), float(logs.std(ddof=1))
    q = float(student_t.ppf(0.975, n - 1))
    back = lambda c, half: (math.exp(c), math.exp(c - half), math.exp(c + half))
    rm, rlo, rhi = stats.t_interval(ratios)
    ma, mb = np.mean([fa[s] for s in seeds]), np.mean([fb[s] for s in seeds])
    return {
        "these are still logs: the centre and both ends must be turned back into ratios.":
            (m, m - q * sd / math.sqrt(n), m + q * sd / math.sqrt(n)),
        "the ratio is upside down: the exercise asks for residual over plain (below 1: residual scores better).":
            back(-m, q * sd / math.sqrt(n)),
        "the interval is built on the ratios themselves: ratios are skewed (a ratio of 2 and one of 1/2 do not "
        "average to 1), so its centre is pulled up by the largest ratio and its ends are not symmetric in the "
        "right sense.": (rm, rlo, rhi),
        "the centre is the ratio of the two mean FDs: the worst seeds dominate it, and it forgets which runs shared "
        "a seed.": (float(ma / mb), float(ma / mb) * math.exp(-q * sd / math.sqrt(n)),
                    float(ma / mb) * math.exp(q * sd / math.sqrt(n))),
        f"the interval uses the normal quantile (1.96), as if the spread were known; it is estimated from {n} "
        "seeds, so the interval is too narrow.": back(m, 1.959963984540054 * sd / math.sqrt(n)),
        f"the degrees of freedom are n = {n}; the spread is estimated around the sample mean, which uses one up.":
            back(m, float(student_t.ppf(0.975, n)) * sd / math.sqrt(n)),
        "the half-width uses the spread of one seed's log ratio, not the standard error of their mean.":
            back(m, q * sd),
    }


@graded
def check_ratio_interval(value, rows, steps: int = RATIO_STEPS, skip: str = RATIO_SKIP) -> None:
    """07b, exercise 1: ``value`` = (ratio, low, high), FD(residual) / FD(plain) at ``skip`` and ``steps``, the
    geometric mean over seeds with a 95% interval. Names: logs not mapped back, the ratio upside down, an interval
    on the ratios themselves, the ratio of the means, the normal quantile, n degrees of freedom, the sd."""
    want = torch.tensor(ratio_interval(rows, steps, skip), dtype=torch.float64)
    got = as_float64(value)
    if got is None or got.shape != (3,):
        return report(False, "", "give `ratio` as a tuple of three numbers, (ratio, low, high).", RATIO_IDEA,
                      RATIO_REFERENCE)
    if not (got[1] <= got[0] <= got[2]):
        return report(False, "", "give the tuple as (ratio, low, high), the ratio between the two ends.",
                      RATIO_IDEA, RATIO_REFERENCE)
    mistakes = {k: torch.tensor(v, dtype=torch.float64) for k, v in ratio_mistakes(rows, steps, skip).items()}
    wrong = diagnose(got, want, mistakes=mistakes, atol=1e-6, rtol=1e-4)
    if wrong is not None and wrong not in mistakes:
        if abs(float(got[0]) - float(want[0])) > 1e-3 * float(want[0]):
            wrong = ("the centre (the first number) is not the typical ratio of the seeds, residual over plain, "
                     "taken on the scale where a ratio and its inverse are symmetric.")
        elif (got[2] / got[1]) < (want[2] / want[1]) * (1 - 1e-3):
            wrong = "the interval is too narrow for five seeds: it would cover the true ratio less often than 95%."
        else:
            wrong = "the interval is wider than a 95% interval from these seeds needs to be."
    agree = sum(x < 0 for x in stats.log_ratios(_fds(rows, steps, Variant("residual", skip)),
                                                _fds(rows, steps, Variant("plain", skip))))
    holds_one = float(want[1]) <= 1 <= float(want[2])
    fa, fb = _fds(rows, steps, Variant("residual", skip)), _fds(rows, steps, Variant("plain", skip))
    per_seed = ", ".join(f"seed {s}: {fa[s] / fb[s]:.2f}" for s in sorted(fa) if s in fb)
    return report(wrong is None, f"a geometric mean and its interval, built on log FD. Residual scored better in "
                  f"{agree} of {len(per_seed.split(','))} seeds here, and the interval "
                  + (f"still reaches 1 (its upper end is {float(want[2]):.4f}): the seeds agree on the direction "
                     "but not on the size. " if holds_one else "excludes 1. ")
                  + f"Each seed's ratio: {per_seed}.",
                  wrong or "", RATIO_IDEA, RATIO_REFERENCE)


# ----------------------------------------------------------------------------- exercise 2: many intervals at once

def _one_number(value) -> float | None:
    """``value`` as one float64 number (a Python or NumPy number, a one-element array or tensor), else None.
    Not through a float32 tensor: 1 - 0.05 / 37 must keep its digits."""
    try:
        array = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array.reshape(())) if array.size == 1 else None


JOINT_IDEA = ("if each interval misses with probability 5%, what is the most that the chance of at least one miss "
              "among N can be, whatever the intervals share? Make that sum 5%.")
JOINT_REFERENCE = ("Dunn (1961), 'Multiple Comparisons Among Means', Journal of the American Statistical "
                   "Association 56(293), Section 2 (the Bonferroni inequality applied to intervals)")


@graded
def check_joint_level(expected_by_chance, joint_level, n_intervals: int, level: float = 0.95) -> None:
    """07b, exercise 2: how many of ``n_intervals`` intervals at ``level`` exclude their true value by chance
    (``expected_by_chance``, if nothing differed), and the level each needs so that all hold together with
    ``level`` whatever their dependence (``joint_level``, Bonferroni)."""
    want_chance, want_level = n_intervals * (1 - level), stats.bonferroni_level(n_intervals, level)
    chance = _one_number(expected_by_chance)
    if chance is None:
        return report(False, "", "give `expected_by_chance` as one number (a count, it need not be whole).")
    if not math.isclose(chance, want_chance, rel_tol=1e-6, abs_tol=1e-9):
        if math.isclose(chance, n_intervals * level, rel_tol=1e-6):
            wrong = "that counts the intervals that hold; the question asks how many miss."
        elif math.isclose(chance, 1 - level, rel_tol=1e-6) or math.isclose(chance, 100 * (1 - level), rel_tol=1e-6):
            wrong = "that is the chance for one interval; the question asks for a count over all of them."
        else:
            wrong = "that is not the number of misses you would expect among all the intervals if nothing differed."
        return report(False, "", f"expected_by_chance: {wrong}", "each interval misses with probability 5% when "
                      "nothing differs; how many misses do N such intervals give on average?", JOINT_REFERENCE)
    g = _one_number(joint_level)
    if g is None:
        return report(False, "", "give `joint_level` as one number, a probability between 0 and 1.")
    sidak = level ** (1 / n_intervals)
    mistakes = {
        "a level is a probability between 0 and 1, not a percentage.": 100 * want_level,
        "that is the chance each interval may miss, not its level (the chance that it holds).": 1 - want_level,
        "that level would be enough if the intervals were independent; these share runs (every budget of a seed is "
        "the same training run, and a variant appears in several comparisons), so use a bound that needs no "
        "independence.": sidak,
        "that is lower than 95%: a joint statement needs each interval to be wider, not narrower.": level / n_intervals,
    }
    wrong = None
    if not math.isclose(g, want_level, rel_tol=1e-9, abs_tol=1e-9):
        wrong = next((k for k, v in mistakes.items() if math.isclose(g, v, rel_tol=1e-6, abs_tol=1e-9)), None)
        if wrong is None:
            wrong = ("with that level for each, the chance that all intervals hold is not guaranteed to reach 95%."
                     if g < want_level else "that level is higher than all the intervals need to hold together "
                     "with 95%: they would be wider than necessary.")
    return report(wrong is None, f"about {want_chance:.2f} of {n_intervals} intervals would exclude 1 by chance alone, "
                  f"so one or two 'resolved' differences prove little; at {100 * want_level:.2f}% each, the chance "
                  "that any of them misses is at most 5%, whatever they share.",
                  f"joint_level: {wrong}" if wrong else "", JOINT_IDEA, JOINT_REFERENCE)


# ----------------------------------------------------------------------------- exercise 3: the sign test

SIGN_CASES = ((5, 5), (0, 5), (4, 5), (3, 5), (10, 10), (8, 10), (5, 10), (2, 9))
SIGN_IDEA = ("if the switch made no difference, each seed would be a fair coin. Which splits of n coins are at "
             "least as lopsided as k against n - k, counting both directions? Add up their probabilities.")
SIGN_REFERENCE = ("Conover (1999), Practical Nonparametric Statistics, 3rd ed., Section 3.4 (the sign test), or "
                  "the two-sided binomial test with p = 1/2 in any statistics text")


def sign_test_p(k: int, n: int) -> float:
    """07b, exercise 3 (reference): the two-sided exact sign test's p for ``k`` of ``n`` seeds on one side."""
    return stats.sign_test([1.0] * k + [-1.0] * (n - k))


def _binom_tail(k: int, n: int) -> float:
    return sum(math.comb(n, j) for j in range(k, n + 1)) / 2 ** n


def sign_mistakes(k: int, n: int) -> dict[str, float]:
    """What the common mistakes give for one case ``(k, n)``, by diagnosis (no formula in it)."""
    far = max(k, n - k)
    return {
        "your p is one-sided: with no difference, a split as lopsided the other way is as likely and counts too.":
            _binom_tail(far, n),
        "that is the probability of exactly this split; the test counts every split at least as lopsided.":
            2 * math.comb(n, far) / 2 ** n if 2 * far != n else math.comb(n, far) / 2 ** n,
        "for an even split your p is above 1: a probability is at most 1.": 2 * _binom_tail(far, n),
        "for k below n / 2 the lopsided side is the other one (n - k seeds): your p counts the wrong tail.":
            min(1.0, 2 * _binom_tail(k, n)),
    }


@graded
def check_sign_test(fn) -> None:
    """07b, exercise 3: ``fn(k, n)`` is the two-sided exact sign test's p for k of n seeds on one side."""
    for k, n in SIGN_CASES:
        want = sign_test_p(k, n)
        g = _one_number(fn(k, n))
        if g is None:
            return report(False, "", f"sign_test_p({k}, {n}) should be one number, a probability.", SIGN_IDEA,
                          SIGN_REFERENCE)
        if math.isclose(g, want, rel_tol=1e-9, abs_tol=1e-12):
            continue
        wrong = next((d for d, v in sign_mistakes(k, n).items() if not math.isclose(v, want, rel_tol=1e-9)
                      and math.isclose(g, v, rel_tol=1e-9, abs_tol=1e-12)), None)
        if wrong is None:
            wrong = "is not the exact two-sided probability of a split at least as lopsided under fair coins."
            if n >= 8:
                wrong += " (An approximation, such as the normal one, is not exact with this few seeds.)"
        return report(False, "", f"sign_test_p({k}, {n}): {wrong}", SIGN_IDEA, SIGN_REFERENCE)
    return report(True, "five seeds can at best give a split of 5 to 0, and even that has a two-sided p of "
                  f"{sign_test_p(5, 5):.4g}: with five seeds, a sign test can show a consistent direction, never "
                  "significance at 5%.", "")
