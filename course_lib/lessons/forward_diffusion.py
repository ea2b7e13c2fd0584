"""Notebook 04: what the forward process q(x_t | x_0) does to an image, as plain functions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch

from ..diffusion import q_sample, q_step
from ..plotting import finish
from ..schedules import NoiseSchedule
from .grading import answer_text, diagnose, graded, report


def chain_variances(t: int, schedule: NoiseSchedule) -> tuple[float, float]:
    """The variances of the chain's x_t after the t + 1 steps q_step(., 0), ..., q_step(., t), exactly (float64).

    The chain is linear: x_t = c x_0 + sum_s d_s eps_s. Iterating ``q_step`` on x_0 = 1 without noise gives c;
    on x_0 = 0 with noise 1 at step s only, d_s. Returns (c^2, sum_s d_s^2): the signal and noise variances.
    """
    steps = t + 1
    x = torch.zeros(steps + 1, 1, dtype=torch.float64)  # row 0: x_0 = 1, no noise; row s + 1: noise at step s only
    x[0] = 1
    for s in range(steps):
        unit_noise = torch.zeros_like(x)
        unit_noise[s + 1] = 1
        x = q_step(x, torch.tensor(s), schedule, noise=unit_noise)
    return float(x[0, 0] ** 2), float((x[1:] ** 2).sum())


def chain_samples(x0: torch.Tensor, t: int, schedule: NoiseSchedule, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` copies of the image ``x0`` noised by t + 1 steps of the chain, with float64 noise drawn from a
    generator seeded with ``seed``: ``[n, C*H*W]``."""
    gen = torch.Generator().manual_seed(seed)
    x = x0.reshape(1, -1).double().expand(n, -1)
    for s in range(t + 1):
        x = q_step(x, torch.tensor(s), schedule, generator=gen)
    return x


def chain_vs_closed_form(x0: torch.Tensor, t: int, schedule: NoiseSchedule, n: int = 16000, seed: int = 0) -> dict:
    """Compare the chain of t + 1 steps with the closed form at timesteps t - 1, t and t + 1 (one step fewer, the
    same step, one step more), so that the table shows whether the comparison could see an off-by-one.

    Returns ``{"timesteps": (t - 1, t, t + 1), "copies": n, "pixels": P, "sampled variance": v, "SE": se,
    "rows": {label: [3 values]}}``: the chain's exact signal and noise variances (``chain_variances``) minus the
    closed form's, and the noise variance of ``n`` sampled copies of ``x0`` (the pixels' variances pooled: all
    have the same exact value) minus the closed form's, in standard errors.
    """
    if not 1 <= t < schedule.T - 1:
        raise ValueError(f"t must be between 1 and T - 2 = {schedule.T - 2}, so that t - 1 and t + 1 are timesteps; "
                         f"it is {t}")
    signal_var, noise_var = chain_variances(t, schedule)
    x = chain_samples(x0, t, schedule, n, seed)
    pixel_vars = x.var(0)
    sampled_var = float(pixel_vars.mean())
    se = sampled_var * (2 / (n - 1) / pixel_vars.numel()) ** 0.5  # SE of a variance, pooled over the pixels
    timesteps = (t - 1, t, t + 1)
    alpha_bars = [float(schedule.alpha_bar[k]) for k in timesteps]
    rows = {  # the exact rows to 12 decimals: float64 rounding (about 1e-16, with either sign) is not a difference
        "exact signal variance - alpha_bar": [round(signal_var - ab, 12) + 0.0 for ab in alpha_bars],
        "exact noise variance - (1 - alpha_bar)": [round(noise_var - (1 - ab), 12) + 0.0 for ab in alpha_bars],
        "sampled noise variance - (1 - alpha_bar), in SE": [(sampled_var - (1 - ab)) / se for ab in alpha_bars],
    }
    return {"timesteps": timesteps, "copies": n, "pixels": pixel_vars.numel(), "sampled variance": sampled_var,
            "SE": se, "rows": rows}


class ForwardView:
    """Widget body of notebook 04, built once. Top row: each clean image x_0 of ``images`` and the curves
    alpha_bar[t] and log-SNR[t] against the timestep t, traced from timestep 0 up to the marked t only (so the
    figure shown before the student moves t does not answer notebook 04's prediction about alpha_bar half-way).
    Bottom row: each image noised to timestep t by ``q_sample`` (t + 1 steps of noise), and the histogram of the
    pixel values of all noised images pooled (the legend counts each image's), against N(0, 1).

    ``update(t, schedule, T)`` changes only ``animated`` artists (noised images, curves, marker, titles,
    histogram), except that T sets the t axis: it returns T as the name of the background to draw on.
    """

    def __init__(self, images: dict | None = None, seed: int = 0):
        import matplotlib.pyplot as plt

        from ..data import load_digits, load_photo

        self.images = images or {"photo": load_photo("china.jpg", 64), "digit": load_digits()[0]}
        self.noise = {name: torch.randn(img.shape, generator=torch.Generator().manual_seed(seed + j))
                      for j, (name, img) in enumerate(self.images.items())}
        self.schedules: dict[tuple[str, int], NoiseSchedule] = {}
        k = len(self.images)
        self.fig, axes = plt.subplots(2, k + 1, figsize=(3.1 * (k + 1), 5.8), squeeze=False)
        self.noised_images, self.noised_titles = [], []
        for j, (name, img) in enumerate(self.images.items()):
            top, bottom = axes[0, j], axes[1, j]
            top.imshow(_to_unit(img), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            top.set_title(f"{name}: x_0 (clean)")
            self.noised_images.append(bottom.imshow(_to_unit(img), cmap="gray", vmin=0, vmax=1,
                                                    interpolation="nearest"))
            self.noised_titles.append(bottom.set_title(f"{name} at timestep t"))
            top.axis("off")
            bottom.axis("off")
        ax = self.curve_axes = axes[0, -1]
        (self.alpha_bar_line,) = ax.plot([], [], label="alpha_bar")
        ax.set_xlabel("timestep t")
        ax.set_ylabel("alpha_bar[t]", color="C0")
        ax.set_ylim(0, 1)
        self.log_snr_axes = ax.twinx()
        (self.log_snr_line,) = self.log_snr_axes.plot([], [], color="C1", label="log-SNR")
        self.log_snr_axes.set_ylabel("log-SNR", color="C1")
        self.log_snr_axes.set_ylim(-21, 11)  # every schedule and T offered fits, so the axis never moves
        self.marker = ax.axvline(0, color="k", ls="--", lw=1)
        self.curve_title = ax.set_title("")
        ax = axes[1, -1]
        self.bins = np.linspace(-4, 4, 41)
        counts = " + ".join(f"{img.numel():,} of the {name}" for name, img in self.images.items())
        self.histogram = ax.stairs(np.zeros(40), self.bins, fill=True, alpha=0.6, label=f"{counts}\nat timestep t")
        grid = np.linspace(-4, 4, 200)
        ax.plot(grid, np.exp(-grid ** 2 / 2) / np.sqrt(2 * np.pi), "k", label="N(0, 1)")
        ax.set_xlim(-4, 4)
        ax.set_ylim(0, 1.0)
        ax.set_xlabel("pixel value")
        ax.set_ylabel("density (axis cut at 1)")
        ax.set_title(f"pixel values of the {' and '.join(self.images)}, noised" if len(self.images) > 1
                     else f"pixel values of the noised {next(iter(self.images))}")
        ax.legend(fontsize=8, loc="upper right")
        self.fig.tight_layout()
        self.animated = [*self.noised_images, *self.noised_titles, self.alpha_bar_line, self.log_snr_line,
                         self.marker, self.curve_title, self.histogram]

    def schedule(self, name: str, T: int) -> NoiseSchedule:
        if (name, T) not in self.schedules:
            self.schedules[(name, T)] = NoiseSchedule.make(name, T)
        return self.schedules[(name, T)]

    def describe(self, t: int = 100, schedule: str = "linear", T: int = 1000) -> str:
        names = " and the ".join(self.images)
        return (f"The forward process at timestep t = {t} of T = {T} with the {schedule} schedule. Top row: the clean "
                f"{names} (x_0), and alpha_bar[t] (blue, how much of x_0 is left) and the log-SNR (orange) against "
                "the timestep, traced from 0 up to t (dashed line). Bottom row: the same images noised to timestep "
                "t, and a histogram of their pixel values against the density of N(0, 1). As t grows, watch the "
                "images fade into noise and the histogram approach the normal curve.")

    def update(self, t: int = 100, schedule: str = "linear", T: int = 1000) -> int:
        T = int(T)
        s = self.schedule(schedule, T)
        t = min(int(t), T - 1)
        steps = np.arange(t + 1)  # the curves are traced up to t: what the chain has done so far
        self.alpha_bar_line.set_data(steps, s.alpha_bar[:t + 1].numpy())
        self.log_snr_line.set_data(steps, s.log_snr[:t + 1].numpy())
        self.curve_axes.set_xlim(0, T - 1)
        pixels = []
        for (name, img), image, title in zip(self.images.items(), self.noised_images, self.noised_titles):
            x_t = q_sample(img[None], torch.tensor([t]), s, noise=self.noise[name][None])[0]
            image.set_data(_to_unit(x_t))
            title.set_text(f"{name} at timestep t = {t}")
            pixels.append(x_t.flatten())
        self.histogram.set_data(np.histogram(torch.cat(pixels).numpy(), bins=self.bins, density=True)[0])
        self.marker.set_xdata([t, t])
        self.curve_title.set_text(f"{schedule}, T = {T}: alpha_bar[{t}] = {s.alpha_bar[t]:.3f}")
        return T


def _to_unit(x: torch.Tensor) -> np.ndarray:
    """An image in [-1, 1], ``[C, H, W]``, as an ``imshow`` array in [0, 1]."""
    return ((x.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).squeeze(-1).numpy()


def show_forward(t: int = 100, schedule: str = "linear", T: int = 1000, images: dict | None = None, seed: int = 0):
    """The figure of ``ForwardView`` for one setting, as a static figure (to call with fixed arguments)."""
    view = ForwardView(images, seed)
    view.update(t, schedule, T)
    return finish(view.fig, view.describe(min(int(t), int(T) - 1), schedule, T))


SCHEDULE_STYLES = {"linear": ("C0", "-", 1.5), "cosine": ("C3", "-", 2.6), "sigmoid": ("C2", "--", 1.5),
                   "quadratic": ("C4", ":", 2.0)}


def show_schedules(names=("linear", "cosine", "sigmoid", "quadratic"), T: int = 1000):
    """alpha_bar_t and log-SNR_t of several schedules side by side, each with its own colour and line style
    (cosine drawn last and thickest, so no curve hides it); the legend gives each log-SNR's two end values."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
    for name in sorted(names, key=lambda n: n == "cosine"):
        s = NoiseSchedule.make(name, T)
        color, style, width = SCHEDULE_STYLES.get(name, (None, "-", 1.5))
        a.plot(s.alpha_bar.numpy(), color=color, ls=style, lw=width, label=name)
        b.plot(s.log_snr.numpy(), color=color, ls=style, lw=width,
               label=f"{name}: {s.log_snr[0]:.1f} at t = 0, {s.log_snr[-1]:.1f} at t = {T - 1}")
    a.set_title("signal kept: alpha_bar[t]")
    a.set_ylabel("alpha_bar[t]")
    b.set_title("log-SNR[t] = log(alpha_bar[t] / (1 - alpha_bar[t]))")
    b.set_ylabel("log-SNR[t]")
    b.axhline(0, color="grey", lw=0.8)
    for ax in (a, b):
        ax.set_xlabel("timestep t")
    a.legend(fontsize=8)
    b.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return finish(fig, "Left: alpha_bar[t], the share of the signal kept; right: the log-SNR, log(alpha_bar[t] / "
                  f"(1 - alpha_bar[t])); both against the timestep t from 0 to {T - 1}, one curve per schedule "
                  f"({', '.join(names)}), cosine thick and red. The legend gives each log-SNR's values at both ends. "
                  "Compare how fast each schedule destroys the signal, and where each ends.")


# ----------------------------------------------------------------------------- exercises

Q_SAMPLE_FORMULA = ("the closed form above, with one alpha_bar per example: alpha_bar[t] has shape [B], so give it "
                    "one trailing dimension of size 1 for every dimension of x0 after the batch, whatever x0's "
                    "number of dimensions (images have three, 2-D points one).")
Q_SAMPLE_REFERENCE = "Ho et al. (2020), Eq. 4, and Algorithm 1, line 5, where the closed form noises a batch"


def _per_example(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``values [B]`` reshaped to broadcast over ``x [B, ...]``."""
    return values.view(-1, *[1] * (x.dim() - 1))


def q_sample_mistakes(x0: torch.Tensor, t: torch.Tensor, schedule: NoiseSchedule, noise: torch.Tensor) -> dict:
    """What the common wrong versions of ``q_sample`` return, by the diagnosis a student gets (tier 1: what is
    wrong, not the formula)."""
    ab = _per_example(schedule.alpha_bar[t], x0)
    a = _per_example(schedule.alphas[t], x0)
    return {
        "you used alpha_t, the signal one step keeps, where alpha_bar_t (what is left after every step up to t) "
        "belongs.": a.sqrt() * x0 + (1 - a).sqrt() * noise,
        "a square root is missing: alpha_bar_t and 1 - alpha_bar_t are variances, and x0 and noise are scaled by "
        "standard deviations.": ab * x0 + (1 - ab) * noise,
        "the square root is missing on the noise term (1 - alpha_bar_t is the noise's variance, not its "
        "standard deviation).": ab.sqrt() * x0 + (1 - ab) * noise,
        "the square root is missing on the x0 term (alpha_bar_t scales the signal's variance, not the signal).":
            ab * x0 + (1 - ab).sqrt() * noise,
        "x0 and noise are swapped: at timestep 0 the result should be almost x0.":
            ab.sqrt() * noise + (1 - ab).sqrt() * x0,
    }


@graded
def check_q_sample(fn) -> None:
    """Run ``fn(x0, t, schedule, noise)`` on images ``[4, 1, 8, 8]`` and then on 2-D points ``[3, 2]``, against
    ``q_sample``, naming the first mistake found."""
    s = NoiseSchedule.make("linear", 1000)
    gen = torch.Generator().manual_seed(0)
    cases = {"images [B, C, H, W]": (torch.randn(4, 1, 8, 8, generator=gen), torch.tensor([0, 10, 500, 999])),
             "2-D points [B, 2]": (torch.randn(3, 2, generator=gen), torch.tensor([5, 300, 900]))}
    reference = Q_SAMPLE_REFERENCE
    for k, (label, (x0, t)) in enumerate(cases.items()):
        noise = torch.randn(x0.shape, generator=gen)
        try:
            got = fn(x0, t, s, noise)
        except (NotImplementedError, TypeError) as err:
            if isinstance(err, NotImplementedError) or k == 0:
                raise
            return report(False, "", f"it works on images but not on 2-D points [B, 2]: it raised "
                          f"{type(err).__name__}: {err}", Q_SAMPLE_FORMULA, reference)
        except RuntimeError as err:
            where = "it works on images but not on 2-D points [B, 2]" if k else f"on {label}"
            return report(False, "", f"{where}: a shape error ({(str(err).splitlines() or [''])[0]}). "
                          "alpha_bar[t] has "
                          "shape [B]; it must be reshaped to broadcast against x0.", Q_SAMPLE_FORMULA, reference)
        want = q_sample(x0, t, s, noise=noise)
        shape = tuple(torch.as_tensor(got).shape) if isinstance(got, torch.Tensor) else None
        if k == 1 and shape is not None and shape != tuple(x0.shape):
            return report(False, "", f"it works on images but not on 2-D points: x0 [3, 2] gives a result of "
                          f"shape {shape}. Reshaping alpha_bar[t] to [B, 1, 1, 1] fits images only; on [B, 2] it "
                          "broadcasts into a bigger tensor.", Q_SAMPLE_FORMULA, reference)
        problem = diagnose(got, want, q_sample_mistakes(x0, t, s, noise))
        if problem:
            return report(False, "", f"on {label}: {problem}", Q_SAMPLE_FORMULA, reference)
    return report(True, "that is the closed form q(x_t | x_0), on images and on 2-D points alike.", "")


def alpha_bar_from_betas(betas: torch.Tensor) -> torch.Tensor:
    """Reference: alpha_bar_t = prod_{s <= t} (1 - beta_s), ``[T] -> [T]``."""
    return torch.cumprod(1 - betas, dim=0)


def alpha_bar_against_the_sum(schedule: NoiseSchedule) -> None:
    """Print, after notebook 04's exercise 3, alpha_bar[t] beside the first-order shortcut 1 - (sum of the betas up
    to t) at a few fractions of T, and where the shortcut turns negative (float64)."""
    T = schedule.T
    betas = schedule.betas.double()
    alpha_bar = alpha_bar_from_betas(betas)
    one_minus_sum = 1 - betas.cumsum(0)
    for t in sorted({T // 100, T // 10, T // 4, T - 1}):
        print(f"t = {t:>3}: alpha_bar[t] = {alpha_bar[t]:.4f}, 1 - sum of betas = {one_minus_sum[t]:.4f}")
    negative = torch.nonzero(one_minus_sum < 0).flatten()
    print(f"1 - sum of betas is negative from t = {int(negative[0])} on" if len(negative) else
          "1 - sum of betas stays positive on this schedule")


@graded
def check_alpha_bar(fn) -> None:
    """Compare ``fn(betas)`` with ``alpha_bar`` on the linear and the cosine schedule (T = 1000)."""
    formula = ("one step keeps the fraction 1 - beta_1 of x_0's variance. What fraction of *that* does the second "
               "step keep, and so what is left after two steps? After three? Write the pattern for t + 1 steps, then "
               "look for a torch operation that gives it for every t at once.")
    reference = ("Ho et al. (2020), Section 2, the definition of alpha_bar_t just before Eq. 4 (mind the indexing: "
                 "their t = 1 is course_lib's timestep 0)")
    for name in ("linear", "cosine"):
        betas = NoiseSchedule.make(name, 1000).betas.clone()
        want = alpha_bar_from_betas(betas.double())
        keep = 1 - betas.double()
        mistakes = {
            "that is built from the betas, the noise each step adds; alpha_bar is about what each step keeps of the "
            "signal, 1 - beta.":
                torch.cumprod(betas.double(), 0),
            "that is 1 minus the sum of the betas: close while the betas are tiny, but it goes negative on the "
            "linear schedule, and a fraction of a variance cannot. A later step removes a fraction of what the "
            "earlier steps left, not of x_0's whole variance.":
                1 - torch.cumsum(betas.double(), 0),
            "that adds up what the steps keep: it grows past 1, while the signal's share can only shrink.":
                torch.cumsum(keep, 0),
            "that is alpha_t, what one step keeps; alpha_bar_t accumulates every step up to t.": keep,
            "off by one step: alpha_bar[t] is what is left after t + 1 steps (timestep 0 is the first step), so "
            "alpha_bar[0] = 1 - betas[0], not 1.":
                torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(keep, 0)[:-1]]),
        }
        problem = diagnose(fn(betas), want, mistakes, atol=1e-6, rtol=1e-4)
        if problem:
            return report(False, "", f"on the {name} schedule: {problem}", formula, reference)
    return report(True, "alpha_bar_t is the product of what each step keeps; the closed form q(x_t | x_0) scales "
                  "x_0 by its square root.", "")


ALPHA_BAR_CHOICES = {"1/2": 0.5, "1/10": 0.1, "1/100": 0.01}


def _as_choice(prediction) -> str | None:
    """``prediction`` as one of ``ALPHA_BAR_CHOICES``: "1/10", "0.1" and 0.1 all read as "1/10"; a number
    between the choices reads as the nearest one on a log scale; anything else is None."""
    text = answer_text(prediction).replace(" ", "")
    if text in ALPHA_BAR_CHOICES:
        return text
    try:
        value = float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        return None
    if not 0 < value <= 1:
        return None
    return min(ALPHA_BAR_CHOICES, key=lambda k: abs(np.log10(ALPHA_BAR_CHOICES[k]) - np.log10(value)))


@graded
def check_alpha_bar_prediction(prediction, t: int = 500, T: int = 1000) -> None:
    """04, predict-then-run: how much of x_0's variance, alpha_bar_t, is left half-way (t = T/2) through the
    linear schedule? ``prediction`` is "1/2", "1/10" or "1/100" (or a number); the answer is the choice nearest
    to the schedule's alpha_bar_t on a log scale."""
    answer = _as_choice(prediction)
    if answer is None:
        return report(False, "", f"write the prediction as one of {', '.join(map(repr, ALPHA_BAR_CHOICES))}; "
                      f"it is {prediction!r}.")
    schedules = {name: float(NoiseSchedule.make(name, T).alpha_bar[t]) for name in ("linear", "cosine")}
    actual = _as_choice(schedules["linear"])
    why = {"1/2": f"1/2 is what the cosine schedule keeps at t = {t} (alpha_bar = {schedules['cosine']:.3f}); it was "
                  "designed to. The linear schedule's beta_t grows from 1e-4 to 0.02: the small early betas add up "
                  "faster than they look.",
           "1/100": "that is too little: the betas of the first half are the small ones (beta_t grows linearly from "
                    "1e-4 to 0.02), so the second half still has much to destroy."}
    return report(answer == actual, f"on the linear schedule alpha_bar[{t}] = {schedules['linear']:.3f}: the signal "
                  f"is scaled by sqrt(alpha_bar) = {schedules['linear'] ** 0.5:.2f} half-way through the chain "
                  f"(the cosine schedule keeps {schedules['cosine']:.3f}).",
                  why.get(answer, "the widget below draws alpha_bar[t] in blue: look at the middle of the chain."),
                  formula="the linear betas of the first half sum to about 500 x 0.005 = 2.5; while the betas are "
                          "small, the variance left is close to exp(-(the sum of the betas so far)).",
                  reference="Ho et al. (2020), Section 4 (their linear schedule, beta from 1e-4 to 0.02)")


# ----------------------------------------------------------------------------- widgets

SCHEDULE_NAMES = ["linear", "cosine", "sigmoid", "quadratic"]
T_CHOICES = [50, 100, 250, 500, 1000]


def fit_t_slider(slider, T: int) -> None:
    """Give the t slider the range of a schedule with ``T`` steps: 0 to T - 1, in steps of about T / 100
    (ipywidgets moves a value past the new end to T - 1)."""
    slider.step = max(1, int(T) // 100)
    slider.max = int(T) - 1


def t_follows_T(live):
    """Make a ``ForwardView`` widget's t slider follow its T menu: whenever T changes, the slider's range
    becomes 0 to T - 1 (so no t past the schedule's end is offered). Returns ``live``."""
    slider, menu = live.controls["t"], live.controls["T"]
    fit_t_slider(slider, menu.value)
    menu.observe(lambda change: fit_t_slider(slider, change["new"]), names="value")
    return live


def forward_controls(T: int = 1000, schedule: str = "linear") -> dict:
    """The controls of notebook 04's widget for a schedule ``schedule`` with ``T`` steps: t (view-only: about
    a quick redraw) from 0 to T - 1, starting at T / 10; the schedule; and T (the choices, plus ``T``)."""
    from ipywidgets import Dropdown, IntSlider

    return {"t": IntSlider(value=T // 10, min=0, max=T - 1, step=max(1, T // 100)),
            "schedule": Dropdown(options=SCHEDULE_NAMES, value=schedule),
            "T": Dropdown(options=sorted({*T_CHOICES, T}), value=T)}


def demo_widgets(T: int = 1000, schedule: str = "linear") -> dict:
    """Notebook 04's widget (``ForwardView`` over the photo and a digit), with the notebook's controls."""
    from ..widgets import LiveFigure

    return {"forward": t_follows_T(LiveFigure(ForwardView(), **forward_controls(T, schedule))).warm()}
