"""The experiments of notebook 01b (optional): gradient pathologies beyond vanishing, as plain functions.

* **tiny is not zero**: ``frozen_layers`` measures what a vanishing gradient (1e-26) does to learning in
  float32: with Adam's eps = 1e-8 the step is about lr g / eps, far below the spacing of float32 weights, so the
  first layers do not move at all. ``adam_first_step`` and ``adam_tiny_eps_training`` show it is eps, not float32:
  in float64 with eps far below |g| most steps are about lr (Kingma & Ba 2015, Sec. 2.1), though the loss stays at
  chance; in float32 g^2 underflows, v = 0 and the step is lr g / eps.
* **where eps starts to bite**: ``eps_sweep`` takes one real Adam step on every layer for eps = 1e-30 ... 1e-6;
  ``AdamEpsView`` (the widget) draws Adam's first step against |g| (``adam_step_size``) and the share of each
  layer's weights that move. Two exercises: ``check_eps_prediction`` (at which eps does layer 1 start to move?)
  and ``check_adam_changes`` (write Adam's update for one weight; compared with ``torch.optim.Adam``).
* **the first layer's gradient at initialisation, by depth**: for plain nets at the default and at Kaiming
  initialisation, with BatchNorm (it grows, Yang et al. 2019), and residual twins with an unscaled
  branch (it explodes) and a scaled one (flat).
* **shattered gradients** (Balduzzi et al. 2017): dy/dx along a line of inputs decorrelates exponentially
  with depth in a plain BatchNorm net and stays near 1 in a residual BatchNorm net (our neighbour measure).

``*_claims`` functions return the per-seed margins that ``course_lib.claims.check_claim`` turns into a verdict.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..classify import digits_flat, first_digits, train_classifier
from ..deep_nets import DeepMLP
from ..gradients import layer_gradient_norms, layer_profile, log_ratio, shattered_gradients
from ..plotting import finish, legend_outside, log_plot_with_zeros, mark_zero_row, zero_floor
from ..utils import one_thread
from .grading import answer_text, diagnose, graded, report

# The networks of the depth table: ReLU MLPs of width 64 that differ in shortcut, branch scale,
# initialisation and normalisation. s = 1/sqrt(depth) is the branch scale of the scaled residual net.
NETWORKS = {
    "plain, default init": dict(residual=False, init="default"),
    "plain, Kaiming init": dict(residual=False, init="kaiming"),
    "plain, default init + BatchNorm": dict(residual=False, init="default", norm="batch"),
    "residual h + f(h), default init": dict(residual=True, init="default", scale_branch=False),
    "residual h + s f(h), default init": dict(residual=True, init="default", scale_branch=True),
}


# ----------------------------------------------------------------------------- tiny is not zero

def _leading_zeros(counts) -> int:
    """How many entries at the start of ``counts`` are 0 (all of them if none is positive)."""
    positive = np.flatnonzero(np.asarray(counts) > 0)
    return int(positive[0]) if positive.size else len(counts)


def frozen_layers(depth: int = 30, activation: str = "sigmoid", init: str = "default", seeds=(0, 1, 2),
                  steps: int = 200, lr: float = 1e-3, eps: float = 1e-8, n: int = 256,
                  loss: bool = False) -> dict[str, np.ndarray]:
    """What a vanishing (tiny, not zero) gradient does to learning in float32, per seed and layer.

    For each seed, a fresh plain ``DeepMLP`` (as in ``layer_profile``) and the float32 gradient of the loss on
    the first ``n`` digits. Returns ``{name: [len(seeds), depth]}`` with

    * ``"norm32"``: ``grad.norm()`` taken in float32 (0 where the squares of entries ~1e-28 underflow);
    * ``"norm64"``: the norm of the same float32 gradient taken in float64 (``layer_gradient_norms``);
    * ``"step"``: the largest first Adam step of a weight of the layer, lr |g| / (|g| + eps) in float64
      (at step 1 Adam's bias-corrected moments are m = g and v = g^2);
    * ``"spacing"``: the smallest gap between a weight of the layer and the next float32 number
      (``np.spacing``); a step below half that gap rounds back to the same weight;
    * ``"changed"``: how many of the layer's weights differ, bit for bit, from their initial values after
      ``steps`` Adam steps of ``train_classifier`` (lr ``lr``, PyTorch's eps 1e-8).

    With ``loss=True`` it also returns ``"loss"`` ``[len(seeds)]``: the mean cross-entropy over the whole "train"
    split after training (the control run of ``adam_eps_claims``: the same net and batches with eps = 1e-8).
    """
    x, y = first_digits(n)
    out = {k: np.zeros((len(seeds), depth)) for k in ("norm32", "norm64", "step", "spacing", "changed")}
    if loss:
        out["loss"] = np.zeros(len(seeds))
        x_train, y_train = digits_flat("train")
    with one_thread():
        for i, seed in enumerate(seeds):
            torch.manual_seed(seed)
            net = DeepMLP(depth=depth, activation=activation, init=init)
            out["norm64"][i] = layer_gradient_norms(net, x, y)
            net.zero_grad(set_to_none=True)
            F.cross_entropy(net(x), y).backward()
            before = [layer.linear.weight.detach().clone() for layer in net.layers]
            for j, (layer, w) in enumerate(zip(net.layers, before)):
                g = layer.linear.weight.grad
                out["norm32"][i, j] = g.norm().item()
                g64 = g.double().abs()
                out["step"][i, j] = (lr * g64 / (g64 + eps)).max().item()
                out["spacing"][i, j] = np.spacing(np.abs(w.numpy())).min()
            net.zero_grad(set_to_none=True)
            train_classifier(net, steps=steps, lr=lr, seed=seed)
            out["changed"][i] = [(layer.linear.weight.detach() != w).sum().item()
                                 for layer, w in zip(net.layers, before)]
            if loss:
                with torch.no_grad():
                    out["loss"][i] = F.cross_entropy(net(x_train), y_train).item()
    return out


GAP_SMALLEST = "smallest weight's gap"  # the gap from the layer's smallest weight to the next float32 number


def format_frozen_layers(fr: dict[str, np.ndarray], layers=(1, 2, 3, 4, 5, 6, 10, 15, 20, 30), seed_index: int = 0,
                         steps: int = 200) -> str:
    """A table for one seed: per layer, the float32 and float64 gradient norms, Adam's largest first step, the
    smallest float32 spacing of the weights, and how many weights changed in ``steps`` Adam steps."""
    weights = "weights"
    lines = [f"{'layer':>5} {'norm, float32':>14} {'norm, float64':>14} {'Adam step 1':>12} "
             f"{GAP_SMALLEST:>22} {'changed after ' + str(steps) + ' steps':>26}"]
    for layer in layers:
        j = layer - 1
        lines.append(f"{layer:>5} {fr['norm32'][seed_index, j]:>14.1e} {fr['norm64'][seed_index, j]:>14.1e} "
                     f"{fr['step'][seed_index, j]:>12.1e} {fr['spacing'][seed_index, j]:>22.1e} "
                     f"{int(fr['changed'][seed_index, j]):>12d} of 4096 {weights}")
    return "\n".join(lines)


def frozen_claims(fr: dict[str, np.ndarray], frozen: int = 10) -> dict[str, np.ndarray]:
    """Per-seed margins (a claim holds for a seed when its margin is > 0 or above the stated threshold):

    * ``nonzero``: log10 of the smallest float64 layer norm (the notebook's threshold: -30);
    * ``float32_norm_zero``: how many layers have a float32 ``.norm()`` of 0 but a positive float64 norm;
    * ``step_below_spacing``: orders of magnitude by which layer 1's smallest float32 weight spacing exceeds
      its largest first Adam step (threshold 6);
    * ``frozen``: how many leading layers have no changed weight after training, minus ``frozen - 0.5``
      (> 0 when layers 1 to ``frozen`` are all bit-for-bit unchanged).
    """
    zero32 = ((fr["norm32"] == 0) & (fr["norm64"] > 0)).sum(axis=1)
    return {"nonzero": log_ratio(fr["norm64"].min(axis=1), 1.0),
            "float32_norm_zero": zero32.astype(float),
            "step_below_spacing": log_ratio(fr["spacing"][:, 0], fr["step"][:, 0]),
            "frozen": np.array([_leading_zeros(c) for c in fr["changed"]], dtype=float) - (frozen - 0.5)}


# ----------------------------------------------------------------------------- Adam's eps, not float32

# (dtype, eps) of the Adam experiment: PyTorch's default eps, and one far below a gradient entry of ~1e-28.
ADAM_CASES = (("float32", 1e-8), ("float32", 1e-30), ("float64", 1e-8), ("float64", 1e-30))
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _sigmoid_net(depth: int, seed: int, dtype: str) -> DeepMLP:
    """The plain sigmoid ``DeepMLP`` of ``frozen_layers`` (default init, weights from ``seed``) in ``dtype``."""
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}; it is {dtype!r}")
    torch.manual_seed(seed)
    return DeepMLP(depth=depth, activation="sigmoid", init="default").to(_DTYPES[dtype])


def adam_first_step(depth: int = 30, seeds=(0, 1, 2), cases=ADAM_CASES, lr: float = 1e-3,
                    n: int = 256) -> dict[str, np.ndarray]:
    """One ``torch.optim.Adam`` step on a fresh plain sigmoid net, per seed and ``(dtype, eps)`` case.

    The net and the first ``n`` digits are cast to ``dtype``, so the gradient and Adam's moments are computed in
    it. Adam's update is lr m_hat / (sqrt(v_hat) + eps) (Kingma & Ba 2015, Algorithm 1); at step 1 m_hat = g and
    v_hat = g^2, so the step is lr |g| / (|g| + eps) where g^2 does not underflow. Returns
    ``{name: [len(seeds), len(cases)]}`` for layer 1: ``"grad"`` (its largest |gradient entry|), ``"step_min"``,
    ``"step_median"`` and ``"step_max"`` (the smallest, median and largest |change| of one of its weights),
    ``"changed"`` (how many of its weights changed at all, bit for bit) and ``"weights"`` (how many it has).
    """
    x, y = first_digits(n)
    out = {k: np.zeros((len(seeds), len(cases))) for k in ("grad", "step_min", "step_median", "step_max",
                                                             "changed", "weights")}
    with one_thread():
        for i, seed in enumerate(seeds):
            for j, (dtype, eps) in enumerate(cases):
                net = _sigmoid_net(depth, seed, dtype)
                opt = torch.optim.Adam(net.parameters(), lr=lr, eps=eps)
                weight = net.layers[0].linear.weight
                before = weight.detach().clone()
                F.cross_entropy(net(x.to(weight.dtype)), y).backward()
                out["grad"][i, j] = weight.grad.abs().max().item()
                opt.step()
                step = (weight.detach() - before).abs()
                out["step_min"][i, j], out["step_max"][i, j] = step.min().item(), step.max().item()
                out["step_median"][i, j] = step.median().item()
                out["changed"][i, j], out["weights"][i, j] = (step > 0).sum().item(), step.numel()
    return out


def adam_tiny_eps_training(depth: int = 30, seeds=(0, 1, 2), steps: int = 200, lr: float = 1e-3,
                           eps: float = 1e-30, dtype: str = "float64", batch_size: int = 128) -> dict[str, np.ndarray]:
    """``frozen_layers``' training (Adam, the same batches of the digits' "train" split) in ``dtype`` with ``eps``.

    Returns ``{"moved": [len(seeds)], "loss": [len(seeds)]}``: the largest total change of a layer-1 weight, and
    the mean cross-entropy over the whole "train" split after ``steps`` steps (chance: ln 10).
    """
    x, y = digits_flat("train")
    out = {"moved": np.zeros(len(seeds)), "loss": np.zeros(len(seeds))}
    with one_thread():
        for i, seed in enumerate(seeds):
            net = _sigmoid_net(depth, seed, dtype)
            xs = x.to(_DTYPES[dtype])
            before = net.layers[0].linear.weight.detach().clone()
            opt = torch.optim.Adam(net.parameters(), lr=lr, eps=eps)
            gen = torch.Generator().manual_seed(seed)
            for _ in range(steps):
                idx = torch.randint(0, len(x), (batch_size,), generator=gen)
                opt.zero_grad()
                F.cross_entropy(net(xs[idx]), y[idx]).backward()
                opt.step()
            with torch.no_grad():
                out["loss"][i] = F.cross_entropy(net(xs), y).item()
            out["moved"][i] = (net.layers[0].linear.weight.detach() - before).abs().max().item()
    return out


def format_adam_eps(first: dict[str, np.ndarray], trained: dict[str, np.ndarray], cases=ADAM_CASES,
                    seed_index: int = 0, lr: float = 1e-3, steps: int = 200, default: dict | None = None,
                    shallow: dict | None = None, shallow_depth: int = 4) -> str:
    """Layer 1's first Adam step per case for one seed, then the tiny-eps training of every seed; with the control
    runs, a table of their training losses: ``default`` (``frozen_layers(..., loss=True)``: the same net with eps
    = 1e-8, in float32) and ``shallow`` (``adam_tiny_eps_training`` of a ``shallow_depth``-layer twin)."""
    lines = [f"layer 1, one Adam step (lr {lr:g}):",
             f"{'dtype':<8} {'eps':>6} {'largest |g|':>12} {'smallest step':>14} {'median step':>12} "
             f"{'largest step':>13} {'weights changed':>20}"]
    for j, (dtype, eps) in enumerate(cases):
        steps_j = (first[k][seed_index, j] for k in ("step_min", "step_median", "step_max"))
        lines.append(f"{dtype:<8} {eps:>6.0e} {first['grad'][seed_index, j]:>12.1e} "
                     + " ".join(f"{v:>{w}.1e}" for v, w in zip(steps_j, (14, 12, 13)))
                     + f" {int(first['changed'][seed_index, j]):>12d} of {int(first['weights'][seed_index, j])}")
    moved = ", ".join(f"{v:.2f}" for v in trained["moved"])
    loss = ", ".join(f"{v:.3f}" for v in trained["loss"])
    if default is None and shallow is None:
        lines.append(f"after {steps} Adam steps in float64 with eps 1e-30, per seed: layer 1's largest weight change "
                     f"{moved}; training loss {loss} (chance, ln 10: {np.log(10):.3f})")
        return "\n".join(lines)
    rows = []
    if default is not None:
        rows.append(("30 layers, float32, eps 1e-8 (table above)", "0 (no weight changed)"
                     if not np.any(default["changed"][:, 0]) else "some changed", default["loss"]))
    rows.append(("30 layers, float64, eps 1e-30", moved, trained["loss"]))
    if shallow is not None:
        rows.append((f"{shallow_depth} layers, float64, eps 1e-30", ", ".join(f"{v:.2f}" for v in shallow["moved"]),
                     shallow["loss"]))
    lines += ["", f"after {steps} Adam steps (same batches), per seed; chance is ln 10 = {np.log(10):.3f}",
              f"{'sigmoid net':<44} {'layer 1, largest change':>24}   training loss"]
    lines += [f"{name:<44} {change:>24}   " + ", ".join(f"{v:.3f}" for v in losses) for name, change, losses in rows]
    return "\n".join(lines)


def adam_eps_claims(first: dict[str, np.ndarray], trained: dict[str, np.ndarray], cases=ADAM_CASES,
                    lr: float = 1e-3, default: dict | None = None, shallow: dict | None = None,
                    learned: float = 0.3) -> dict[str, np.ndarray]:
    """Per-seed margins (each claim holds for a seed when its margin is > 0):

    * ``eps_freezes``: 0.5 minus the most layer-1 weights one step changes with eps = 1e-8, in either dtype;
    * ``tiny_eps_moves_all``: in float64 with eps = 1e-30, how many of layer 1's weights changed, minus all but
      one half (> 0 when every weight moved);
    * ``tiny_eps_median_is_lr``: log10(2) minus |orders of magnitude| between layer 1's median step and lr, in
      float64 with eps = 1e-30 (within 2x of lr; weights whose own |g| is below eps move less);
    * ``float32_overshoots``: orders of magnitude by which layer 1's largest float32 step with eps = 1e-30
      exceeds lr, minus 2 (over 100x lr);
    * ``still_chance``: 0.05 minus |training loss - ln 10| after the tiny-eps training;
    * with the control runs: ``default_chance`` (the same for the eps = 1e-8 run, ``frozen_layers(..., loss=True)``)
      and ``shallow_learns`` (how far the shallow twin's loss fell below ln 10, minus ``learned``): the budget is
      long enough for a net whose first layer gets a healthy gradient to learn.

    A claim whose case is not in ``cases`` is left out (``check_claims`` then says "not measured").
    """
    cases, out = list(cases), {}
    at_default = [j for j, (_, eps) in enumerate(cases) if eps == 1e-8]
    if at_default:
        out["eps_freezes"] = 0.5 - first["changed"][:, at_default].max(axis=1)
    if ("float64", 1e-30) in cases:
        j = cases.index(("float64", 1e-30))
        out["tiny_eps_moves_all"] = first["changed"][:, j] - (first["weights"][:, j] - 0.5)
        out["tiny_eps_median_is_lr"] = np.log10(2) - np.abs(log_ratio(first["step_median"][:, j], lr))
    if ("float32", 1e-30) in cases:
        out["float32_overshoots"] = log_ratio(first["step_max"][:, cases.index(("float32", 1e-30))], lr) - 2
    out["still_chance"] = 0.05 - np.abs(trained["loss"] - np.log(10))
    if default is not None:
        out["default_chance"] = 0.05 - np.abs(default["loss"] - np.log(10))
    if shallow is not None:
        out["shallow_learns"] = np.log(10) - shallow["loss"] - learned
    return out


# ----------------------------------------------------------------------------- eps against the first layers' step

EPS_EXPONENTS = tuple(range(-30, -5))  # the widget's eps = 10**k, k = -30 ... -6 (25 values: a website frame each)
BETAS = (0.9, 0.999)  # PyTorch's Adam defaults


def adam_step_size(grad, eps, lr: float = 1e-3, dtype: str = "float64", betas=BETAS) -> np.ndarray:
    """|change| of a weight in Adam's first step, for gradient entries ``grad``, computed in ``dtype`` the way
    ``torch.optim.Adam`` computes it (Kingma & Ba 2015, Algorithm 1, t = 1): m = (1 - beta1) g and
    v = (1 - beta2) g^2, divided by (1 - beta1) and (1 - beta2) to undo their start at 0, so the step is
    lr |g| / (|g| + eps) where g^2 does not underflow. In float32, g^2 underflows for |g| below about 1e-21; then
    v = 0 and the step is lr |g| / eps, which can be far above lr.

    ``eps`` is a number (the result has ``grad``'s shape) or a sequence (the result is ``[len(eps), *shape]``)."""
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}; it is {dtype!r}")
    beta1, beta2 = betas
    g = torch.as_tensor(np.asarray(grad, dtype=float)).to(_DTYPES[dtype])
    m, v = (1 - beta1) * g, (1 - beta2) * g * g
    root = v.sqrt() / (1 - beta2) ** 0.5  # computed once for every eps
    steps = [((lr / (1 - beta1)) * m / (root + e)).abs().double().numpy() for e in np.ravel(eps)]
    return np.stack(steps) if np.ndim(eps) else steps[0]


def eps_sweep(depth: int = 30, seed: int = 0, exponents=EPS_EXPONENTS, lr: float = 1e-3,
              dtypes=("float64", "float32"), n: int = 256) -> dict:
    """One real ``torch.optim.Adam`` step on every layer of ``frozen_layers``' plain sigmoid net, for each
    eps = 10**k in ``exponents``: the widget's data, computed once.

    Returns ``{"exponents": [K], "lr": lr, dtype: {...}}`` where, per dtype (net, digits, gradient and Adam all in
    it), ``"grad"`` is each layer's median |gradient entry| [depth], ``"weight"`` its median |weight| [depth],
    ``"gap"`` the gap from a weight of that median size to the next number of the dtype [depth], and ``"moved"``
    [K, depth] the share of the layer's weights that one Adam step with that eps changes at all, bit for bit."""
    x, y = first_digits(n)
    out = {"exponents": np.asarray(exponents, dtype=int), "lr": lr}
    with one_thread():
        for dtype in dtypes:
            net = _sigmoid_net(depth, seed, dtype)
            F.cross_entropy(net(x.to(_DTYPES[dtype])), y).backward()
            weights = [layer.linear.weight for layer in net.layers]
            w_abs = [w.detach().abs() for w in weights]
            median_w = np.array([float(a.median()) for a in w_abs])
            res = {"grad": np.array([float(w.grad.abs().median()) for w in weights]), "weight": median_w,
                   "gap": np.spacing(median_w.astype(np.float32 if dtype == "float32" else np.float64)).astype(float),
                   "moved": np.zeros((len(exponents), depth))}
            for i, k in enumerate(exponents):
                params = [w.detach().clone().requires_grad_(True) for w in weights]
                for p, w in zip(params, weights):
                    p.grad = w.grad.detach().clone()
                torch.optim.Adam(params, lr=lr, betas=BETAS, eps=10.0 ** k).step()
                res["moved"][i] = [(p.detach() != w.detach()).double().mean().item() for p, w in zip(params, weights)]
            out[dtype] = res
    return out


def format_eps_sweep(sweep: dict, layers=(1, 30)) -> str:
    """For ``layers``: the median |gradient entry| and |weight|, and the gap from that weight to the next float64
    and float32 number (a step below half the gap rounds back to the same weight)."""
    f64, f32 = sweep["float64"], sweep.get("float32")
    gaps = ["median weight's gap, float64"] + (["float32"] if f32 else [])
    lines = [f"{'layer':>5} {'median |gradient entry|':>24} {'median |weight|':>16} {gaps[0]:>29}"
             + (f" {gaps[1]:>8}" if f32 else "")]
    for layer in layers:
        j = layer - 1
        lines.append(f"{layer:>5} {f64['grad'][j]:>24.1e} {f64['weight'][j]:>16.3f} {f64['gap'][j]:>29.1e}"
                     + (f" {f32['gap'][j]:>8.1e}" if f32 else ""))
    lines.append(f"learning rate {sweep['lr']:g}")
    return "\n".join(lines)


def eps_threshold(sweep: dict, dtype: str = "float64", layer: int = 1, share: float = 0.5) -> int | None:
    """The largest k in the sweep at which one Adam step with eps = 10**k changes at least ``share`` of the
    layer's weights (None if no eps in the sweep does)."""
    moving = sweep["exponents"][sweep[dtype]["moved"][:, layer - 1] >= share]
    return int(moving.max()) if moving.size else None


class AdamEpsView:
    """Widget body of notebook 01b, built once over an ``eps_sweep``: Adam's eps against the first layers' step.

    Left: the size of Adam's first step against |g| (``adam_step_size``) for the chosen eps and dtype, a dot per
    layer at its median |g| (layer 1 ringed), the learning rate, and half the gap of a typical weight (a step below
    it rounds back: the weight does not move). Right: per layer, the share of its weights that one real Adam step
    changes. Everything is precomputed: ``update(log10_eps, dtype)`` only sets the data of the animated artists,
    and returns the dtype as the name of the background (the gap line and the legend depend on it).
    """

    G_RANGE = (1e-40, 1e1)
    STEP_RANGE = (1e-36, 1e4)

    def __init__(self, sweep: dict):
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D

        self.sweep, self.lr = sweep, sweep["lr"]
        self.dtypes = [d for d in ("float64", "float32") if d in sweep]
        depth = len(sweep[self.dtypes[0]]["grad"])
        self.g = np.logspace(np.log10(self.G_RANGE[0]), np.log10(self.G_RANGE[1]), 300)
        self.fig, (ax, bx) = plt.subplots(1, 2, figsize=(10.5, 3.9), gridspec_kw={"width_ratios": [1.15, 1]})
        self.ax = ax
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(*self.G_RANGE)
        ax.set_ylim(*self.STEP_RANGE)
        ax.set_yticks(10.0 ** np.arange(-35, 5, 5))
        ax.minorticks_off()
        ax.axhline(self.lr, color="0.3", lw=1, ls="--")
        self.gap_line = ax.axhline(1.0, color="C2", lw=1, ls="-.")
        (self.curve,) = ax.plot(self.g, np.ones_like(self.g), color="C0", lw=1.5)
        self.eps_line = ax.axvline(1e-8, color="C3", lw=1, ls=":")
        colors = plt.cm.viridis(np.linspace(0, 1, depth))
        self.dots = ax.scatter(np.ones(depth), np.ones(depth), c=colors, s=14, zorder=3)
        (self.ring,) = ax.plot([1], [1], "o", ms=9, mfc="none", mec="k", mew=1, zorder=4)
        self.handles = [Line2D([], [], color="C0", lw=1.5), Line2D([], [], color="C3", lw=1, ls=":"),
                        Line2D([], [], color="0.3", lw=1, ls="--"), Line2D([], [], color="C2", lw=1, ls="-."),
                        Line2D([], [], marker="o", ms=9, mfc="none", mec="k", ls="none")]
        ax.set_xlabel("|g|, a weight's gradient")
        ax.set_ylabel("|change| in Adam's first step")
        ax.grid(True, which="major", alpha=0.3)
        self.left_title = ax.set_title(" ", fontsize=9)
        layers = np.arange(1, depth + 1)
        self.bars = bx.vlines(layers, 0, np.zeros(depth), colors=colors, lw=8)
        bx.set_ylim(0, 1.05)
        bx.set_xlim(0.3, depth + 0.7)
        bx.set_xlabel("layer (1 = input side; dot colours on the left)")
        bx.set_ylabel("share of weights changed by one step")
        bx.grid(True, axis="y", alpha=0.3)
        self.right_title = bx.set_title(" ", fontsize=9)
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.33, top=0.91, wspace=0.22)
        self.animated = [self.curve, self.eps_line, self.dots, self.ring, self.left_title, self.bars,
                         self.right_title]
        eps = 10.0 ** sweep["exponents"].astype(float)
        self.curves = {d: adam_step_size(self.g, eps, self.lr, d) for d in self.dtypes}  # [K, len(g)]
        self.points = {d: adam_step_size(sweep[d]["grad"], eps, self.lr, d) for d in self.dtypes}  # [K, depth]
        self._dtype = None
        plt.close(self.fig)  # shown through LiveFigure only

    def describe(self, log10_eps: int = -8, dtype: str = "float64") -> str:
        return (f"Adam's eps at log10 eps = {int(log10_eps)}, in {dtype}. Left, log-log: the size of Adam's first "
                "step against a weight's gradient |g| (blue), eps (red, dotted), the learning rate (dashed), half "
                f"the gap between neighbouring {dtype} numbers at a typical weight (dash-dotted), and one dot per "
                "layer at its median |g|, layer 1 ringed: a dot below the dash-dotted line rounds back, its weight "
                "does not move. Right: per layer, the share of its weights that one real Adam step changes.")

    def update(self, log10_eps: int = -8, dtype: str = "float64") -> str:
        k, data = int(log10_eps), self.sweep[dtype]
        i = int(np.flatnonzero(self.sweep["exponents"] == k)[0])
        steps = np.clip(self.points[dtype][i], *self.STEP_RANGE)
        self.curve.set_ydata(np.clip(self.curves[dtype][i], 1e-300, None))
        self.eps_line.set_xdata([10.0 ** k] * 2)
        self.dots.set_offsets(np.column_stack([data["grad"], steps]))
        self.ring.set_data([data["grad"][0]], [steps[0]])
        self.left_title.set_text(f"eps = 1e{k} ({dtype}): layer 1's step {self.points[dtype][i][0]:.1e}, "
                                 f"lr = {self.lr:g}")
        moved = data["moved"][i]
        self.bars.set_segments([[(j + 1, 0), (j + 1, share)] for j, share in enumerate(moved)])
        frozen = int(np.argmax(moved > 0)) if (moved > 0).any() else len(moved)
        self.right_title.set_text(f"layers 1-{frozen}: not one weight moves" if frozen > 1 else
                                  "layer 1: not one weight moves" if frozen == 1 else
                                  f"layer 1: {moved[0]:.0%} of its weights move")
        if dtype != self._dtype:
            self._set_background(dtype)
        return dtype

    def _set_background(self, dtype: str) -> None:
        """The gap line and the legend, which depend on the dtype only."""
        data = self.sweep[dtype]
        self.gap_line.set_ydata([data["gap"][0] / 2] * 2)
        labels = ["Adam's first step for this eps", "eps", "learning rate",
                  f"half the {dtype} gap of a weight of {data['weight'][0]:.2f}: a smaller step rounds back",
                  "layer 1 (median |g|)"]
        self.ax.legend(self.handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=2,
                       frameon=False)
        self._dtype = dtype


def eps_widget(sweep: dict, log10_eps: int = -8, dtype: str = "float64"):
    """Notebook 01b's live figure over ``AdamEpsView``: log10(eps) from the sweep's smallest to largest, and the
    dtype."""
    from ipywidgets import IntSlider, ToggleButtons

    from ..widgets import LiveFigure

    ks = sweep["exponents"]
    return LiveFigure(AdamEpsView(sweep), log10_eps=IntSlider(value=log10_eps, min=int(ks.min()), max=int(ks.max()),
                                                              step=1, description="log10 eps"),
                      dtype=ToggleButtons(options=[d for d in ("float64", "float32") if d in sweep], value=dtype))


def demo_widgets() -> dict:
    """Notebook 01b's widget, same controls, ranges and defaults (its sweep takes about a second)."""
    return {"adam_eps": eps_widget(eps_sweep())}


# ----------------------------------------------------------------------------- first-layer gradient vs depth

def first_layer_gradient(depth: int, residual: bool = False, init: str = "default", norm: str = "none",
                         scale_branch: bool = True, activation: str = "relu", width: int = 64, seed: int = 0,
                         n: int = 256) -> float:
    """||dL/dW_1|| at initialisation for one network, on the first ``n`` digits (cross-entropy)."""
    return float(layer_profile(depth, residual, activation, init, scale_branch, norm, width, seed, n)[0])


def depth_table(depths=(2, 8, 16, 32, 64, 128), seeds=(0, 1, 2), networks=None) -> dict[str, np.ndarray]:
    """First-layer gradient norm at initialisation: ``{network: [len(seeds), len(depths)]}``.

    ``networks`` maps a name to ``DeepMLP`` settings (default: ``NETWORKS``); the seed sets the weights.
    """
    networks = NETWORKS if networks is None else networks
    return {name: np.array([[first_layer_gradient(d, seed=s, **kw) for d in depths] for s in seeds])
            for name, kw in networks.items()}


def format_depth_table(table: dict[str, np.ndarray], depths) -> str:
    """The median over seeds of each network (rows) at each depth (columns); exact zeros print as 0."""
    width = max(len(name) for name in table) + 1
    lines = [f"{'depth':<{width}}" + "".join(f"{d:>10}" for d in depths)]
    for name, values in table.items():
        med = np.median(values, axis=0)
        lines.append(f"{name:<{width}}" + "".join(f"{v:>10.1e}" if v > 0 else f"{'0':>10}" for v in med))
    return "\n".join(lines)


def plot_depth_table(table: dict[str, np.ndarray], depths, ax=None):
    """First-layer gradient norm against depth, log-log: one point per seed, a line through the median."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    depths = np.asarray(depths)
    zero_y = zero_floor(table.values())
    for name, values in table.items():
        line = log_plot_with_zeros(ax, depths, np.median(values, axis=0), "-", name, zero_y=zero_y, alpha=0.8)
        for row in values:
            log_plot_with_zeros(ax, depths, row, "o", None, color=line.get_color(), zero_y=zero_y, ms=3,
                                 linestyle="none")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    mark_zero_row(ax, zero_y)
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.set_xlabel("depth (hidden layers)")
    ax.set_ylabel("||dL/dW_1|| at init")
    ax.set_title(f"first layer's gradient vs depth (ReLU, width 64; dots: {len(next(iter(table.values())))} seeds)",
                 fontsize=10)
    legend_outside(ax)
    ax.grid(True, which="major", alpha=0.3)
    ax.figure.tight_layout()
    return finish(ax.figure, "The first layer's gradient norm ||dL/dW_1|| at initialisation against depth "
                  f"({', '.join(map(str, depths))} hidden layers), log-log, for ReLU networks of width 64: "
                  f"{'; '.join(table)}. Dots are seeds, lines their medians, triangles on the dotted bottom line "
                  "exact zeros. Follow each line from the shallowest net to the deepest: does it fall, stay level "
                  "or rise?")


def depth_claims(table: dict[str, np.ndarray], depths) -> dict[str, np.ndarray]:
    """Per-seed margins of the depth table's claims (each claim holds for a seed when its margin > 0).

    * ``vanishing_default``: orders of magnitude the default-init plain net loses from depth 2 to 32, minus 6.
    * ``kaiming_healthy``: 2 minus the largest |orders of magnitude| the Kaiming plain net moves from
      its depth-2 value at any depth up to 64 (it stays within 100x).
    * ``batchnorm_grows``: orders of magnitude the BatchNorm plain net *gains* from depth 2 to 64, minus 3.
    * ``unscaled_explodes``: orders the unscaled residual net gains from depth 2 to 64, minus 3.
    * ``scaled_flat``: 1 minus the largest |orders| the scaled residual net moves from its depth-2 value.
    * ``default_128_tiny`` (only when 128 is in ``depths``): orders of magnitude by which the default-init plain
      net's first-layer gradient at depth 128 lies below 1e-40 (+inf where it is exactly 0: every entry of the
      float32 gradient underflowed).

    A claim whose depths are not all in ``depths`` is left out (``check_claims`` then says "not measured").
    """
    depths = list(depths)
    plain_d, plain_k, plain_bn, res_u, res_s = (np.asarray(table[k]) for k in NETWORKS)
    out = {}
    if 128 in depths:
        out["default_128_tiny"] = log_ratio(1e-40, plain_d[:, depths.index(128)])
    if 2 not in depths:  # the other claims are relative to depth 2
        return out
    i2 = depths.index(2)
    if 32 in depths:
        out["vanishing_default"] = log_ratio(plain_d[:, i2], plain_d[:, depths.index(32)]) - 6
    if 64 in depths:
        i64, upto64 = depths.index(64), [i for i, d in enumerate(depths) if d <= 64]
        out["kaiming_healthy"] = 2 - np.abs(log_ratio(plain_k[:, upto64], plain_k[:, [i2]])).max(axis=1)
        out["batchnorm_grows"] = log_ratio(plain_bn[:, i64], plain_bn[:, i2]) - 3
        out["unscaled_explodes"] = log_ratio(res_u[:, i64], res_u[:, i2]) - 3
    if 128 in depths:
        out["scaled_flat"] = 1 - np.abs(log_ratio(res_s, res_s[:, [i2]])).max(axis=1)
    return out


# ----------------------------------------------------------------------------- shattered gradients

def shattered_gradient_curves(depth: int = 32, width: int = 128, seed: int = 0) -> dict[str, tuple]:
    """``{"plain": (x, dy/dx, correlation), "residual": ...}`` for 1-input BatchNorm MLPs (Balduzzi et al.)."""
    out = {}
    with one_thread():  # small matrices: see ``layer_profile``
        for name, residual in (("plain", False), ("residual", True)):
            torch.manual_seed(seed)
            net = DeepMLP(in_features=1, out_features=1, depth=depth, width=width, residual=residual,
                          scale_branch=False, norm="batch")
            out[name] = shattered_gradients(net)
    return out


def shattered_vs_depth(depths=(2, 4, 8, 16, 32), seeds=(0, 1, 2), width: int = 128) -> dict[str, np.ndarray]:
    """Neighbour correlation of dy/dx and the spread (standard deviation) of dy/dx:
    ``{"plain": [seeds, depths], "residual": ..., "plain_std": ..., "residual_std": ...}``."""
    out = {k: np.zeros((len(seeds), len(depths))) for k in ("plain", "residual", "plain_std", "residual_std")}
    for i, s in enumerate(seeds):
        for j, d in enumerate(depths):
            for name, (_, g, corr) in shattered_gradient_curves(depth=d, width=width, seed=s).items():
                out[name][i, j], out[f"{name}_std"][i, j] = corr, float(np.std(g))
    return out


def format_shattered_vs_depth(by_depth: dict[str, np.ndarray], depths) -> str:
    """The median over seeds of each net's neighbour correlation at each depth, then how many times larger the plain
    net's dy/dx spread is than the residual net's at the deepest depth."""
    n_seeds = len(by_depth["plain"])
    lines = [f"neighbour correlation of dy/dx, median of {n_seeds} seeds",
             f"{'depth':<9}" + "".join(f"{d:>7}" for d in depths)]
    for name in ("plain", "residual"):
        lines.append(f"{name:<9}" + "".join(f"{v:>7.2f}" for v in np.median(by_depth[name], axis=0)))
    ratio = np.median(by_depth["plain_std"][:, -1] / by_depth["residual_std"][:, -1])
    lines.append(f"at depth {depths[-1]} the plain net's dy/dx is {ratio:.0f}x larger than the residual net's "
                 "(standard deviations, median of the seeds)")
    return "\n".join(lines)


def plot_shattered(curves: dict[str, tuple], by_depth: dict[str, np.ndarray] | None = None, depths=None):
    """dy/dx along the input line for each net, each on its own y-axis (the plain net's dy/dx is far larger,
    and on a shared axis the residual curve would look flat); with ``by_depth``, a third panel of neighbour
    correlation against depth (one dot per seed)."""
    import matplotlib.pyplot as plt

    n = len(curves) + (by_depth is not None)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 2.9))
    for k, (ax, (name, (x, g, corr))) in enumerate(zip(axes, curves.items())):
        ax.plot(x, g, lw=1, color=f"C{k}")
        ax.set_title(f"{name}: corr {corr:.2f}, std {np.std(g):.2g}", fontsize=9)
        ax.set_xlabel("input x")
        ax.set_ylabel(f"dy/dx, {name} (own scale)")
    if by_depth is not None:
        ax = axes[-1]
        for name in ("plain", "residual"):
            values = by_depth[name]
            (line,) = ax.plot(depths, np.median(values, axis=0), "-", label=name)
            for row in values:
                ax.plot(depths, row, "o", color=line.get_color(), ms=3)
        ax.set_xscale("log", base=2)
        ax.set_xticks(depths, [str(d) for d in depths])
        ax.set_xlabel("depth")
        ax.set_ylabel("neighbour correlation")
        lowest = min(float(np.min(by_depth[name])) for name in ("plain", "residual"))
        ax.set_ylim(min(-0.1, lowest - 0.1), 1.05)  # every seed's dot stays inside
        ax.set_title("smoothness vs depth (dots: seeds)", fontsize=9)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    fig.tight_layout()
    right = (f" The right panel gives the neighbour correlation of dy/dx (1 = smooth, 0 = noise) against depth "
             f"({', '.join(map(str, depths))}), one dot per seed, lines through the medians."
             if by_depth is not None else "")
    return finish(fig, f"dy/dx along the input line, one panel per network ({', '.join(curves)}), each on its own "
                  "y-axis; the titles give the correlation of dy/dx between neighbouring inputs and its spread. "
                  f"Compare how smoothly each curve moves from one input to the next.{right}")


def shattered_claims(by_depth: dict[str, np.ndarray], depths, at: int = 32,
                     smooth: float | None = None) -> dict[str, np.ndarray]:
    """Per-seed margins at depth ``at``: ``smoother`` (residual minus plain correlation, minus 0.3) and
    ``larger`` (orders of magnitude by which the plain net's dy/dx spread exceeds the residual's, minus 1); with
    ``smooth``, ``residual_smooth``: the residual net's lowest correlation over ``depths``, minus ``smooth``."""
    if at not in depths:
        return {}
    j = list(depths).index(at)
    out = {"smoother": by_depth["residual"][:, j] - by_depth["plain"][:, j] - 0.3,
           "larger": log_ratio(by_depth["plain_std"][:, j], by_depth["residual_std"][:, j]) - 1}
    if smooth is not None:
        out["residual_smooth"] = by_depth["residual"].min(axis=1) - smooth
    return out


# ----------------------------------------------------------------------------- exercise

BATCHNORM_CHOICES = ("vanish", "stay", "grow")


def batchnorm_trend(table: dict[str, np.ndarray], depths, deep: int = 64) -> str | None:
    """How the BatchNorm net's first-layer gradient changes from the shallowest depth in ``depths`` to ``deep`` (or
    the deepest below it): "vanish" (over 1000x smaller, median of seeds), "grow" (over 1000x larger) or "stay";
    ``None`` if the table holds no BatchNorm net or fewer than two depths."""
    name = "plain, default init + BatchNorm"
    depths = list(depths)
    shallow = int(np.argmin(depths))
    candidates = [i for i, d in enumerate(depths) if d <= deep and i != shallow] or \
        [i for i in range(len(depths)) if i != shallow]
    if name not in table or not candidates:
        return None
    j = max(candidates, key=lambda i: depths[i])
    change = np.median(log_ratio(table[name][:, j], table[name][:, shallow]))
    return "grow" if change > 3 else "vanish" if change < -3 else "stay"


@graded
def check_batchnorm_prediction(prediction, table: dict[str, np.ndarray], depths) -> None:
    """01b, predict-then-run: does the BatchNorm plain net's first-layer gradient vanish, stay or grow with depth?"""
    answer = answer_text(prediction).removesuffix("s")
    answer = {"vanishe": "vanish", "stays the same": "stay", "same": "stay"}.get(answer, answer)
    if answer not in BATCHNORM_CHOICES:
        return report(False, "", f"write the prediction as one of {', '.join(map(repr, BATCHNORM_CHOICES))}; "
                      f"it is {prediction!r}.")
    actual = batchnorm_trend(table, depths)
    if actual is None:
        return print(f"Your prediction: {answer!r}. Not measured: the depth table above holds no BatchNorm net or "
                     "only one depth; put them back and run it again.")
    why = {"vanish": "normalising each layer's input stops the signal from shrinking layer after layer, so the "
                     "product of Jacobians no longer collapses.",
           "stay": "fixing the scale of the forward signal does not fix the scale of the gradient. The backward "
                   "pass goes through every BatchNorm's division by the batch's standard deviation too: what can a "
                   "small factor per layer do over 64 layers?"}
    return report(answer == actual,
                  f"the BatchNorm net's first-layer gradient does {actual} from the shallowest depth to the deepest up "
                  "to 64 (median of the seeds): normalisation cures vanishing, and at initialisation deep "
                  "batch-normalised networks' gradients grow with depth (Yang et al. 2019).",
                  why.get(answer, f"the table shows it does {actual}."),
                  formula="compare the BatchNorm row of the table at the smallest and the largest depth.",
                  reference="Yang et al. (2019), A Mean Field Theory of Batch Normalization, Sec. 1")



# ----------------------------------------------------------------------------- exercises on Adam's eps

def _exponent(value) -> float | None:
    """A written exponent as a float (None when it is not a finite number)."""
    if isinstance(value, bool):
        return None
    try:
        k = float(value)
    except (TypeError, ValueError):
        return None
    return k if np.isfinite(k) else None


@graded
def check_eps_prediction(log10_eps, sweep: dict) -> None:
    """01b, predict before the widget: the largest eps = 10**k at which one float64 Adam step changes at least half
    of layer 1's weights. A k within one of the measured one passes (the typical |g| and gap give an estimate)."""
    k = _exponent(log10_eps)
    if k is None:
        return report(False, "", f"write the exponent k of eps = 10**k as a number; it is {log10_eps!r}.")
    if 0 < k < 1:
        return report(False, "", f"{k:g} looks like eps itself: write its exponent k (for eps = 0.01, k = -2).")
    actual = eps_threshold(sweep, "float64", layer=1)
    if actual is None:
        return print(f"Your prediction: eps = 1e{k:g}. Not measured: in the sweep above no eps moves half of layer "
                     "1's weights; put the sweep's exponents back and run it again.")
    data, lr = sweep["float64"], sweep["lr"]
    g, half_gap = data["grad"][0], data["gap"][0] / 2
    step = float(adam_step_size(g, 10.0 ** k, lr))
    if k < actual - 1 and abs(k - np.log10(g)) <= 1:
        why = (f"with eps = 1e{k:g} layer 1's typical step is already about lr/2 ({step:.0e}). The step reaches lr "
               "only where eps falls to |g|, but a weight changes as soon as its step beats half the gap to the next "
               "float64 number, and that happens at a far larger eps.")
    elif k < actual - 1 and "float32" in sweep and abs(k - np.log10(2 * lr * g / sweep["float32"]["gap"][0])) <= 1:
        why = ("that is about where *float32* weights would start to move: their gap is some 500 million times "
               "float64's. This question is about float64 weights.")
    elif k < actual - 1:
        why = (f"with eps = 1e{k:g} layer 1's typical step is about {step:.0e}, far above half the gap of its weights "
               f"({half_gap:.0e}): they already move at a larger eps.")
    else:
        why = (f"with eps = 1e{k:g} layer 1's typical step is about {step:.0e}, below half the gap of its weights "
               f"({half_gap:.0e}): most of them round back to where they were.")
    return report(abs(k - actual) <= 1,
                  f"one float64 Adam step first changes at least half of layer 1's weights at eps = 1e{actual} "
                  f"(you said 1e{k:g}). A weight moves once lr|g|/eps beats half its gap, "
                  f"{actual - np.log10(g):.0f} decades before eps reaches |g|, where the step becomes about lr. The "
                  "widget below shows every layer.",
                  why,
                  formula="a weight changes when its step is more than half the gap to the next float64 number; "
                          "while |g| is far below eps, the step is lr·|g|/eps. For layer 1's typical |g| and gap, "
                          "which eps makes the two equal?",
                  reference="Kingma & Ba (2015), Adam, Algorithm 1; Goldberg (1991), What Every Computer Scientist "
                            "Should Know About Floating-Point Arithmetic, Sec. 1.2 (ulps)")


# The sequences of one weight's gradients the check feeds to a student's Adam: (what, gradients, eps).
ADAM_SEQUENCES = (
    ("a constant gradient of 0.5 (far above eps)", (0.5,) * 5, 1e-8),
    ("gradients that change sign and size", (1.0, -0.5, 2.0, 0.1, -3.0, 0.7, 0.0, 1e-3), 1e-8),
    ("a constant gradient of 1e-28 with eps = 1e-8", (1e-28,) * 4, 1e-8),
    ("a constant gradient of 1e-28 with eps = 1e-30", (1e-28,) * 4, 1e-30),
)


def torch_adam_changes(grads, lr: float = 1e-3, eps: float = 1e-8, betas=BETAS) -> torch.Tensor:
    """The change ``torch.optim.Adam`` (float64, no weight decay) makes to one weight at each step, fed ``grads``
    one by one. The weight is put back to 0 before each step, so even a change of 1e-23 is read exactly (Adam's
    step does not depend on the weight's value)."""
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=lr, betas=betas, eps=eps)
    changes = []
    for g in grads:
        with torch.no_grad():
            w.zero_()
        w.grad = torch.tensor([float(g)], dtype=torch.float64)
        opt.step()
        changes.append(w.detach().item())
    return torch.tensor(changes, dtype=torch.float64)


def _adam_variant(grads, lr: float, eps: float, betas=BETAS, correct_m: bool = True, correct_v: bool = True,
                  root: bool = True, eps_in_root: bool = False, average_g: bool = True, sign: float = -1.0,
                  cumulative: bool = False, dtype=np.float64) -> np.ndarray:
    """Adam's changes with one thing done differently: the mistakes ``check_adam_changes`` recognises."""
    b1, b2, lr_, eps_ = (dtype(v) for v in (*betas, lr, eps))
    one = dtype(1)
    m = v = dtype(0)
    out = []
    for t, g in enumerate(grads, start=1):
        g = dtype(g)
        m, v = b1 * m + (one - b1) * g, b2 * v + (one - b2) * g * g
        m_hat = m / (one - b1 ** t) if correct_m else m
        v_hat = v / (one - b2 ** t) if correct_v else v
        denom = np.sqrt(v_hat + eps_) if eps_in_root else (np.sqrt(v_hat) if root else v_hat) + eps_
        out.append(sign * lr_ * (m_hat if average_g else g) / denom)
    out = np.array(out, dtype=np.float64)
    return np.cumsum(out) if cumulative else out


ADAM_MISTAKES = {
    "your changes have the gradient's sign: a descent step moves a weight against its gradient.":
        dict(sign=1.0),
    "your changes start far from Adam's and only come closer over the steps: both running averages start at 0, "
    "and in the first steps they are far smaller than the gradients they average.": dict(correct_m=False,
                                                                                          correct_v=False),
    "your first change is about a tenth of Adam's: the running average of the gradient still carries its start "
    "at 0.": dict(correct_m=False),
    "your first change is about 30 times Adam's: the running average of the squared gradient still carries its "
    "start at 0.": dict(correct_v=False),
    "your step depends on the gradient's size: you divide by the average of the squared gradient where Adam "
    "divides by a quantity in the gradient's own units.": dict(root=False),
    "eps changes your tiny-gradient steps in another way than Adam's: where Adam's eps sits decides the step "
    "when |g| is far below it.": dict(eps_in_root=True),
    "each of your changes follows the latest gradient alone: Adam's numerator is a running average too "
    "(momentum).": dict(average_g=False),
    "your values add up from step to step: the check wants each step's change, not the weight's total "
    "displacement.": dict(cumulative=True),
    "your arithmetic ran in float32, where the square of a 1e-28 gradient underflows to 0: keep the gradients' "
    "float64.": dict(dtype=np.float32),
}


@graded
def check_adam_changes(adam_changes) -> None:
    """01b, write a mechanism: ``adam_changes(grads, lr, beta1, beta2, eps)`` returns the change Adam makes to one
    weight at each step. Compared with ``torch.optim.Adam`` in float64 on four sequences (``ADAM_SEQUENCES``)."""
    for what, grads, eps in ADAM_SEQUENCES:
        got = adam_changes(torch.tensor(grads, dtype=torch.float64), lr=1e-3, eps=eps)
        want = torch_adam_changes(grads, lr=1e-3, eps=eps)
        mistakes = {text: torch.as_tensor(_adam_variant(grads, 1e-3, eps, **kw)) for text, kw in ADAM_MISTAKES.items()}
        problem = diagnose(got, want, mistakes, atol=0.0, rtol=1e-6)
        if problem:
            return report(False, "", f"for {what}: {problem}",
                          formula="each running average is an exponential moving average started at 0. For a "
                                  "constant gradient g, what does it hold after t steps, and by what must you "
                                  "divide it so that it holds g (or g squared)?",
                          reference="Kingma & Ba (2015), Adam, Algorithm 1 and Sec. 3 (initialisation bias "
                                    "correction)")
    return report(True, "your changes match torch.optim.Adam's on all four sequences. For a constant gradient far "
                  "above eps each change is -lr, whatever the gradient's size; far below eps it is about "
                  "-lr·g/eps.", "")
