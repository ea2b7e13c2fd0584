"""The experiments of notebook 01 (vanishing gradients and degradation), as plain functions.

Widgets call these with the values of their controls; tests call them directly. Notebook 01b (optional,
``lessons.gradient_pathologies``) measures explosion, frozen float32 weights and shattered gradients.

* **vanishing**: the first layer's gradient ||dL/dW_1|| shrinks exponentially with depth. For a
  plain ReLU net this is a property of the *initialisation* (PyTorch's default has a weight variance
  6x too small for ReLU); for sigmoid it happens under each of the three initialisations tested here
  (sigma' <= 1/4), though not under every one: orthogonal weights at criticality keep sigmoidal nets
  trainable (Pennington, Schoenholz and Ganguli 2017). A vanishing gradient is tiny (1e-26), not zero:
  the norms are taken in float64.
* **degradation**: He et al. (2016, Sec. 1 and Fig. 1) define it as a deeper plain net reaching a *higher training
  error* than a shallower one; with BatchNorm's healthy signals (Sec. 4.1) they call it an optimisation difficulty.
  These nets have no normalisation; at Kaiming init, with healthy gradients at step 0, the notebook shows a deep
  plain net *slower* to train, and leaves open whether it ends worse.

Per-seed numbers go to the notebook's ignored cells; ``*_claims`` functions return the per-seed
margins that ``course_lib.claims.check_claim`` turns into a deterministic verdict.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_choice
from ..classify import classifier_curve, digits_flat, first_digits, linear_baseline, train_classifier
from ..deep_nets import INITS, DeepMLP
from ..gradients import layer_gradient_norms, layer_profile, log_ratio
from ..plotting import ZERO_LABEL, finish, legend_outside, log_plot_with_zeros, mark_zero_row, smooth, zero_floor
from ..study import SHIPPED_RESULTS
from ..utils import one_thread
from .grading import answer_text, as_float64, diagnose, graded, report

# ----------------------------------------------------------------------------- gradient profiles

def gradient_profiles(depth: int = 20, activation: str = "sigmoid", init: str = "default",
                      scale_branch: bool = True, norm: str = "none", width: int = 64, seed: int = 0,
                      n: int = 256) -> dict[str, np.ndarray]:
    """Per-layer gradient norms ``[depth]`` of the plain and the residual twin, on ``n`` digits."""
    return {name: layer_profile(depth, residual, activation, init, scale_branch, norm, width, seed, n)
            for name, residual in (("plain", False), ("residual", True))}


def plot_gradient_profiles(profiles: dict[str, np.ndarray], title: str = "", ax=None):
    """Log-scale gradient norm against layer index (1 = next to the input), one line per network.

    Exact zeros (every entry of the float32 gradient underflowed) are drawn as triangles on a dotted line
    labelled ``ZERO_LABEL``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 3.5))
    zero_y = zero_floor(profiles.values())
    for name, norms in profiles.items():
        log_plot_with_zeros(ax, np.arange(1, len(norms) + 1), norms, "o-", name, zero_y=zero_y, ms=3)
    ax.set_yscale("log")
    mark_zero_row(ax, zero_y)
    ax.set_xlabel("layer l (1 = input side)")
    ax.set_ylabel("||dL/dW_l||")
    ax.set_title(title, fontsize=10)
    legend_outside(ax)
    from matplotlib.ticker import LogLocator, NullFormatter

    ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(1.0,), numticks=200))  # a grid line at every power of ten
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="minor", axis="y", alpha=0.25, lw=0.6)
    ax.grid(True, which="major", alpha=0.45)
    ax.figure.tight_layout()
    title = f" ({title})" if title else ""
    return finish(ax.figure, f"Gradient norm ||dL/dW_l|| of each layer l against the layer, 1 = input side, on a log "
                  f"axis, one line per network: {', '.join(profiles)}{title}. Compare the gradient at layer 1 with "
                  "the one at the last layer, in powers of ten (a gradient that is exactly zero would show as a "
                  "triangle on a dotted bottom line).")


def _branch_label(scale_branch: bool) -> str:
    return "residual twin, h + f(h)/sqrt(depth)" if scale_branch else "residual twin, h + f(h) (unscaled)"


class GradientProfilesView:
    """Widget body of notebook 01, built once: ||dL/dW_l|| against the layer l, log scale, for the plain
    ``DeepMLP`` and (with ``residual``) its residual twin with the same weights, at initialisation.

    ``update(depth, activation, init, residual, scale_branch, norm)`` computes the profiles it has not seen
    (one forward and backward pass per network, cached by their settings) and sets the lines' data; exact zeros
    (a float32 gradient whose every entry underflowed) are triangles on a dotted line. The axis limits, the zero
    line and the legend depend on the depth and on the decades the data span: ``update`` returns them as the name
    of the background.
    """

    def __init__(self, width: int = 64, n: int = 256, seed: int = 0):
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
        from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter

        self.width, self.n, self.seed = width, n, seed
        self.profiles: dict[tuple, np.ndarray] = {}
        self.fig, ax = plt.subplots(figsize=(9, 3.6))
        self.ax = ax
        self.lines, self.zero_marks = {}, {}
        for name, color in (("plain", "C0"), ("residual", "C1")):
            (self.lines[name],) = ax.plot([], [], "o-", color=color, ms=3)
            (self.zero_marks[name],) = ax.plot([], [], "v", color=color, ms=7, linestyle="none")
        self.zero_line = ax.axhline(1e-30, color="0.6", lw=0.8, ls=":")
        self.handles = {"plain": Line2D([], [], marker="o", color="C0", ms=3),
                        "residual": Line2D([], [], marker="o", color="C1", ms=3),
                        "zero": Line2D([], [], marker="v", color="0.4", ms=7, linestyle="none")}
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, numticks=8))  # a label every few decades
        ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(1.0,), numticks=200))  # a faint line at every decade
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="minor", axis="y", alpha=0.2, lw=0.6)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
        ax.set_xlabel("layer l (1 = input side)")
        ax.set_ylabel("||dL/dW_l|| at init")
        ax.grid(True, which="major", alpha=0.3)
        self.title = ax.set_title(" ", fontsize=10)
        self.fig.subplots_adjust(left=0.09, right=0.7, bottom=0.15, top=0.9)  # room for the legend on the right
        self.animated = [*self.lines.values(), *self.zero_marks.values(), self.title]
        self.computes = {"depth", "activation", "init", "norm"}  # a new setting computes its gradient profiles
        self._background = None
        plt.close(self.fig)  # closed: the inline backend must not show it a second time

    def profile(self, depth: int, residual: bool, activation: str, init: str, scale_branch: bool,
                norm: str) -> np.ndarray:
        """``layer_profile`` for these settings, computed once."""
        key = (depth, residual, activation, init, scale_branch and residual, norm)
        if key not in self.profiles:
            self.profiles[key] = layer_profile(depth, residual, activation, init, scale_branch, norm, self.width,
                                               self.seed, self.n)
        return self.profiles[key]

    def describe(self, depth: int = 30, activation: str = "sigmoid", init: str = "default", residual: bool = True,
                 scale_branch: bool = True, norm: str = "none") -> str:
        twin = (f"beside its residual twin with the same weights ({_branch_label(scale_branch).split(', ')[1]}, "
                f"scale_branch = {scale_branch})" if residual else f"alone (the residual twin is hidden; "
                f"scale_branch = {scale_branch})")
        return (f"Gradient norm ||dL/dW_l|| of each layer l at initialisation, on a log axis, against the layer "
                f"(1 = input side), for a plain network of depth {depth} with {activation} activations, {init} "
                f"initialisation and normalisation {norm}, {twin}. Compare the gradient at layer 1 with the one at "
                f"the last layer, in powers of ten (a gradient that is exactly zero would show as a triangle on a "
                f"dotted bottom line).")

    def update(self, depth: int = 30, activation: str = "sigmoid", init: str = "default", residual: bool = True,
               scale_branch: bool = True, norm: str = "none") -> tuple:
        depth = int(depth)
        shown = {"plain": self.profile(depth, False, activation, init, scale_branch, norm)}
        if residual:
            shown["residual"] = self.profile(depth, True, activation, init, scale_branch, norm)
        values = np.concatenate(list(shown.values()))
        positive = values[values > 0]
        has_zero = bool((values == 0).any())
        lo = math.floor(math.log10(positive.min())) if positive.size else -30
        hi = max(math.ceil(math.log10(positive.max())) if positive.size else -29, lo + 1)
        zero_y = 10.0 ** (lo - 1)
        layers = np.arange(1, depth + 1)
        for name in ("plain", "residual"):
            norms = shown.get(name, np.array([]))
            x = layers[: len(norms)]
            self.lines[name].set_data(x, np.where(norms > 0, norms, np.nan))
            self.zero_marks[name].set_data(x[norms == 0], np.full(int((norms == 0).sum()), zero_y))
        self.title.set_text(f"depth {depth}, {activation}, {init} init, norm: {norm} (width {self.width}, "
                            f"{self.n} digits)")
        background = (depth, lo, hi, has_zero, bool(residual), bool(scale_branch))
        if background != self._background:
            self._set_background(*background)
        return background

    def _set_background(self, depth, lo, hi, has_zero, residual, scale_branch) -> None:
        """Axis limits, the zero line and the legend: everything that is drawn once per background."""
        ax = self.ax
        ax.set_xlim(0, depth + 1)
        ax.set_ylim(10.0 ** (lo - 1.5 if has_zero else lo - 0.2), 10.0 ** (hi + 0.2))
        self.zero_line.set_ydata([10.0 ** (lo - 1)] * 2)
        self.zero_line.set_visible(has_zero)
        names = ["plain"] + (["residual"] if residual else []) + (["zero"] if has_zero else [])
        labels = {"plain": "plain, f(h)", "residual": _branch_label(scale_branch), "zero": ZERO_LABEL}
        legend_outside(ax, handles=[self.handles[k] for k in names], labels=[labels[k] for k in names])
        self._background = (depth, lo, hi, has_zero, residual, scale_branch)


def show_gradient_profiles(depth: int = 30, activation: str = "sigmoid", init: str = "default",
                           residual: bool = True, scale_branch: bool = True, norm: str = "none"):
    """The figure of ``GradientProfilesView`` for one setting, as a static figure (to call with fixed arguments):
    the plain network's profile, and next to it the residual twin's (if ``residual``). The gradients are float32;
    their norms are taken in float64, so that a norm does not underflow where the entries do not."""
    view = GradientProfilesView()
    view.update(depth, activation, init, residual, scale_branch, norm)
    return finish(view.fig, view.describe(depth, activation, init, residual, scale_branch, norm))


def gradient_profiles_widget(depth: int = 30, activation: str = "relu", init: str = "default"):
    """Notebook 01's live figure over ``GradientProfilesView``: depth (2-100, computed on release), activation,
    initialisation, residual twin on/off, branch scaling on/off, normalisation."""
    from ipywidgets import Checkbox, Dropdown, IntSlider

    from ..widgets import LiveFigure

    return LiveFigure(
        GradientProfilesView(),
        depth=IntSlider(value=depth, min=2, max=100, step=2, continuous_update=False),
        activation=Dropdown(options=["sigmoid", "tanh", "relu", "gelu"], value=activation),
        init=Dropdown(options=list(INITS), value=init),
        residual=Checkbox(value=True, description="show residual twin"),
        scale_branch=Checkbox(value=True, description="scale branch by 1/sqrt(depth)"),
        norm=Dropdown(options=["none", "layer", "batch"], value="none"))


def demo_widgets() -> dict:
    """Notebook 01's widget, same controls, ranges and defaults (it computes its profiles, so no stand-in)."""
    return {"gradient_profiles": gradient_profiles_widget()}


# ----------------------------------------------------------------------------- tiny, not zero: what float32 does


# ----------------------------------------------------------------------------- initialisation, exact math

def init_variance(fan_in: int = 64, depth: int = 30) -> dict[str, float]:
    """Weight variance of PyTorch's default and of Kaiming init, and what it does over ``depth`` ReLU layers.

    PyTorch's ``nn.Linear`` draws W ~ U(-b, b) with b = 1/sqrt(fan_in), so Var(W) = 1/(3 fan_in);
    Kaiming (He et al. 2015, Sec. 2.2) uses Var(W) = 2/fan_in. A ReLU layer multiplies the mean square
    of its input by ``fan_in Var(W) / 2`` (1/6 for the default, 1 for Kaiming); over ``depth`` layers
    the root-mean-square signal, and by the same argument the backpropagated gradient, is multiplied by
    ``(fan_in Var(W) / 2) ** (depth / 2)``; from the last of ``depth`` layers down to the first, over ``depth - 1``
    steps, that is ``-log10(fan_in Var(W) / 2) / 2`` powers of ten per step.

    ``var_xavier_relu``: the "xavier" of ``DeepMLP`` (``nn.init.xavier_normal_`` with PyTorch's gain for the
    activation, ``calculate_gain``): gain^2 * 2 / (fan_in + fan_out); for ReLU, gain^2 = 2 and a square layer, it is
    Kaiming's 2 / fan_in.
    """
    default, kaiming = 1 / (3 * fan_in), 2 / fan_in
    gain_default, gain_kaiming = fan_in * default / 2, fan_in * kaiming / 2
    return {"var_default": default, "var_kaiming": kaiming, "ratio": kaiming / default,
            "var_xavier_relu": 2 * 2 / (fan_in + fan_in),
            "gain_default": gain_default, "gain_kaiming": gain_kaiming,
            "orders_per_step_default": -math.log10(gain_default) / 2,
            "rms_factor_default": gain_default ** ((depth - 1) / 2),
            "rms_factor_kaiming": gain_kaiming ** ((depth - 1) / 2)}


def backward_split(depth: int = 30, activation: str = "relu", init: str = "default", seed: int = 0,
                   n: int = 256) -> dict[str, np.ndarray]:
    """The two factors of a plain net's weight gradient dL/dW_l = delta_l h_{l-1}^T, per layer l = 1..depth, at
    initialisation: ``delta`` = ||dL/dz_l|| (the backpropagated signal, the chain rule's product) and ``inputs`` =
    ||h_{l-1}|| (the layer's input, which the forward pass sets); ``weight`` = ||dL/dW_l||. With PyTorch's default
    init the biases keep the inputs from shrinking after the first few layers, so the weight gradient loses fewer
    powers of ten per layer than the backpropagated signal does."""
    x, y = first_digits(n)
    with one_thread():
        torch.manual_seed(seed)
        net = DeepMLP(depth=depth, width=64, activation=activation, init=init)
        h = net.stem(x)
        inputs, zs = [], []
        for layer in net.layers:
            inputs.append(h.detach().norm().item())
            z = layer.linear(layer.norm(h))
            z.retain_grad()
            zs.append(z)
            h = layer.act(z)
        F.cross_entropy(net.head(h), y).backward()
    return {"delta": np.array([z.grad.norm().item() for z in zs]), "inputs": np.array(inputs),
            "weight": np.array([layer.linear.weight.grad.norm().item() for layer in net.layers])}


def format_backward_split(split: dict[str, np.ndarray]) -> str:
    """``backward_split`` in two lines: powers of ten lost per layer by the backpropagated signal and by the weight
    gradient, and the layer inputs' norms along the net."""
    depth = len(split["delta"])
    inputs = split["inputs"]
    return (f"per layer, last to first: the backpropagated dL/dz loses {orders_per_layer(split['delta']):.2f} powers "
            f"of ten, the weight gradient {orders_per_layer(split['weight']):.2f}\n"
            f"layer inputs ||h_(l-1)||: {inputs[0]:.0f} at layer 1, {inputs[5]:.0f} at layer 6, "
            f"{inputs[-1]:.0f} at layer {depth}")



# ----------------------------------------------------------------------------- activation and initialisation



# ----------------------------------------------------------------------------- activations under every init

def activation_table(activations=("sigmoid", "tanh", "relu"), inits=("default", "xavier", "kaiming"), depth: int = 30,
                     seeds=(0, 1, 2)) -> dict[tuple[str, str], np.ndarray]:
    """First-layer over last-layer gradient norm of a plain net: ``{(activation, init): [len(seeds)]}``."""
    out = {}
    for act in activations:
        for init in inits:
            profiles = [layer_profile(depth, activation=act, init=init, seed=s) for s in seeds]
            out[(act, init)] = np.asarray([p[0] / p[-1] for p in profiles])
    return out


def format_activation_table(table: dict[tuple[str, str], np.ndarray]) -> str:
    """Rows: activations; columns: inits; entries: median over seeds of ||dL/dW_1|| / ||dL/dW_L||."""
    acts = list(dict.fromkeys(a for a, _ in table))
    inits = list(dict.fromkeys(i for _, i in table))
    lines = [f"{'':<9}" + "".join(f"{i:>12}" for i in inits)]
    for a in acts:
        lines.append(f"{a:<9}" + "".join(f"{np.median(table[(a, i)]):>12.1e}" for i in inits))
    return "\n".join(lines)


def activation_claims(table: dict[tuple[str, str], np.ndarray]) -> dict[str, np.ndarray]:
    """Per-seed margins: ``sigmoid_vanishes`` (orders of magnitude below 1e-6 under the *worst* of the inits in
    ``table`` for sigmoid, i.e. the largest ratio; it says nothing about inits not tested, such as orthogonal
    weights at criticality, Pennington et al. 2017) and ``relu_kaiming_healthy`` (orders above 1e-2 of ReLU at
    Kaiming)."""
    out = {}
    sigmoid = [v for (a, _), v in table.items() if a == "sigmoid"]
    if sigmoid:
        out["sigmoid_vanishes"] = -6 - log_ratio(np.stack(sigmoid).max(axis=0), 1.0)
    if ("relu", "kaiming") in table:
        out["relu_kaiming_healthy"] = log_ratio(table[("relu", "kaiming")], 1.0) + 2
    return out


# ----------------------------------------------------------------------------- degradation

def train_loss(net, split: str = "train") -> float:
    """Mean cross-entropy of ``net`` (in eval mode) over a whole digits split."""
    x, y = digits_flat(split)
    net.eval()
    with torch.no_grad():
        return F.cross_entropy(net(x), y).item()


DEGRADATION_RUNS = (("plain", "default", 32),
                    ("plain", "kaiming", 4), ("plain", "kaiming", 32), ("plain", "kaiming", 64),
                    ("residual", "kaiming", 4), ("residual", "kaiming", 32), ("residual", "kaiming", 64))


def degradation_experiment(runs=DEGRADATION_RUNS, seeds=(0, 1, 2), steps: int = 200, width: int = 64,
                           activation: str = "relu") -> list[dict]:
    """He et al. (2016) Fig. 1 at toy scale: train each ``(shortcut, init, depth)`` of ``runs`` with
    Adam for ``steps`` steps, once per seed. The residual nets use h + f(h)/sqrt(depth).

    Returns one row per run and seed: ``{"shortcut", "init", "depth", "seed", "loss": [steps] batch losses,
    "train_loss": final loss on the whole train split, "accuracy": test accuracy, "grad_ratio":
    ||dL/dW_1|| / ||dL/dW_depth|| at step 0}``. Trains on one thread: the matrices are ``[128, width]``, and on a
    busy 2-core machine two threads that wait for each other at every layer are many times slower.
    """
    rows = []
    x, y = digits_flat("train")
    for shortcut, init, depth in runs:
        check_choice("shortcut", shortcut, ("plain", "residual"))
        check_choice("init", init, INITS)
        for seed in seeds:
            torch.manual_seed(seed)
            net = DeepMLP(depth=depth, width=width, activation=activation, init=init,
                          residual=shortcut == "residual")
            with one_thread():
                g = layer_gradient_norms(net, x[:256], y[:256])
                losses, acc = train_classifier(net, steps=steps, seed=seed)
            rows.append({"shortcut": shortcut, "init": init, "depth": depth, "seed": seed, "loss": losses,
                         "train_loss": train_loss(net), "accuracy": acc,
                         "grad_ratio": float(g[0] / g[-1]) if g[-1] > 0 else 0.0})
    return rows


DEGRADATION_BUDGETS = (50, 100, 200, 400, 800, 1600, 3200)  # Adam steps at which the shipped curves are measured
DEGRADATION_CURVES = SHIPPED_RESULTS / "degradation_curves.json"  # ``python -m course_lib study degradation``


def degradation_curve(seed: int, shortcut: str, init: str, depth: int, budgets=DEGRADATION_BUDGETS,
                      width: int = 64, activation: str = "relu", device="cpu") -> list[dict]:
    """One net of ``degradation_experiment`` along its learning curve: a row per budget
    (``classify.classifier_curve``: train-split loss, test loss and accuracy) with the net's gradient ratio
    ||dL/dW_1|| / ||dL/dW_depth|| at step 0. Runs on the CPU (``device`` is accepted for the study runner)."""
    check_choice("shortcut", shortcut, ("plain", "residual"))
    check_choice("init", init, INITS)
    torch.manual_seed(seed)
    net = DeepMLP(depth=depth, width=width, activation=activation, init=init, residual=shortcut == "residual")
    x, y = digits_flat("train")
    with one_thread():
        g = layer_gradient_norms(net, x[:256], y[:256])
        rows = classifier_curve(net, list(budgets), seed=seed)
    ratio = float(g[0] / g[-1]) if g[-1] > 0 else 0.0
    return [{**row, "grad_ratio": ratio} for row in rows]


def degradation_study():
    """The shipped degradation curves: plain and residual MLPs (width 64, ReLU, Kaiming init) at depths 4 to 64
    and plain-32 at the default init, 5 seeds, each to 3,200 Adam steps (the deep plain ones to 6,400)."""
    from ..study_runner import Study

    variants = [{"shortcut": "plain", "init": "default", "depth": 32}]
    for shortcut in ("plain", "residual"):
        for depth in (4, 16, 32, 64):
            variant = {"shortcut": shortcut, "init": "kaiming", "depth": depth}
            if shortcut == "plain" and depth >= 32:
                variant["budgets"] = (*DEGRADATION_BUDGETS, 6400)
            variants.append(variant)
    return Study("degradation", degradation_curve, variants, seeds=range(5), budgets=DEGRADATION_BUDGETS,
                 out=DEGRADATION_CURVES, required=("train_loss", "accuracy", "grad_ratio"),
                 meta={"width": 64, "activation": "relu", "optimizer": "Adam, lr 1e-3, batch 128",
                       "baselines": linear_baseline(), "torch": torch.__version__,
                       "command": "python -m course_lib study degradation"})


DEPTH_COLORS = {4: "tab:blue", 16: "tab:green", 32: "tab:orange", 64: "tab:red"}


def load_degradation_curves(path=DEGRADATION_CURVES) -> tuple[dict, list[dict]]:
    """``(meta, rows)`` of the shipped degradation curves (``degradation_study``)."""
    from ..study import load_study

    return load_study(path)


FIT_LOSS = 1e-3  # a train loss below this is drawn at it: the net fits its training digits, and ratios of smaller
# losses (1e-5 against 1e-7) say nothing about how well it learned


def fitted_loss(row: dict) -> float:
    """A row's train-split loss, floored at ``FIT_LOSS``."""
    return max(row["train_loss"], FIT_LOSS)


def degradation_panels(rows, score=fitted_loss) -> dict[str, dict]:
    """The shipped curves of ``score`` (default: the train loss floored at ``FIT_LOSS``) by panel: plain and
    residual nets at Kaiming init, one curve per depth."""
    from ..curves import Curve

    panels = {}
    for shortcut in ("plain", "residual"):
        depths = sorted({r["depth"] for r in rows if (r["shortcut"], r["init"]) == (shortcut, "kaiming")})
        panels[f"{shortcut}, Kaiming init"] = {
            f"{shortcut}-{d}": Curve.of(rows, {"shortcut": shortcut, "init": "kaiming", "depth": d}, score,
                                        label=f"{shortcut}-{d}") for d in depths}
    return panels


def live_points(runs) -> dict[str, list[tuple[int, float]]]:
    """The notebook's own runs (``degradation_experiment``) as points ``(steps, fitted_loss)`` per curve label."""
    out: dict[str, list] = {}
    for r in runs:
        if r["init"] == "kaiming":
            out.setdefault(f"{r['shortcut']}-{r['depth']}", []).append((len(r["loss"]), fitted_loss(r)))
    return out


def degradation_curves_widget(meta: dict, rows, runs=None, budget: int = 200):
    """The shipped training-loss curves (5 seeds: line = geometric mean, band = where a new seed lands 95% of the
    time) beside a linear classifier and chance, the notebook's runs as crosses, and a budget slider."""
    from ipywidgets import SelectionSlider

    from ..curves import CurvesView
    from ..widgets import LiveFigure

    base = meta["baselines"]
    lines = {"linear classifier (converged)": base["linear_train_loss"], "chance (ln 10)": base["chance_loss"]}
    panels = degradation_panels(rows)
    colors = {label: DEPTH_COLORS.get(int(label.split("-")[1]), "0.3") for p in panels.values() for label in p}
    points = live_points(runs) if runs else {}
    view = CurvesView(panels, colors, {title: lines for title in panels}, {title: points for title in panels},
                      ylabel=f"loss on the whole train split (floor {FIT_LOSS:g})",
                      what="Loss on the whole training split of plain and residual MLPs of several depths")
    budgets = sorted({int(s) for p in panels.values() for c in p.values() for s in c.steps})
    return LiveFigure(view, budget=SelectionSlider(options=budgets, value=budget, description="budget"))


def check_live_degradation(rows, runs) -> None:
    """Whether the notebook's runs land inside the shipped curves' bands, in words."""
    from ..curves import agreement, describe_agreement

    curves = {label: c for p in degradation_panels(rows).values() for label, c in p.items()}
    print(describe_agreement(agreement(curves, live_points(runs)), what="train loss"))


def floor_from(curve) -> int | None:
    """The first budget from which every seed of ``curve`` stays at the ``FIT_LOSS`` floor (None if it never does):
    from there on its ratios with another floored curve are 1 by construction, not a measurement."""
    at_floor = np.all(curve.values <= FIT_LOSS * (1 + 1e-9), axis=0)
    for i in range(len(at_floor)):
        if at_floor[i:].all():
            return int(curve.steps[i])
    return None


def degradation_verdicts(rows) -> str:
    """What the shipped curves say, worded as far as they reach: deeper plain nets at a budget, and at the end.

    Two curves that both end at the ``FIT_LOSS`` floor on every seed are not compared ("both below 0.001"): their
    ratio is 1 by construction. A comparison that would repeat another one with the same floored numbers (residual-64
    and plain-4 against plain-64) says so instead of printing the same interval twice."""
    from ..curves import ends_verdict, faster_verdict

    plain, residual = degradation_panels(rows).values()
    lines = [faster_verdict(plain["plain-4"], plain["plain-64"], 200),
             faster_verdict(residual["residual-64"], plain["plain-64"], 200)]
    p4, r64 = plain["plain-4"], residual["residual-64"]
    for deep in ("plain-32", "plain-64"):
        a, b = floor_from(p4), floor_from(plain[deep])
        if a is not None and b is not None:
            lines.append(f"at the end, plain-4 (from {a:,} steps) and {deep} (from {b:,}) are both below {FIT_LOSS:g} "
                         "on every seed: not compared (both fit their training digits)")
        else:
            lines.append(ends_verdict(p4, plain[deep]))
    a, b = floor_from(r64), floor_from(p4)
    if a is not None and b is not None and floor_from(plain["plain-64"]) is None:
        lines.append(f"residual-64 against plain-64: the line above again (residual-64, like plain-4, is below "
                     f"{FIT_LOSS:g} on every seed from {a:,} steps)")
    else:
        lines.append(ends_verdict(r64, plain["plain-64"]))
    p64 = plain["plain-64"]
    lines.append(f"plain-64 at {int(p64.steps[-1]):,} steps, train loss per seed: "
                 + ", ".join(f"{v:.3f}" for v in p64.values[:, -1]) + " (0.001: fits its training digits)")
    return "\n".join(f"- {line}" for line in lines)


def shipped_degradation_claims(rows) -> dict[str, np.ndarray]:
    """Per-seed margins (> 0 where the claim held) of the claims read from the shipped curves (``slower_64`` and
    ``residual_64_keeps_up`` in powers of ten, ``catches_up_64`` in units of loss):

    * ``slower_64``: at 200 and at 800 steps plain-64's train loss (floored) is over 10x plain-4's (min of both);
    * ``catches_up_64``: at its last budget plain-64's train loss is within 0.1 of plain-4's at its last budget;
    * ``residual_64_keeps_up``: at 200 steps residual-64's train loss is within 10x of residual-4's.
    """
    plain, residual = degradation_panels(rows).values()

    def at(curve, steps):
        return curve.values[:, int(np.searchsorted(curve.steps, steps))]

    p4, p64, r4, r64 = plain["plain-4"], plain["plain-64"], residual["residual-4"], residual["residual-64"]
    return {"slower_64": np.minimum(np.log10(at(p64, 200) / at(p4, 200)), np.log10(at(p64, 800) / at(p4, 800))) - 1,
            "catches_up_64": 0.1 - (p64.values[:, -1] - p4.values[:, -1]),
            "residual_64_keeps_up": 1 - np.log10(at(r64, 200) / at(r4, 200))}


def jacobian_spectrum(depths=(4, 16, 32, 64), seeds=(0, 1, 2), n_inputs: int = 8, width: int = 64) -> list[dict]:
    """The input-output Jacobian dh_L/dh_0 of the hidden layers of plain and residual ReLU MLPs at Kaiming init,
    at ``n_inputs`` training digits, in float64: the mean of its squared singular values (what the gradient's
    norm sees) and the share of its singular values above a tenth of their root mean square (how many
    directions it keeps). Pennington et al. (2017, Sec. 2.3 and 4) show that ReLU networks cannot keep the whole
    spectrum near 1 ("dynamical isometry"). One row per (shortcut, depth): medians over inputs and seeds."""
    x, _ = digits_flat("train")
    out = []
    for shortcut in ("plain", "residual"):
        for depth in depths:
            mean_sq, kept = [], []
            for seed in seeds:
                torch.manual_seed(seed)
                net = DeepMLP(depth=depth, width=width, activation="relu", init="kaiming",
                              residual=shortcut == "residual").double()
                for i in range(n_inputs):
                    h0 = net.stem(x[i:i + 1].double())[0].detach()
                    jac = torch.autograd.functional.jacobian(lambda h, net=net: net.hidden(h[None])[0], h0)
                    sv = torch.linalg.svdvals(jac)
                    rms = sv.pow(2).mean().sqrt()
                    mean_sq.append(sv.pow(2).mean().item())
                    kept.append((sv > rms / 10).double().mean().item())
            out.append({"shortcut": shortcut, "depth": depth, "mean_sq": float(np.median(mean_sq)),
                        "kept": float(np.median(kept))})
    return out


def format_jacobian_spectrum(rows) -> str:
    lines = [f"{'net':>12} | mean squared singular value | share of directions kept (> RMS/10)"]
    for r in rows:
        lines.append(f"{r['shortcut'] + '-' + str(r['depth']):>12} | {r['mean_sq']:>26.2f} | {r['kept']:>10.0%}")
    return "\n".join(lines)


def _select(rows, shortcut, init, depth) -> list[dict]:
    out = sorted((r for r in rows if (r["shortcut"], r["init"], r["depth"]) == (shortcut, init, depth)),
                 key=lambda r: r["seed"])
    if not out:
        raise ValueError(f"no run with shortcut={shortcut!r}, init={init!r}, depth={depth} in rows")
    return out


def degradation_summary(rows) -> str:
    """One line per configuration: training loss and test accuracy, mean ± sd over seeds."""
    from ..claims import mean_spread

    lines = []
    for key in dict.fromkeys((r["shortcut"], r["init"], r["depth"]) for r in rows):
        sel = _select(rows, *key)
        name = f"{key[0]}-{key[2]}, {key[1]} init"
        lines.append(f"{name:>26}: train loss {mean_spread([r['train_loss'] for r in sel], '.3f')}; "
                     f"test acc {mean_spread([r['accuracy'] for r in sel], '.1f', scale=100, unit='%')}")
    base = load_degradation_curves()[0]["baselines"]
    lines.append(f"{'linear classifier':>26}: train loss {base['linear_train_loss']:.3f}; test acc "
                 f"{100 * base['linear_accuracy']:.1f}% (fitted to convergence: the trivial baseline)")
    return "\n".join(lines)


def plot_degradation(rows, steps_window: int = 20):
    """Left: batch-loss curves (one thin line per seed); right: training loss after the run's steps against
    depth, one dot per seed (log scale), for the plain nets at each init and the residual nets."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.6))
    colors = {}
    for key in dict.fromkeys((r["shortcut"], r["init"], r["depth"]) for r in rows):
        sel = _select(rows, *key)
        group = (key[0], key[1])
        color = colors.setdefault(group, f"C{len(colors)}")
        style = {4: ":", 32: "--", 64: "-"}.get(key[2], "-.")
        for i, r in enumerate(sel):
            ax1.plot(smooth(r["loss"], steps_window), style, color=color, lw=1,
                     label=f"{key[0]}-{key[2]}, {key[1]}" if i == 0 else None)
    for (shortcut, init), color in colors.items():
        sel = [r for r in rows if (r["shortcut"], r["init"]) == (shortcut, init)]
        depths = sorted({r["depth"] for r in sel})
        med = [np.median([r["train_loss"] for r in sel if r["depth"] == d]) for d in depths]
        ax2.plot(depths, med, "-", color=color, label=f"{shortcut}, {init} init")
        ax2.plot([r["depth"] for r in sel], [r["train_loss"] for r in sel], "o", color=color, ms=4)
    ax2.axhline(math.log(10), color="0.5", ls=":", lw=1)
    ax2.text(4, math.log(10) * 1.15, "chance: ln 10", fontsize=8, color="0.4")
    ax1.set(xlabel="step", ylabel=f"batch loss (moving average of {steps_window})", title="training curves")
    ax1.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    ax2.set_yscale("log")
    ax2.set_ylim(top=math.log(10) * 1.8)  # room for the chance line's label
    ax2.set_xscale("log", base=2)
    all_depths = sorted({r["depth"] for r in rows})
    ax2.set_xticks(all_depths, [str(d) for d in all_depths])
    steps = len(rows[0]["loss"])
    ax2.set(xlabel="depth", ylabel=f"train-split loss after {steps} steps",
            title=f"after {steps} Adam steps (dots: seeds)")
    ax2.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    fig.tight_layout()
    groups = ", ".join(f"{shortcut} at {init} init" for shortcut, init in colors)
    return finish(fig, f"Left: batch loss (moving average of {steps_window}) against the Adam step, one line per "
                  f"seed, for {groups} at depths {', '.join(map(str, all_depths))}. Right: loss on the training "
                  f"split after {steps} steps against depth (log scales), one dot per seed, lines through the "
                  "medians, chance (ln 10) dotted. Compare the deep plain nets with the shallow ones, and plain with "
                  "residual at the same depth.")


def degradation_claims(rows) -> dict[str, np.ndarray]:
    """Per-seed margins of the degradation experiment's claims (a claim holds for a seed when > 0):

    * ``default_dead``: 0.05 minus |final train loss - ln 10| of plain-32 at the default init (chance).
    * ``kaiming_32_trains``: ln 10 / 2 minus plain-32's final train loss at Kaiming init (it learns).
    * ``degrades_64``: the same for plain-64 against plain-4, minus 1 (over 10x), after the same number of steps.
    * ``residual_64``: orders by which plain-64's train loss exceeds residual-64's, minus 1 (over 10x).
    * ``healthy_64``: 1 minus |log10(||dL/dW_1|| / ||dL/dW_64||)| of plain-64 at Kaiming init, step 0.
    """
    def losses(shortcut, init, depth):
        return np.array([r["train_loss"] for r in _select(rows, shortcut, init, depth)])

    claims = {
        "default_dead": lambda: 0.05 - np.abs(losses("plain", "default", 32) - math.log(10)),
        "kaiming_32_trains": lambda: math.log(10) / 2 - losses("plain", "kaiming", 32),
        "degrades_64": lambda: log_ratio(losses("plain", "kaiming", 64), losses("plain", "kaiming", 4)) - 1,
        "residual_64": lambda: log_ratio(losses("plain", "kaiming", 64), losses("residual", "kaiming", 64)) - 1,
        "healthy_64": lambda: 1 - np.abs(log_ratio([r["grad_ratio"] for r in _select(rows, "plain", "kaiming", 64)],
                                                   1.0)),
    }
    out = {}
    for name, margin in claims.items():  # a claim whose runs are not in ``rows`` is left out
        try:
            out[name] = margin()
        except ValueError:
            continue
    return out


def plot_training_losses(runs: dict[str, dict], ax=None, title: str = "training loss"):
    """Moving-average loss curves of ``{name: {"loss": [steps], "accuracy": float}}`` (residual solid, plain dashed)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for name, run in runs.items():
        style = "-" if name.startswith("residual") else "--"
        label = f"{name} (acc {run['accuracy']:.0%})" if "accuracy" in run else name
        ax.plot(smooth(run["loss"]), style, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (moving average)")
    ax.set_title(title)
    ax.legend()
    return finish(ax.figure, f"{title.capitalize()}: the loss (moving average) against the step, one line per network "
                  f"({', '.join(runs)}), residual solid and plain dashed; the legend gives each one's test accuracy. "
                  "Which falls faster, and which ends lower?")


# ----------------------------------------------------------------------------- exercises

def sigmoid_derivative_max() -> float:
    """max_z sigma'(z) = sigma(0) (1 - sigma(0)) = 1/4."""
    return 0.25


@graded
def check_sigmoid_derivative_max(value) -> None:
    """01, exercise 1: the largest slope of the sigmoid, sigma'(0) = 1/4."""
    sigma = torch.sigmoid(torch.tensor(1.0, dtype=torch.float64))
    mistakes = {
        "0.5 is sigma(0), the sigmoid's own value at z = 0, not its slope there.": 0.5,
        "1 is the value sigma(z) approaches for large z; the question is about its slope sigma'(z).": 1.0,
        "the slope is 0 only far out in the tails; it has a largest value somewhere in between.": 0.0,
        "that is sigma'(1); the slope is larger still closer to z = 0.": sigma * (1 - sigma),
    }
    if isinstance(value, (str, bool)) or as_float64(value) is None or as_float64(value).numel() != 1:
        return report(False, "", f"`max_slope` should be one number; it is {value!r}.")
    diagnosis = diagnose(as_float64(value).reshape(()), torch.tensor(0.25, dtype=torch.float64),
                         {k: torch.as_tensor(v, dtype=torch.float64) for k, v in mistakes.items()}, atol=1e-4)
    if diagnosis is not None and diagnosis not in mistakes:
        diagnosis = (f"{as_float64(value).item():.4g} is not the largest value of sigma'(z): evaluate the slope at a "
                     "few z and see where it peaks.")
    return report(diagnosis is None, "sigma'(z) <= 1/4, so the slopes of 30 sigmoid layers multiply a gradient by at "
                  "most (1/4)^30 ~ 1e-18, before the weights have their say.", diagnosis or "",
                  formula=("sigma'(z) = sigma(z) (1 - sigma(z)): a product of two numbers that add up to 1. When is it "
                           "largest?"),
                  reference=("Glorot and Bengio (2010), Sec. 3.1 (where sigmoid units saturate, their slope is "
                             "near 0), then evaluate sigma(z) (1 - sigma(z)) at z = -2, -1, 0, 1, 2"))


def residual_layer(h: torch.Tensor, f, s: float) -> torch.Tensor:
    """One layer of the residual twin: h_{l+1} = h_l + s f_l(h_l); ``h`` is ``[B, width]``, ``f`` the layer."""
    return h + s * f(h)


def plain_layer(h: torch.Tensor, f) -> torch.Tensor:
    """One layer of the plain network: h_{l+1} = f_l(h_l)."""
    return f(h)


def run_hidden(net, h: torch.Tensor, layer) -> torch.Tensor:
    """Push ``h`` ``[B, width]`` through every hidden layer of ``net`` with ``layer(h, f)`` for one layer."""
    for f in net.layers:
        h = torch.as_tensor(layer(h, f)).to(h.dtype)  # an answer computed in float64 goes on in the net's dtype
    return h


def _twins(depth: int = 6, seed: int = 0):
    """A residual ``DeepMLP`` with s = 1/sqrt(depth) and its plain twin with the very same weights."""
    torch.manual_seed(seed)
    residual = DeepMLP(depth=depth, residual=True, scale_branch=True)
    plain = DeepMLP(depth=depth, residual=False)
    plain.load_state_dict(residual.state_dict())
    return residual, plain


@graded
def check_residual_layers(residual_fn, plain_fn=None) -> None:
    """01, exercise 2: ``residual_fn(h, f, s)`` is h + s f(h) and ``plain_fn(h, f)`` is f(h). Both are run through
    all 6 layers of a ``DeepMLP`` and its plain twin (same weights) and compared with ``DeepNet.hidden``."""
    residual, plain = _twins()
    s = residual.branch_scale
    with torch.no_grad():
        h0 = residual.stem(first_digits(16)[0])
        for name, fn, args in (("residual_layer", residual_fn, (s,)), ("plain_layer", plain_fn, ())):
            if fn is not None and fn(h0, residual.layers[0], *args) is None:
                return report(False, "", f"{name} returns None: end it with `return ...`.")
        mistakes = {
            "the branch is not scaled: in this twin every f(h) is multiplied by the branch scale s before it is "
            "added.": lambda h, f: h + f(h),
            "s scales the whole sum; it belongs on the branch f(h) only, the shortcut carries h as it is.":
                lambda h, f: s * (h + f(h)),
            "s scales the shortcut h; it belongs on the branch f(h).": lambda h, f: s * h + f(h),
            "s went inside f: scale the branch's output f(h), not its input.": lambda h, f: h + f(s * h),
            "there is no shortcut: a residual layer adds its input h back to the branch.": lambda h, f: s * f(h),
            "that is the plain layer: a residual layer also adds its input h back.": lambda h, f: f(h),
        }
        diagnosis = diagnose(run_hidden(residual, h0, lambda h, f: residual_fn(h, f, s)), residual.hidden(h0),
                             {k: run_hidden(residual, h0, m) for k, m in mistakes.items()})
        if diagnosis is not None:
            diagnosis = f"residual_layer: {diagnosis}"
        elif plain_fn is None:
            diagnosis = "residual_layer is right; now write plain_layer and pass it too."
        else:
            plain_mistakes = {
                "your plain layer has a shortcut: the plain twin keeps only the branch, h -> f(h).":
                    lambda h, f: h + f(h),
                "your plain layer is the residual one: the plain twin keeps only the branch, h -> f(h).":
                    lambda h, f: h + s * f(h),
                "the plain layer has no branch scale: it is f(h) as it is.": lambda h, f: s * f(h),
            }
            diagnosis = diagnose(run_hidden(plain, h0, plain_fn), plain.hidden(h0),
                                 {k: run_hidden(plain, h0, m) for k, m in plain_mistakes.items()})
            if diagnosis is not None:
                diagnosis = f"plain_layer: {diagnosis}"
    return report(diagnosis is None, "through 6 layers your twins match course_lib's DeepMLP: the same layers f_l, "
                  "and only the + h differs.", diagnosis or "",
                  formula=("a residual layer adds its input back to its branch's output (the branch scaled by s); a "
                           "plain layer has only the branch."),
                  reference="He et al. (2016), Deep Residual Learning, Sec. 3.1 and 3.2 (Eq. 1)")


PREDICTIONS = ("first", "middle", "last")


def smallest_layer(norms) -> str:
    """Where the smallest gradient norm sits in ``norms`` ``[depth]``: "first", "middle" or "last" third (the
    first of equal values, so that several layers whose gradient is exactly 0 count from the input side)."""
    i = int(np.argmin(np.asarray(norms)))
    return PREDICTIONS[min(3 * i // len(norms), 2)]


def _as_prediction(prediction) -> str | None:
    text = answer_text(prediction)
    aliases = {"first": ("first", "1", "layer 1", "input", "the first", "first layer", "the first layer", "input side"),
               "last": ("last", "output", "the last", "last layer", "the last layer", "output side")}
    for answer, names in aliases.items():
        if text in names:
            return answer
    return "middle" if "middle" in text else None


@graded
def check_smallest_layer(prediction, norms) -> None:
    """01, predict-then-run: which layer of the 30-layer plain sigmoid net gets the smallest gradient?
    ``norms`` is the measured profile, ``[depth]``, layer 1 first."""
    answer = _as_prediction(prediction)
    actual = smallest_layer(norms)
    if answer is None:
        return report(False, "", f"write the prediction as one of {', '.join(map(repr, PREDICTIONS))}; "
                      f"it is {prediction!r}.")
    why = {"last": "the last layer sits right under the loss: its gradient passes through no other layer on its way "
                   "down, so it is the largest, not the smallest.",
           "middle": "the gradient shrinks at every layer it passes on its way down, so it does not bottom out in "
                     "the middle: it keeps falling."}
    return report(answer == actual, f"the smallest gradient is in the {actual} layers (the input side): each layer "
                  "between it and the loss multiplies it by a factor below one.",
                  why.get(answer, f"the figure shows the smallest gradient in the {actual} layers."),
                  formula="dL/dW_1 carries one factor diag(sigma'(z_l)) W_l per layer above it, with sigma' <= 1/4.",
                  reference="the figure above (a log axis: each faint grid line is a factor of 10)")


def orders_per_layer(norms) -> float:
    """Powers of ten the gradient loses per layer on its way from the last layer down to the first:
    log10(norms[-1] / norms[0]) / (depth - 1), with ``norms`` ``[depth]`` ordered input side first."""
    norms = np.asarray(norms, dtype=np.float64)
    return float(np.log10(norms[-1] / norms[0]) / (len(norms) - 1))


@graded
def check_orders_per_layer(fn) -> None:
    """01, exercise 4: ``fn(norms)`` is the mean loss of log10 gradient norm per layer, from the last layer to the
    first. Tried on two profiles (a geometric one and an uneven one), so a constant copied from an output fails."""
    profiles = [10.0 ** np.linspace(-30, 0, 11), np.array([1e-6, 1e-3, 1.0, 1e-1])]
    hints = dict(formula=("powers of ten are counted by log10; the gradient's total change over the path is shared "
                          "out between the steps from one layer to the next."),
                 reference=("the gradient profiles above: on their log axis each faint grid line is one power of ten "
                            "(the labels skip some), so count the powers of ten between the two ends and the steps "
                            "between the layers"))
    got = []
    for norms in profiles:
        value = as_float64(fn(norms.copy()))
        if value is None or value.numel() != 1:
            return report(False, "", "orders_per_layer should return one number (a float).", **hints)
        got.append(float(value))
    if not all(np.isfinite(got)):
        return report(False, "", f"for the profile {profiles[1].tolist()} your function returns {got[1]}: "
                      "every norm there is positive, so the answer is a finite number.", **hints)
    if np.isclose(got[0], got[1], rtol=1e-9) and not np.isclose(orders_per_layer(profiles[0]),
                                                                  orders_per_layer(profiles[1])):
        return report(False, "", "your function returns the same number for two different profiles: compute it "
                      "from `norms`, not from a value read off an output.", **hints)
    diagnoses = []
    for norms, value in zip(profiles, got):
        first, last, depth = norms[0], norms[-1], len(norms)
        mistakes = {
            "the sign is flipped: a gradient that shrinks towards the input loses a positive number of powers of "
            "ten per layer.": -orders_per_layer(norms),
            "that is the natural logarithm; a power of ten is a step of log10.": np.log(last / first) / (depth - 1),
            "you divided by the number of layers; a profile of n layers has n - 1 steps between its ends.":
                np.log10(last / first) / depth,
            "that is the total over the whole path; divide by the number of steps between layers.":
                np.log10(last / first),
            "that is a ratio of norms, not a number of powers of ten: take a logarithm.": first / last,
            "you used the largest and the smallest norm; the path runs from the last layer (norms[-1]) to the "
            "first (norms[0]), whatever happens in between.": np.log10(norms.max() / norms.min()) / (depth - 1),
        }
        diagnosis = diagnose(torch.tensor(value, dtype=torch.float64),
                             torch.tensor(orders_per_layer(norms), dtype=torch.float64),
                             {k: torch.tensor(float(v), dtype=torch.float64) for k, v in mistakes.items()},
                             atol=1e-9, rtol=1e-6)
        if diagnosis is not None and diagnosis not in mistakes:
            diagnosis = (f"for norms = {norms.tolist()} your function returns {value:.4g}; which ends of the "
                         "profile does it compare, with which logarithm, over how many steps?")
        diagnoses.append(diagnosis)
    diagnosis = next((d for d in diagnoses if d is not None), None)
    return report(diagnosis is None, "a profile that loses k powers of ten per layer has lost 29 k of them between "
                  "the last and the first of 30 layers.", diagnosis or "",
                  **hints)
