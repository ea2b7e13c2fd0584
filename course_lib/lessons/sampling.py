"""Notebook 06: sampling with DDPM and DDIM. The exercises' references and checks, Ho et al.'s Eq. 11 beside the
x0-hat route, timing a sampler, DDIM's consistency across step counts, the spacing study, the live samples view
(steps, eta, spacing, with its score), the reverse-process scrubber and the 2-D trajectories.

What notebooks 05 and 06b use too lives in the library and is imported here: ``timed_sample``
(``course_lib.samplers``), ``plot_sample_grids`` (``course_lib.plotting``) and ``floor_by_n`` (``course_lib.metrics``:
the score's floor); the shipped multi-seed studies are ``course_lib.study.load_studies``.
"""

from __future__ import annotations

import time
import warnings

import torch

from ..claims import check_claim, mean_spread  # noqa: F401  (the notebook calls lesson.check_claim)
from ..diffusion import p_mean_variance_from_eps
from ..metrics import digit_ceiling, digit_fd, floor_by_n
from ..plotting import finish, plot_sample_grids  # noqa: F401  (the notebook calls lesson.plot_sample_grids)
from ..samplers import DDIMSampler, DDPMSampler, Trajectory, ddim_timesteps, timed_sample
from ..utils import max_steps_override, model_device, use_large_config  # noqa: F401  (the notebook calls lesson.use_large_config)
from .grading import diagnose, graded, report


def time_samplers(samplers: dict, model, n: int = 64, seed: int = 0, repeats: int = 3) -> tuple[dict, dict]:
    """``({name: samples}, {name: [seconds per run]})``: each of ``samplers`` (``{name: sampler}``) timed
    ``repeats`` times by ``timed_sample`` from the same starting noise, after one warm-up run (a 2-step DDIM on
    the same batch: the first call of a network pays for memory and kernels). Report the fastest run: a
    timing is slowed by whatever else the machine does, never sped up."""
    timed_sample(DDIMSampler(next(iter(samplers.values())).schedule, 2, spacing="trailing"), model, n, seed)
    samples, seconds = {}, {name: [] for name in samplers}
    for _ in range(repeats):
        for name, sampler in samplers.items():
            samples[name], sec = timed_sample(sampler, model, n, seed)
            seconds[name].append(sec)
    return samples, seconds


def your_step_or_none(step, *args):
    """``step(*args)`` as a float64 tensor shaped like ``args[0]``, or ``None`` with a line saying why (not written
    yet, raised an error, or returned something else): a student's unfinished function never ends in a traceback."""
    try:
        out = step(*args)
    except NotImplementedError:
        print("Your ddpm_step is not written yet (Exercise 1): there is nothing to compare. Come back after it.")
        return None
    except Exception as error:  # any error of the student's function is reported, not raised
        print(f"Your ddpm_step raised {type(error).__name__}: {error}. Run its check above for a diagnosis.")
        return None
    if not torch.is_tensor(out) or out.shape != args[0].shape:
        print(f"Your ddpm_step returned {type(out).__name__} {getattr(out, 'shape', '')}, not a tensor shaped like "
              f"x_t {list(args[0].shape)}. Run its check above for a diagnosis.")
        return None
    return out.double()


def x0_white(trajectory: Trajectory, steps) -> dict[int, float]:
    """``{t: fraction of the predicted x_0's pixels clipped at full white (x0_hat > 0.99)}`` at the given step
    indices of a recorded trajectory (x0_hat clipped to [-1, 1]): how much of the estimate is saturated strokes."""
    return {trajectory.timesteps[i]: float((trajectory.x0_pred[i] > 0.99).double().mean()) for i in steps}


def check_saturated(trajectory: Trajectory, steps) -> None:
    """A claim on a recorded trajectory: the predicted x_0 at the first of ``steps`` has more of its pixels at full
    white than at the last. Prints each step's share beside that of the real training digits, then the verdict
    (returns nothing, so that a notebook cell ending with it shows only the printout)."""
    from ..data import load_digits

    fractions = x0_white(trajectory, steps)
    for t, f in fractions.items():
        print(f"t = {t}: {100 * f:.0f}% of the pixels of x0_hat are clipped at full white (1)")
    real = float((load_digits(split="train") > 0.99).double().mean())
    print(f"real training digits: {100 * real:.0f}% at full white")
    (t_first, first), *_, (t_last, last) = fractions.items()
    check_claim(f"more of x0_hat's pixels are clipped at full white at t = {t_first} than at t = {t_last}",
                [first - last])


def posterior_mean_via_x0(x_t: torch.Tensor, eps: torch.Tensor, t: int, schedule) -> torch.Tensor:
    """The DDPM step's mean by the route of Exercise 1 (no clipping): x0_hat from ``eps``, then the posterior
    mean mu_tilde_t(x_t, x0_hat) of Ho et al. Eq. 7. ``x_t, eps [B, ...]``, ``t`` an integer."""
    mean, _, _ = p_mean_variance_from_eps(x_t, torch.full((len(x_t),), int(t)), eps, schedule)
    return mean


@torch.no_grad()
def ddim_from(model, schedule, x_T: torch.Tensor, steps: int, spacing: str = "leading", eta: float = 0.0,
              seed: int = 0, clip_x0: bool = True) -> torch.Tensor:
    """DDIM with ``steps`` steps from the given starting noise ``x_T [B, ...]`` (eta's fresh noise, if any, drawn
    with ``seed``), on the model's device; the samples on the CPU."""
    with warnings.catch_warnings():  # leading spacing at very few steps starts far below T - 1: callers say so
        warnings.simplefilter("ignore", UserWarning)
        sampler = DDIMSampler(schedule, steps, eta=eta, spacing=spacing, clip_x0=clip_x0)
    x, noise = x_T.to(model_device(model)), torch.Generator().manual_seed(seed)
    for t in sampler.timesteps[:max_steps_override()]:  # all of them, unless a smoke test caps the loop
        x, _ = sampler.step(model(x, torch.full((len(x),), t, device=x.device)), t, x, generator=noise)
    return x.cpu()


def rms_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per image: the root-mean-square difference of the pixels of ``a [B, ...]`` and ``b [B, ...]`` (in [-1, 1]
    units): ``[B]``."""
    return (a - b).flatten(1).pow(2).mean(1).sqrt()


def consistency_study(model, schedule, steps=(5, 10, 20, 50), reference: int = 200, n: int = 16,
                      seeds=(0, 1, 2)) -> dict:
    """DDIM (eta = 0) from one starting noise x_T per seed (``n`` digits each, drawn with the seed) at each
    number of ``steps`` and at a fine ``reference`` number of steps. All seeds run as one batch.

    Returns ``{"samples": {steps: [n, 1, 8, 8] of the first seed, ..., reference: ...}, "distance": {steps: [per
    seed: mean RMS pixel distance to the reference digits from the same x_T]}, "between": [per seed: the same
    distance between reference digits from *different* x_T (each digit against its neighbour in the batch)]}``.
    """
    if any(s >= reference for s in steps):
        raise ValueError(f"steps={tuple(steps)} must all be below reference={reference}")
    x_T = torch.cat([torch.randn((n, 1, 8, 8), generator=torch.Generator().manual_seed(s)) for s in seeds])
    ref = ddim_from(model, schedule, x_T, reference)
    per_seed = len(seeds), n
    out = {"samples": {}, "distance": {}}
    for s in steps:
        x = ddim_from(model, schedule, x_T, s)
        out["samples"][s] = x[:n]
        out["distance"][s] = rms_distance(x, ref).reshape(per_seed).mean(1).tolist()
    out["samples"][reference] = ref[:n]
    others = ref.reshape(len(seeds), n, *ref.shape[1:]).roll(1, dims=1).reshape(ref.shape)
    out["between"] = rms_distance(ref, others).reshape(per_seed).mean(1).tolist()
    return out


def plot_consistency(study: dict, nrow: int = 4):
    """The first seed's digits at each number of steps, the reference last (one x_T for all), one panel each."""
    import matplotlib.pyplot as plt

    from ..plotting import image_grid

    reference = list(study["samples"])[-1]
    fig, axes = plt.subplots(1, len(study["samples"]), figsize=(2.2 * len(study["samples"]), 2.6))
    for ax, (s, x) in zip(axes, study["samples"].items()):
        ax.imshow(image_grid(x[:nrow * nrow], nrow=nrow), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{s} steps (reference)" if s == reference else f"DDIM, {s} steps", fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    steps = ", ".join(str(s) for s in study["samples"] if s != reference)
    return finish(fig, f"The first seed's DDIM digits from one starting noise x_T, one panel per number of steps "
                  f"({steps}), the {reference}-step reference last. Compare each panel with the reference, digit by "
                  "digit: how alike are they, and how does that change as the steps grow?")


SPACINGS = ("leading", "trailing")


def spacing_timesteps(schedule, steps: int) -> dict[str, list[int]]:
    """The timesteps DDIM with ``steps`` steps visits under "leading" and "trailing" spacing (the warning that
    leading spacing starts far below T - 1 is silenced: the notebook's figure titles say where it starts)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return {sp: DDIMSampler(schedule, steps, spacing=sp).timesteps for sp in SPACINGS}


def sample_both_spacings(model, schedule, steps: int, eta: float = 0.0, n: int = 16, seed: int = 0,
                         clip_x0: bool = True) -> dict[str, torch.Tensor]:
    """DDIM samples with ``steps`` steps for "leading" and "trailing" spacing from the same starting noise
    x_T (drawn with ``seed``: the same for every ``steps`` and ``eta``), one network call per step for both:
    ``{"leading": [n, 1, 8, 8], "trailing": [n, 1, 8, 8]}``.

    Both spacings visit ``steps`` timesteps, so step k of both runs goes through the model as one batch of
    2n (half the calls of two runs). The eta noise comes from a generator seeded ``seed + 1``, one per spacing.
    """
    with warnings.catch_warnings():  # leading spacing at 1 or 2 steps starts far below T - 1: the title says so
        warnings.simplefilter("ignore", UserWarning)
        samplers = {sp: DDIMSampler(schedule, steps, eta=eta, spacing=sp, clip_x0=clip_x0) for sp in SPACINGS}
    x_T = torch.randn((n, 1, 8, 8), generator=torch.Generator().manual_seed(seed)).to(model_device(model))
    xs = {sp: x_T.clone() for sp in SPACINGS}
    noise = {sp: torch.Generator().manual_seed(seed + 1) for sp in SPACINGS}
    with torch.no_grad():
        for k in range(steps)[:max_steps_override()]:  # all of them, unless a smoke test caps the loop
            ts = {sp: samplers[sp].timesteps[k] for sp in SPACINGS}
            t = torch.cat([torch.full((n,), ts[sp]) for sp in SPACINGS]).to(x_T.device)
            eps = model(torch.cat([xs[sp] for sp in SPACINGS]), t).split(n)
            for sp, e in zip(SPACINGS, eps):
                xs[sp], _ = samplers[sp].step(e, ts[sp], xs[sp], generator=noise[sp])
    return {sp: x.cpu() for sp, x in xs.items()}


def spacing_study(model, schedule, steps=(2, 5, 10, 20), n: int = 300, seeds=(0, 1, 2)) -> dict:
    """FD against the held-out digits of ``n`` DDIM digits (eta = 0) with "leading" and "trailing" spacing at
    each number of ``steps``; within a seed both spacings start from the same x_T.

    Returns ``{"fd": {spacing: {steps: [FD per seed]}}, "floor": [FD of n real training digits, one draw per
    seed], "ceiling": FD of n noise images}``. The floor's draws only show its spread: they share nothing with
    the samples of the same seed.
    """
    fd = {sp: {s: [] for s in steps} for sp in SPACINGS}
    for s in steps:
        for seed in seeds:
            for sp, x in sample_both_spacings(model, schedule, s, n=n, seed=seed).items():
                fd[sp][s].append(digit_fd(x))
    return {"fd": fd, "floor": floor_by_n(ns=(n,), seeds=seeds)[n], "ceiling": digit_ceiling(n)}


def plot_spacing_study(study: dict):
    """FD against the number of steps for both spacings (dots: seeds; line: their mean; log scales), with the
    floor's draws (band: min to max) and the noise ceiling."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    fig, ax = plt.subplots(figsize=(6, 3.4))
    for colour, (sp, by_steps) in zip(("C0", "C1"), study["fd"].items()):
        steps = list(by_steps)
        for s, values in by_steps.items():
            ax.plot([s] * len(values), values, "o", color=colour, alpha=0.5, ms=4)
        ax.plot(steps, [sum(v) / len(v) for v in by_steps.values()], "-", color=colour, label=f"{sp} spacing")
    floors = study["floor"]
    ax.axhspan(min(floors), max(floors), color="grey", alpha=0.25, lw=0,
               label=f"floor: real digits, {len(floors)} draws (min to max)")
    ax.axhline(study["ceiling"], color="k", ls=":", lw=1, label="ceiling: noise images")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis, ticks in [(ax.xaxis, steps), (ax.yaxis, [10, 20, 50, 100, 200, 500])]:
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_major_formatter(FixedFormatter([str(t) for t in ticks]))
        axis.set_minor_locator(NullLocator())
    ax.set_xlabel("DDIM steps (log scale)")
    ax.set_ylabel("FD (log scale, lower is better)")
    ax.legend(fontsize=8, loc="upper right", bbox_to_anchor=(1, 0.92))
    fig.tight_layout()
    return finish(fig, "Frechet distance (FD, log scale, lower is better) of DDIM digits to held-out digits against "
                  f"the number of steps ({', '.join(map(str, steps))}, log scale), for {' and '.join(study['fd'])} "
                  "spacing: dots are seeds, lines their means; the grey band is the floor of real digits, the "
                  "dotted line the ceiling of noise images. Where do the two lines differ by more than the seeds "
                  "do?")


class SamplesView:
    """Widget body: ``n`` of ``n_scored`` DDIM digits from one fixed starting noise, for a number of ``steps``,
    ``eta`` and timestep ``spacing``; the title gives the timesteps visited, the FD of all ``n_scored`` digits
    against the held-out digits, the range that ``n_scored`` real digits score (three draws), and the time.

    ``update`` computes when ``(steps, eta)`` is new (one network call per step for both spacings, and their two
    scores, cached), so those controls are built with ``continuous_update=False``; the spacing then only looks up.
    """

    def __init__(self, model, schedule, n: int = 16, seed: int = 0, nrow: int = 8, n_scored: int = 300):
        import matplotlib.pyplot as plt

        from ..metrics import FEATURE_DIM
        from ..plotting import image_grid

        if not max(n, FEATURE_DIM + 1) <= n_scored:
            raise ValueError(f"n_scored={n_scored} is not allowed; it must be at least n={n} and at least "
                             f"{FEATURE_DIM + 1} (the score fits a covariance to {FEATURE_DIM} features)")
        self.model, self.schedule, self.n, self.seed, self.nrow = model, schedule, n, seed, nrow
        self.n_scored = n_scored
        self.floors = floor_by_n(ns=(n_scored,), seeds=(0, 1, 2))[n_scored]
        self.cache: dict[tuple, tuple[dict, dict, float]] = {}
        rows = -(-n // nrow)
        self.fig, ax = plt.subplots(figsize=(7.5, 0.95 * rows + 0.95))
        self.image = ax.imshow(image_grid(torch.zeros(n, 1, 8, 8), nrow=nrow), cmap="gray", vmin=0, vmax=1,
                               interpolation="nearest")
        self.title = ax.set_title("\n\n", fontsize=10)
        ax.axis("off")
        self.fig.tight_layout()
        self.animated = [self.image, self.title]

    def samples(self, steps: int, eta: float) -> tuple[dict, dict, float]:
        """``({spacing: samples}, {spacing: FD}, seconds)`` for ``steps`` and ``eta``, computed once; the
        seconds are those of sampling both spacings."""
        key = (int(steps), round(float(eta), 6))
        if key not in self.cache:
            start = time.perf_counter()
            xs = sample_both_spacings(self.model, self.schedule, key[0], key[1], self.n_scored, self.seed)
            seconds = time.perf_counter() - start
            self.cache[key] = xs, {sp: digit_fd(x) for sp, x in xs.items()}, seconds
        return self.cache[key]

    def describe(self, steps: int = 10, eta: float = 0.0, spacing: str = "leading") -> str:
        return (f"{self.n} of {self.n_scored} digits sampled by DDIM with {steps} steps, eta = {eta} and {spacing} "
                "spacing, from one starting noise, the same for every setting. The title lists the timesteps "
                f"visited, the Frechet distance (FD) of all {self.n_scored} digits to held-out digits (lower is "
                "better) beside what real digits score, and the sampling time. Do the digits read as digits?")

    def update(self, steps: int = 10, eta: float = 0.0, spacing: str = "leading") -> None:
        from ..plotting import image_grid

        xs, fds, seconds = self.samples(steps, eta)
        self.image.set_data(image_grid(xs[spacing][:self.n], nrow=self.nrow))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ts = ddim_timesteps(self.schedule.T, int(steps), spacing)
        visited = ", ".join(map(str, ts)) if len(ts) <= 4 else f"{ts[0]}, {ts[1]}, ..., {ts[-1]}"
        self.title.set_text(f"DDIM, {steps} steps, eta = {eta:.2f}, {spacing}: t = {visited}\n"
                            f"FD of {self.n_scored} digits {fds[spacing]:.1f} (lower is better; {self.n_scored} "
                            f"real digits: {min(self.floors):.1f} to {max(self.floors):.1f})\n"
                            f"one starting noise for every setting ({seconds:.2f} s for both spacings)")


def show_samples_at(model, schedule, steps: int = 10, eta: float = 0.0, spacing: str = "leading", n: int = 16,
                    seed: int = 0, n_scored: int = 300):
    """The figure of ``SamplesView`` for one setting, as a static figure."""
    view = SamplesView(model, schedule, n, seed, n_scored=n_scored)
    view.update(steps, eta, spacing)
    return finish(view.fig, view.describe(steps, eta, spacing))


class TrajectoryView:
    """Widget body of the reverse-process scrubber: x_t (top) and the predicted x_0 (bottom) at step ``i`` of
    a recorded ``Trajectory``. Every frame is tiled in ``__init__``; ``update(i)`` only swaps image data."""

    def __init__(self, trajectory: Trajectory, n: int = 8):
        import matplotlib.pyplot as plt

        from ..plotting import image_grid

        self.timesteps, self.n = trajectory.timesteps, n
        self.x_t = [image_grid(x[:n], nrow=n) for x in trajectory.x_t[:len(self.timesteps)]]
        self.x0 = [image_grid(x[:n], nrow=n) for x in trajectory.x0_pred]
        self.fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 2.9))
        self.images, self.titles = [], []
        for ax, frames in [(top, self.x_t), (bottom, self.x0)]:
            self.images.append(ax.imshow(frames[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest"))
            self.titles.append(ax.set_title(" ", fontsize=10))
            ax.axis("off")
        self.fig.tight_layout()
        self.animated = [*self.images, *self.titles]

    def describe(self, i: int = 0) -> str:
        i = min(max(int(i), 0), len(self.timesteps) - 1)
        return (f"Step {i} of {len(self.timesteps)} of a recorded DDIM run, at t = {self.timesteps[i]}. Top: x_t for "
                f"{self.n} digits; bottom: the model's prediction of x_0 from it, clipped to [-1, 1]. What does "
                "the predicted x_0 look like early in the run, half-way, and late?")

    def update(self, i: int = 0) -> None:
        i = min(max(int(i), 0), len(self.timesteps) - 1)
        t = self.timesteps[i]
        self.images[0].set_data(self.x_t[i])
        self.images[1].set_data(self.x0[i])
        self.titles[0].set_text(f"x_t at step {i} of {len(self.timesteps)}, t = {t}")
        self.titles[1].set_text(f"predicted x_0 at t = {t} (clipped to [-1, 1])")


def show_trajectory_step(trajectory: Trajectory, i: int = 0, n: int = 8):
    """The figure of ``TrajectoryView`` at step ``i``, as a static figure."""
    view = TrajectoryView(trajectory, n)
    view.update(i)
    return finish(view.fig, view.describe(i))


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
    shown = ", ".join(f"{i} (t = {trajectory.timesteps[i]})" for i in steps)
    return finish(fig, f"x_t (left) and the model's predicted x_0 (right) for {n} digits at steps {shown} of a "
                  f"{len(trajectory.timesteps)}-step DDIM run, one row per step. Compare the predicted x_0 early, "
                  "half-way and late: what appears first, the coarse shape or the details?")


class CloudView:
    """Widget body of the 2-D time scrubber. Left: ``n_paths`` of the N sampling paths (grey, fixed), with
    each path's point at step ``k`` (black); right: the whole cloud x_t at step ``k`` over the data (orange).
    ``k`` runs from 0 (x_T, pure noise) to the number of steps (the samples). Only point positions and the
    titles change on an update."""

    def __init__(self, trajectory: Trajectory, data: torch.Tensor, n_paths: int = 40, lim: float = 2.5):
        import matplotlib.pyplot as plt

        self.path = torch.stack(trajectory.x_t).numpy()  # [steps + 1, N, 2]
        self.timesteps = trajectory.timesteps
        n_points = self.path.shape[1]
        self.n_paths = n_paths = min(n_paths, n_points)
        self.fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.4))
        for ax in (left, right):
            ax.scatter(data[:, 0], data[:, 1], s=2, color="C1", alpha=0.3, label="data")
        for k in range(n_paths):
            left.plot(self.path[:, k, 0], self.path[:, k, 1], color="grey", lw=0.6, alpha=0.6,
                      label=f"{n_paths} of the {n_points:,} paths" if k == 0 else None)
        self.heads = left.scatter(self.path[0, :n_paths, 0], self.path[0, :n_paths, 1], s=10, color="k",
                                  label="their points at step k", zorder=3)
        self.cloud = right.scatter(self.path[0, :, 0], self.path[0, :, 1], s=2, color="C0",
                                   label=f"all {n_points:,} points at step k")
        left.set_title(f"{n_paths} of the {n_points:,} reverse paths")
        self.title = right.set_title(" ")
        for ax in (left, right):
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_xlabel("x_1")
            ax.legend(fontsize=8, loc="upper left", framealpha=0.9)
        left.set_ylabel("x_2")
        self.fig.tight_layout()
        self.animated = [self.heads, self.cloud, self.title]

    def label(self, k: int) -> str:
        return f"x_t at t = {self.timesteps[k]}" if k < len(self.timesteps) else "x_0 (the samples)"

    def describe(self, k: int = 0) -> str:
        k = min(max(int(k), 0), len(self.path) - 1)
        return (f"Step {k} of {len(self.path) - 1} of DDIM sampling in 2-D ({self.label(k)}). Left: {self.n_paths} of "
                f"the {self.path.shape[1]:,} reverse paths (grey) with their points at step k (black), over the "
                f"data (orange); right: all {self.path.shape[1]:,} points at step k over the data. From pure noise "
                "at step 0 to the samples at the end: when does the cloud take the data's shape?")

    def update(self, k: int = 0) -> None:
        k = min(max(int(k), 0), len(self.path) - 1)
        self.heads.set_offsets(self.path[k, :self.n_paths])
        self.cloud.set_offsets(self.path[k])
        self.title.set_text(f"step {k} of {len(self.path) - 1}: {self.label(k)}")


def train_toy_2d(steps: int = 1500, n_data: int = 8000, seed: int = 0, device="cpu"):
    """A small MLP denoiser (hidden 128, depth 3) trained ``steps`` steps on the 2-D Gaussian mixture (eight
    clusters on a circle), T = 1000, linear schedule, on ``device``, without a progress bar:
    ``(trainer, data)``; sample from ``trainer.ema_model`` with ``trainer.schedule``."""
    from ..data import make_toy_2d
    from ..mlp_denoiser import MLPDenoiser
    from ..schedules import NoiseSchedule
    from ..trainer import TrainConfig, Trainer

    data = make_toy_2d("gaussian_mixture", n_data)
    torch.manual_seed(seed)
    trainer = Trainer(MLPDenoiser(hidden=128, depth=3), NoiseSchedule.make("linear", 1000), data,
                      TrainConfig(steps=steps, batch_size=256, lr=2e-3), device=device, progress=False)
    trainer.train()
    return trainer, data


def plot_cloud_steps(trajectory: Trajectory, data: torch.Tensor, ks=None, lim: float = 2.5):
    """The whole cloud at several steps ``ks`` (default: 0, a quarter, half, three quarters and the end), one panel
    each over the data: a row of the frames the cloud scrubber shows on its right."""
    import matplotlib.pyplot as plt

    path = torch.stack(trajectory.x_t).numpy()
    last = len(path) - 1
    ks = [0, last // 4, last // 2, 3 * last // 4, last] if ks is None else [min(max(int(k), 0), last) for k in ks]
    fig, axes = plt.subplots(1, len(ks), figsize=(2.3 * len(ks), 2.6), squeeze=False)
    for ax, k in zip(axes[0], ks):
        ax.scatter(path[k, :, 0], path[k, :, 1], s=1, color="C0", label="the cloud")
        ax.scatter(data[:, 0], data[:, 1], s=1, color="C1", alpha=0.15, label="data")
        ax.set_title(f"step {k} of {last}" + (f"\nt = {trajectory.timesteps[k]}" if k < last else "\nthe samples"),
                     fontsize=9)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return finish(fig, "The whole cloud of 2-D points (blue) over the data (orange) at steps "
                  f"{', '.join(map(str, ks))} of a {last}-step DDIM run, one panel each, from pure noise to the "
                  "samples. When does the cloud take the data's shape?")


def plot_2d_trajectories(trajectory: Trajectory, data: torch.Tensor, n_paths: int = 40, k: int | None = None):
    """The figure of ``CloudView`` at step ``k`` (default: the end, the samples), as a static figure."""
    view = CloudView(trajectory, data, n_paths)
    k = len(view.path) - 1 if k is None else k
    view.update(k)
    return finish(view.fig, view.describe(k))


# ----------------------------------------------------------------------------- exercises

def ddpm_step(x_t: torch.Tensor, eps: torch.Tensor, t: int, schedule, z: torch.Tensor) -> torch.Tensor:
    """Reference DDPM step (Ho et al. Eq. 6-7 and 11, sigma_t^2 = beta_tilde_t, no clipping):
    x_{t-1} = mu_tilde(x_t, x0_hat) + sqrt(beta_tilde_t) z, with x0_hat from eps. ``x_t, eps, z [B, ...]``."""
    mean, variance, _ = p_mean_variance_from_eps(x_t, torch.full((len(x_t),), int(t)), eps, schedule)
    return mean + variance.sqrt() * z


def _ddpm_step_mistakes(x_t, eps, t, schedule, z) -> dict:
    """What the common mistakes in one DDPM step give, by the tier-1 diagnosis that names each (none of the
    diagnoses writes the step: they say what is wrong, not what to write)."""
    ab, a, beta = schedule.alpha_bar[t], schedule.alphas[t], schedule.betas[t]
    ab_prev = schedule.alpha_bar_prev[t]
    x0 = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
    c1, c2 = ab_prev.sqrt() * beta / (1 - ab), a.sqrt() * (1 - ab_prev) / (1 - ab)
    var = (1 - ab_prev) / (1 - ab) * beta

    def step(x0_hat, c1=c1, c2=c2, std=None):
        return c1 * x0_hat + c2 * x_t + (var.sqrt() if std is None else std) * z

    beta_noise = (
        "noise was added at t = 0: the posterior's variance beta_tilde_0 is 0 there, so the last step adds no "
        "noise. beta_t, the other choice of Ho et al., is not 0 at t = 0; this exercise asks for beta_tilde_t."
        if t == 0 else
        "the noise has variance beta_t, the other choice of Ho et al.: this exercise asks for the posterior's own "
        "variance beta_tilde_t (it differs from beta_t at small t, and is 0 at t = 0).")
    return {
        "x0_hat uses alpha_t where alpha_bar_t belongs: x_t is x_0 noised through all t steps at once, so its "
        "signal is scaled by the product of all the alphas up to t.": step((x_t - (1 - a).sqrt() * eps) / a.sqrt()),
        "the sign of the noise term in x0_hat is flipped: x_t is the signal plus noise, so x0_hat removes "
        "the noise.": step((x_t + (1 - ab).sqrt() * eps) / ab.sqrt()),
        "x0_hat divides by alpha_bar_t, not by its square root.": step((x_t - (1 - ab).sqrt() * eps) / ab),
        "that is x0_hat, the estimate of x_0: the step goes one level down, to x_{t-1}, drawn from the posterior "
        "q(x_{t-1} | x_t, x0_hat).": x0,
        "the weight of x_t in the posterior mean uses alpha_bar_t where alpha_t belongs: that weight involves "
        "the one step from t-1 to t, not all t steps.": step(x0, c2=ab.sqrt() * (1 - ab_prev) / (1 - ab)),
        "the weight of x0_hat in the posterior mean uses alpha_t where alpha_bar_{t-1} belongs: x_{t-1} holds "
        "x_0 scaled through all the steps up to t-1.": step(x0, c1=a.sqrt() * beta / (1 - ab)),
        "the posterior mean uses alpha_bar_t where alpha_bar_{t-1} belongs.":
            step(x0, c1=ab.sqrt() * beta / (1 - ab), c2=a.sqrt() * (1 - ab) / (1 - ab)),
        "the coefficients of x0_hat and x_t in the posterior mean are swapped.": step(x0, c1=c2, c2=c1),
        "the noise is scaled by the variance sigma_t^2 instead of the standard deviation sigma_t (a missing "
        "square root).": step(x0, std=var),
        beta_noise: step(x0, std=beta.sqrt()),
        "no noise was added: that is the posterior's mean; the step draws x_{t-1} around it, with the given z.":
            step(x0, std=0.0 * var),
        "the noise term is subtracted: -z is as random as z, but with z given the step adds sigma_t z, so that "
        "runs can be reproduced.": step(x0, std=-var.sqrt()),
    }


DDPM_HINT = ("three stages: solve the forward closed form q(x_t | x_0) for x_0, with the model's eps in place of "
             "the noise; put that estimate where x_0 stands in the posterior's mean; add the posterior's standard "
             "deviation times z (its variance is 0 at t = 0).")
DDPM_REFERENCE = ("Ho, Jain and Abbeel (2020), Denoising Diffusion Probabilistic Models: Eq. 4 (x_t from x_0), "
                  "Eq. 6-7 (the posterior q(x_{t-1} | x_t, x_0)) and §3.2 (the two choices of sigma_t^2)")


@graded
def check_ddpm_step(fn) -> None:
    """06: one DDPM step, on images ``[4, 1, 8, 8]`` and on 2-D points ``[6, 2]``, at t = 999, 500, 10, 1, 0."""
    from ..schedules import NoiseSchedule

    schedule = NoiseSchedule.make("linear", 1000)
    gen = torch.Generator().manual_seed(0)
    for shape, t in [((4, 1, 8, 8), 999), ((4, 1, 8, 8), 500), ((4, 1, 8, 8), 10), ((6, 2), 1), ((6, 2), 0),
                     ((6, 2), 500)]:
        x_t, eps, z = (torch.randn(shape, generator=gen) for _ in range(3))
        problem = diagnose(fn(x_t.clone(), eps.clone(), t, schedule, z.clone()), ddpm_step(x_t, eps, t, schedule, z),
                           _ddpm_step_mistakes(x_t.double(), eps.double(), t, schedule, z.double()))
        if problem:
            where = f"with x_t of shape {list(shape)} at t = {t}"
            return report(False, "", f"{where}: {problem}", DDPM_HINT, DDPM_REFERENCE)
    return report(True, "one ancestral step: estimate x_0, take the posterior's mean, draw around it with the "
                  "posterior's variance (zero at t = 0).", "")


def sample_loop(model, sampler, shape, generator: torch.Generator) -> torch.Tensor:
    """Reference sampling loop: x_T ~ N(0, I) from ``generator``, then ``sampler.step`` at every timestep."""
    x = torch.randn(shape, generator=generator)
    for t in sampler.timesteps:
        eps = model(x, torch.full((shape[0],), t))
        x, _ = sampler.step(eps, t, x, generator=generator)
    return x


def _toy_eps_model(x, t):
    """A smooth stand-in for a trained eps-network that insists on a tensor t of shape [B]."""
    if not torch.is_tensor(t) or t.shape != (x.shape[0],):
        raise TypeError(f"model(x_t, t) needs t as a tensor of shape [B] = [{x.shape[0]}], one timestep per "
                        f"sample (torch.full((B,), t)); it got {t!r}")
    return 0.5 * torch.tanh(x) + 0.1 * torch.sin(t.double() / 97.0).to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))


@graded
def check_sample_loop(fn) -> None:
    """06: the sampling loop, with DDPM on 2-D points (T = 50) and DDIM (10 steps, eta = 0.5) on images."""
    from ..schedules import NoiseSchedule

    for sampler, shape in [(DDPMSampler(NoiseSchedule.make("linear", 50)), (5, 2)),
                           (DDIMSampler(NoiseSchedule.make("linear", 1000), 10, eta=0.5), (3, 1, 8, 8))]:
        name = type(sampler).__name__
        torch.manual_seed(1)
        got = fn(_toy_eps_model, sampler, shape, torch.Generator().manual_seed(0))
        want = sampler.sample(_toy_eps_model, shape, generator=torch.Generator().manual_seed(0))
        gen = torch.Generator().manual_seed(0)
        x_T = torch.randn(shape, generator=gen)
        backwards, x = x_T.clone(), x_T.clone()
        for t in reversed(sampler.timesteps):
            backwards, _ = sampler.step(_toy_eps_model(backwards, torch.full((shape[0],), t)), t, backwards, gen)
        torch.manual_seed(1)
        for t in sampler.timesteps:
            x, _ = sampler.step(_toy_eps_model(x, torch.full((shape[0],), t)), t, x)
        problem = diagnose(got, want, {
            "that is the starting noise x_T: each step's result must become the next step's input.": x_T,
            "the timesteps ran from 0 up: sampling goes from t = T - 1 down to 0 (sampler.timesteps is already "
            "in that order).": backwards,
            "the steps' noise did not come from `generator` (pass generator=generator to sampler.step), so the run "
            "cannot be reproduced.": x})
        if problem:
            return report(False, "", f"with {name} and shape {list(shape)}: {problem}",
                          "start from Gaussian noise drawn with the generator; visit the sampler's timesteps in the "
                          "order it gives them; at each, ask the model for eps (one t per image) and let the "
                          "sampler's step turn x into the next x, with the same generator.",
                          "Ho, Jain and Abbeel (2020), Algorithm 2 (Sampling): the loop, with their step inside it")
    return report(True, "one loop serves every sampler: DDPM and DDIM differ only in their timesteps and step.", "")


def ddim_step(x_t, eps, alpha_bar_t: float, alpha_bar_prev: float):
    """Reference DDIM step with eta = 0: x_prev = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev) eps."""
    x0 = (x_t - (1 - alpha_bar_t) ** 0.5 * eps) / alpha_bar_t ** 0.5
    return alpha_bar_prev ** 0.5 * x0 + (1 - alpha_bar_prev) ** 0.5 * eps


def _ddim_step_mistakes(x_t, eps, a: float, b: float) -> dict:
    """What the common mistakes in one deterministic DDIM step give (``a``: alpha_bar_t, ``b``: alpha_bar_prev)."""
    x0 = (x_t - (1 - a) ** 0.5 * eps) / a ** 0.5
    return {
        "the sign of the noise term in x0_hat is flipped: x0_hat removes the predicted noise from x_t.":
            b ** 0.5 * (x_t + (1 - a) ** 0.5 * eps) / a ** 0.5 + (1 - b) ** 0.5 * eps,
        "x0_hat divides by alpha_bar_t, not by its square root.":
            b ** 0.5 * (x_t - (1 - a) ** 0.5 * eps) / a + (1 - b) ** 0.5 * eps,
        "alpha_bar_t and alpha_bar_prev are swapped: x0_hat is estimated at the current level t; the result "
        "sits at the next level.": ddim_step(x_t, eps, b, a),
        "that is x0_hat itself: the step goes only to the level alpha_bar_prev, not all the way to x_0.": x0,
        "x_t came back unchanged.": x_t,
        "the predicted noise was dropped: with eta = 0 DDIM adds no *fresh* noise, but it keeps the predicted "
        "noise direction, at the size the new level gives it.": b ** 0.5 * x0,
        "the noise part misses a square root: in the forward closed form the noise is scaled by a standard "
        "deviation, not by a variance.": b ** 0.5 * x0 + (1 - b) * eps,
        "the signal part misses a square root: in the forward closed form x_0 is scaled by the square root of "
        "alpha_bar.": b * x0 + (1 - b) ** 0.5 * eps,
        "the predicted noise kept the size it had at level t: at the new level alpha_bar_prev its size changes "
        "too.": b ** 0.5 * x0 + (1 - a) ** 0.5 * eps,
        "x0_hat kept the scale it had at level t: at the new level its scale is set by alpha_bar_prev.":
            a ** 0.5 * x0 + (1 - b) ** 0.5 * eps,
    }


DDIM_HINT = ("what does the model believe about x_t: which clean digit, and which noise in it? With no fresh "
             "noise, which point at the new level holds exactly those two beliefs, in the proportions the forward "
             "process gives that level?")
DDIM_REFERENCE = ("Song, Meng and Ermon (2021), Denoising Diffusion Implicit Models: §4.1, Eq. 12 (its three terms "
                  "named there), with sigma_t = 0 (the deterministic sampler)")


@graded
def check_ddim_step(fn) -> None:
    """06: one deterministic DDIM step, on images ``[4, 1, 8, 8]`` and on 2-D points ``[6, 2]``."""
    gen = torch.Generator().manual_seed(0)
    for shape, a, b in [((4, 1, 8, 8), 0.1, 0.3), ((4, 1, 8, 8), 0.5, 0.9), ((6, 2), 0.99, 1.0), ((6, 2), 0.02, 0.2)]:
        x_t, eps = torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)
        problem = diagnose(fn(x_t.clone(), eps.clone(), a, b), ddim_step(x_t, eps, a, b),
                           _ddim_step_mistakes(x_t.double(), eps.double(), a, b))
        if problem:
            return report(False, "", f"with x_t of shape {list(shape)}, alpha_bar_t = {a}, alpha_bar_prev = {b}: "
                          f"{problem}", DDIM_HINT, DDIM_REFERENCE)
    return report(True, "deterministic DDIM: estimate x_0, then put it at the next noise level with the same "
                  "predicted noise.", "")


# ----------------------------------------------------------------------------- widgets, for benchmarks and tests

def demo_widgets() -> dict:
    """Notebook 06's widgets with the notebook's controls and ranges, on the shipped digit checkpoint and an
    untrained 2-D MLP (its paths are short, but the scrubber does the same work): ``{name: LiveFigure}``."""
    from ipywidgets import FloatSlider, IntSlider, SelectionSlider, ToggleButtons

    from ..checkpoints import load_denoiser
    from ..data import make_toy_2d
    from ..mlp_denoiser import MLPDenoiser
    from ..schedules import NoiseSchedule
    from ..widgets import LiveFigure

    model, schedule, _ = load_denoiser()
    _, trajectory = DDIMSampler(schedule, num_steps=50, clip_x0=True).sample(
        model, (8, 1, 8, 8), generator=torch.Generator().manual_seed(1), return_trajectory=True)
    torch.manual_seed(0)
    toy = MLPDenoiser(hidden=128, depth=3).eval()
    _, path = DDIMSampler(NoiseSchedule.make("linear", 1000), num_steps=50).sample(
        toy, (1000, 2), generator=torch.Generator().manual_seed(0), return_trajectory=True)
    return {
        "samples": LiveFigure(SamplesView(model, schedule),
                              steps=SelectionSlider(options=step_options(schedule), value=10,
                                                    continuous_update=False),
                              eta=FloatSlider(value=0.0, min=0.0, max=1.0, step=0.1, continuous_update=False),
                              spacing=ToggleButtons(options=list(SPACINGS), value="leading")),
        "trajectory": LiveFigure(TrajectoryView(trajectory),
                                 i=IntSlider(value=0, min=0, max=len(trajectory.timesteps) - 1)),
        "cloud": LiveFigure(CloudView(path, make_toy_2d("gaussian_mixture", 2000)),
                            k=IntSlider(value=0, min=0, max=len(path.timesteps))),
    }


STEP_OPTIONS = (1, 2, 5, 10, 20, 50, 100, 200)  # the samples widget's steps: one sampling run per value, on a log grid


def step_options(schedule) -> list[int]:
    """The samples widget's numbers of steps: those of ``STEP_OPTIONS`` that the schedule's T allows."""
    return [s for s in STEP_OPTIONS if s <= schedule.T]
