"""Notebook 06b (optional): how good are the samples? The score's floor and its dependence on the sample size,
FD against the number of DDIM steps over seeds, eta = 0 against eta = 1 at few steps (with the prediction's
verdict), and the shipped DDPM-1000 against DDIM-50 study.

What notebook 06 also uses (the sample grids, ``floor_by_n`` and ``load_studies``, which notebook 05 reads too)
lives in ``lessons.sampling`` and is re-exported here, so that 06b calls everything as ``lesson.<name>``.
"""

from __future__ import annotations

import torch

from ..metrics import digit_quality
from ..plotting import finish
from ..samplers import DDIMSampler, DDPMSampler
from .grading import graded, report
from .sampling import floor_by_n, load_studies, model_device, plot_sample_grids, timed_sample

__all__ = ["PREDICTION_CHOICES", "check_eta_prediction", "ddpm_vs_ddim", "eta_study", "eta_verdict",
           "floor_by_n", "load_studies", "plot_sample_grids", "plot_sweep_seeds", "sampler_for",
           "sweep_over_seeds", "time_and_score"]


def sampler_for(name: str, schedule, steps: int | None = None, clip_x0: bool = True):
    """``"ddpm"`` (all T steps) or ``"ddim"`` with ``steps`` steps."""
    return DDPMSampler(schedule, clip_x0=clip_x0) if name == "ddpm" else DDIMSampler(schedule, steps, clip_x0=clip_x0)


def time_and_score(model, schedule, name: str = "ddim", steps: int = 50, n: int = 300, seed: int = 0) -> dict:
    """Sample ``n`` digits; return ``{"seconds", "fd", "floor", "ceiling", "samples"}`` (the floor: ``n`` real
    training digits drawn with ``seed``)."""
    x, seconds = timed_sample(sampler_for(name, schedule, steps), model, n, seed)
    return {"seconds": seconds, **digit_quality(x, seed=seed), "samples": x}


def sweep_over_seeds(model, schedule, steps=(5, 10, 20, 50), n: int = 300, seeds=(0, 1, 2)) -> dict:
    """``time_and_score`` with DDIM for each number of ``steps`` and each sampling seed (same model, fresh
    starting noise):
    ``{"fd": {steps: [FD per seed]}, "seconds": {steps: [s per seed]}, "floor": [floor per seed]}`` (each seed's
    floor is drawn with that seed)."""
    fd, seconds, floors = {s: [] for s in steps}, {s: [] for s in steps}, []
    for seed in seeds:
        for s in steps:
            r = time_and_score(model, schedule, "ddim", s, n, seed)
            fd[s].append(r["fd"])
            seconds[s].append(r["seconds"])
        floors.append(r["floor"])
    return {"fd": fd, "seconds": seconds, "floor": floors}


def plot_sweep_seeds(result: dict):
    """FD against DDIM steps, one dot per seed and the mean, with the floors of the same seeds (band: their range,
    dashed: their mean), and seconds against steps. The step axis is logarithmic, labelled with the step counts
    as plain numbers (no minor-tick labels, which collide on a short log axis)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, NullLocator

    steps = list(result["fd"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3))
    for s in steps:
        a.plot([s] * len(result["fd"][s]), result["fd"][s], "o", color="C0", alpha=0.5, ms=4)
    a.plot(steps, [sum(v) / len(v) for v in result["fd"].values()], "-", color="C0", label="samples (dots: seeds)")
    floors = result["floor"]
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


# ----------------------------------------------------------------------------- eta = 0 against eta = 1

PREDICTION_CHOICES = ("eta=0", "eta=1")


def eta_study(model, schedule, steps: int = 10, etas=(0.0, 1.0), n: int = 300, seeds=(0, 1, 2)) -> dict:
    """DDIM with ``steps`` steps at each ``eta`` on the same model, the same starting noise per seed:
    ``{eta: [FD per seed]}`` (and ``"floor"``: the floor at ``n`` per seed). eta = 1 is DDPM's noise level."""
    out: dict = {eta: [] for eta in etas}
    out["floor"] = []
    for seed in seeds:
        for eta in etas:
            x = DDIMSampler(schedule, steps, eta=eta, clip_x0=True).sample(
                model, (n, 1, 8, 8), generator=torch.Generator().manual_seed(seed), device=model_device(model)).cpu()
            q = digit_quality(x, seed=seed)
            out[eta].append(q["fd"])
        out["floor"].append(q["floor"])
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
