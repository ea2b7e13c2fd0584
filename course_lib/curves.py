"""Learning curves over seeds: where a new run should land, a live run drawn on them, verdicts they support.

A ``Curve`` is one variant's score at each budget (training steps), one row per seed, read from a study's rows
(``study_runner``). Scores such as a loss or a Fréchet distance are positive and skewed, so a curve is
summarised on a log scale: its centre is the geometric mean over seeds, and its **band** at a budget is where one
*new* seed lands with probability ``level`` (a prediction interval, mean ± t sd sqrt(1 + 1/n) of the log
scores), which is what a student's own run is compared with (``agreement``).

A verdict is read where the curves support it: "trains faster" at a budget, paired by seed (``faster_verdict``);
"ends better" only where each curve is on a plateau, its last two budgets agreeing within their intervals
(``on_plateau``), otherwise "not settled by N steps" (``ends_verdict``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from . import stats


@dataclass
class Curve:
    """``values[i, j]``: the score of seed ``seeds[i]`` at budget ``steps[j]`` (NaN where that run has no row)."""

    label: str
    steps: np.ndarray
    seeds: list[int]
    values: np.ndarray

    @classmethod
    def of(cls, rows: Sequence[dict], select: Mapping, score: str | Callable[[dict], float],
           label: str | None = None) -> Curve:
        """The curve of the rows whose fields equal ``select`` (e.g. ``{"kind": "plain", "skip": "add"}``);
        ``score`` is a field name or a function of a row."""
        get = score if callable(score) else (lambda r: r[score])
        mine = [r for r in rows if all(r.get(k) == v for k, v in select.items())]
        if not mine:
            raise ValueError(f"no rows with {dict(select)}; the rows hold "
                             f"{sorted({tuple((k, r.get(k)) for k in select) for r in rows})}")
        steps = np.array(sorted({r["steps"] for r in mine}))
        seeds = sorted({r["seed"] for r in mine})
        values = np.full((len(seeds), len(steps)), np.nan)
        for r in mine:
            values[seeds.index(r["seed"]), int(np.searchsorted(steps, r["steps"]))] = get(r)
        return cls(label or " / ".join(str(v) for v in select.values()), steps, seeds, values)

    def column(self, steps: int) -> np.ndarray:
        """The seeds' scores at budget ``steps`` (those that reached it)."""
        if steps not in self.steps:
            raise ValueError(f"{self.label} has no budget {steps}; its budgets are {self.steps.tolist()}")
        col = self.values[:, int(np.searchsorted(self.steps, steps))]
        return col[~np.isnan(col)]

    def centre(self) -> np.ndarray:
        """Geometric mean over seeds at each budget."""
        return np.array([math.exp(np.log(self.column(s)).mean()) for s in self.steps])

    def band(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)`` at each budget: where one new seed's score lands with probability ``level``."""
        from scipy.stats import t as student_t

        lo, hi = [], []
        for s in self.steps:
            logs = np.log(self.column(s))
            n = logs.size
            half = (float(student_t.ppf(0.5 + level / 2, n - 1)) * logs.std(ddof=1) * math.sqrt(1 + 1 / n)
                    if n >= 2 else np.inf)
            lo.append(math.exp(logs.mean() - half))
            hi.append(math.exp(logs.mean() + half))
        return np.array(lo), np.array(hi)

    def band_at(self, steps: float, level: float = 0.95) -> tuple[float, float] | None:
        """The band at ``steps``, interpolated linearly in log(steps) and log(score) between the two budgets
        around it; None outside the shipped budgets."""
        if not self.steps[0] <= steps <= self.steps[-1]:
            return None
        lo, hi = self.band(level)
        if not (np.all(lo > 0) and np.all(np.isfinite(hi))):  # a budget with a single seed has no band
            lo, hi = np.maximum(lo, 1e-300), np.minimum(hi, 1e300)
        x = np.log(self.steps)
        return (float(np.exp(np.interp(math.log(steps), x, np.log(lo)))),
                float(np.exp(np.interp(math.log(steps), x, np.log(hi)))))


def ratio_interval(a: Curve, b: Curve, steps: int, level: float = 0.95,
                   steps_b: int | None = None) -> tuple[float, float, float, int, int]:
    """a at ``steps`` over b at ``steps_b`` (default the same), paired by seed: ``(geometric-mean ratio, low, high,
    seeds where a < b, seeds)``."""
    pa = dict(zip(a.seeds, a.values[:, int(np.searchsorted(a.steps, steps))]))
    pb = dict(zip(b.seeds, b.values[:, int(np.searchsorted(b.steps, steps if steps_b is None else steps_b))]))
    pa = {s: v for s, v in pa.items() if not np.isnan(v)}
    pb = {s: v for s, v in pb.items() if not np.isnan(v)}
    logs = stats.log_ratios(pa, pb)
    mean, lo, hi = stats.t_interval(logs, level)
    return math.exp(mean), math.exp(lo), math.exp(hi), int(sum(v < 0 for v in logs)), len(logs)


def mean_interval(curve: Curve, steps: int, level: float = 0.95) -> tuple[float, float, float]:
    """The geometric mean over seeds at ``steps`` with its t-interval (on log scores), exponentiated."""
    return tuple(math.exp(v) for v in stats.t_interval(np.log(curve.column(steps)), level))


def last_change(curve: Curve, level: float = 0.95) -> tuple[float, float, float]:
    """The change from the curve's second-to-last budget to its last, paired by seed: ``(ratio, low, high)``."""
    both = ~np.isnan(curve.values[:, -2:]).any(axis=1)
    logs = np.log(curve.values[both, -1] / curve.values[both, -2])
    return tuple(math.exp(v) for v in stats.t_interval(logs, level))


PLATEAU = 1.25  # on a plateau, the last doubling changes the score by less than this factor either way


def on_plateau(curve: Curve, level: float = 0.95) -> bool:
    """Whether the curve's last two budgets agree: the paired (by seed) interval of the change over the last
    doubling holds no change *and* lies within a factor ``PLATEAU`` either way. A curve still falling on every seed
    is not on a plateau, nor is one whose seeds disagree so much that the interval cannot tell."""
    _, lo, hi = last_change(curve, level)
    return 1 / PLATEAU <= lo <= 1 <= hi <= PLATEAU


def faster_verdict(a: Curve, b: Curve, steps: int, level: float = 0.95) -> str:
    """Which scores lower at budget ``steps``, paired by seed, in words."""
    ratio, lo, hi, wins, n = ratio_interval(a, b, steps, level)
    head = (f"at {steps:,} steps [{a.label}] / [{b.label}] = {ratio:.2f} ({level:.0%} interval {lo:.2f}-{hi:.2f}; "
            f"lower in {wins} of {n} seeds)")
    if hi < 1:
        return f"{head}: {a.label} is ahead"
    if lo > 1:
        return f"{head}: {b.label} is ahead"
    return f"{head}: no difference resolved"


def ends_verdict(a: Curve, b: Curve, level: float = 0.95) -> str:
    """"ends better" only where both curves are on a plateau at their last budgets (``on_plateau``), comparing
    those plateaus ("they end level" where the interval holds 1 and spans under 25%, else "no difference
    resolved"); otherwise "not settled by N steps", naming the curves still moving,
    with where the two stand at the last budget both reached."""
    moving = []
    for c in (a, b):
        if not on_plateau(c, level):
            ratio, lo, hi = last_change(c, level)
            moving.append(f"{c.label} {ratio - 1:+.0%} from {int(c.steps[-2]):,} to {int(c.steps[-1]):,} steps "
                          f"({lo - 1:+.0%} to {hi - 1:+.0%})")
    common = int(max(set(a.steps.tolist()) & set(b.steps.tolist())))
    if moving:
        ratio, lo, hi, wins, n = ratio_interval(a, b, common, level)
        lead = f"{a.label} ahead" if hi < 1 else f"{b.label} ahead" if lo > 1 else "no difference resolved"
        return (f"not settled by {max(int(a.steps[-1]), int(b.steps[-1])):,} steps ({'; '.join(moving)}); at "
                f"{common:,} steps [{a.label}] / [{b.label}] = {ratio:.2f} ({lo:.2f}-{hi:.2f}, lower in {wins} of "
                f"{n} seeds): {lead}")
    end_a, end_b = int(a.steps[-1]), int(b.steps[-1])
    ratio, lo, hi, wins, n = ratio_interval(a, b, end_a, level, steps_b=end_b)
    verdict = (f"{a.label} ends better" if hi < 1 else f"{b.label} ends better" if lo > 1
               else "they end level" if hi / lo < 1.25 else "no difference resolved at the end")
    return (f"both on a plateau ({a.label} at {end_a:,} steps, {b.label} at {end_b:,}): [{a.label}] / [{b.label}] = "
            f"{ratio:.2f} ({lo:.2f}-{hi:.2f}, lower in {wins} of {n} seeds): {verdict}")


def agreement(curves: Mapping[str, Curve], live: Mapping[str, Sequence[tuple[int, float]]],
              level: float = 0.95) -> list[dict]:
    """Each live point ``(steps, score)`` of a variant against that variant's shipped band: rows of
    ``{"label", "steps", "score", "low", "high", "where"}``, ``where`` one of "inside", "below", "above", or
    "outside the shipped budgets"."""
    out = []
    for label, points in live.items():
        if label not in curves:
            raise ValueError(f"live run {label!r} has no shipped curve; the curves are {sorted(curves)}")
        for steps, score in points:
            band = curves[label].band_at(steps, level)
            where = ("outside the shipped budgets" if band is None else
                     "below" if score < band[0] else "above" if score > band[1] else "inside")
            out.append({"label": label, "steps": int(steps), "score": float(score),
                        "low": band[0] if band else math.nan, "high": band[1] if band else math.nan, "where": where})
    return out


def describe_agreement(points: list[dict], what: str = "score", fmt: str = ".3g") -> str:
    """``agreement`` in words: whether the live run agrees with the shipped curves, and where not."""
    from scipy.stats import binom

    compared = [p for p in points if p["where"] != "outside the shipped budgets"]
    budgets = ", ".join(f"{s:,}" for s in sorted({p["steps"] for p in compared})) or "none"
    if not compared:
        return (f"This run is outside the shipped budgets ({', '.join(str(p['steps']) for p in points)} steps): "
                f"there is nothing to compare it with.")
    out = [p for p in compared if p["where"] != "inside"]
    n = len(compared)
    allowed = int(binom.ppf(0.95, n, 0.05))  # outside points that chance alone explains 95% of the time
    head = (f"{len(out)} of its {n} points (at {budgets} steps) fall outside the band where a new seed "
            f"lands 95% of the time; chance alone puts up to {allowed} outside")
    if len(out) <= allowed:
        lines = [f"This run agrees with the shipped curves: {head}."]
    else:
        lines = [f"This run differs from the shipped curves: {head}. A changed setting (steps, batch, learning rate, "
                 f"width, seeds) or a bug makes a run differ:"]
    for p in out:
        lines.append(f"  {p['label']} at {p['steps']:,} steps: {what} {p['score']:{fmt}}, {p['where']} the "
                     f"band {p['low']:{fmt}}-{p['high']:{fmt}}")
    return "\n".join(lines)


def plot_curves(ax, curves: Mapping[str, Curve], colors: Mapping[str, str] | None = None,
                baselines: Mapping[str, float] | None = None, live: Mapping[str, Sequence] | None = None,
                level: float = 0.95, ylabel: str = "score", styles: Mapping[str, str] | None = None) -> None:
    """Each curve's geometric mean (line) and band (shaded), ``baselines`` as grey horizontal lines with their
    names, and the ``live`` run's points as large crosses in the curve's colour; log-log axes, ticks at budgets."""
    for i, (label, c) in enumerate(curves.items()):
        color = (colors or {}).get(label, f"C{i}")
        lo, hi = c.band(level)
        ax.fill_between(c.steps, lo, hi, color=color, alpha=0.15, lw=0)
        ax.plot(c.steps, c.centre(), (styles or {}).get(label, "-"), color=color, marker="o", ms=3,
                label=f"{label} ({len(c.seeds)} seeds)")
        for steps, score in (live or {}).get(label, ()):
            ax.plot([steps], [score], "X", color=color, ms=10, mec="black", mew=0.8, zorder=5)
    previous = None
    for j, (name, value) in enumerate(sorted((baselines or {}).items(), key=lambda kv: -kv[1])):
        ax.axhline(value, color="0.35", ls=(0, (1 + j, 2)), lw=1)
        below = previous is not None and value > previous / 1.15  # two close lines: the lower one's label under it
        ax.annotate(name, (1, value), xycoords=("axes fraction", "data"), xytext=(-3, -2 if below else 2),
                    textcoords="offset points", ha="right", va="top" if below else "bottom", fontsize=7,
                    color="0.25")
        previous = value
    steps = sorted({int(s) for c in curves.values() for s in c.steps})
    ax.set_xscale("log")
    ax.set_yscale("log")
    shown = [v for c in curves.values() for v in c.centre()] + list((baselines or {}).values())
    shown += [p[1] for points in (live or {}).values() for p in points]
    ax.set_ylim(min(shown) / 1.6, max(shown) * 1.6)  # a band of few seeds may reach far beyond: it is clipped
    ax.set_xticks(steps, [f"{s:,}" for s in steps], fontsize=7)
    ax.minorticks_off()
    ax.set(xlabel="training steps (log scale)", ylabel=ylabel)
    if live:
        ax.plot([], [], "X", color="0.5", mec="black", ms=9, label="this notebook's run")


class CurvesView:
    """A live figure of learning curves with a budget slider: one panel per group of curves (``plot_curves``),
    a vertical line at the chosen budget and, in each panel, the curves' centre and band at that budget.
    ``baselines`` and ``live`` are keyed by panel title; ``what`` names what the curves measure, for the
    description (``describe``). ``LiveFigure(CurvesView(panels), budget=SelectionSlider(options=budgets))``."""

    def __init__(self, panels: Mapping[str, Mapping[str, Curve]], colors: Mapping[str, str] | None = None,
                 baselines: Mapping[str, Mapping[str, float]] | None = None,
                 live: Mapping[str, Mapping[str, Sequence]] | None = None, ylabel: str | Mapping = "score",
                 fmt: str = ".3g", width: float = 5.2, styles: Mapping[str, str] | None = None,
                 what: str = "Learning curves"):
        import matplotlib.pyplot as plt

        self.panels, self.fmt, self.what = panels, fmt, what
        self.baseline_names = list(dict.fromkeys(name for lines in (baselines or {}).values() for name in lines))
        self.has_live = any((live or {}).values())
        n_text = 1 + max(len(c) for c in panels.values())  # lines of the values under each panel
        labels = list(dict.fromkeys(label for c in panels.values() for label in c))
        ncol = min(4, len(labels) + (1 if live else 0))
        legend_in = 0.22 * math.ceil((len(labels) + (1 if live else 0)) / ncol)
        bottom_in = 0.55 + 0.13 * n_text + legend_in + 0.15
        height = 3.4 + bottom_in
        self.fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height), squeeze=False)
        self.lines, self.texts = [], []
        for ax, (title, curves) in zip(axes[0], panels.items()):
            plot_curves(ax, curves, colors, (baselines or {}).get(title), (live or {}).get(title),
                        ylabel=ylabel.get(title, "score") if isinstance(ylabel, Mapping) else ylabel, styles=styles)
            ax.set_title(title, fontsize=10)
            self.lines.append(ax.axvline(next(iter(curves.values())).steps[0], color="black", lw=0.8, ls="--"))
            self.texts.append(ax.text(0.0, -0.55 / 3.4 - 0.02, "", transform=ax.transAxes, ha="left", va="top",
                                      fontsize=7, family="monospace"))
        handles, names = {}, []
        for ax in axes[0]:
            for h, name in zip(*ax.get_legend_handles_labels()):
                if name not in handles:
                    handles[name] = h
                    names.append(name)
        self.fig.legend([handles[n] for n in names], names, loc="lower center", ncol=ncol, fontsize=8,
                        frameon=False)
        self.fig.subplots_adjust(left=0.06 if len(panels) > 2 else 0.09, right=0.98, top=1 - 0.35 / height,
                                 bottom=bottom_in / height, wspace=0.28)
        self.animated = [*self.lines, *self.texts]

    def describe(self, budget: int) -> str:
        labels = list(dict.fromkeys(label for c in self.panels.values() for label in c))
        extras = (f"; grey lines: {', '.join(self.baseline_names)}" if self.baseline_names else "") + \
            ("; crosses: this notebook's own run" if self.has_live else "")
        panels = f"{len(self.panels)} panels ({'; '.join(self.panels)})" if len(self.panels) > 1 else \
            f"one panel ({next(iter(self.panels))})"
        return (f"{self.what} against training steps, log scales, in {panels}. Each of {', '.join(labels)} is a "
                f"line through the geometric mean over seeds in a band where a new seed lands 95% of the time"
                f"{extras}. A dashed line marks the budget of {budget} steps, and the text under each panel reads "
                "every curve there: look for curves whose bands do not overlap.")

    def update(self, budget: int) -> None:
        for line, text, curves in zip(self.lines, self.texts, self.panels.values()):
            line.set_xdata([budget, budget])
            rows = [f"at {budget:,} steps: geometric mean (band)"]
            for label, c in curves.items():
                if budget in c.steps:
                    j = int(np.searchsorted(c.steps, budget))
                    lo, hi = c.band()
                    rows.append(f"{label}: {c.centre()[j]:{self.fmt}} ({lo[j]:{self.fmt}}-{hi[j]:{self.fmt}})")
                else:
                    rows.append(f"{label}: not run")
            text.set_text("\n".join(rows))
