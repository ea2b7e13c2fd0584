"""Notebook 06b (optional): how good are the samples? The score's floor and its dependence on the sample size
(the prediction of how its sample-size part shrinks when n is quadrupled, with its check, and the live figure of
the floor against n), FD against the number of DDIM steps over seeds, what the score cannot see (memorisation:
nearest-neighbour distances to training and held-out digits), eta = 0 against eta = 1 at few steps (with the
prediction's verdict), and the shipped DDPM-1000 against DDIM-50 study.

What notebooks 05 and 06 also use comes from the library and is re-exported here, so that 06b calls everything as
``lesson.<name>``: the sample grids (``course_lib.plotting``), ``floor_by_n`` (``course_lib.metrics``), ``timed_sample``
(``course_lib.samplers``) and ``load_studies`` (``course_lib.study``).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..data import load_digits
from ..metrics import FEATURE_DIM, digit_fd, digit_features, digit_floor, digit_quality, floor_by_n, frechet_distance
from ..plotting import finish, plot_sample_grids
from ..samplers import DDIMSampler, DDPMSampler, timed_sample
from ..study import load_studies
from ..utils import model_device
from .grading import graded, report

__all__ = [
    "FLOOR_NS",
    "PREDICTION_CHOICES",
    "FloorView",
    "check_eta_prediction",
    "check_floor_shrink",
    "ddpm_vs_ddim",
    "demo_widgets",
    "draws_below",
    "eta_study",
    "eta_verdict",
    "floor_all_training",
    "floor_by_n",
    "floor_draws",
    "floor_widget",
    "inverse_n_fit",
    "load_studies",
    "nearest_distances",
    "nearest_table",
    "plot_nearest",
    "plot_sample_grids",
    "plot_sweep_seeds",
    "sample_draws",
    "sampler_for",
    "score_setup",
    "shrink_ratios",
    "sweep_over_seeds",
    "time_and_score",
]


def sampler_for(name: str, schedule, steps: int | None = None, clip_x0: bool = True):
    """``"ddpm"`` (all T steps) or ``"ddim"`` with ``steps`` steps."""
    return DDPMSampler(schedule, clip_x0=clip_x0) if name == "ddpm" else DDIMSampler(schedule, steps, clip_x0=clip_x0)


def time_and_score(model, schedule, name: str = "ddim", steps: int = 50, n: int = 300, seed: int = 0) -> dict:
    """Sample ``n`` digits; return ``{"seconds", "fd", "floor", "ceiling", "samples"}`` (the floor: ``n`` real
    training digits drawn with ``seed``)."""
    x, seconds = timed_sample(sampler_for(name, schedule, steps), model, n, seed)
    return {"seconds": seconds, **digit_quality(x, seed=seed), "samples": x}


def floor_all_training() -> float:
    """The FD of all 1,000 training digits against the held-out ones: one fixed set, so one number (no draw)."""
    return digit_floor(len(load_digits(split="train")))


def draws_below(fd: float, floors) -> int:
    """How many of the floor's draws ``floors`` score better (lower) than ``fd``: a score read against the floor's
    spread, not against one draw."""
    return sum(f < fd for f in floors)


def sweep_over_seeds(model, schedule, steps=(5, 10, 20, 50), n: int = 300, seeds=(0, 1, 2),
                     keep_samples: bool | int = False) -> dict:
    """DDIM with each number of ``steps`` for each sampling seed (same model; within a seed every number of steps
    starts from the same x_T): ``{"fd": {steps: [FD per seed]}, "seconds": {steps: [s per seed]}, "floor": [...]}``.

    ``"floor"`` holds one draw of ``n`` real training digits per seed: draws of the floor, to show its spread. They
    share nothing with the samples of the same seed but the number, so compare a score with all of them, not with
    "its own". With ``keep_samples``, ``"samples"`` holds each seed's digits at the largest number of steps, or at
    ``keep_samples`` steps when it is one of ``steps``.
    """
    keep = keep_samples if keep_samples in steps and keep_samples is not True else max(steps)
    fd, seconds, floors, kept = {s: [] for s in steps}, {s: [] for s in steps}, [], []
    for seed in seeds:
        for s in steps:
            x, sec = timed_sample(sampler_for("ddim", schedule, s), model, n, seed)
            fd[s].append(digit_fd(x))
            seconds[s].append(sec)
            if s == keep:
                kept.append(x)
        floors.append(digit_floor(n, seed))
    out = {"fd": fd, "seconds": seconds, "floor": floors}
    if keep_samples:
        out["samples"] = kept
    return out


def plot_sweep_seeds(result: dict, floors=None):
    """FD against DDIM steps, one dot per seed and the mean, beside the floor's draws ``floors`` (default:
    ``result["floor"]``; band: their range, dashed: their mean), and seconds against steps. The step axis is
    logarithmic, labelled with the step counts as plain numbers (no minor-tick labels, which collide on a short
    log axis)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, NullLocator

    steps = list(result["fd"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3))
    for s in steps:
        a.plot([s] * len(result["fd"][s]), result["fd"][s], "o", color="C0", alpha=0.5, ms=4)
    a.plot(steps, [sum(v) / len(v) for v in result["fd"].values()], "-", color="C0", label="samples (dots: seeds)")
    floors = list(result["floor"] if floors is None else floors)
    a.axhspan(min(floors), max(floors), color="grey", alpha=0.2, lw=0,
              label=f"floor: real training digits, {len(floors)} draw{'s' if len(floors) > 1 else ''} (min to max)")
    a.axhline(sum(floors) / len(floors), color="grey", ls="--", lw=1, label="floor: mean of the draws")
    a.set_ylabel("Fréchet distance (lower is better)")
    a.legend(fontsize=8)
    fastest = [min(v) for v in result["seconds"].values()]
    b.plot(steps, fastest, "o-", label=f"fastest of the {len(result['seconds'][steps[0]])} seeds' runs")
    b.plot(steps, [fastest[-1] * s / steps[-1] for s in steps], ":", color="k", lw=1,
           label="proportional to the steps")
    b.set_yscale("log")
    b.set_ylabel("seconds (log scale)")
    b.legend(fontsize=8)
    for ax in (a, b):
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(steps))
        ax.xaxis.set_major_formatter(FixedFormatter([str(s) for s in steps]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("DDIM steps (log scale)")
    fig.tight_layout()
    return finish(fig, "Left: Frechet distance (lower is better) of DDIM samples against the number of steps "
                  f"({', '.join(map(str, steps))}, log scale), one dot per seed and a line through the means, beside "
                  "the floor of real training digits (grey band: the range of its draws; dashed: their mean). Right: "
                  "the fastest run's seconds against the steps, log-log, with a dotted line proportional to the "
                  "steps. Where does the quality stop improving, and how does the time grow?")


# ----------------------------------------------------------------------------- the floor's bias with n

FLOOR_NS = (50, 60, 80, 100, 150, 200, 300, 400, 600, 800, 1000)  # the floor widget's sample sizes


def floor_draws(ns=FLOOR_NS, seeds=range(20)) -> dict[int, list[float]]:
    """``floor_by_n`` for many sample sizes and draws, fast: the features of the 1,000 training digits and of the
    held-out digits are computed once, and each draw takes the same digits as ``metrics.digit_floor(n, seed)``
    (the same FDs up to float round-off): ``{n: [FD per draw]}``. Cached: the check and the widget share it."""
    return {n: list(v) for n, v in _floor_draws(tuple(int(n) for n in ns), tuple(int(s) for s in seeds)).items()}


@functools.lru_cache(maxsize=4)
def _floor_draws(ns: tuple, seeds: tuple) -> dict[int, list[float]]:
    train = load_digits(split="train")
    feats, held = digit_features(train), digit_features(load_digits(split="test"))
    out = {}
    for n in ns:
        if not FEATURE_DIM + 1 <= n <= len(train):
            raise ValueError(f"ns contains {n}; each sample size must lie in [{FEATURE_DIM + 1}, {len(train)}] "
                             f"(the score fits a covariance to {FEATURE_DIM} features)")
        picks = [torch.randperm(len(train), generator=torch.Generator().manual_seed(s))[:n].numpy() for s in seeds]
        out[n] = [frechet_distance(feats[p], held) for p in picks]
    return out


def inverse_n_fit(draws: dict[int, list[float]]) -> tuple[float, float]:
    """``(a, b)``: the least-squares line ``mean floor = a + b / n`` through the mean of the draws at each n. ``a``
    is what the line gives as n grows without bound; ``b / n`` the part that comes from the sample size."""
    ns = np.array(list(draws), dtype=float)
    means = np.array([np.mean(v) for v in draws.values()])
    b, a = np.polyfit(1 / ns, means, 1)
    return float(a), float(b)


def sample_draws(x: torch.Tensor, ns=(50, 60, 80, 100, 150, 200, 300, 400, 600, 800, 1000),
                 seeds=range(20)) -> dict[int, list[float]]:
    """Like ``floor_draws``, for generated digits ``x [N, 1, 8, 8]``: the FD against the held-out digits of ``n``
    of them drawn with each seed, for each ``n`` up to N: ``{n: [FD per draw]}``. Fit ``inverse_n_fit`` to it to
    see the sample-size part of a model's score (Chong and Forsyth 2020, §3: its coefficient depends on the model)."""
    feats, held = digit_features(x.cpu()), digit_features(load_digits(split="test"))
    out = {}
    for n in ns:
        if not FEATURE_DIM + 1 <= n <= len(x):
            raise ValueError(f"ns contains {n}; each sample size must lie in [{FEATURE_DIM + 1}, {len(x)}]")
        picks = [torch.randperm(len(x), generator=torch.Generator().manual_seed(s))[:n].numpy() for s in seeds]
        out[n] = [frechet_distance(feats[p], held) for p in picks]
    return out


def score_setup() -> str:
    """One line naming what the score compares: the sizes of the two digit splits and of the feature vector."""
    train, held = load_digits(split="train"), load_digits(split="test")
    return (f"the score: {FEATURE_DIM} features per digit from a small classifier trained on the {len(train):,} "
            f"training digits; reference: the {len(held):,} held-out digits")


def shrink_ratios(draws: dict[int, list[float]]) -> dict[int, float]:
    """For each n whose 4n is also in ``draws``: the sample-size part of the mean floor at 4n divided by that at
    n, the part being the mean minus ``a`` of ``inverse_n_fit``."""
    a, _ = inverse_n_fit(draws)
    mean = {n: float(np.mean(v)) for n, v in draws.items()}
    return {n: (mean[4 * n] - a) / (mean[n] - a) for n in mean if 4 * n in mean}


_SHRINK_MISTAKES = (
    (1 / 2, "that is how the typical *size* of an average's error shrinks when n is quadrupled. The FD does not "
            "add sizes of errors: it adds the squared distance between the two fitted means, and traces of "
            "covariances."),
    (1 / 16, "that shrinks the sample-size part faster than the measurements will show: which power of n does "
             "the squared error of an average of n draws follow?"),
    (0.0, "the sample-size part does not vanish at 4n: a finite sample still misses the true mean and covariance "
          "by chance, only by less."),
    (1.0, "1 means no change, but the floor falls as n grows (the printout above): the fitted mean and "
          "covariance come closer to the true ones."),
)
SHRINK_HINT = ("the floor's sample-size part comes from fitting a mean and a covariance to n draws. How does the "
               "chance error of such a fit depend on n, and does the FD add those errors as they are, or "
               "something else of them?")
SHRINK_REFERENCE = ("Chong and Forsyth (2020), Effectively Unbiased FID and Inception Score and where to find them, "
                    "§3 (the bias of FID with the number of samples)")


@graded
def check_floor_shrink(shrink, seeds=range(20)) -> None:
    """06b: the student's prediction of the factor by which the sample-size part of the FD floor shrinks when n
    is quadrupled (the part at 4n divided by the part at n). Measured on the floor's draws (``seeds``) at n = 50
    to 1,000 against the line a + b / n."""
    try:
        value = float(shrink)
    except (TypeError, ValueError):
        return report(False, "", f"write the factor as one number (the part at 4n divided by the part at n), "
                      f"got {shrink!r}.")
    measured = shrink_ratios(floor_draws(seeds=seeds))
    seen = ", ".join(f"{r:.2f} (n = {n} to {4 * n})" for n, r in measured.items())
    if 0.20 <= value <= 0.33:
        return report(True, f"FD adds squared errors of the fitted mean and covariance, and the expected squared "
                      f"error of an average of n draws falls like 1/n (Chong and Forsyth 2020, §3). That is the "
                      f"leading order: the covariance term is a squared error only to second order, so measured "
                      f"factors lie near a quarter, not on it. Measured on {len(seeds)} draws at each n, against "
                      f"the line a + b/n: {seen}.", "")
    if value > 1:
        return report(False, "", f"{value:g} is above 1: the floor would grow with n. Give the part at 4n divided "
                      "by the part at n.", SHRINK_HINT, SHRINK_REFERENCE)
    for wrong, diagnosis in _SHRINK_MISTAKES:
        if abs(value - wrong) <= 0.02:
            return report(False, "", f"{value:g}: {diagnosis}", SHRINK_HINT, SHRINK_REFERENCE)
    return report(False, "", f"{value:g} does not follow from how the FD's errors depend on n. Think of the FD as "
                  "a sum of squared differences, each estimated from n draws.", SHRINK_HINT, SHRINK_REFERENCE)


class FloorView:
    """Widget body: the FD floor (n real training digits against the 797 held-out ones) for the sample sizes of
    ``draws`` (``{n: [FD per draw]}``, precomputed: a move only looks up). Left: FD against n (log scale); right:
    FD against 1/n, where a + b/n is a straight line whose value at 1/n = 0 is ``a``. Both show every draw (grey),
    the means (black) and the fitted line (red, dashed); the draws at the chosen n are blue, and the title gives
    their mean, range and the line's value."""

    def __init__(self, draws: dict[int, list[float]]):
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

        self.draws = {int(n): list(v) for n, v in draws.items()}
        self.a, self.b = inverse_n_fit(self.draws)
        ns = np.array(sorted(self.draws), dtype=float)
        means = [np.mean(self.draws[int(n)]) for n in ns]
        top = 1.05 * max(max(v) for v in self.draws.values())
        self.fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
        grid = np.geomspace(ns.min(), ns.max(), 100)
        for ax, x, xs in [(left, ns, grid), (right, 1 / ns, 1 / grid)]:
            for n, xv in zip(ns, x):
                ax.plot([xv] * len(self.draws[int(n)]), self.draws[int(n)], "o", color="0.6", ms=3, alpha=0.6,
                        label="draws of n real digits" if n == ns[0] else None)
            ax.plot(x, means, "o-", color="k", ms=4, lw=1, label="their mean")
            ax.plot(xs, self.a + self.b / grid, "--", color="C3", lw=1.2,
                    label=f"a + b/n fitted to the means (a = {self.a:.1f})")
            ax.set_ylim(0, top)
            ax.set_ylabel("FD floor (lower is better)")
        right.plot([0], [self.a], "*", color="C3", ms=11, label="a: the line at 1/n = 0")
        right.set_xlim(left=-0.001)
        left.set_xscale("log")
        ticks = [50, 100, 200, 400, 1000]
        left.xaxis.set_major_locator(FixedLocator(ticks))
        left.xaxis.set_major_formatter(FixedFormatter([str(t) for t in ticks]))
        left.xaxis.set_minor_locator(NullLocator())
        left.set_xlabel("n, real training digits scored (log scale)")
        inverse = [0, 400, 200, 100, 50]
        right.xaxis.set_major_locator(FixedLocator([1 / t if t else 0.0 for t in inverse]))
        right.xaxis.set_major_formatter(FixedFormatter([f"1/{t}" if t else "0" for t in inverse]))
        right.set_xlabel("1/n (linear scale)")
        left.legend(fontsize=8, loc="upper right")
        right.legend(handles=right.get_lines()[-1:], fontsize=8, loc="upper left")
        self.marks = [ax.plot([], [], "o", color="C0", ms=6, zorder=3)[0] for ax in (left, right)]
        self.title = self.fig.suptitle(" ", fontsize=10)
        self.fig.tight_layout()
        self.animated = [*self.marks, self.title]

    def describe(self, n: int = 100) -> str:
        return ("The Frechet distance (FD) floor: draws of n real training digits scored against the held-out digits, "
                "at each sample size n. Left: FD against n (log scale); right: FD against 1/n, where the line a + b/n "
                "fitted to the means (red, dashed) is straight and, extended to 1/n = 0, would reach a (the star). "
                f"Grey dots are draws, black their means, blue the draws at n = {n}, whose mean and range the title "
                "gives. How does the floor change as n grows?")

    def update(self, n: int = 100) -> None:
        values = self.draws[int(n)]
        for mark, x in zip(self.marks, (n, 1 / n)):
            mark.set_data([x] * len(values), values)
        fit = f"{self.a:.1f} + {self.b / n:.1f} = {self.a + self.b / n:.1f}"
        self.title.set_text(f"n = {n}: {len(values)} draws, mean {np.mean(values):.1f} (from {min(values):.1f} to "
                            f"{max(values):.1f}); the line: a + b/n = {fit}")


def floor_widget(draws: dict[int, list[float]] | None = None, n: int = 100):
    """The live figure of ``FloorView`` with n on a slider (the sample sizes of ``draws``, default
    ``floor_draws()``)."""
    from ipywidgets import SelectionSlider

    from ..widgets import LiveFigure

    draws = floor_draws() if draws is None else draws
    options = sorted(draws)
    return LiveFigure(FloorView(draws), n=SelectionSlider(options=options, value=n if n in options else options[0]))


def demo_widgets() -> dict:
    """Notebook 06b's widget, same control, range and default (it only looks up precomputed draws)."""
    return {"floor": floor_widget()}


# ----------------------------------------------------------------------------- what the score cannot see

def _pixels(x: torch.Tensor):
    return x.detach().float().cpu().clamp(-1, 1).flatten(1).numpy()


def _references() -> dict:
    """Two sets of real digits of equal size: the first 797 training digits and the 797 held-out ones (nearest
    distances shrink as a set grows, so the two sets must be equally large to be compared)."""
    held_out = load_digits(split="test")
    return {"train": load_digits(split="train")[:len(held_out)], "held-out": held_out}


def nearest_distances(x: torch.Tensor, leave_out: str | None = None) -> dict:
    """For each image of ``x [N, 1, 8, 8]``: the Euclidean distance over its 64 pixels (in [-1, 1]) to the nearest
    of 797 training digits and of the 797 held-out digits: ``{"train": [N], "held-out": [N]}`` (NumPy).
    ``leave_out`` ("train" or "held-out"): ``x`` *is* that set, and each digit's nearest *other* digit is taken."""
    from sklearn.neighbors import NearestNeighbors

    out = {}
    for name, ref in _references().items():
        k = 2 if name == leave_out else 1
        out[name] = NearestNeighbors(n_neighbors=k).fit(_pixels(ref)).kneighbors(_pixels(x))[0][:, k - 1]
    return out


def nearest_table(samples) -> list[dict]:
    """One row per set: each seed's samples (``samples``: one ``[N, 1, 8, 8]`` per seed), then the real training
    digits and the held-out digits (each against the *other* digits of its own split): ``{"name", "train",
    "held-out", "closest"}`` with the median distance to the nearest training and held-out digit, and the smallest
    distance to a training digit (0 for a copy)."""
    import numpy as np

    refs = _references()
    sets = [(f"samples, seed {i}", x, None) for i, x in enumerate(samples)]
    sets += [("real training digits", refs["train"], "train"), ("real held-out digits", refs["held-out"], "held-out")]
    rows = []
    for name, x, leave_out in sets:
        d = nearest_distances(x, leave_out)
        rows.append({"name": name, "train": float(np.median(d["train"])), "held-out": float(np.median(d["held-out"])),
                     "closest": float(d["train"].min())})
    return rows


def plot_nearest(samples: torch.Tensor, n_pairs: int = 8):
    """Left: the distance of each sample and of each held-out digit to its nearest training digit (histograms; a
    copy lies at 0). Right: the ``n_pairs`` samples nearest to a training digit (top) above that digit (bottom)."""
    import matplotlib.pyplot as plt
    from sklearn.neighbors import NearestNeighbors

    from ..plotting import image_grid

    train = _references()["train"]
    dist, idx = NearestNeighbors(n_neighbors=1).fit(_pixels(train)).kneighbors(_pixels(samples))
    dist, idx = dist[:, 0], idx[:, 0]
    held_out = nearest_distances(_references()["held-out"], leave_out="held-out")["train"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3), gridspec_kw={"width_ratios": [1.2, 1]})
    bins = [i * 0.1 for i in range(46)]
    a.hist(held_out, bins=bins, density=True, alpha=0.5, color="grey", label="held-out digits (real, unseen)")
    a.hist(dist, bins=bins, density=True, alpha=0.6, color="C0", label=f"{len(samples)} samples")
    a.axvline(0, color="C3", lw=2, label="a copy of a training digit")
    a.set_xlabel("distance to the nearest training digit")
    a.set_ylabel("density")
    a.legend(fontsize=8, loc="upper left")
    closest = dist.argsort()[:n_pairs]
    pairs = torch.cat([samples[closest].cpu(), train[idx[closest]]])
    b.imshow(image_grid(pairs, nrow=n_pairs), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    b.set_title(f"the {n_pairs} samples nearest to a training digit (top) and that digit (bottom)", fontsize=9)
    b.axis("off")
    fig.tight_layout()
    return finish(fig, "Left: histograms of the distance to the nearest training digit, for "
                  f"{len(samples)} samples and for the held-out digits (real, unseen); a copy of a training digit "
                  f"would lie at 0 (red line). Right: the {n_pairs} samples nearest to a training digit (top row) "
                  "above that training digit (bottom row). Does any sample sit at 0, a copy?")


def ddpm_vs_ddim(model, schedule, seeds=(0, 1, 2), n: int = 300, ddim_steps: int = 50) -> list[dict]:
    """DDPM (all T steps, sigma_t^2 = beta_tilde_t) against DDIM-``ddim_steps`` (eta = 0), both with clipped
    x0-hat, ``n`` samples per seed: ``[{"seed", "n", "ddpm", "ddim", "floor"}, ...]`` (Fréchet distances against the
    held-out digits; ``floor``: ``n`` real training digits drawn with the row's seed)."""
    rows = []
    for seed in seeds:
        ddpm = time_and_score(model, schedule, "ddpm", None, n, seed)
        ddim = time_and_score(model, schedule, "ddim", ddim_steps, n, seed)
        rows.append({"seed": seed, "n": n, "ddpm": ddpm["fd"], "ddim": ddim["fd"], "floor": ddim["floor"],
                     "ddpm_seconds": ddpm["seconds"], "ddim_seconds": ddim["seconds"]})
    return rows


def ddpm_vs_ddim_run(seed: int, budgets=(4000,), device="cpu", n: int = 300) -> list[dict]:
    """One sampling seed of ``ddpm_vs_ddim`` on the shipped checkpoint, for the study runner: one row, at the
    checkpoint's training budget (``budgets`` names it: the checkpoint is not retrained)."""
    from ..checkpoints import load_denoiser

    model, schedule, _ = load_denoiser(None, device=device)
    (row,) = ddpm_vs_ddim(model, schedule, (seed,), n=n)
    return [{"steps": budgets[-1], **{k: v for k, v in row.items() if k != "seed"}}]


def ddpm_vs_ddim_runs() -> Study:  # noqa: F821
    """The shipped DDPM-1000 against DDIM-50 study of notebook 06b (``python -m course_lib study ddpm_vs_ddim``):
    the shipped checkpoint (4,000 steps on the "train" digits) sampled with both for 5 sampling seeds, 300 digits
    each, FD against the held-out digits, each row with its own floor."""
    import platform

    from ..study import SHIPPED_RESULTS
    from ..study_runner import Study

    return Study("ddpm_vs_ddim", ddpm_vs_ddim_run, [{"checkpoint": "digits_unet.pt"}], seeds=range(5),
                 budgets=(4000,), out=SHIPPED_RESULTS / "ddpm_vs_ddim.json", kwargs={"n": 300},
                 required=("ddpm", "ddim", "floor"),
                 meta=lambda: {"torch": torch.__version__, "machine": platform.machine(),
                               "command": "python -m course_lib study ddpm_vs_ddim"})


# ----------------------------------------------------------------------------- eta = 0 against eta = 1

PREDICTION_CHOICES = ("eta=0", "eta=1")


def eta_study(model, schedule, steps: int = 10, etas=(0.0, 1.0), n: int = 300, seeds=(0, 1, 2)) -> dict:
    """DDIM with ``steps`` steps at each ``eta`` on the same model, the same starting noise per seed:
    ``{eta: [FD per seed]}``. eta = 1 is DDPM's noise level."""
    out: dict = {eta: [] for eta in etas}
    for seed in seeds:
        for eta in etas:
            x = DDIMSampler(schedule, steps, eta=eta, clip_x0=True).sample(
                model, (n, 1, 8, 8), generator=torch.Generator().manual_seed(seed), device=model_device(model)).cpu()
            out[eta].append(digit_fd(x))
    return out


def eta_verdict(fd_eta0, fd_eta1) -> tuple[str | None, int, int]:
    """``(winner, wins of eta = 0, wins of eta = 1)`` over seeds paired by position (lower FD wins; a tie is
    neither's win): winner is "eta=0" or "eta=1" when it scored better in every seed, else None (mixed)."""
    if len(fd_eta0) != len(fd_eta1) or not len(fd_eta0):
        raise ValueError(f"need one FD per seed for each eta, paired by seed; got {len(fd_eta0)} and "
                         f"{len(fd_eta1)} values")
    wins0 = sum(a < b for a, b in zip(fd_eta0, fd_eta1))
    wins1 = sum(b < a for a, b in zip(fd_eta0, fd_eta1))
    n = len(fd_eta0)
    return ("eta=0" if wins0 == n else "eta=1" if wins1 == n else None), wins0, wins1


_WHY = ("with few steps each jump is long; eta = 1 adds fresh noise of DDPM's size at every jump, which the few "
        "remaining jumps must remove, while eta = 0 only re-uses the model's own estimate of the noise")


@graded
def check_eta_prediction(prediction, fd_eta0, fd_eta1) -> None:
    """06b: the student's prediction ("eta=0" or "eta=1") of which scores the better (lower) FD at few steps,
    against the FDs of both settings, one per seed, paired by seed. Three verdicts: eta = 0 better in every
    seed, eta = 1 better in every seed, or mixed (then it says how the seeds split and how the prediction fared)."""
    if prediction not in PREDICTION_CHOICES:
        return report(False, "", f"write the prediction as one of {PREDICTION_CHOICES}, got {prediction!r}.")
    winner, wins0, wins1 = eta_verdict(fd_eta0, fd_eta1)
    n = len(fd_eta0)
    if winner == "eta=0":
        return report(prediction == winner,
                      f"eta = 0 scored the better FD in all {n} seeds here, as Song et al. (2021, Table 1) find at "
                      f"scale: {_WHY}.",
                      f"eta = 0 scored the better FD in all {n} seeds here. Compare the two rows of FDs above, seed "
                      f"by seed; then think about what the fresh noise of each long jump does.")
    if winner == "eta=1":
        return report(prediction == winner,
                      f"eta = 1 scored the better FD in all {n} seeds here. That is the opposite of what Song et al. "
                      "(2021, Table 1) find with large models, so read the paired differences above: how large is "
                      "the gap next to the spread between seeds?",
                      f"eta = 1 scored the better FD in all {n} seeds here, against the argument that {_WHY}. "
                      "Compare the two rows of FDs above, seed by seed; Song et al. (2021, Table 1) find the "
                      "opposite at scale, so ask how large the gap is next to the spread between seeds.")
    ties = n - wins0 - wins1
    mine = wins0 if prediction == "eta=0" else wins1
    print(f"➖ Mixed: these {n} seeds do not pick a winner. eta = 0 scored the better FD in {wins0} of {n} seeds, "
          f"eta = 1 in {wins1}" + (f", and {ties} tied" if ties else "") + ". "
          f"Your prediction, {prediction}, held in {mine} of {n} seeds: neither confirmed nor refuted here. "
          f"Song et al. (2021, Table 1), with large models and 50,000 samples, find eta = 0 better at few steps: "
          f"{_WHY}.")
