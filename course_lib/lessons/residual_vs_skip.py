"""Notebook 03: U-Nets that differ only in their long skips, trained as denoisers for the same budget on
the digits' train split and scored on the held-out test split, over several seeds; and what to look at:
loss curves, denoised outputs, parameter counts, feature maps, and the length of the paths through the net.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .._checks import check_choice
from ..claims import mean_spread
from ..data import load_digits
from ..denoising import denoise, denoising_mse
from ..diffusion import q_sample
from ..plotting import finish, smooth
from ..schedules import NoiseSchedule
from ..trainer import TrainConfig, Trainer
from ..unet import SKIP_MODES, UNet, combine
from ..utils import count_parameters
from .grading import answer_text, as_float64, diagnose, graded, report


def train_variants(variants: dict[str, dict], steps: int = 200, batch_size: int = 64, schedule: str = "linear",
                   data: torch.Tensor | None = None, seed: int = 0, device="cpu", progress: bool = True,
                   **unet_kw) -> dict[str, Trainer]:
    """Train one U-Net per entry of ``variants`` (``{name: UNet keyword arguments}``), same steps, data and seed.

    ``data`` defaults to the digits' train split (the first 1,000), so the test split stays held out.

    Returns ``{name: trainer}``; ``trainer.history.loss`` holds the curve, ``trainer.ema_model`` the model.
    """
    data = load_digits(split="train") if data is None else data
    out = {}
    for name, kw in variants.items():
        torch.manual_seed(seed)
        model = UNet(in_channels=data.shape[1], **{**unet_kw, **kw})
        trainer = Trainer(model, NoiseSchedule.make(schedule, 1000), data,
                          TrainConfig(steps=steps, batch_size=batch_size, seed=seed), device=device,
                          progress=progress)
        trainer.train()
        out[name] = trainer
    return out


def train_skip_modes(modes=SKIP_MODES, **kw) -> dict[str, Trainer]:
    """``train_variants`` over the long-skip modes, residual blocks on."""
    return train_variants({m: {"skip": m} for m in modes}, **kw)


@dataclass
class SkipResults:
    """Per-seed results of ``skip_mode_experiment``: ``mse[mode]`` is ``[S, len(ts)]`` (x0-MSE on the held-out
    digits at each t), ``final_loss[mode]`` ``[S]`` (mean training loss of the last 50 steps),
    ``trainers[mode]`` the S trainers."""

    seeds: list[int]
    ts: list[int]
    mse: dict[str, np.ndarray] = field(default_factory=dict)
    final_loss: dict[str, np.ndarray] = field(default_factory=dict)
    trainers: dict[str, list[Trainer]] = field(default_factory=dict)
    steps: int | None = None  # the training budget: steps of ``batch_size`` digits
    batch_size: int | None = None

    def budget(self) -> str:
        """``"4,000 steps of batch 128, 5 seeds"`` (the parts that are known)."""
        parts = [f"{self.steps:,} steps" + (f" of batch {self.batch_size}" if self.batch_size else "")
                 if self.steps else "", f"{len(self.seeds)} seed{'s' if len(self.seeds) != 1 else ''}"]
        return ", ".join(p for p in parts if p)


def skip_mode_experiment(seeds: Sequence[int] = (0, 1, 2), ts: Sequence[int] = (50, 100, 300, 600, 900),
                         modes=SKIP_MODES, steps: int = 150, batch_size: int = 64, device="cpu",
                         progress: bool = False, **unet_kw) -> SkipResults:
    """For each seed, train one U-Net per long-skip mode (residual blocks on; same steps, batches and init seed)
    on the digits' train split; score each EMA model by ``denoising_mse`` on the 797 held-out test digits at
    every t in ``ts``, with the same noise for every model."""
    if len(seeds) == 0:
        raise ValueError(f"seeds={seeds!r} is not allowed; give at least one seed, e.g. (0, 1, 2)")
    x_test = load_digits(split="test")
    res = SkipResults(list(seeds), list(ts), steps=steps, batch_size=batch_size)
    for mode in modes:
        check_choice("modes", mode, SKIP_MODES)
    for mode in modes:
        trainers, mses, finals = [], [], []
        for seed in seeds:
            tr = train_variants({mode: {"skip": mode}}, steps=steps, batch_size=batch_size, seed=seed,
                                device=device, progress=progress, **unet_kw)[mode]
            model = tr.ema_model.cpu()
            mses.append([denoising_mse(model, x_test, t, tr.schedule) for t in ts])
            finals.append(float(np.mean(tr.history.loss[-50:])))
            trainers.append(tr)
        res.mse[mode], res.final_loss[mode], res.trainers[mode] = np.array(mses), np.array(finals), trainers
    return res


def skip_claims(res: SkipResults) -> dict[str, np.ndarray]:
    """Per-seed margins of notebook 03's claims, in percent (``[S]`` each). With gap_none(t) =
    100 (MSE_none - min(MSE_concat, MSE_add)) / min(MSE_concat, MSE_add) and
    gap_choice(t) = 100 |MSE_add - MSE_concat| / min(MSE_concat, MSE_add):

    ``"none vs best skip at t={t}"``: gap_none(t), per t;
    ``"concat vs add at t={t}"``: 100 (MSE_add - MSE_concat) / MSE_concat, per t (positive: concat better);
    ``"none worse at every t"``: min over t of gap_none(t);
    ``"having a skip vs which skip"``: min over t of gap_none(t) - gap_choice(t).
    """
    out = {}
    best = np.minimum(res.mse["concat"], res.mse["add"])
    gap_none = 100 * (res.mse["none"] - best) / best
    gap_choice = 100 * np.abs(res.mse["add"] - res.mse["concat"]) / best
    for k, t in enumerate(res.ts):
        out[f"none vs best skip at t={t}"] = gap_none[:, k]
    for k, t in enumerate(res.ts):
        concat = res.mse["concat"][:, k]
        out[f"concat vs add at t={t}"] = 100 * (res.mse["add"][:, k] - concat) / concat
    out["none worse at every t"] = gap_none.min(1)
    out["having a skip vs which skip"] = (gap_none - gap_choice).min(1)
    return out


def print_skip_results(res: SkipResults, baselines: dict[str, list[float]] | None = None) -> None:
    """Per mode and seed: the final training loss and the held-out x0-MSE at each t; then, at each t where every
    mode beats the linear denoiser on every seed (``working_ts``), how much worse ``none`` is than the better of
    concat and add, and ``add`` than ``concat`` (mean over the seeds, min to max). At the other t the modes are
    not ranked: a model that does not do the task says nothing about long skips. ``baselines``: those of
    ``baseline_mse(res.ts)`` (computed when not given)."""
    print(f"{res.budget()}; held-out x0-MSE on {len(load_digits(split='test'))} test digits")
    print(f"{'skip':>7} {'seed':>4} {'final loss':>11} " + " ".join(f"{'MSE t=' + str(t):>10}" for t in res.ts))
    for mode, mse in res.mse.items():
        for k, seed in enumerate(res.seeds):
            print(f"{mode:>7} {seed:>4} {res.final_loss[mode][k]:>11.4f} " + " ".join(f"{m:>10.4f}" for m in mse[k]))
    if not all(m in res.mse for m in ("concat", "add", "none")):
        print("(the comparison of the modes needs all three: not measured)")
        return
    if baselines is None:
        schedule = res.trainers[next(iter(res.trainers))][0].schedule if res.trainers else None
        baselines = baseline_mse(res.ts, schedule=schedule)
    margins, working = skip_claims(res), working_ts(res, baselines)
    linear = baselines["linear (Wiener)"]
    for k, t in enumerate(res.ts):
        if t in working:
            print(f"t = {t:>3}: MSE of `none` above the better of concat/add by "
                  f"{mean_spread(margins[f'none vs best skip at t={t}'], '.0f', unit='%')}; "
                  f"`add` above `concat` by {mean_spread(margins[f'concat vs add at t={t}'], '.0f', unit='%')}")
            continue
        losing = [mode for mode, mse in res.mse.items() if not (mse[:, k] < linear[k]).all()]
        who = ("no mode beats" if len(losing) == len(res.mse) else
               f"{' and '.join(f'`{m}`' for m in losing)} do{'es' if len(losing) == 1 else ''} not beat")
        print(f"t = {t:>3}: not ranked: {who} the linear denoiser (MSE {linear[k]:.4f}) on every seed")
    if working:
        print("(a ± b (c to d, n seeds): the mean gap over the seeds ± its standard deviation, then the smallest and "
              "the largest)")


def print_eps_amplification(res: SkipResults) -> None:
    """For each t of ``res``: the factor sqrt((1 - alpha_bar_t) / alpha_bar_t) by which an error in the predicted
    noise reaches x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t)."""
    alpha_bar = next(iter(res.trainers.values()))[0].schedule.alpha_bar
    for t in res.ts:
        gain = ((1 - alpha_bar[t]) / alpha_bar[t]).sqrt().item()
        print(f"t = {t:>3}: an error in eps reaches x0_hat multiplied by {gain:6.1f}")


def plot_skip_seeds(res: SkipResults, ax=None):
    """x0-MSE on the held-out digits against t, one line per mode (mean over seeds) and one dot per seed."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for k, (mode, mse) in enumerate(res.mse.items()):
        x = np.arange(len(res.ts)) + (k - 1) * 0.08
        ax.plot(x, mse.mean(0), "-", color=f"C{k}", label=f"{mode} (mean of {len(res.seeds)} seeds)")
        for row in mse:
            ax.plot(x, row, ".", color=f"C{k}", ms=6)
    ax.set_xticks(np.arange(len(res.ts)), [str(t) for t in res.ts])
    ax.set_xlabel("noise level t")
    ax.set_ylabel("x0-MSE on held-out digits")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    return finish(ax.figure, "Held-out x0-MSE (log scale) against the noise level t "
                  f"({', '.join(map(str, res.ts))}), one line per long-skip mode ({', '.join(res.mse)}) through "
                  f"the mean of {len(res.seeds)} seeds, and a dot per seed. Which mode is lowest at each t, and do "
                  "the seeds agree?")


def conv_path_lengths(model: UNet, size: int = 8) -> tuple[int, int]:
    """``(shortest, longest)`` number of convolutions on a path from the input x to the output eps_theta(x, t)
    in the autograd graph of one forward pass (input ``[1, C, size, size]``). A residual connection or a
    long skip lets a path pass a block without its convolutions; the gradient flows back along the same paths."""
    x = torch.zeros(1, model.in_channels, size, size, requires_grad=True)
    out = model(x, torch.zeros(1, dtype=torch.long))
    memo: dict = {}

    def walk(node):
        if node is None:
            return math.inf, -math.inf
        if node not in memo:
            if type(node).__name__ == "AccumulateGrad":
                memo[node] = (0, 0) if node.variable is x else (math.inf, -math.inf)
            else:
                cost = 1 if "Convolution" in type(node).__name__ else 0
                ends = [walk(nxt) for nxt, _ in node.next_functions]
                memo[node] = (min((a for a, _ in ends), default=math.inf) + cost,
                              max((b for _, b in ends), default=-math.inf) + cost)
        return memo[node]

    shortest, longest = walk(out.grad_fn)
    return int(shortest), int(longest)


@torch.no_grad()
def decoder_inputs(model: UNet, x: torch.Tensor, t: int) -> dict[str, torch.Tensor]:
    """What the top (full-resolution) decoder level receives: the upsampled decoder path ``"decoder"``
    and the encoder's long-skip features ``"skip"`` (absent for ``skip="none"``), each ``[B, C, H, W]``."""
    seen = {}

    def grab_up(module, inp, out):
        seen["decoder"] = out

    def grab_skip(module, inp, out):
        seen["skip"] = out

    hooks = [model.upsample[-1].register_forward_hook(grab_up) if model.upsample else None,
             model.down[0][-1].register_forward_hook(grab_skip)]
    model.eval()
    model(x, torch.full((len(x),), t, dtype=torch.long))
    for h in hooks:
        if h is not None:
            h.remove()
    if model.skip == "none":
        seen.pop("skip")
    return seen


def plot_skip_comparison(trainers: dict[str, Trainer], x0: torch.Tensor | None = None, t: int = 300, n: int = 6,
                         baseline: bool = True):
    """One panel per variant: ``n`` clean digits x_0 (top row; default: the first held-out digits), noised to step
    t (x_t, middle) and denoised (x0_hat, bottom), so each estimate sits under its clean digit; with ``baseline``,
    a last panel denoises the same x_t with the linear denoiser (``LinearDenoiser``, fitted to the train split, no
    training); below, the loss curves (a moving average, plotted at the last step of its window)."""
    import matplotlib.pyplot as plt

    from ..plotting import image_grid

    x0 = load_digits(split="test") if x0 is None else x0

    panels = {f"skip={name!r}": tr for name, tr in trainers.items()}
    if baseline:
        panels["linear denoiser (no training)"] = None
    k = len(panels)
    fig = plt.figure(figsize=(4 * k, 5.2))
    grid = fig.add_gridspec(2, k, height_ratios=[1.1, 1])
    schedule = next(iter(trainers.values())).schedule
    for col, (name, tr) in enumerate(panels.items()):
        if tr is None:  # the same noisy digits as ``denoise``, through the Wiener filter
            tt = torch.full((n,), t, dtype=torch.long)
            x_t = q_sample(x0[:n], tt, schedule, generator=torch.Generator().manual_seed(0))
            x0_hat = LinearDenoiser(load_digits(split="train"), schedule).x0_hat(x_t, t).clamp(-1, 1)
        else:
            x_t, x0_hat = denoise(tr.ema_model, x0[:n], t, tr.schedule)
        ax = fig.add_subplot(grid[0, col])
        ax.imshow(image_grid(torch.cat([x0[:n], x_t, x0_hat]), nrow=n), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([4.5, 13.5, 22.5] if col == 0 else [], ["clean x_0", f"noisy x_t (t={t})", "denoised x0_hat"]
                      if col == 0 else [])
        ax.set_title(name)
    ax = fig.add_subplot(grid[1, :])
    for name, tr in trainers.items():
        curve = smooth(tr.history.loss, 25)
        ax.plot(np.arange(len(curve)) + len(tr.history.loss) - len(curve) + 1, curve,
                label=f"skip={name!r}")
    ax.set_xlabel("training step")
    ax.set_ylabel("eps-MSE (moving avg of 25)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return finish(fig, f"One panel per denoiser ({'; '.join(panels)}): {n} held-out digits clean (top row), noised to "
                  f"step t = {t} (middle row) and denoised (bottom row), each estimate under its clean digit. Below, "
                  "each U-Net's training loss (eps-MSE, moving average of 25) against the step. Compare each "
                  "estimate with its clean digit, and the U-Nets with one another.")


def _tile_channels(maps: torch.Tensor, pad: int = 1) -> np.ndarray:
    """``[K, H, W]`` feature maps side by side, NaN between them (drawn blank), as one ``[H, K (W + pad)]`` array."""
    k, h, w = maps.shape
    out = np.full((h + 2 * pad, k * (w + pad) + pad), np.nan)
    for i in range(k):
        out[pad:pad + h, pad + i * (w + pad):pad + i * (w + pad) + w] = maps[i].numpy()
    return out


class SkipModeView:
    """Widget body of notebook 03, built once. Top: ``n`` held-out digits clean (x_0), noised to step t (x_t)
    and denoised by the U-Net with long skips ``mode`` (x0_hat). Below: the first ``channels`` feature maps
    that U-Net's top decoder level receives for the first digit: the upsampled decoder path, and the encoder's
    features carried by the long skip (none for ``skip="none"``), on a colour scale shared by both (colour bars).

    ``models``: ``{mode: denoiser}``, ``schedule`` the noise schedule they were trained with. Everything the
    models compute for the t in ``ts`` (the slider's values) is computed in ``__init__``, other t on first use;
    ``update(mode, t)`` then only sets image data and texts. It returns ``mode``: each mode has its colour scale,
    so its colour bars are drawn once per mode.
    """

    def __init__(self, models: dict[str, torch.nn.Module], schedule: NoiseSchedule, n: int = 6,
                 ts: Sequence[int] = range(0, 1000, 50), channels: int = 8, seed: int = 0):
        import matplotlib.pyplot as plt

        from ..plotting import image_grid

        self._image_grid = image_grid
        self.models, self.schedule, self.n, self.channels, self.seed = models, schedule, n, channels, seed
        self.x0 = load_digits(split="test")[:n]
        self.frames: dict[tuple[str, int], dict] = {}
        for mode in models:
            for t in ts:
                self.frame(mode, t)
        self.scale = {mode: max(float(np.nanquantile(np.abs(np.concatenate(
            [f[k][np.isfinite(f[k])] for f in self.frames.values() if f["mode"] == mode
             for k in ("decoder", "skip")])), 0.99)), 1e-6) for mode in models}

        self.fig = plt.figure(figsize=(9, 6.2))
        grid = self.fig.add_gridspec(3, 2, height_ratios=[2.4, 1, 1], width_ratios=[40, 1])
        ax = self.fig.add_subplot(grid[0, :])
        self.digits = ax.imshow(image_grid(torch.cat([self.x0] * 3), nrow=n), cmap="gray", vmin=0, vmax=1,
                                interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([4.5, 13.5, 22.5], ["clean x_0", "noisy x_t", "denoised x0_hat"])
        self.title = ax.set_title(" ")
        self.maps, self.colorbars, self.notes = {}, [], {}
        for row, (name, label) in enumerate([("decoder", "upsampled decoder path"),
                                             ("skip", "encoder features via the long skip")]):
            ax = self.fig.add_subplot(grid[row + 1, 0])
            self.maps[name] = ax.imshow(_tile_channels(torch.zeros(channels, *self.x0.shape[2:])), cmap="RdBu_r",
                                        vmin=-1, vmax=1,
                                        interpolation="nearest", aspect="equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{label}: first {channels} channels entering the top decoder level (digit 1)", fontsize=9)
            self.notes[name] = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center", fontsize=9)
            self.colorbars.append(self.fig.colorbar(self.maps[name], cax=self.fig.add_subplot(grid[row + 1, 1]),
                                                    label="activation"))
        self.fig.tight_layout()
        plt.close(self.fig)  # shown through LiveFigure or show_skip_mode only
        self.animated = [self.digits, self.title, *self.maps.values(), *self.notes.values()]

    def frame(self, mode: str, t: int) -> dict:
        """What the ``mode`` model makes of the digits at step ``t``: the image grid, the feature maps, the MSE."""
        key = (mode, int(t))
        if key not in self.frames:
            model = self.models[mode]
            x_t, x0_hat = denoise(model, self.x0, int(t), self.schedule, self.seed)
            feats = decoder_inputs(model, x_t[:1], int(t))
            blank = torch.full((self.channels, *self.x0.shape[2:]), float("nan"))
            self.frames[key] = {
                "mode": mode,
                "digits": self._image_grid(torch.cat([self.x0, x_t, x0_hat]), nrow=self.n),
                "decoder": _tile_channels(feats["decoder"][0, :self.channels]),
                "skip": _tile_channels(feats["skip"][0, :self.channels] if "skip" in feats else blank),
                "mse": float(((x0_hat - self.x0) ** 2).mean()),
            }
        return self.frames[key]

    def describe(self, mode: str = "concat", t: int = 300) -> str:
        skip = ("and, via the long skip, the encoder's features" if mode != "none" else
                "and, with skip='none', no encoder features (that row stays blank)")
        skips = "without long skips (skip='none')" if mode == "none" else f"with long skips skip='{mode}'"
        return (f"The U-Net {skips} at t = {t}. Top: {self.n} held-out digits clean (x_0), "
                "noised to step t (x_t) and denoised (x0_hat), the title giving the MSE over them. Below: the first "
                f"{self.channels} channels that the top decoder level receives for the first digit, the upsampled "
                f"decoder path {skip}, red positive and blue negative. Compare the estimates with the clean digits, "
                "and what each path carries.")

    def update(self, mode: str = "concat", t: int = 300) -> str:
        f = self.frame(mode, t)
        self.digits.set_data(f["digits"])
        v = self.scale[mode]
        for name, image in self.maps.items():
            image.set_data(f[name])
            image.set_clim(-v, v)
        self.notes["skip"].set_text("skip='none': no encoder features reach the decoder" if mode == "none" else "")
        self.title.set_text(f"skip={mode!r}, t = {t}: "
                            f"MSE(x0_hat, x_0) = {f['mse']:.3f} over these {self.n} digits")
        return mode


def _models(trainers: dict[str, Trainer]) -> tuple[dict[str, torch.nn.Module], NoiseSchedule]:
    return {mode: tr.ema_model.cpu() for mode, tr in trainers.items()}, next(iter(trainers.values())).schedule


def show_skip_mode(trainers: dict[str, Trainer], mode: str = "concat", t: int = 300, n: int = 6):
    """The figure of ``SkipModeView`` for one mode and t, as a static figure."""
    models, schedule = _models(trainers)
    view = SkipModeView(models, schedule, n=n, ts=[t])
    view.update(mode, t)
    return finish(view.fig, view.describe(mode, t))


def t_grid(schedule: NoiseSchedule, points: int = 20) -> range:
    """The widget's t slider values: about ``points`` steps from 0 to T - 1 (0, 50, ..., 950 for T = 1000)."""
    step = max(1, schedule.T // points)
    return range(0, schedule.T, step)


def skip_mode_view(trainers: dict[str, Trainer], n: int = 6) -> SkipModeView:
    """``SkipModeView`` of the trainers' EMA models, for the slider's t grid (``t_grid``)."""
    models, schedule = _models(trainers)
    return SkipModeView(models, schedule, n=n, ts=t_grid(schedule))


def skip_mode_widget(trainers: dict[str, Trainer], mode: str = "concat", t: int = 300):
    """Notebook 03's widget: mode buttons and a t slider over ``skip_mode_view(trainers)``; the slider's range
    follows the schedule (``t_grid``), and it opens on the grid's t nearest ``t``."""
    from ipywidgets import IntSlider, ToggleButtons

    from ..widgets import LiveFigure

    view = skip_mode_view(trainers)
    grid = t_grid(view.schedule)
    t = min(grid, key=lambda s: abs(s - t))
    return LiveFigure(view, mode=ToggleButtons(options=list(trainers), value=mode if mode in trainers else
                                               next(iter(trainers))),
                      t=IntSlider(value=t, min=grid[0], max=grid[-1], step=grid.step)).warm()


def demo_widgets() -> dict:
    """Notebook 03's widget on untrained stand-ins of its U-Nets (same modes, t grid and controls)."""
    from ipywidgets import IntSlider, ToggleButtons

    from ..widgets import LiveFigure

    models = {}
    for mode in SKIP_MODES:
        torch.manual_seed(0)
        models[mode] = UNet(skip=mode)
    schedule = NoiseSchedule.make("linear", 1000)
    grid = t_grid(schedule)
    view = SkipModeView(models, schedule, ts=grid)
    return {"skip_mode": LiveFigure(view, mode=ToggleButtons(options=list(SKIP_MODES), value="concat"),
                                    t=IntSlider(value=300, min=grid[0], max=grid[-1], step=grid.step)).warm()}


# ----------------------------------------------------------------------------- exercises

def skip_parameters(residual: bool = True) -> dict[str, int]:
    """Parameter count of ``UNet(skip=mode, residual=residual)`` (the defaults otherwise), by mode."""
    return {mode: count_parameters(UNet(skip=mode, residual=residual)) for mode in SKIP_MODES}


@graded
def check_most_parameters(prediction) -> None:
    """03, predict-then-run: which long-skip mode gives the U-Net the most parameters?"""
    answer = answer_text(prediction)
    if answer not in SKIP_MODES:
        return report(False, "", f"answer with one of {', '.join(repr(m) for m in SKIP_MODES)} "
                      f"(you wrote {prediction!r}).")
    counts = skip_parameters()
    most = max(counts, key=counts.get)
    why = ("under concat the first ResBlock of each decoder level receives the skip's channels on top of the "
           "decoder's, so its first 3x3 convolution and its GroupNorm grow, and since its input and output channels "
           "now differ its shortcut becomes a 1x1 convolution; add and none have no weights of their own and do not "
           "widen the block.")
    if answer == most:
        return report(True, f"{most!r} has the most ({counts[most]:,}; add and none: {counts['add']:,}): under concat "
                      f"the first ResBlock of each decoder level receives the skip's channels on top of the decoder's, "
                      f"so it grows; adding and leaving out have no weights of their own. Exercise 3 counts where the "
                      f"difference comes from.", "")
    hint = {"add": "adding two tensors has no weights: h + skip has as many channels as h.",
            "none": "no skip has no weights, but neither does adding: h + skip has as many channels as h."}
    return report(False, "", f"{hint.get(answer, '')} Look at the number of channels entering the decoder's "
                  f"first block in each mode (the parameter table above).", why,
                  "the parameter table above, and Ronneberger et al. (2015), U-Net, Sec. 2 and Fig. 1")


def concat_cost(ch: int, residual: bool = True) -> int:
    """How many more parameters the first ``ResBlock`` of a decoder level of ``ch`` channels has under
    ``skip="concat"`` than under ``skip="add"`` (the decoder's h, the encoder's skip and the block's output all
    have ``ch`` channels). Its input has 2 ch channels instead of ch, so its first GroupNorm gains 2 ch weights
    (a scale and a shift per channel), its first 3x3 convolution 9 ch^2 (its bias belongs to the output channels),
    and, with residual connections, its identity shortcut becomes a 1x1 convolution 2 ch -> ch: 2 ch^2 + ch.
    Summed over the U-Net's levels, this is the gap between concat and add in the parameter count."""
    return 2 * ch + 9 * ch * ch + (2 * ch * ch + ch if residual else 0)


def measured_concat_cost(ch: int, residual: bool = True) -> int:
    """``concat_cost`` counted on ``course_lib.unet.ResBlock``s: ResBlock(2 ch, ch) minus ResBlock(ch, ch)."""
    from ..unet import ResBlock

    t_dim = 4 * ch
    return (count_parameters(ResBlock(2 * ch, ch, t_dim, residual)) -
            count_parameters(ResBlock(ch, ch, t_dim, residual)))


CONCAT_COST_CASES = [(16, True), (32, True), (16, False), (32, False), (24, True), (8, False)]


@graded
def check_concat_cost(fn) -> None:
    """03: ``fn(ch, residual)``: the parameters concatenation adds to the first decoder block of a level of ``ch``
    channels, compared with addition. Checked against ResBlocks counted at several widths, with and without
    residual connections, then summed over the notebook U-Net's levels against its parameter table. Each typical
    miscount is named; the expected count never is."""
    formula = ("only the layers that read the block's input change when the input has 2 ch channels instead of ch: "
               "list the block's layers (print one), count each with ch and with 2 ch input channels, and count in "
               "full a layer that exists under one mode only.")
    reference = ("Ronneberger et al. (2015), U-Net, Sec. 2 and Fig. 1 (the expansive path's channels after each "
                 "concatenation), and He et al. (2016), Sec. 3.2 (Eq. 2: a projection shortcut W_s where the "
                 "dimensions differ)")
    for ch, residual in CONCAT_COST_CASES:
        case = f"for ch={ch}, residual={residual}"
        want = measured_concat_cost(ch, residual)
        got = fn(ch, residual)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float)) or got != int(got):
            return report(False, "", f"{case} your function returned {got!r}: return a whole number of parameters.",
                          formula, reference)
        if got == want:
            continue
        norm, conv, short = 2 * ch, 9 * ch * ch, (2 * ch * ch + ch if residual else 0)
        mistakes = [
            (norm + conv, "you left out the shortcut. With residual connections, can the block still add its input "
             "as it is, when the input has more channels than the output?") if residual else
            (norm + conv + 2 * ch * ch + ch, "you counted a shortcut, but without residual connections the blocks "
             "have none."),
            (norm + conv + short - ch, "your count is ch short: does the new shortcut convolution have a bias (one "
             "per output channel)? Does the normalisation have two parameters per input channel (a scale and a "
             "shift)?") if residual else
            (norm // 2 + conv, "the normalisation before the first convolution has two parameters per input channel "
             "(a scale and a shift), not one."),
            (conv + short, "you left out the normalisation before the first convolution: it has a scale and a shift "
             "for each input channel."),
            (norm + conv // 9 + short, "a 3x3 convolution has 9 weights per pair of input and output channels."),
            (norm + conv // 3 + short, "a 3x3 convolution has 3 x 3 = 9 weights per pair of input and output "
             "channels, not 3."),
            (norm + conv + ch + short, "the first convolution's bias belongs to its output channels, and "
             "concatenation does not change those."),
            (2 * (norm + conv + short), "you counted the extra layers at twice their size: the block receives ch "
             "more channels, not 2 ch more."),
        ]
        wrong = next((text for value, text in mistakes if got == value and value != want),
                     f"your function returned {got!r}: list the block's layers and count what changes in each.")
        return report(False, "", f"{case} {wrong}", formula, reference)
    levels = [UNet().config.base_channels * m for m in UNet().config.channel_mults]
    gaps = {r: skip_parameters(residual=r)["concat"] - skip_parameters(residual=r)["add"] for r in (True, False)}
    sums = {r: sum(int(fn(ch, r)) for ch in levels) for r in (True, False)}
    return report(sums == gaps, f"summed over the levels of {levels} channels, your count gives {sums[True]:,} "
                  f"with residual connections and {sums[False]:,} without: the gaps between concat and add in the "
                  f"parameter table. The first 3x3 convolution grows most (9 ch^2), then the new 1x1 shortcut.",
                  "your count matches single blocks but not the U-Net's totals: does your function depend on "
                  "anything other than ch and residual?", formula, reference)


def _combine_cases():
    """(mode, h, skip) inputs of ``check_combine``: concat with equal shapes, then with 8 decoder and 4 skip
    channels; add and none with equal shapes."""
    gen = torch.Generator().manual_seed(0)
    return [("concat", torch.randn(2, 4, 4, 4, generator=gen), torch.randn(2, 4, 4, 4, generator=gen)),
            ("concat", torch.randn(2, 8, 4, 4, generator=gen), torch.randn(2, 4, 4, 4, generator=gen)),
            ("add", torch.randn(2, 4, 4, 4, generator=gen), torch.randn(2, 4, 4, 4, generator=gen)),
            ("none", torch.randn(2, 4, 4, 4, generator=gen), torch.randn(2, 4, 4, 4, generator=gen))]


def _try(make):
    """``make()``, or None when it raises (a mistake that cannot happen with these shapes)."""
    try:
        return make()
    except RuntimeError:
        return None


def _same(got, value, want) -> bool:
    """Whether ``got`` is the tensor ``value`` (in float64, to rounding) and ``value`` is not ``want``."""
    return (isinstance(got, torch.Tensor) and value is not None and got.shape == value.shape
            and not (value.shape == want.shape and torch.equal(value, want))
            and torch.allclose(got.double(), value.double(), atol=1e-6))


@graded
def check_combine(fn) -> None:
    """03: ``fn(h, skip, mode)`` against ``course_lib.unet.combine`` on the same inputs, for each mode."""
    formula = ("write down the shape each mode must return for h [B, C_h, H, W] and skip [B, C_s, H, W]: a merge "
               "that keeps every number of both maps as extra channels, a merge that keeps h's shape and is h when "
               "the skip is zero, and one that lets nothing of the encoder through. Which dimension holds the "
               "channels?")
    reference = ("Ronneberger et al. (2015), U-Net, Sec. 2 and Fig. 1 (the concatenation in the expansive path), "
                 "and He et al. (2016b), Sec. 3 (an identity skip adds its input)")
    dims = {0: "the batch", 2: "the height", 3: "the width", -1: "the width", -2: "the height"}
    for mode, h, skip in _combine_cases():
        want = combine(h, skip, mode)
        h_in, skip_in = h.clone(), skip.clone()
        try:
            got = fn(h_in, skip_in, mode)
        except NotImplementedError:
            raise
        except RuntimeError as err:
            cat_dim = re.search(r"except in dimension (-?\d+)", str(err))
            if cat_dim:
                return report(False, "", f"mode {mode!r}: torch.cat along dim {cat_dim[1]} failed, as h has "
                              f"{h.shape[1]} channels and skip {skip.shape[1]}: all dimensions but the one you "
                              f"concatenate along must agree. Which dimension holds the channels?", formula, reference)
            if "size of tensor" in str(err):
                return report(False, "", f"mode {mode!r}: your code raised RuntimeError ({err}). h has "
                              f"{h.shape[1]} channels and skip {skip.shape[1]}: tensors of different shapes "
                              f"cannot be added; which modes need equal shapes?", formula, reference)
            raise
        if not (torch.equal(h_in, h) and torch.equal(skip_in, skip)):
            return report(False, "", f"mode {mode!r}: your code changed its input in place (h += skip?); the "
                          f"decoder still needs them: return a new tensor.", formula, reference)
        mistakes = {f"you concatenated along dim {d} ({dims[d]}); the channels are dim 1 of [B, C, H, W].":
                    lambda h=h, skip=skip, d=d: torch.cat([h, skip], dim=d) for d in (0, 2, 3)}
        mistakes.update({
            "the skip's channels come first: course_lib's UNet puts the decoder's h first (its trained weights "
            "expect that order).": lambda h=h, skip=skip: torch.cat([skip, h], dim=1),
            "you returned h unchanged: the skip is missing.": lambda h=h, skip=skip: h,
            "you returned the encoder's skip: the decoder's h is the path that goes on.": lambda h=h, skip=skip: skip,
            f"you added h and the skip: in mode {mode!r} that is not the merge.": lambda h=h, skip=skip: h + skip,
            f"you concatenated h and the skip: in mode {mode!r} that is not the merge.":
                lambda h=h, skip=skip: torch.cat([h, skip], dim=1),
        })
        wrong = next((what for what, value in mistakes.items() if _same(got, _try(value), want)), None)
        g = as_float64(got)
        if not wrong and g is not None and g.shape != want.shape:  # named without the expected shape
            wrong = (f"your merge has shape {tuple(g.shape)} for h {list(h.shape)} and skip {list(skip.shape)}: "
                     f"it should be one feature map [B, C, H, W], with the batch, height and width of its inputs "
                     f"and as many channels as this mode makes.")
        wrong = wrong or diagnose(got, want)
        if wrong:
            return report(False, "", f"mode {mode!r}: {wrong}", formula, reference)
    return report(True, "concat stacks the encoder's channels behind the decoder's; add sums two maps of the same "
                  "shape (a residual connection around the inner levels); none passes h on.", "")


# ----------------------------------------------------------------------------- baselines: what a model must beat

class LinearDenoiser(torch.nn.Module):
    """The best *linear* estimate of x0 from x_t (the Wiener filter), fitted to the mean ``mu`` and covariance
    ``S`` of the training digits, for x_t = sqrt(ab) x0 + sqrt(1 - ab) eps:

        x0_hat = mu + sqrt(ab) S (ab S + (1 - ab) I)^(-1) (x_t - sqrt(ab) mu).

    Exact for Gaussian data; for digits it is the baseline a neural denoiser must beat. As t grows it tends to
    ``mu``, the mean training digit (the other baseline). ``x0_hat(x_t, t)`` for an integer t."""

    def __init__(self, data: torch.Tensor, schedule: NoiseSchedule):
        super().__init__()
        flat = data.reshape(len(data), -1).double()
        self.shape, self.schedule = data.shape[1:], schedule
        self.mu = flat.mean(0)
        self.cov = torch.cov(flat.T)

    @torch.no_grad()
    def x0_hat(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        ab = float(self.schedule.alpha_bar[t])
        eye = torch.eye(len(self.mu), dtype=torch.float64)
        gain = ab ** 0.5 * self.cov @ torch.linalg.inv(ab * self.cov + (1 - ab) * eye)
        flat = x_t.reshape(len(x_t), -1).double() - ab ** 0.5 * self.mu
        return (self.mu + flat @ gain.T).reshape(len(x_t), *self.shape).float()


def baseline_mse(ts: Sequence[int] = (50, 100, 300, 600, 900), seed: int = 0,
                 schedule: NoiseSchedule | None = None) -> dict[str, list[float]]:
    """Held-out x0-MSE at each t of the two baselines, on the same noisy digits as ``denoising_mse``:
    ``{"mean digit": [...], "linear (Wiener)": [...]}``. Both are fitted to the train split only."""
    schedule = schedule or NoiseSchedule.make("linear", 1000)
    train, test = load_digits(split="train"), load_digits(split="test")
    mean_digit = train.mean(0, keepdim=True)
    linear = LinearDenoiser(train, schedule)
    out = {"mean digit": [], "linear (Wiener)": []}
    for t in ts:
        tt = torch.full((len(test),), t, dtype=torch.long)
        x_t = q_sample(test, tt, schedule, generator=torch.Generator().manual_seed(seed))
        out["mean digit"].append(float(((mean_digit - test) ** 2).mean()))
        out["linear (Wiener)"].append(float(((linear.x0_hat(x_t, t).clamp(-1, 1) - test) ** 2).mean()))
    return out


# ----------------------------------------------------------------------------- the shipped, longer runs

def shipped_curve_rows() -> list[dict]:
    """The rows of the shipped learning curves (``python -m course_lib study capstone``), every variant."""
    from ..study import SHIPPED_RESULTS, load_study

    return load_study(SHIPPED_RESULTS / "capstone_curves.json")[1]


def shipped_skip_results(steps: int | None = None) -> SkipResults:
    """The residual U-Nets of the shipped learning curves (``scripts/capstone.py``: five seeds, batch 128) at one
    budget (default: the largest, 4,000 steps) as ``SkipResults``: their held-out x0-MSE at the curves' t."""
    from ..study import SHIPPED_RESULTS, load_study

    meta, rows = load_study(SHIPPED_RESULTS / "capstone_curves.json")
    steps = max(meta["budgets"]) if steps is None else steps
    res = SkipResults(list(meta["seeds"]), list(meta["probe_ts"]), steps=steps, batch_size=meta.get("batch_size"))
    for mode in SKIP_MODES:
        mine = sorted((r for r in rows if r["kind"] == "residual" and r["skip"] == mode and r["steps"] == steps),
                      key=lambda r: r["seed"])
        res.mse[mode] = np.array([r["x0_mse"] for r in mine])
        res.final_loss[mode] = np.array([r["loss"] for r in mine])
    return res


def baseline_table(res: SkipResults, baselines: dict[str, list[float]], label: str | None = None) -> str:
    """Held-out x0-MSE per t: each baseline, and each mode's mean over seeds (min-max), with ``*`` where every
    seed of the mode beats the linear denoiser. ``label`` defaults to the budget of ``res``."""
    linear = np.array(baselines["linear (Wiener)"])
    label = f" after {res.budget()}" if label is None else label
    lines = [f"held-out x0-MSE by t{label} (* every seed below the linear denoiser)",
             f"{'':>24}" + "".join(f"{'t=' + str(t):>22}" for t in res.ts)]
    for name, values in baselines.items():
        lines.append(f"{name:>24}" + "".join(f"{v:>22.4f}" for v in values))
    for mode, mse in res.mse.items():
        cells = [f"{m:.4f} [{lo:.3f}-{hi:.3f}]" + ("*" if (col < lin).all() else " ")
                 for m, lo, hi, col, lin in zip(mse.mean(0), mse.min(0), mse.max(0), mse.T, linear)]
        lines.append(f"{mode + f' ({len(mse)} seeds)':>24}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


def working_ts(res: SkipResults, baselines: dict[str, list[float]]) -> list[int]:
    """The t at which every mode beats the linear denoiser on every seed: where the models do the task."""
    linear = np.array(baselines["linear (Wiener)"])
    return [t for k, t in enumerate(res.ts) if all((mse[:, k] < linear[k]).all() for mse in res.mse.values())]


def relative_gaps(res: SkipResults, a: str, b: str) -> np.ndarray:
    """``[S, len(ts)]``: 100 (MSE_a / MSE_b - 1) per seed and t (positive: ``a`` is worse)."""
    return 100 * (res.mse[a] / res.mse[b] - 1)


def plot_relative_gaps(res: SkipResults, baselines: dict[str, list[float]], title: str | None = None):
    """Relative held-out x0-MSE gaps per t, one dot per seed: none vs add (equal parameter counts) and concat vs
    add; the t where the models do not beat the linear denoiser (``working_ts``) are shaded."""
    import matplotlib.pyplot as plt

    working = working_ts(res, baselines)
    title = f"{res.budget()}: held-out x0-MSE of a over b, minus 1" if title is None else title
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    x = np.arange(len(res.ts))
    shown = np.array([t in working for t in res.ts])
    for k, (a, b) in enumerate((("none", "add"), ("concat", "add"))):
        gaps = np.where(shown, relative_gaps(res, a, b), np.nan)  # only where the models do the task
        shift = (k - 0.5) * 0.15
        ax.plot(x + shift, gaps.mean(0), "o-", color=f"C{k}", label=f"{a} vs {b} (mean)")
        for row in gaps:
            ax.plot(x + shift, row, ".", color=f"C{k}", alpha=0.5)
    for i, t in enumerate(res.ts):
        if t not in working:
            ax.axvspan(i - 0.45, i + 0.45, color="grey", alpha=0.2, lw=0)
            ax.text(i, 0.5, "no model beats\nthe linear\ndenoiser: not\ncompared", transform=ax.get_xaxis_transform(),
                    ha="center", va="center", fontsize=7, color="0.3")
    ax.axhline(0, color="grey", lw=1)
    ax.set_xticks(x, [str(t) for t in res.ts])
    ax.set_xlabel("noise level t")
    ax.set_ylabel("MSE_a / MSE_b - 1 (%)")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return finish(fig, "The relative gap in held-out x0-MSE, MSE_a / MSE_b - 1 in percent, against the noise level t "
                  f"({', '.join(map(str, res.ts))}), for none vs add (equal parameter counts) and concat vs add: one "
                  "dot per seed, a line through the means; grey columns mark the t where no model beats the linear "
                  "denoiser, not compared. Above 0, a is worse: do a comparison's dots sit on one side of 0?")


def gap_intervals(res: SkipResults, baselines: dict[str, list[float]], level: float = 0.95) -> str:
    """At each t where the models do the task: the relative gaps none vs add and concat vs add, mean over seeds
    with their t-interval (paired by seed), in percent: how large the differences between long skips are."""
    from .. import stats

    lines = [f"{res.budget()}: MSE_a / MSE_b - 1, mean over seeds [{level:.0%} t-interval], where every model "
             "beats the linear denoiser"]
    working = working_ts(res, baselines)
    for a, b in (("none", "add"), ("concat", "add")):
        gaps = relative_gaps(res, a, b)
        cells = []
        for k, t in enumerate(res.ts):
            if t in working:
                m, lo, hi = stats.t_interval(gaps[:, k], level)
                cells.append(f"t={t}: {m:+.1f}% [{lo:+.1f}, {hi:+.1f}]")
        lines.append(f"  {a} vs {b}: " + ("; ".join(cells) or "no t where the models work"))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- learning curves per t

CURVE_TS = (100, 300, 900)  # the t of the curves figure: small, medium, large noise


def denoiser_panels(rows, ts=CURVE_TS, probe_ts=(50, 100, 300, 600, 900)) -> dict[str, dict]:
    """The shipped curves of held-out x0-MSE (residual blocks on, each long-skip mode) by panel, one per t."""
    from ..curves import Curve

    probe = list(probe_ts)

    def at(t):
        return lambda r: r["x0_mse"][probe.index(t)]

    return {f"t = {t}": {mode: Curve.of(rows, {"kind": "residual", "skip": mode}, at(t), label=mode)
                         for mode in SKIP_MODES} for t in ts}


def _live_denoisers(res: SkipResults | None, ts) -> dict[str, dict]:
    if res is None:
        return {}
    return {f"t = {t}": {mode: [(res.steps, float(v)) for v in mse[:, res.ts.index(t)]]
                         for mode, mse in res.mse.items()} for t in ts if t in res.ts}


def denoiser_curves_widget(rows, baselines: dict[str, list[float]], live: SkipResults | None = None,
                           ts=CURVE_TS, budget: int | None = None):
    """Held-out x0-MSE against training steps per t (5 seeds: line = geometric mean, band = where a new seed lands
    95% of the time), the mean digit and the linear denoiser beside them, your run as crosses, a budget slider."""
    from ipywidgets import SelectionSlider

    from ..curves import CurvesView
    from ..widgets import LiveFigure

    probe = [50, 100, 300, 600, 900]
    lines = {f"t = {t}": {name: values[probe.index(t)] for name, values in baselines.items()} for t in ts}
    colors = {"concat": "tab:blue", "add": "tab:green", "none": "tab:red"}
    view = CurvesView(denoiser_panels(rows, ts), colors, lines, _live_denoisers(live, ts),
                      ylabel="held-out x0-MSE (log)", fmt=".3f", width=4.4,
                      what="Held-out x0-MSE of residual U-Nets with each kind of long skip (concat, add, none)")
    budgets = sorted({r["steps"] for r in rows})
    return LiveFigure(view, budget=SelectionSlider(options=budgets, value=budget or budgets[0],
                                                   description="budget"))


def check_live_denoisers(rows, live: SkipResults, ts=(50, 100, 300, 600, 900)) -> None:
    """Whether your run's held-out x0-MSE lands inside the shipped bands at every t, in words."""
    from ..curves import agreement, describe_agreement

    panels, points = denoiser_panels(rows, ts), _live_denoisers(live, ts)
    found = []
    for title, curves in panels.items():
        found += [{**p, "label": f"{p['label']}, {title}"}
                  for p in agreement(curves, points.get(title, {}))]
    print(describe_agreement(found, what="x0-MSE", fmt=".3f"))


def where_models_win(rows, baselines: dict[str, list[float]], probe_ts=(50, 100, 300, 600, 900)) -> str:
    """Per t and long-skip mode: the first shipped budget at which every seed beats the linear denoiser, and
    the mean digit; "not by N" where none does."""
    from ..curves import Curve

    lines = ["first budget (steps) at which every seed beats the linear denoiser | the mean digit",
             f"{'':>7}" + "".join(f"{'t=' + str(t):>30}" for t in probe_ts)]
    for mode in SKIP_MODES:
        cells = []
        for k in range(len(probe_ts)):
            c = Curve.of(rows, {"kind": "residual", "skip": mode}, lambda r, k=k: r["x0_mse"][k])

            def first(bar, c=c):
                won = [int(s) for j, s in enumerate(c.steps) if (c.values[:, j] < bar).all()]
                return f"{won[0]:,}" if won else f"not by {int(c.steps[-1]):,}"

            cells.append(f"{first(baselines['linear (Wiener)'][k])} | {first(baselines['mean digit'][k])}")
        lines.append(f"{mode:>7}" + "".join(f"{c:>30}" for c in cells))
    return "\n".join(lines)


def shipped_skip_claims(res: SkipResults, baselines: dict[str, list[float]]) -> dict[str, np.ndarray | None]:
    """Per-seed margins of notebook 03's claims on ``res`` (percent, > 0 where the claim held), at the t where
    every model beats the linear denoiser (``working_ts``); ``None`` where that set or a mode is missing.

    - ``"none worse than add"``: min over those t of 100 (MSE_none / MSE_add - 1) (equal parameter counts);
    - ``"models beat linear"``: min over modes and those t of 100 (1 - MSE / MSE_linear);
    - ``"no model beats linear at the largest t"``: min over modes of 100 (MSE / MSE_linear - 1) at the largest t.
    """
    ts = working_ts(res, baselines)
    idx = [res.ts.index(t) for t in ts]
    linear = np.array(baselines["linear (Wiener)"])
    have = all(m in res.mse for m in ("none", "add"))
    out: dict[str, np.ndarray | None] = {}
    out["none worse than add"] = relative_gaps(res, "none", "add")[:, idx].min(1) if idx and have else None
    out["models beat linear"] = (np.min([100 * (1 - mse[:, idx] / linear[idx]).min(1) for mse in res.mse.values()],
                                        axis=0) if idx else None)
    out["no model beats linear at the largest t"] = np.min(
        [100 * (mse[:, -1] / linear[-1] - 1) for mse in res.mse.values()], axis=0)
    return out


def check_shipped_skip_claims(res: SkipResults, baselines: dict[str, list[float]]) -> None:
    """Print each claim's verdict seed by seed; a claim whose inputs are missing says it was not measured."""
    from ..claims import check_claim

    ts = working_ts(res, baselines)
    where = f"t = {', '.join(map(str, ts))}" if ts else "(no t)"
    text = {"none worse than add": f"at {where}, the U-Net without long skips denoises held-out digits worse than "
                                   "the one with additive skips (the same parameter count)",
            "models beat linear": f"at {where}, every mode beats the linear denoiser",
            "no model beats linear at the largest t": f"at t = {res.ts[-1]}, no mode beats the linear denoiser"}
    for name, margins in shipped_skip_claims(res, baselines).items():
        if margins is None:
            print(f"- not measured: {text[name]}")
        else:
            check_claim(text[name], margins)
