"""Notebook 06b (optional): how good are the samples? The score's floor and its dependence on the sample size,
FD against the number of DDIM steps over seeds, what the score cannot see (memorisation: nearest-neighbour
distances to training and held-out digits), eta = 0 against eta = 1 at few steps (with the prediction's verdict),
and the shipped DDPM-1000 against DDIM-50 study.

What notebook 06 also uses (the sample grids, ``floor_by_n`` and ``load_studies``, which notebook 05 reads too)
lives in ``lessons.sampling`` and is re-exported here, so that 06b calls everything as ``lesson.<name>``.
"""

from __future__ import annotations

import torch

from ..data import load_digits
from ..metrics import digit_fd, digit_floor, digit_quality
from ..plotting import finish
from ..samplers import DDIMSampler, DDPMSampler
from .grading import graded, report
from .sampling import floor_by_n, load_studies, model_device, plot_sample_grids, timed_sample

__all__ = ["PREDICTION_CHOICES", "check_eta_prediction", "ddpm_vs_ddim", "draws_below", "eta_study", "eta_verdict",
           "floor_all_training", "floor_by_n", "load_studies", "nearest_distances", "nearest_table", "plot_nearest",
           "plot_sample_grids", "plot_sweep_seeds", "sampler_for", "sweep_over_seeds", "time_and_score"]


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
                     keep_samples: bool = False) -> dict:
    """DDIM with each number of ``steps`` for each sampling seed (same model; within a seed every number of steps
    starts from the same x_T): ``{"fd": {steps: [FD per seed]}, "seconds": {steps: [s per seed]}, "floor": [...]}``.

    ``"floor"`` holds one draw of ``n`` real training digits per seed: draws of the floor, to show its spread. They
    share nothing with the samples of the same seed but the number, so compare a score with all of them, not with
    "its own". With ``keep_samples``, ``"samples"`` holds each seed's digits at the largest number of steps.
    """
    fd, seconds, floors, kept = {s: [] for s in steps}, {s: [] for s in steps}, [], []
    for seed in seeds:
        for s in steps:
            x, sec = timed_sample(sampler_for("ddim", schedule, s), model, n, seed)
            fd[s].append(digit_fd(x))
            seconds[s].append(sec)
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
    a.axhline(sum(floors) / len(floors), color="grey", ls="--", lw=1)
    a.set_ylabel("Fréchet distance (lower is better)")
    a.legend(fontsize=8)
    b.plot(steps, [sum(v) / len(v) for v in result["seconds"].values()], "o-")
    for ax in (a, b):
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(steps))
        ax.xaxis.set_major_formatter(FixedFormatter([str(s) for s in steps]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("DDIM steps (log scale)")
    b.set_ylabel("seconds")
    fig.tight_layout()
    return finish(fig)


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
    return finish(fig)


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
