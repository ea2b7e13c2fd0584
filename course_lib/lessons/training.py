"""Notebook 05 (training), imported there as ``lesson``: its figures, widgets and experiments, the reference
solutions and ``check_...`` functions of its exercises, and the names its code cells call (``Trainer``,
``LiveLossPlot``, ``load_denoiser``, ``use_large_config``)."""

from __future__ import annotations

import functools
import math

import torch

from ..checkpoints import load_denoiser  # the notebook calls lesson.load_denoiser
from ..diffusion import q_sample
from ..plotting import LiveLossPlot, finish  # noqa: F401  (the notebook calls lesson.LiveLossPlot)
from ..samplers import DDIMSampler, DDPMSampler
from ..schedules import NoiseSchedule
from ..study import load_studies  # noqa: F401  (the notebook calls lesson.load_studies)
from ..trainer import History, Trainer
from ..utils import use_large_config  # noqa: F401  (the notebook calls lesson.use_large_config)
from .grading import answer_text, diagnose, graded, report


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
    return finish(fig, f"Scatter plots of 2-D points on the same axes (-{lim} to {lim}), one panel per set: "
                  f"{'; '.join(clouds)}. Compare the sets' shapes: do the samples follow the data, and do points "
                  "fall where the data have none?")


TOY_POOL = 100_000  # points of one large draw of the toy data; independent sets are random subsets of it


@functools.lru_cache(maxsize=4)
def _toy_pool(name: str, seed: int) -> torch.Tensor:
    """The ``TOY_POOL`` points ``independent_points`` draws from (made once: about a second for the moons)."""
    from ..data import make_toy_2d

    return make_toy_2d(name, TOY_POOL, seed=30_000 + seed)


def independent_points(name: str, n: int, draws: int, seed: int = 0) -> list[torch.Tensor]:
    """``draws`` disjoint sets of ``n`` points of the toy distribution ``name``, each a random subset of one draw
    of ``TOY_POOL`` points: independent samples, as a perfect sampler would give. (``make_toy_2d("moons", n)`` is
    not: scikit-learn's ``make_moons`` spaces its ``n`` points evenly along the moons and only jitters them, so
    two of its draws are more alike than independent samples and score below what a perfect sampler can.)"""
    if n * draws > TOY_POOL:
        raise ValueError(f"n * draws = {n * draws:,} is more than the {TOY_POOL:,} points of the pool; ask for "
                         "fewer draws or a smaller n")
    pool = _toy_pool(name, seed)
    order = torch.randperm(TOY_POOL, generator=torch.Generator().manual_seed(seed))
    return [pool[order[i * n:(i + 1) * n]] for i in range(draws)]


def toy_scores(samples: torch.Tensor, name: str = "moons", floor_draws: int = 5, seed: int = 0) -> dict:
    """The scores of 2-D ``samples [n, 2]`` against ``n`` reference points of ``name`` (those of
    ``metrics.toy_quality``), with a fair floor: ``{"swd", "mmd", "swd_floor", "mmd_floor"}``, the sliced
    Wasserstein distance and the unbiased estimate of the squared MMD (``course_lib.metrics``). The floors are
    lists, the scores of ``floor_draws`` sets of ``n`` independent points of ``name`` (``independent_points``)
    against the same reference: what a perfect sampler scores, draw by draw. (``toy_quality``'s floor, a second
    ``make_toy_2d`` draw, is lower than that for the moons, whose points are evenly spaced.)"""
    from ..metrics import mmd, sliced_wasserstein

    samples = samples.detach().float().cpu()
    reference = toy_reference(name, len(samples), seed)
    swd_floor, mmd_floor = toy_floor(name, len(samples), floor_draws, seed)
    return {"swd": sliced_wasserstein(samples, reference), "mmd": mmd(samples, reference),
            "swd_floor": list(swd_floor), "mmd_floor": list(mmd_floor)}


def toy_reference(name: str, n: int, seed: int = 0) -> torch.Tensor:
    """The ``n`` reference points of ``name`` that ``toy_scores`` scores against (a draw apart from the data's)."""
    from ..data import make_toy_2d

    return make_toy_2d(name, n, seed=10_000 + seed)


@functools.lru_cache(maxsize=8)
def toy_floor(name: str, n: int, draws: int, seed: int = 0) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``toy_scores``' floors, ``(swd, mmd)`` of each of ``draws`` sets of ``n`` independent points against the
    reference: they depend on nothing a model does, so they are computed once per setting."""
    from ..metrics import mmd, sliced_wasserstein

    reference = toy_reference(name, n, seed)
    perfect = independent_points(name, n, draws, seed)
    return (tuple(sliced_wasserstein(x, reference) for x in perfect), tuple(mmd(x, reference) for x in perfect))


@torch.no_grad()
def toy_result(model, schedule: NoiseSchedule, data: torch.Tensor, name: str = "moons", n: int = 2000, seed: int = 0):
    """Notebook 05's toy result: ``n`` DDPM samples of ``model`` (fixed noise), their ``toy_scores`` (printed, the
    floor as mean and spread over its draws), beside the data."""
    from ..claims import mean_spread

    device = next(model.parameters()).device
    x = DDPMSampler(schedule).sample(model.eval(), (n, 2), device=device,
                                     generator=torch.Generator().manual_seed(seed)).cpu()
    q = toy_scores(x, name, seed=seed)
    print(f"samples against {n:,} reference points of the {name}: SWD {q['swd']:.3f}, MMD {q['mmd']:.4f}")
    print(f"floor, {n:,} independent points of the {name}, {len(q['swd_floor'])} draws:\n"
          f"  SWD {mean_spread(q['swd_floor'], '.3f')}\n  MMD {mean_spread(q['mmd_floor'], '.4f')}")
    return plot_points({"data": data[:n], f"{n} samples (DDPM, EMA weights)": x})


def plot_loss_by_t(history: History, T: int):
    """Bar chart of the mean training loss in each tenth of [0, T)."""
    import matplotlib.pyplot as plt

    means = history.mean_loss_by_t()
    width = T / len(means)
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.bar([width * (i + 0.5) for i in range(len(means))], means, width=0.9 * width)
    ax.set_yscale("log")
    ax.set_xlabel("timestep t")
    ax.set_ylabel("mean eps-MSE (log scale)")
    ax.set_title("mean training loss per tenth of t")
    return finish(fig, f"Bar chart of the mean training loss (eps-MSE, log scale) in each tenth of the timesteps, 0 "
                  f"to {T - 1}, small t on the left. Which tenth of t has the tallest bar, and how many powers of "
                  "ten separate the bars at the two ends?")


T_REGIONS = ("small", "middle", "large")


def hardest_t(by_t) -> str:
    """Where the largest mean loss of ``by_t`` (a list, one mean per equal bucket of t, small t first) sits:
    the "small", "middle" or "large" third of the timestep range."""
    values = torch.as_tensor(by_t, dtype=torch.float64).nan_to_num(nan=-1.0)
    i = int(values.argmax())
    return T_REGIONS[min(3 * i // len(values), 2)]


@graded
def check_hardest_t(prediction, by_t) -> None:
    """05, predict-then-run: at which t is predicting the noise hardest? ``prediction`` is "small", "middle" or
    "large"; ``by_t`` is the trainer's measured mean loss per tenth of t (``History.mean_loss_by_t()``)."""
    text = answer_text(prediction)
    answer = next((r for r in T_REGIONS if r in text), None)
    if answer is None:
        return report(False, "", f"write the prediction as one of {', '.join(map(repr, T_REGIONS))}; "
                      f"it is {prediction!r}.")
    actual = hardest_t(by_t)
    ratio = by_t[0] / by_t[-1]  # trained numbers vary by CPU: the verdict names a margin, not the value
    margin = "over 10 times" if ratio > 10 else f"{ratio:.1f} times"
    why = {"large": "at large t the input is almost pure noise, x_t ~ eps, so the network can nearly copy its input: "
                    "large t is the easy end.",
           "middle": "the loss does not peak in the middle: it falls steadily as t grows."}
    return report(answer == actual,
                  f"the loss is largest at {actual} t ({margin} the loss of the last tenth): a little noise "
                  "hidden in the data is hard to tell apart from the data itself.",
                  why.get(answer, f"the bars above peak at {actual} t."),
                  formula="x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps: as alpha_bar_t -> 0, x_t -> eps, "
                          "and as alpha_bar_t -> 1 the noise is a vanishing part of x_t.",
                  reference="the bar chart of the mean loss per tenth of t above")


class ToySamplesView:
    """Widget body: DDIM samples of a 2-D model over the toy data ``name``, for a number of DDIM ``steps``,
    with their sliced Wasserstein distance (SWD) to reference points of the data and its floor (the mean SWD
    of sets of independent points, as in ``toy_scores``).
    Built once (data, reference points and floor included); ``update(steps)`` samples (it computes: its control
    is built with ``continuous_update=False``) and only moves the sample points and the title."""

    def __init__(self, model, schedule: NoiseSchedule, name: str = "moons", n: int = 1000, seed: int = 0):
        import matplotlib.pyplot as plt

        from ..data import make_toy_2d
        from ..metrics import sliced_wasserstein

        self.model, self.schedule, self.name, self.n, self.seed = model.eval(), schedule, name, n, seed
        data = make_toy_2d(name, n, seed=seed)
        self.reference = make_toy_2d(name, n, seed=10_000 + seed)  # the points toy_scores compares with
        perfect = independent_points(name, n, 5, seed)  # its floor: the mean over 5 draws
        self.floor = sum(sliced_wasserstein(x, self.reference) for x in perfect) / len(perfect)
        self.fig, ax = plt.subplots(figsize=(4.4, 4.4))
        ax.scatter(data[:, 0], data[:, 1], s=3, alpha=0.3, color="C1", label="data")
        self.points = ax.scatter(data[:, 0], data[:, 1], s=3, alpha=0.6, color="C0", label="samples")
        self.title = ax.set_title(" ", fontsize=10)
        ax.set_xlim(-1.8, 1.8)
        ax.set_ylim(-1.8, 1.8)
        ax.set_aspect("equal")
        ax.set_xlabel("x_1")
        ax.set_ylabel("x_2")
        ax.legend(fontsize=8, loc="lower left", markerscale=4)
        self.fig.tight_layout()
        self.animated = [self.points, self.title]

    def describe(self, steps: int = 20) -> str:
        return (f"{self.n} DDIM samples of the 2-D model with {steps} trailing steps (blue) over {self.n} points of "
                f"the {self.name} data (orange); the title gives the samples' sliced Wasserstein distance (SWD) to "
                "reference points and its floor. Do the samples cover the data's shape, and only it?")

    @torch.no_grad()
    def update(self, steps: int = 20) -> None:
        from ..metrics import sliced_wasserstein

        steps = int(steps)
        device = next(self.model.parameters()).device
        x = DDIMSampler(self.schedule, steps, spacing="trailing").sample(self.model, (self.n, 2), device=device,
                                                     generator=torch.Generator().manual_seed(self.seed)).cpu()
        self.points.set_offsets(x.numpy())
        self.title.set_text(f"DDIM, {steps} trailing steps: SWD {sliced_wasserstein(x, self.reference):.3f} "
                            f"(floor {self.floor:.3f})")


def toy_samples_widget(model, schedule: NoiseSchedule, name: str = "moons"):
    """A DDIM step-count widget for a 2-D model: ``ToySamplesView`` under ``toy_steps_slider`` (no longer shown in
    notebook 05, which comes before notebook 06 teaches DDIM)."""
    from ..widgets import LiveFigure

    return LiveFigure(ToySamplesView(model, schedule, name), steps=toy_steps_slider(schedule.T))


def show_toy_samples(model, schedule, name: str = "moons", steps: int = 20, n: int = 1000, seed: int = 0):
    """``ToySamplesView`` for one number of DDIM ``steps``, as a static figure."""
    view = ToySamplesView(model, schedule, name, n, seed)
    view.update(steps)
    return finish(view.fig, view.describe(steps))


def plot_loss_curves(curves: dict, window: int = 25, logx: bool = False):
    """Loss curves ``{label: [loss per step]}`` on a log y axis (a diffusion loss falls by decades early on and
    then slowly), each as its mean over ``window`` steps over the faint batch losses."""
    import matplotlib.pyplot as plt

    from ..plotting import smooth

    fig, ax = plt.subplots(figsize=(6.4, 3))
    for k, (label, loss) in enumerate(curves.items()):
        steps = range(1, len(loss) + 1)
        smoothed = smooth(loss, window)
        ax.plot(steps, loss, color=f"C{k}", lw=0.5, alpha=0.25)
        ax.plot(steps[len(loss) - len(smoothed):], smoothed, color=f"C{k}", lw=1.6,
                label=f"{label} (mean of {window} steps)")
    ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel("training step" + (" (log scale)" if logx else ""))
    ax.set_ylabel("eps-MSE (log scale)")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return finish(fig, "Training loss (eps-MSE, log scale) against the training step"
                  f"{' (log scale)' if logx else ''}, one colour per run ({'; '.join(curves)}): faint lines are "
                  f"the batch losses, solid lines their mean over {window} steps. Compare how fast each run's loss "
                  "falls, and how noisy it is from batch to batch.")


@torch.no_grad()
def ddim_digits(model, schedule: NoiseSchedule, n: int = 36, steps: int = 20, seed: int = 0) -> torch.Tensor:
    """``n`` digit samples ``[n, 1, 8, 8]`` by DDIM with ``steps`` steps (clipped x0-hat), from fixed noise."""
    sampler = DDIMSampler(schedule, num_steps=steps, clip_x0=True)
    device = next(model.parameters()).device
    x = sampler.sample(model.eval(), (n, 1, 8, 8), generator=torch.Generator().manual_seed(seed), device=device)
    return x.cpu()


def show_digit_samples(models: dict, schedule: NoiseSchedule, n: int = 36, steps: int = 50, seed: int = 0,
                       data: torch.Tensor | None = None):
    """Grids of ``n`` DDIM samples from each model of ``models`` (``{title: model}``, same noise), beside real
    digits when ``data`` is given; nearest-neighbour pixels, large enough to read. Each sample grid's title gets
    a second line naming the sampler and its number of (sampling) ``steps``."""
    import matplotlib.pyplot as plt

    from ..plotting import image_grid

    panels = ({"real digits": data[:n]} if data is not None else {}) | {
        f"{title}\n(DDIM, {steps} sampling steps)": ddim_digits(m, schedule, n, steps, seed)
        for title, m in models.items()}
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.6), squeeze=False)
    for ax, (title, x) in zip(axes[0], panels.items()):
        ax.imshow(image_grid(x, nrow=6), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    real = f"{n} real digits beside " if data is not None else ""
    whose = (f"{n} samples of each of {len(models)} models" if len(models) > 1 else
             f"{n} samples from the {next(iter(models))}")
    return finish(fig, f"Grids of 8x8 digits, each pixel drawn as a block: {real}{whose} (DDIM, {steps} sampling "
                  "steps, the same starting noise), the titles naming the model. Do the samples' strokes make "
                  "shapes that read as digits?")


class TrainMoreView:
    """Widget body of the "train N more steps" control: a grid of digit samples from a trainer's EMA weights
    (DDIM with ``steps`` sampling steps, 50 as in ``show_digit_samples``, and the same noise every time, so a
    change is the model's) beside its loss curve on log axes.
    ``update()`` draws the model as it is now and returns the trainer's step count, which names the
    background (the loss axes' limits change as training goes on)."""

    def __init__(self, trainer, n: int = 36, steps: int = 50, seed: int = 0):
        import matplotlib.pyplot as plt

        from ..plotting import image_grid

        self.trainer, self.n, self.steps, self.seed = trainer, n, steps, seed
        self.fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.6), gridspec_kw={"width_ratios": [1, 1.4]})
        self.grid = a.imshow(image_grid(torch.zeros(n, 1, 8, 8), nrow=6), cmap="gray", vmin=0, vmax=1,
                             interpolation="nearest")
        self.grid_title = a.set_title(self.title(), fontsize=10)  # two lines, as update() writes them
        a.axis("off")
        (self.loss_line,) = b.plot([], [], lw=0.6, color="C0", alpha=0.4, label="batch loss")
        (self.smooth_line,) = b.plot([], [], lw=1.5, color="C0", label="mean of 25 steps")
        b.set_xscale("log")
        b.set_yscale("log")
        b.set_xlim(1, 10)
        b.set_ylim(0.01, 1)
        b.set_xlabel("training step (log scale)")
        b.set_ylabel("eps-MSE (log scale)")
        b.set_title("loss so far", fontsize=10)
        b.legend(fontsize=8, loc="upper right")
        self.loss_axes = b
        self.fig.tight_layout(rect=(0, 0, 1, 0.96))  # tight_layout leaves the two-line title a little short
        self.animated = [self.grid, self.grid_title, self.loss_line, self.smooth_line]

    def title(self) -> str:
        return f"EMA weights, {self.trainer.step} training steps\n(DDIM, {self.steps} sampling steps)"

    def describe(self) -> str:
        return (f"Left: a grid of {self.n} digits sampled from the trainer's EMA weights (DDIM, {self.steps} sampling "
                "steps, the same starting noise every time), titled with the training steps so far. Right: the "
                "loss so far, batch loss and its mean over 25 steps, on log axes. Train N more steps and watch "
                "the digits change.")

    def update(self) -> int:
        from ..plotting import image_grid, smooth

        tr = self.trainer
        x = ddim_digits(tr.ema_model if tr.step else tr.model, tr.schedule, self.n, self.steps, self.seed)
        self.grid.set_data(image_grid(x, nrow=6))
        self.grid_title.set_text(self.title())
        steps, loss = tr.history.step, tr.history.loss
        if steps:
            smoothed = smooth(loss, 25)
            self.loss_line.set_data(steps, loss)
            self.smooth_line.set_data(steps[len(steps) - len(smoothed):], smoothed)
            self.loss_axes.set_xlim(1, max(10, steps[-1]))
            self.loss_axes.set_ylim(min(loss) * 0.8, max(loss) * 1.2)
        return tr.step


def train_more_widget(trainer, n_more: int = 100, n: int = 36, steps: int = 50, seed: int = 0):
    """The "train N more steps" widget of notebook 05 (see ``TrainMoreView``): a ``LiveFigure`` under a number
    box ``live.more`` (N) and a button ``live.button``. Training runs only on a click: ``trainer.train`` to
    ``trainer.step + N`` (no progress bar, no callback), then the figure is drawn again. The live figure has
    no value controls (nothing to sweep); ``live.train_more()`` does what a click does."""
    import time

    import ipywidgets

    from ..widgets import LiveFigure

    live = LiveFigure(TrainMoreView(trainer, n, steps, seed))
    live.more = ipywidgets.BoundedIntText(value=n_more, min=10, max=5000, step=10, description="N")
    live.button = ipywidgets.Button(description="train N more steps", button_style="primary")

    def train_more(_=None):
        live.button.disabled, live.button.description = True, "training..."
        progress, callback = trainer.progress, trainer.callback
        trainer.progress, trainer.callback = False, None
        try:
            trainer.train(trainer.step + int(live.more.value))
            start = time.perf_counter()
            live.cache.clear()  # the model changed: the frame for "no control values" is stale
            live.image.value = live.render()
            live.last_seconds = time.perf_counter() - start
        finally:
            trainer.progress, trainer.callback = progress, callback
            live.button.disabled, live.button.description = False, "train N more steps"

    live.train_more = train_more
    live.button.on_click(train_more)
    live.widget = ipywidgets.VBox([ipywidgets.HBox([live.more, live.button]), live.widget])
    live.widget.add_class("live-figure")
    return live


class X0HatView:
    """Widget body: for a few training digits x_0, the noised x_t at step t (fixed noise) and the model's
    estimate x0-hat = predict_x0(x_t, t, eps_theta(x_t, t)), one row per digit (clipped to [-1, 1] for display),
    with the error of x0-hat and the factor sqrt((1 - alpha_bar_t) / alpha_bar_t) by which x0-hat's error is the
    noise estimate's error: x0-hat - x_0 = -sqrt((1 - alpha_bar_t) / alpha_bar_t) (eps-hat - eps).
    Every t of the slider's grid ``ts`` is computed once in ``__init__`` (one batched forward pass);
    ``update(t)`` only swaps images and text."""

    @torch.no_grad()
    def __init__(self, model, schedule: NoiseSchedule, digits: torch.Tensor, ts=None, seed: int = 0):
        import matplotlib.pyplot as plt

        from ..diffusion import predict_x0

        if ts is None:  # about 50 values of t from 0 to T - 1, whatever T the schedule has
            ts = range(0, schedule.T, max(1, schedule.T // 50))
        self.ts = [int(t) for t in ts]
        k = len(digits)
        x0 = digits.float().cpu()
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
        x0_rep = x0.repeat(len(self.ts), 1, 1, 1)  # [len(ts) * k, 1, 8, 8], t-major
        t = torch.tensor(self.ts).repeat_interleave(k)
        x_t = q_sample(x0_rep, t, schedule, noise=noise.repeat(len(self.ts), 1, 1, 1))
        model = model.eval()
        device = next(model.parameters()).device
        eps = model(x_t.to(device), t.to(device)).cpu()
        x0_hat = predict_x0(x_t, t, eps, schedule).clamp(-1, 1)
        self.frames = {s: (x_t[i * k:(i + 1) * k], x0_hat[i * k:(i + 1) * k]) for i, s in enumerate(self.ts)}
        self.errors = {s: ((x0_hat[i * k:(i + 1) * k] - x0) ** 2).mean().item() for i, s in enumerate(self.ts)}
        self.alpha_bar = schedule.alpha_bar
        self.fig, axes = plt.subplots(k, 3, figsize=(5.4, 1.75 * k + 0.4), squeeze=False)
        self.x_t_images, self.x0_hat_images = [], []
        for row, img in zip(axes, x0):
            row[0].imshow(_unit(img), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            self.x_t_images.append(row[1].imshow(_unit(img), cmap="gray", vmin=0, vmax=1, interpolation="nearest"))
            self.x0_hat_images.append(row[2].imshow(_unit(img), cmap="gray", vmin=0, vmax=1,
                                                    interpolation="nearest"))
            for ax in row:
                ax.axis("off")
        axes[0, 0].set_title("x_0\n(training digit)", fontsize=10)
        self.x_t_title = axes[0, 1].set_title(" ", fontsize=10)
        self.x0_hat_title = axes[0, 2].set_title(" ", fontsize=10)
        self.fig.tight_layout()
        self.animated = [*self.x_t_images, *self.x0_hat_images, self.x_t_title, self.x0_hat_title]

    def describe(self, t: int = 300) -> str:
        t = min(self.ts, key=lambda s: abs(s - int(t)))
        return (f"For {len(self.x_t_images)} training digits, one per row, at t = {t}: the clean digit x_0, the "
                "digit noised to step t (x_t, titled with alpha_bar[t]), and the model's estimate x0-hat of the "
                "clean digit, titled with the factor by which the noise estimate's error reaches it and its MSE to "
                "x_0. Is x0-hat sharp, a blur, or amplified noise?")

    def update(self, t: int = 300) -> None:
        t = min(self.ts, key=lambda s: abs(s - int(t)))  # the nearest precomputed t
        x_t, x0_hat = self.frames[t]
        for image, x in zip(self.x_t_images, x_t):
            image.set_data(_unit(x))
        for image, x in zip(self.x0_hat_images, x0_hat):
            image.set_data(_unit(x))
        alpha_bar = float(self.alpha_bar[t])
        self.x_t_title.set_text(f"x_t, t = {t}\nalpha_bar {alpha_bar:.2g}")
        self.x0_hat_title.set_text(f"x0-hat: eps error ×{error_factor(alpha_bar)}\nMSE to x_0: {self.errors[t]:.3f}")


def error_factor(alpha_bar: float) -> str:
    """sqrt((1 - alpha_bar) / alpha_bar), the factor from an error of eps-hat to the error of x0-hat, as text
    (two significant digits, no exponent)."""
    factor = math.sqrt((1 - alpha_bar) / alpha_bar) if alpha_bar > 0 else math.inf
    return f"{factor:.2g}" if factor < 10 else f"{factor:.0f}"


def _unit(x: torch.Tensor):
    """An image ``[1, H, W]`` in [-1, 1] as an ``imshow`` array in [0, 1]."""
    return ((x.clamp(-1, 1) + 1) / 2)[0].numpy()


def x0_hat_widget(model, schedule: NoiseSchedule, digits: torch.Tensor):
    """Notebook 05's x0-hat widget: ``X0HatView`` under its t slider (``x0_hat_slider``, from ``schedule.T``)."""
    from ..widgets import LiveFigure

    view = X0HatView(model, schedule, digits)
    return LiveFigure(view, t=x0_hat_slider(view))


def show_x0_hat(model, schedule: NoiseSchedule, digits: torch.Tensor, t: int = 300):
    """``X0HatView`` at one ``t``, as a static figure."""
    view = X0HatView(model, schedule, digits, ts=[t])
    view.update(t)
    return finish(view.fig, view.describe(t))


def show_x0_hat_at(model, schedule: NoiseSchedule, digits: torch.Tensor, ts=None):
    """A static figure of ``X0HatView`` at a few ``t`` (default: small t, half-way and near T, from
    ``schedule.T``): one row per digit, x_0 then, for each t, x_t beside x0-hat, titled with t and the factor
    sqrt((1 - alpha_bar_t) / alpha_bar_t) that turns the noise estimate's error into x0-hat's."""
    import matplotlib.pyplot as plt

    T = schedule.T
    ts = sorted({int(t) for t in (ts if ts is not None else (T // 50, T // 2, T - 1 - T // 50))})
    view = X0HatView(model, schedule, digits, ts=ts)
    plt.close(view.fig)
    k = len(digits)
    fig, axes = plt.subplots(k, 1 + 2 * len(ts), figsize=(1.15 * (1 + 2 * len(ts)), 1.2 * k + 0.6), squeeze=False)
    for i, img in enumerate(digits.float().cpu()):
        axes[i, 0].imshow(_unit(img), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        for j, t in enumerate(ts):
            x_t, x0_hat = view.frames[t]
            axes[i, 1 + 2 * j].imshow(_unit(x_t[i]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            axes[i, 2 + 2 * j].imshow(_unit(x0_hat[i]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    for ax in axes.flat:
        ax.axis("off")
    axes[0, 0].set_title("x_0", fontsize=9)
    for j, t in enumerate(ts):
        axes[0, 1 + 2 * j].set_title(f"x_t, t = {t}", fontsize=9)
        axes[0, 2 + 2 * j].set_title(f"x0-hat\n(error ×{error_factor(float(schedule.alpha_bar[t]))})", fontsize=9)
    fig.tight_layout()
    return finish(fig, f"For {k} training digits, one per row: the clean digit x_0, then for each of t = "
                  f"{', '.join(map(str, ts))} the digit noised to step t (x_t) beside the model's estimate x0-hat, "
                  "titled with the factor by which the noise estimate's error reaches x0-hat. Compare x0-hat at "
                  "small t, half-way and near T.")


def demo_widgets() -> dict:
    """Notebook 05's widgets, same controls and ranges, on stand-ins: the shipped digits checkpoint for x0-hat, and
    a width-8 U-Net trainer for "train N more steps". (The DDIM step-count widget, ``toy_samples_widget``, is not
    in notebook 05 any more: DDIM is taught in notebook 06.)"""
    from ..data import load_digits
    from ..trainer import TrainConfig
    from ..unet import UNet
    from ..widgets import LiveFigure

    torch.manual_seed(0)
    linear = NoiseSchedule.make("linear", 1000)
    model, schedule, _ = load_denoiser()
    digits = load_digits(split="train")
    small = Trainer(UNet(base_channels=8), linear, digits, TrainConfig(steps=10, batch_size=32, log_every=10),
                    device="cpu", progress=False)
    return {
        "x0_hat": LiveFigure(view := X0HatView(model, schedule, digits[:4]), t=x0_hat_slider(view)),
        "train_more": train_more_widget(small, n_more=10),
    }


TOY_STEP_COUNTS = (1, 2, 5, 10, 20, 50, 100, 200)  # log-spaced: what changes is few steps against many


def toy_steps_slider(T: int | None = None):
    """The DDIM step-count control of notebook 05 (it samples: ``continuous_update=False``); with ``T``, only the
    counts a schedule of ``T`` steps allows (``T`` itself at most)."""
    from ipywidgets import SelectionSlider

    options = [s for s in TOY_STEP_COUNTS if T is None or s < T] + ([T] if T is not None else [])
    value = min(options, key=lambda s: abs(s - 20))
    return SelectionSlider(options=options, value=value, continuous_update=False, description="steps")


def x0_hat_slider(view: X0HatView):
    """The t control of ``view``: its grid is the view's precomputed ``ts`` (it starts near 3/10 of the chain)."""
    from ipywidgets import IntSlider

    step = view.ts[1] - view.ts[0] if len(view.ts) > 1 else 1
    start = min(view.ts, key=lambda s: abs(s - 0.3 * (view.ts[-1] + step)))
    return IntSlider(value=start, min=view.ts[0], max=view.ts[-1], step=step, description="t")


# ----------------------------------------------------------------------------- EMA over seeds

def ema_decay_at(n: int, decay: float) -> float:
    """The decay d_n = min(decay, (1 + n) / (10 + n)) of the EMA update number ``n`` (counted from 0, as in
    ``course_lib.trainer.ema_avg_fn``)."""
    return min(decay, (1 + n) / (10 + n))


def ema_warmup_updates(decay: float) -> int:
    """The first update count n at which the warm-up (1 + n) / (10 + n) reaches ``decay``."""
    n = math.ceil((10 * decay - 1) / (1 - decay) - 1e-9)
    return n if ema_decay_at(n, decay) >= decay else n + 1


def ema_horizon(trainer) -> dict[str, float]:
    """Where a ``Trainer``'s EMA stands now: ``{"updates", "decay", "horizon", "full_decay", "warmup"}``.
    ``decay`` is the d_n of its latest update (from ``trainer.ema.n_averaged``, with ``ema_decay_at``),
    ``horizon`` = 1 / (1 - d_n), roughly how many recent steps the average spans; ``full_decay`` is
    ``trainer.config.ema_decay`` and ``warmup`` the number of updates after which d_n reaches it."""
    updates = int(trainer.ema.n_averaged)  # the first of them copies the weights; the average starts after it
    full = float(trainer.config.ema_decay)
    decay = ema_decay_at(max(updates - 1, 0), full) if updates > 1 else 0.0
    return {"updates": updates, "decay": decay, "horizon": 1 / (1 - decay), "full_decay": full,
            "warmup": ema_warmup_updates(full)}


def train_digit_unet(seed: int = 0, steps: int = 500, width: int = 16, lr: float = 2e-3, ema_decay: float = 0.995,
                     device="cpu", progress: bool = False, **trainer_kwargs):
    """The digits run of notebook 05 for one ``seed`` (U-Net init and batches): ``steps`` AdamW steps at a
    constant learning rate ``lr``, batch 128, with EMA weights of decay ``ema_decay``. Returns the ``Trainer``."""
    from ..data import load_digits
    from ..schedules import NoiseSchedule
    from ..trainer import TrainConfig
    from ..unet import UNet

    torch.manual_seed(seed)
    trainer = Trainer(UNet(base_channels=width), NoiseSchedule.make("linear", 1000), load_digits(split="train"),
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
        device = next(model.parameters()).device  # sampled where the model is: a trainer can go on training
        x = sampler.sample(model.eval(), (n, 1, 8, 8), generator=torch.Generator().manual_seed(sample_seed),
                           device=device).cpu()
        q = digit_quality(x, seed=sample_seed)
        out[label] = q["fd"]
    trainer.model.train()
    out.update(floor=q["floor"], ceiling=q["ceiling"])
    return out


def print_raw_vs_ema(trainer, n: int = 300, floor_draws: int = 5, sample_draws: int = 3) -> dict:
    """Notebook 05: ``raw_vs_ema`` of this trainer over ``sample_draws`` sampling seeds (0, 1, ...: the score's
    draw-to-draw spread for each model), the floor (``n`` real training digits) over ``floor_draws`` draws, and
    the pure-noise ceiling. Returns the mean FDs, with the run's steps and width, for ``plot_ema_study(live=...)``."""
    from ..claims import mean_spread
    from ..metrics import floor_by_n

    draws = [raw_vs_ema(trainer, n, sample_seed=s) for s in range(sample_draws)]
    fds = {label: [d[label] for d in draws] for label in ("raw", "ema")}
    for label in ("raw", "ema"):
        print(f"{label.upper() if label == 'ema' else label} weights, {sample_draws} sample draws of {n}: FD "
              f"{mean_spread(fds[label], '.1f').replace('seeds)', 'draws)')}")
    print(f"floor, {n} real training digits, {floor_draws} draws: FD "
          f"{mean_spread(floor_by_n(ns=(n,), seeds=range(floor_draws))[n], '.1f').replace('seeds)', 'draws)')}; "
          f"pure noise: {draws[0]['ceiling']:.1f}")
    width = getattr(getattr(trainer.model, "config", None), "base_channels", None)
    return {"raw": sum(fds["raw"]) / sample_draws, "ema": sum(fds["ema"]) / sample_draws,
            "steps": int(trainer.step), "width": width}


def _against_the_score_noise(rows: list[dict], wins: int) -> list[str]:
    """The study's raw - EMA differences read against the score's own draw-to-draw spread (the SD of the rows'
    floors: the FD of ``n`` real digits, each row drawing them with its own seed), and a one-sided sign test of
    ``wins`` lower EMA scores in ``len(rows)`` seeds (binomial, p = 1/2)."""
    import statistics

    k = len(rows)
    if k < 2:
        return []
    noise = statistics.stdev(r["floor"] for r in rows)
    lower = sum(r["raw"] - r["ema"] > noise for r in rows)
    higher = sum(r["ema"] - r["raw"] > noise for r in rows)
    p = sum(math.comb(k, j) for j in range(wins, k + 1)) / 2 ** k
    return [f"the score's own draw-to-draw spread (SD of the floor over its {k} draws): {noise:.1f}",
            f"EMA FD lower by more than that spread in {lower} of {k} seeds, higher by more in {higher}, "
            f"within it in {k - lower - higher}",
            f"sign test, {wins} of {k} seeds lower: one-sided p = {p:.2f}"]


def ema_study_report(rows: list[dict], ema_decay: float = 0.995) -> str:
    """The shipped EMA study (rows of ``ema_study``) seed by seed, with the mean and spread of each column, how
    many seeds the EMA weights won, and the EMA horizon 1 / (1 - d_n) at the rows' last step (``ema_decay``: the
    study's decay d, that of ``train_digit_unet``)."""
    from ..claims import mean_spread

    lines = [f"seed {r['seed']}: raw FD {r['raw']:6.1f}, EMA FD {r['ema']:5.1f}, raw / EMA = {r['raw'] / r['ema']:.2f}"
             f"  (floor {r['floor']:.1f})" for r in rows]
    for label, key in (("raw weights", "raw"), ("EMA weights", "ema"), ("floor", "floor")):
        lines.append(f"{label + ':':<13}FD {mean_spread([r[key] for r in rows], '.1f')}")
    wins = sum(r["raw"] > r["ema"] for r in rows)
    lines.append(f"the EMA weights scored the lower FD in {wins} of {len(rows)} seeds")
    lines += _against_the_score_noise(rows, wins)
    steps = rows[0]["steps"]
    lines.append(f"EMA horizon at step {steps}: 1 / (1 - d_n) = {1 / (1 - ema_decay_at(steps - 1, ema_decay)):.0f} "
                 f"steps (1 / (1 - d) = {1 / (1 - ema_decay):.0f})")
    return "\n".join(lines)


def ema_study(seeds=(0, 1, 2), steps: int = 500, width: int = 16, n: int = 300) -> list[dict]:
    """``raw_vs_ema`` for one training run per seed, sampled and floored with the same seed:
    ``[{"seed", "steps", "width", "n", "raw", "ema", "floor", "ceiling"}, ...]`` (``floor``: ``n`` real training
    digits drawn with ``seed`` against the held-out ones, so the rows show the floor's spread across draws).
    The margin of the claim "EMA samples score better than the raw weights" is ``raw - ema``."""
    rows = []
    for seed in seeds:
        trainer = train_digit_unet(seed, steps=steps, width=width)
        rows.append({"seed": seed, "steps": steps, "width": width, "n": n,
                     **raw_vs_ema(trainer, n, sample_seed=seed)})
    return rows


def ema_run(seed: int, budgets=(500,), device="cpu", width: int = 16, n: int = 300) -> list[dict]:
    """One seed of the EMA study for the study runner: a row per budget (``ema_study``'s fields but ``seed``).
    Runs on the CPU (``device`` is accepted for the runner)."""
    return [{k: v for k, v in row.items() if k != "seed"} for steps in budgets
            for row in ema_study((seed,), steps=steps, width=width, n=n)]


def ema_runs() -> Study:  # noqa: F821
    """The shipped EMA study of notebook 05 (``python -m course_lib study ema``): the notebook's 500-step digits
    run (width 16, constant learning rate 2e-3, EMA decay 0.995, the 1,000 "train" digits) for 5 seeds; FD of 300
    DDIM-50 samples (sampling seed = training seed) from the raw and the EMA weights against the held-out digits,
    each row with its own floor (300 real "train" digits drawn with the row's seed)."""
    import platform

    from ..study import SHIPPED_RESULTS
    from ..study_runner import Study

    return Study("ema", ema_run, [{"width": 16}], seeds=range(5), budgets=(500,),
                 out=SHIPPED_RESULTS / "ema_study.json", kwargs={"n": 300}, required=("raw", "ema", "floor"),
                 meta=lambda: {"torch": torch.__version__, "machine": platform.machine(),
                               "command": "python -m course_lib study ema"})


def plot_ema_study(rows: list[dict], live: dict | None = None):
    """FD of the raw and the EMA weights, one line per seed (rows of ``ema_study``), with the rows' floors: their
    range (band) and mean (dashed). ``live``, if given (``print_raw_vs_ema``'s result), is drawn in red: the
    notebook's own run, labelled with its steps and width."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3))
    for r in rows:
        ax.plot([0, 1], [r["raw"], r["ema"]], "o-", color="C0", alpha=0.6)
    floors = [r["floor"] for r in rows]
    ax.axhspan(min(floors), max(floors), color="grey", alpha=0.2, lw=0,
               label=f"floor: real training digits, {len(floors)} draws (min to max)")
    ax.axhline(sum(floors) / len(floors), color="grey", ls="--", lw=1)
    top = max(max(r["raw"], r["ema"]) for r in rows)
    if live is not None:
        width = f", width {live['width']}" if live.get("width") else ""
        ax.plot([0, 1], [live["raw"], live["ema"]], "D-", color="C3", lw=2,
                label=f"this notebook's run: {live['steps']} steps{width}")
        top = max(top, live["raw"], live["ema"])
    ax.set_xticks([0, 1], ["raw weights", "EMA weights"])
    ax.set_xlim(-0.4, 1.4)
    ax.set_ylabel("Fréchet distance (lower is better)")
    ax.set_title(f"{len(rows)} seeds, {rows[0]['steps']} steps, constant lr")
    ax.set_ylim(0, 1.3 * top)  # headroom for the legend
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    mine = ", this notebook's run in red" if live is not None else ""
    return finish(fig, "Frechet distance (lower is better) of the samples of the raw weights (left) and of the EMA "
                  f"weights (right), one blue line per seed of the shipped study ({len(rows)} seeds, "
                  f"{rows[0]['steps']} steps, constant learning rate){mine}; the grey band is the range of the "
                  "floor (real training digits), dashed its mean. Does each line fall from raw to EMA, and how far "
                  "apart do the seeds lie?")


# ----------------------------------------------------------------------------- exercises

def eps_loss(model, x0, t, noise, schedule: NoiseSchedule):
    """Reference: || noise - model(q_sample(x0, t, noise), t) ||^2, averaged."""
    x_t = q_sample(x0, t, schedule, noise=noise)
    return ((model(x_t, t) - noise) ** 2).mean()


EPS_LOSS_FORMULA = ("what will the network have when it samples? Only a noisy x_t and its t. Make that x_t from x0 "
                    "and the noise as notebook 04 did (one alpha_bar per example, shaped to broadcast over x0's other "
                    "dimensions); then ask: what should the network answer, and which score of a numeric answer is 0 "
                    "when it is right and does not grow with the batch or the image size?")


def _per_example(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return values.view(-1, *[1] * (x.dim() - 1))


def eps_loss_mistakes(model, x0, t, noise, schedule: NoiseSchedule) -> dict:
    """The values the common wrong versions of ``eps_loss`` return, by diagnosis (no formula in them)."""
    ab, a = _per_example(schedule.alpha_bar[t], x0).float(), _per_example(schedule.alphas[t], x0).float()
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    mse = lambda pred, target: ((pred - target) ** 2).mean()
    return {
        "x_t is built with alpha_t (one step) where alpha_bar_t (all steps up to t) belongs.":
            mse(model(a.sqrt() * x0 + (1 - a).sqrt() * noise, t), noise),
        "a square root is missing in x_t: alpha_bar_t and 1 - alpha_bar_t are variances.":
            mse(model(ab * x0 + (1 - ab) * noise, t), noise),
        "the target is x0; the network predicts the noise that was added, so the target is `noise`.":
            mse(model(x_t, t), x0),
        "the model is given x0; it must see the noised x_t (it never sees a clean x0 when sampling).":
            mse(model(x0, t), noise),
        "that is a sum of squared errors; L_simple is their mean (the same minimiser, a scale that depends on "
        "the batch size and the image size).": ((model(x_t, t) - noise) ** 2).sum(),
        "the error is not squared.": (model(x_t, t) - noise).mean(),
        "the two weights of x_t are swapped: at small t, x_t is almost all x0 and only a little noise.":
            mse(model((1 - ab).sqrt() * x0 + ab.sqrt() * noise, t), noise),
        "every example of the batch got the same alpha_bar (the one of the first example's t); each example has "
        "its own t, so each needs its own alpha_bar_t.":
            mse(model(ab[:1].sqrt() * x0 + (1 - ab[:1]).sqrt() * noise, t), noise),
        "every example of the batch got the same alpha_bar (an average over the batch's t); each example has its "
        "own t, so each needs its own alpha_bar_t.":
            mse(model(ab.mean().sqrt() * x0 + (1 - ab.mean()).sqrt() * noise, t), noise),
    } | ({} if x0.dim() != 2 else {
        "it works on images but not on 2-D points: alpha_bar[t] reshaped to [B, 1, 1, 1] turns x_t of points "
        "[B, 2] into a [B, 1, B, 2] tensor, and the mean hides it.": mse(model(
            ab.view(-1, 1, 1, 1).sqrt() * x0 + (1 - ab.view(-1, 1, 1, 1)).sqrt() * noise, t), noise)})


@graded
def check_eps_loss(fn) -> None:
    """Compare ``fn(model, x0, t, noise, schedule)`` with ``eps_loss`` on 2-D points ``[8, 2]`` and on images
    ``[4, 1, 8, 8]``, with a stand-in model ``0.5 * x_t`` (so a wrong x_t shows in the loss)."""
    s = NoiseSchedule.make("linear", 1000)
    gen = torch.Generator().manual_seed(0)
    model = lambda x, tt: 0.5 * x
    cases = {"images [B, C, H, W]": (torch.randn(4, 1, 8, 8, generator=gen), torch.tensor([3, 250, 600, 990])),
             "2-D points [B, 2]": (torch.randn(8, 2, generator=gen), torch.tensor([0, 1, 10, 100, 300, 500, 800, 999]))}
    reference = ("notebook 04's closed form q(x_t | x_0) (Ho et al. 2020, Eq. 4), then Ho et al. 2020, Section 3.4 "
                 "and Algorithm 1 (line 5), the objective this loss computes")
    for label, (x0, t) in cases.items():
        noise = torch.randn(x0.shape, generator=gen)
        try:
            got = fn(model, x0, t, noise, s)
        except NotImplementedError:
            raise
        except RuntimeError as err:
            return report(False, "", f"on {label}: a shape error ({(str(err).splitlines() or [''])[0]}). "
                          "alpha_bar[t] has "
                          "shape [B]; reshape it to broadcast against x0 of any number of dimensions.",
                          EPS_LOSS_FORMULA, reference)
        if isinstance(got, torch.Tensor) and got.numel() != 1:
            return report(False, "", f"on {label}: the loss has shape {tuple(got.shape)}; it should be one number "
                          "(the mean over the batch and every coordinate). A shape like this also comes from an "
                          "alpha_bar[t] reshaped for images only, applied to 2-D points.", EPS_LOSS_FORMULA, reference)
        if isinstance(got, torch.Tensor) and got.numel() == 1 and got.item() == 0:
            return report(False, "", f"on {label}: the loss is exactly 0; compute it from the model's prediction and "
                          "the noise.", EPS_LOSS_FORMULA, reference)
        problem = diagnose(torch.as_tensor(got).reshape(()), eps_loss(model, x0, t, noise, s),
                           eps_loss_mistakes(model, x0, t, noise, s))
        if problem:
            return report(False, "", f"on {label}: {problem}", EPS_LOSS_FORMULA, reference)
    return report(True, "that is L_simple, the loss of Ho et al. (2020), Algorithm 1.", "")


# ----------------------------------------------------------------------------- the bare training loop

def train_loop(model, data: torch.Tensor, schedule: NoiseSchedule, steps: int = 300, batch_size: int = 256,
               lr: float = 2e-3, seed: int = 0) -> list[float]:
    """Reference for the student's loop: ``steps`` AdamW steps of L_simple on random batches of ``data [N, ...]``.
    Returns the loss of every step."""
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        x0 = data[torch.randint(0, len(data), (batch_size,), generator=gen)]
        t = torch.randint(0, schedule.T, (batch_size,), generator=gen)
        noise = torch.randn(x0.shape, generator=gen)
        x_t = q_sample(x0, t, schedule, noise=noise)
        loss = ((model(x_t, t) - noise) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


class _SpyDenoiser(torch.nn.Module):
    """A tiny trainable eps-model for 2-D points that records every input and output, so a check can tell how
    x_t was built and what the loss compared (``calls``: ``(x_t, t, eps_hat)`` detached)."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)
        self.calls = []

    def forward(self, x, t):
        if x.dim() != 2 or x.shape[1] != 2 or t.shape != x.shape[:1]:
            raise _WrongShape(f"the model saw x_t of shape {tuple(x.shape)} and t of shape {tuple(t.shape)}; with "
                              f"2-D points both should be [B, 2] and [B]. An alpha_bar[t] reshaped for images only "
                              "([B, 1, 1, 1]) broadcasts points into a bigger tensor.")
        out = self.linear(torch.cat([x.float(), t.float()[:, None] / 1000], dim=1))
        self.calls.append((x.detach().clone(), t.detach().clone(), out.detach().clone()))
        return out


class _WrongShape(ValueError):
    pass


@graded
def check_train_loop(fn) -> None:
    """Run ``fn(model, data, schedule, steps=20, batch_size=64)`` on a recording model and a data set of one point
    repeated, so that the noise of every x_t can be recovered; check the loop's x_t, t, target and update."""
    s = NoiseSchedule.make("linear", 1000)
    c = torch.tensor([0.8, -0.6])
    data = c.repeat(500, 1)
    torch.manual_seed(0)
    spy = _SpyDenoiser()
    before = [p.detach().clone() for p in spy.parameters()]
    formula = ("what must be fresh at every step, and how many of each: data, timesteps, noise? A batch should cover "
               "the whole chain, so each example gets its own uniformly drawn t. Then the loss of exercise 1 on that "
               "batch, and the three calls that turn a loss into an update; record the loss as a number.")
    reference = "Ho et al. 2020, Algorithm 1 (Training): one pass of its loop is one step of yours"
    fail = lambda why: report(False, "", why, formula, reference)
    try:
        losses = fn(spy, data, s, steps=20, batch_size=64)
    except _WrongShape as err:
        return fail(f"it works on images but not on 2-D points: {err}")
    if not spy.calls:
        return fail("the model was never called.")
    if losses is None or len(losses) != 20:
        return fail(f"return the list of the 20 losses, one per step (got {type(losses).__name__}"
                    f"{'' if losses is None else ' of length ' + str(len(losses))}).")
    if len(spy.calls) != 20:
        return fail(f"the model was called {len(spy.calls)} times in 20 steps; call it once a step.")
    x_t = torch.stack([call[0] for call in spy.calls]).double()
    t = torch.stack([call[1] for call in spy.calls])
    out = torch.stack([call[2] for call in spy.calls]).double()
    if t.dtype not in (torch.int64, torch.int32) or t.min() < 0 or t.max() >= s.T:
        return fail("t must hold integer timesteps in {0, ..., T-1}, one per example.")
    if len(t.unique()) < 200:
        return fail(f"only {len(t.unique())} different timesteps in 20 batches of 64: draw a new t for every "
                    "example at every step, uniformly from {0, ..., T-1}.")
    got = torch.as_tensor([float(v) for v in losses], dtype=torch.float64)
    cf = c.double()
    mse = lambda target: ((out - target) ** 2).mean(dim=(1, 2))

    def implied_noise(keep):  # the noise that built x_t, if x_t = sqrt(keep) c + sqrt(1 - keep) noise
        k = keep.double()[t][..., None]
        return (x_t - k.sqrt() * cf) / (1 - k).sqrt()

    noise = implied_noise(s.alpha_bar)
    ab = s.alpha_bar.double()[t][..., None]
    candidates = {
        None: mse(noise),
        "x_t is built with alpha_t (one step) where alpha_bar_t (all steps up to t) belongs.":
            mse(implied_noise(s.alphas)),
        "a square root is missing in x_t: alpha_bar_t and 1 - alpha_bar_t are variances.":
            mse((x_t - ab * cf) / (1 - ab)),
        "the loss compares the prediction with x0; the target is the noise.": mse(cf.expand_as(out)),
        "the loss compares the prediction with x_t; the target is the noise that was added.": mse(x_t),
    }
    match = next((why for why, want in candidates.items() if torch.allclose(got, want, rtol=1e-4, atol=1e-5)), "")
    if match != "":
        return fail(match) if match else _check_loop_updates(spy, before, noise, fail)
    return fail("the losses do not match the model's outputs against the noise in x_t: check how x_t is built "
                "and what the loss compares.")


def _check_loop_updates(spy, before, noise, fail) -> None:
    if noise.std() < 0.7 or noise.std() > 1.3 or noise.mean().abs() > 0.2:
        return fail(f"the noise in x_t has mean {noise.mean():.2f} and standard deviation {noise.std():.2f}; draw it "
                    "from N(0, I) (torch.randn).")
    if all(torch.equal(p, q) for p, q in zip(before, spy.parameters())):
        return fail("the weights never changed: call loss.backward() and optimizer.step() at every step.")
    return report(True, "x_t, t, the noise target and the update are all right: that is the whole of DDPM "
                  "training.", "")
