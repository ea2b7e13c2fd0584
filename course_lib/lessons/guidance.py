"""Notebook 08: draw me a 7. A class-conditional U-Net (the label enters through the residual blocks, beside the
time embedding), trained live for a short budget and shipped trained for 4,000 steps; classifier-free guidance
(Ho & Salimans 2022) with its exercise; a live figure of the samples for a digit and a guidance scale; the
trade-off measured over sampling seeds (how often the course's digit classifier reads the asked digit, how varied
the samples of one digit are, their FD against held-out digits), beside the unconditional model and real digits;
and the control where the label enters only at the input.

The library's pieces are ``course_lib.guidance`` (``drop_labels``, ``guide``, ``Guided``), ``UNet(num_classes=10)``
and the samplers' ``label=`` and ``guidance=``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from scipy.spatial.distance import pdist

from ..checkpoints import DENOISER_KEYS, SHIPPED, load_checkpoint, load_denoiser
from ..data import load_digits
from ..guidance import guide
from ..metrics import digit_classifier, digit_fd, digit_features, to_8x8
from ..plotting import finish, legend_outside
from ..samplers import DDIMSampler
from ..schedules import NoiseSchedule
from ..trainer import TrainConfig, Trainer
from ..unet import UNet
from ..utils import model_device, use_large_config
from .grading import answer_text, diagnose, graded, report

__all__ = [
    "CONDITIONAL",
    "CONDITIONAL_INPUT",
    "DIGITS",
    "EXTREME_CHOICES",
    "SCALES",
    "GuidanceView",
    "check_best_scale",
    "check_extremes_prediction",
    "check_guided_eps",
    "control_claims",
    "demo_widgets",
    "format_tradeoff",
    "guidance_widget",
    "label_path",
    "load_conditional",
    "measure_tradeoff",
    "plot_rows",
    "plot_tradeoff",
    "real_and_unconditional",
    "sample_digits",
    "sample_table",
    "summarise",
    "tradeoff_claims",
    "train_conditional",
    "turning_points",
]

CONDITIONAL = SHIPPED / "digits_unet_cond.pt"  # label_at="blocks", 4,000 steps (scripts/make_checkpoint.py)
CONDITIONAL_INPUT = SHIPPED / "digits_unet_cond_input.pt"  # the same, the label added once at the input
DIGITS = tuple(range(10))
SCALES = (0.0, 0.5, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 8.0)  # guidance scales measured (0: label ignored, 1: conditional)
STEPS = 20  # DDIM steps for every sample of this notebook
N_PER = 20  # samples of each digit per scale and seed in the measurement (200 in all)


def load_conditional(path=CONDITIONAL, device="cpu"):
    """``(model, schedule)`` of a conditional checkpoint (the shipped one by default), EMA weights, eval mode."""
    model, schedule, _ = load_denoiser(path, device=device)
    return model, schedule


def label_path(model) -> str:
    """Where the label goes in ``model`` (a conditional ``UNet``), in words and sizes."""
    emb = model.label_emb
    blocks = sum(1 for m in model.modules() if type(m).__name__ == "ResBlock")
    where = ("added to the time embedding, which every ResBlock receives through its own projection (t_proj): the "
             f"label reaches all {blocks} ResBlocks" if model.config.label_at == "blocks" else
             "added once to the input convolution's output; the ResBlocks receive only the time embedding")
    return (f"label embedding: {emb.num_embeddings} rows ({model.num_classes} digits and the null label "
            f"{model.null_label}) of {emb.embedding_dim} numbers, {emb.weight.numel():,} weights; {where}.")


def shipped_training(path=CONDITIONAL) -> str:
    """How a conditional checkpoint (the shipped one by default) was trained, in words: its steps and batch, the
    training digits (how many of each) and the probability that a label was hidden."""
    config = load_checkpoint(path, required=DENOISER_KEYS)["config"]
    _, y = load_digits(split="train", return_labels=True)
    counts = torch.bincount(y, minlength=len(DIGITS)).tolist()
    return (f"trained {config['steps']:,} steps of batch {config['batch_size']} on the {len(y):,} training digits "
            f"({min(counts)} to {max(counts)} of each digit; {counts[7]} sevens), each label hidden with probability "
            f"p_uncond = {config['p_uncond']}")


# ----------------------------------------------------------------------------- the live run
def train_conditional(device, seconds: float | None = None, seed: int = 0, model: UNet | None = None) -> Trainer:
    """Train a conditional U-Net (``model``, default ``UNet(num_classes=10)``) on the digits' train split: a time
    budget of ``seconds`` (25 on the CPU, 60 with the GPU's larger batch), labels dropped with probability 0.1."""
    large = use_large_config(device)
    seconds = (60.0 if large else 25.0) if seconds is None else seconds
    x, y = load_digits(split="train", return_labels=True)
    torch.manual_seed(seed)
    config = TrainConfig(steps=100_000, time_budget_s=seconds, batch_size=512 if large else 128, lr=2e-3,
                         ema_decay=0.995, seed=seed, p_uncond=0.1, log_every=50)
    model = UNet(num_classes=10) if model is None else model
    if getattr(model, "num_classes", None) != 10:
        raise ValueError(f"model has num_classes={getattr(model, 'num_classes', None)!r}; give a UNet(num_classes=10) "
                         "(one class per digit)")
    trainer = Trainer(model, NoiseSchedule.make("linear", 1000), x, config, device=device, labels=y)
    trainer.train()
    return trainer


# ----------------------------------------------------------------------------- sampling
def sample_digits(model, schedule, digits, scale: float, seed: int = 0, n_per: int = N_PER) -> torch.Tensor:
    """``n_per`` samples of each digit in ``digits`` (digit-major order) at guidance ``scale``: DDIM, ``STEPS``
    steps, starting noise drawn with ``seed`` on the CPU. Returns ``[len(digits) * n_per, 1, 8, 8]`` on the CPU."""
    labels = torch.tensor(digits).repeat_interleave(n_per)
    sampler = DDIMSampler(schedule, STEPS, clip_x0=True)
    device = model_device(model)
    x = sampler.sample(model, (len(labels), 1, 8, 8), generator=torch.Generator().manual_seed(seed), device=device,
                       label=labels.to(device), guidance=scale)
    return x.clamp(-1, 1).cpu()


def sample_table(model, schedule, scales=SCALES, seed: int = 0, n_per: int = N_PER, keep: int = 8
                 ) -> dict[float, torch.Tensor]:
    """``{scale: [10, keep, 1, 8, 8]}``: the first ``keep`` of ``n_per`` samples of every digit at each scale, the
    same starting noise for every scale (what the live figure looks up; ``measure_tradeoff`` keeps the same ones)."""
    return {s: sample_digits(model, schedule, DIGITS, s, seed, n_per).reshape(10, n_per, 1, 8, 8)[:, :keep]
            for s in scales}


# ----------------------------------------------------------------------------- the trade-off, measured
@functools.lru_cache(maxsize=1)
def _real_spread() -> np.ndarray:
    """Per digit, the mean distance between two held-out real digits of that digit, in the classifier's features."""
    x, y = load_digits(split="test", return_labels=True)
    feats = digit_features(x)
    return np.array([pdist(feats[(y == d).numpy()]).mean() for d in DIGITS])


def scores(x: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """For samples ``x`` drawn for ``labels``: ``accuracy`` (the share the digit classifier reads as the asked
    digit), ``diversity`` (the mean feature distance between two samples of one digit, divided by that between
    two held-out real digits of that digit, averaged over digits: 1 is as varied as real digits) and ``fd`` (all
    samples against the held-out digits)."""
    with torch.no_grad():
        read = digit_classifier()(to_8x8(x)).argmax(1)
    feats = digit_features(x)
    spread = [pdist(feats[(labels == d).numpy()]).mean() / _real_spread()[d] for d in DIGITS]
    return {"accuracy": float((read == labels).float().mean()), "diversity": float(np.mean(spread)),
            "fd": digit_fd(x)}


def measure_tradeoff(model, schedule, scales=SCALES, seeds=(0, 1, 2), n_per: int = N_PER, keep: int = 8) -> dict:
    """The three scores at every guidance scale for every sampling seed, from ``n_per`` samples of each digit:
    ``{"scales", "seeds", "n_per", "accuracy": {scale: [per seed]}, "diversity": {...}, "fd": {...}, "samples": {scale:
    [10, keep, 1, 8, 8]}}``; ``samples`` holds the first ``keep`` samples of each digit from the first seed (what
    the live figure shows: every scale from the same starting noise)."""
    labels = torch.tensor(DIGITS).repeat_interleave(n_per)
    out = {"scales": list(scales), "seeds": list(seeds), "n_per": n_per, "accuracy": {}, "diversity": {}, "fd": {},
           "samples": {}}
    for s in scales:
        for key in ("accuracy", "diversity", "fd"):
            out[key][s] = []
        for seed in seeds:
            x = sample_digits(model, schedule, DIGITS, s, seed, n_per)
            for key, value in scores(x, labels).items():
                out[key][s].append(value)
            if seed == seeds[0]:
                out["samples"][s] = x.reshape(10, n_per, 1, 8, 8)[:, :keep]
    return out


def _balanced(y: torch.Tensor, n_per: int, gen: torch.Generator) -> torch.Tensor:
    """Indices of ``n_per`` examples of every digit in labels ``y``, drawn with ``gen``, digit-major."""
    return torch.cat([torch.nonzero(y == d).flatten()[torch.randperm(int((y == d).sum()), generator=gen)[:n_per]]
                      for d in DIGITS])


def real_and_unconditional(seeds=(0, 1, 2), n_per: int = N_PER) -> dict:
    """The baselines at the same sample size and with the same number of each digit as the samples: ``"real"``,
    ``n_per`` held-out real digits of each digit scored as samples of their own label, with the FD floor of as
    many real *training* digits of each digit (against the held-out ones); and ``"unconditional"``, the shipped
    unconditional model's samples, each paired with an asked digit it never saw (the labels of the batch, in
    order). Each seed draws its own real digits and starting noise."""
    x, y = load_digits(split="test", return_labels=True)
    x_train, y_train = load_digits(split="train", return_labels=True)
    labels = torch.tensor(DIGITS).repeat_interleave(n_per)
    real = {"accuracy": [], "diversity": [], "fd": []}
    uncond = {"accuracy": [], "diversity": [], "fd": []}
    model, schedule, _ = load_denoiser()
    sampler = DDIMSampler(schedule, STEPS, clip_x0=True)
    for seed in seeds:
        gen = torch.Generator().manual_seed(seed)
        pick = _balanced(y, n_per, gen)
        row = scores(x[pick], y[pick])
        row["fd"] = digit_fd(x_train[_balanced(y_train, n_per, gen)])  # the floor: real digits the models saw
        for key, value in row.items():
            real[key].append(value)
        samples = sampler.sample(model, (len(labels), 1, 8, 8), generator=torch.Generator().manual_seed(seed))
        for key, value in scores(samples.clamp(-1, 1), labels).items():
            uncond[key].append(value)
    return {"real": real, "unconditional": uncond}


def format_tradeoff(table: dict, baselines: dict | None = None, name: str = "") -> str:
    """The measurement as text: how many samples each score is from; per scale, the mean and spread over seeds of
    each score (read as asked to three decimals: one sample in 200 is 0.005); then the ``baselines``, if given,
    and the scales where each seed's share read as asked is highest and its FD lowest."""
    from ..claims import mean_spread

    seeds = ", ".join(map(str, table["seeds"]))
    lines = [f"{name}{len(DIGITS) * table['n_per']} samples per scale and seed ({table['n_per']} of each digit; "
             f"DDIM, {STEPS} steps), seeds {seeds}" + ("; each baseline as many" if baselines else "")]
    lines += [f"{name}s = {s:>4g}: read as asked {mean_spread(table['accuracy'][s], '.3f')}; diversity "
              f"{mean_spread(table['diversity'][s], '.2f')}; FD {mean_spread(table['fd'][s], '.1f')}"
              for s in table["scales"]]
    for base, row in (baselines or {}).items():
        floor = " (training digits: the floor)" if base == "real" else ""
        lines.append(f"{base:>13}: read as asked {mean_spread(row['accuracy'], '.3f')}; diversity "
                     f"{mean_spread(row['diversity'], '.2f')}; FD{floor} {mean_spread(row['fd'], '.1f')}")
    turns = turning_points(table)
    lines.append(f"{name}scale with the highest share read as asked, per seed: {turns['best_accuracy']} (the first "
                 f"of any tie); with the lowest FD: {turns['best_fd']}")
    return "\n".join(lines)


def summarise(table: dict) -> dict[str, dict[float, float]]:
    """The mean over seeds of each score at each scale."""
    return {key: {s: float(np.mean(v)) for s, v in table[key].items()} for key in ("accuracy", "diversity", "fd")}


def turning_points(table: dict) -> dict[str, list[float]]:
    """Per seed, the scale with the highest accuracy and the one with the lowest FD (``"best_accuracy"``,
    ``"best_fd"``)."""
    scales = table["scales"]
    out = {"best_accuracy": [], "best_fd": []}
    for i in range(len(table["seeds"])):
        out["best_accuracy"].append(max(scales, key=lambda s: table["accuracy"][s][i]))
        out["best_fd"].append(min(scales, key=lambda s: table["fd"][s][i]))
    return out


def tradeoff_claims(table: dict, baselines: dict) -> dict[str, np.ndarray]:
    """Per-seed margins of notebook 08's claims on the trade-off (> 0 where a claim held; seeds paired by their
    index, since every scale and the unconditional model start from each seed's noise). A claim is left out when
    ``table`` lacks the scales it needs.

    - ``zero_is_chance``: at s = 0, 10 points plus the unconditional model's share read as asked, minus the share;
    - ``read_from_one``: the lowest share read as asked at any measured s >= 1, minus 0.95;
    - ``diversity_falls``: the diversity at s = 1 minus that at s = 3;
    - ``fd_lowest_near_one``: the lowest FD at any measured scale outside [1, 1.5], minus the lowest inside it;
    - ``guidance_helps_fd``: the FD at s = 1 (the conditional model, unguided) minus that at s = 1.25;
    - ``fd_rises_from_two``: the smallest rise of the FD from one measured scale to the next, from s = 2 up."""
    acc, div, fd = (np.array([table[key][s] for s in table["scales"]]) for key in ("accuracy", "diversity", "fd"))
    at = {s: i for i, s in enumerate(table["scales"])}
    out = {}
    if 0.0 in at:
        out["zero_is_chance"] = np.asarray(baselines["unconditional"]["accuracy"]) + 0.10 - acc[at[0.0]]
    upper = [at[s] for s in table["scales"] if s >= 1.0]
    if upper:
        out["read_from_one"] = acc[upper].min(axis=0) - 0.95
    if 1.0 in at and 3.0 in at:
        out["diversity_falls"] = div[at[1.0]] - div[at[3.0]]
    inside = [at[s] for s in table["scales"] if 1.0 <= s <= 1.5]
    outside = [at[s] for s in table["scales"] if not 1.0 <= s <= 1.5]
    if inside and outside:
        out["fd_lowest_near_one"] = fd[outside].min(axis=0) - fd[inside].min(axis=0)
    if 1.0 in at and 1.25 in at:
        out["guidance_helps_fd"] = fd[at[1.0]] - fd[at[1.25]]
    rising = [at[s] for s in sorted(table["scales"]) if s >= 2.0]
    if len(rising) >= 2:
        out["fd_rises_from_two"] = np.diff(fd[rising], axis=0).min(axis=0)
    return out


def control_claims(table: dict, at_input: dict) -> dict[str, np.ndarray]:
    """Per-seed margins of the control's claim, ``input_as_good``: 3 points minus the largest difference, at any
    s >= 1 measured for both, between the shares read as asked with the label through the blocks and at the input
    only (> 0 where the two stay within 3 points)."""
    common = [s for s in table["scales"] if s >= 1.0 and s in at_input["scales"]]
    if not common:
        return {}
    blocks, inputs = (np.array([t["accuracy"][s] for s in common]) for t in (table, at_input))
    gaps = np.abs(blocks - inputs)
    return {"input_as_good": 0.03 - gaps.max(axis=0)}


def plot_tradeoff(table: dict, baselines: dict, others: dict | None = None, title: str = ""):
    """Accuracy, diversity and FD against the guidance scale: each seed a dot, their mean a line; the
    unconditional model (dashed) and real digits (dotted) as horizontal lines, with their seeds' range shaded.
    ``others``: more tables ``{name: table}`` drawn the same way in other colours."""
    import matplotlib.pyplot as plt

    panels = (("accuracy", "read as the asked digit", "higher is better"),
              ("diversity", "diversity (1 = as varied as real digits)", "closer to 1 is better"),
              ("fd", "FD against held-out digits", "lower is better"))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    tables = {"label through the blocks": table, **(others or {})}
    position = {s: i for i, s in enumerate(sorted({s for tab in tables.values() for s in tab["scales"]}))}
    for ax, (key, label, better) in zip(axes, panels):
        for i, (name, tab) in enumerate(tables.items()):
            x = [position[s] for s in tab["scales"]]
            for s in tab["scales"]:
                ax.plot([position[s]] * len(tab[key][s]), tab[key][s], "o", color=f"C{i}", ms=3, alpha=0.5)
            ax.plot(x, [np.mean(tab[key][s]) for s in tab["scales"]], "-", color=f"C{i}", lw=1.5,
                    label=f"{name}: seeds (dots), mean (line)")
        for name, style, colour in (("unconditional", "--", "0.3"), ("real", ":", "k")):
            values = baselines[name][key]
            ax.axhline(np.mean(values), ls=style, color=colour, lw=1.2,
                       label="unconditional model" if name == "unconditional" else
                       "real digits (held-out; in the FD panel, training digits: the floor)")
            ax.axhspan(min(values), max(values), color=colour, alpha=0.08)
        ax.set_xticks(list(position.values()), [f"{s:g}" for s in position], fontsize=8)
        ax.set_xlabel("guidance scale s")
        ax.set_ylabel(label)
        ax.set_title(better, fontsize=9)
    legend_outside(axes[-1])
    fig.suptitle(title or "s = 0 ignores the label, s = 1 is the conditional model, larger s pushes past it (the "
                 "measured scales, evenly spaced)", fontsize=10)
    fig.tight_layout()
    names = " and ".join(tables)
    return finish(fig, f"Three panels against the guidance scale for the conditional model ({names}): the share of "
                       "samples the digit classifier reads as the asked digit, their diversity relative to real "
                       "digits, and their FD against held-out digits; dots are sampling seeds, lines their means, "
                       "the dashed line the unconditional model and the dotted line real digits, each with a shaded "
                       "band over its seeds' range (in the FD panel the dotted line is training digits: the "
                       "floor); the measured scales are evenly spaced along the horizontal axis. Where does each "
                       "curve turn as the scale grows?")


# ----------------------------------------------------------------------------- the live figure
class GuidanceView:
    """Widget body: ``table[scale][digit]``, precomputed samples (``sample_table``), drawn as one row of images for
    the chosen digit and guidance scale; the title names both. A move only looks up."""

    def __init__(self, table: dict[float, torch.Tensor]):
        import matplotlib.pyplot as plt

        self.table = table
        n = next(iter(table.values())).shape[1]
        self.fig, axes = plt.subplots(1, n, figsize=(1.1 * n, 1.6))
        self.images = []
        for ax in np.atleast_1d(axes):
            self.images.append(ax.imshow(np.zeros((8, 8)), vmin=-1, vmax=1, cmap="gray"))
            ax.set_axis_off()
        self.title = self.fig.suptitle(" ", fontsize=10)
        self.fig.tight_layout()
        self.animated = [*self.images, self.title]

    def describe(self, digit: int = 7, scale: float = 1.0) -> str:
        return (f"One row of {len(self.images)} samples from the conditional model asked for the digit {digit} "
                f"with guidance scale {scale}, all from the same starting noise as every other scale. Do they "
                "look like the digit, and how much do they differ from one another?")

    def update(self, digit: int = 7, scale: float = 1.0) -> None:
        for image, x in zip(self.images, self.table[scale][digit]):
            image.set_data(x[0].numpy())
        self.title.set_text(f"asked for a {digit}, guidance scale s = {scale:g}")


def guidance_widget(table: dict[float, torch.Tensor], digit: int = 7, scale: float = 1.0):
    """The live figure of ``GuidanceView``: a digit and a guidance scale on sliders."""
    from ipywidgets import IntSlider, SelectionSlider

    from ..widgets import LiveFigure

    scales = sorted(table)
    return LiveFigure(GuidanceView(table), digit=IntSlider(value=digit, min=0, max=9),
                      scale=SelectionSlider(options=scales, value=scale if scale in scales else scales[0]))


def demo_widgets() -> dict:
    """Notebook 08's widget, same controls, ranges and defaults (the shipped model's samples, drawn once)."""
    model, schedule = load_conditional()
    return {"guidance": guidance_widget(sample_table(model, schedule), digit=7, scale=1.0)}


# ----------------------------------------------------------------------------- exercises
GUIDE_HINT = ("as a function of the scale, the guided estimate is a straight line through the two estimates. Work out "
              "by hand what your formula gives at s = 0 and at s = 1, and compare with what those scales must give.")
GUIDE_REFERENCE = "Ho & Salimans (2022), Sec. 3.2, Eq. 6 (mind which number their w is), and `course_lib/guidance.py`"


@graded
def check_guided_eps(guided_eps) -> None:
    """The student's ``guided_eps(eps_cond, eps_uncond, scale)`` against ``guide`` on random estimates."""
    gen = torch.Generator().manual_seed(8)
    eps_c, eps_u = torch.randn(4, 1, 8, 8, generator=gen), torch.randn(4, 1, 8, 8, generator=gen)
    for scale in (1.0, 3.0, 0.0):  # at 0 a swap and the paper's form with w = s look alike; at 1 they differ
        want = guide(eps_c, eps_u, scale)
        mistakes = {
            "the two estimates swapped roles: at s = 1 your function returns eps_uncond, at s = 0 eps_cond.":
                guide(eps_u, eps_c, scale),
            "this is the paper's form with w = s: at s = 1 it gives 2 eps_cond - eps_uncond, not the conditional "
            "estimate. Which value of the paper's w is the conditional model?": (1 + scale) * eps_c - scale * eps_u,
            "the step along eps_cond - eps_uncond is there, but not the point it starts from.":
                scale * (eps_c - eps_u),
            "a weighted sum of the two estimates whose weights do not add up to 1.": eps_u + scale * eps_c,
        }
        problem = diagnose(guided_eps(eps_c, eps_u, scale), want, mistakes)
        if problem is not None:
            return report(False, "", f"at scale {scale:g}: {problem}", GUIDE_HINT, GUIDE_REFERENCE)
    return report(True, "scale 0 gives the unconditional estimate, 1 the conditional one, and larger scales go "
                  "beyond it, along the direction the label adds.", "")


EXTREME_CHOICES = {
    "zero": ("the asked digit", "any digit, whatever was asked", "blank or noisy images"),
    "large": ("the asked digit, as varied as real digits", "the asked digit, less varied than real digits",
              "any digit, whatever was asked"),
}


@graded
def check_extremes_prediction(at_zero, at_large, table: dict, baselines: dict) -> None:
    """The student's predictions (one of ``EXTREME_CHOICES`` each) for guidance 0 and the largest scale, against
    the measurements: at 0, is the share read as the asked digit near the unconditional model's? At the largest,
    is it high, and the diversity below 1?"""
    zero, large = answer_text(at_zero), answer_text(at_large)
    for value, name in ((zero, "zero"), (large, "large")):
        if value not in EXTREME_CHOICES[name]:
            return report(False, "", f"`at_{name}` must be one of {list(EXTREME_CHOICES[name])}, copied as it is.")
    top = max(table["scales"])
    acc0 = float(np.mean(table["accuracy"][min(table["scales"])]))
    acc_top, div_top = float(np.mean(table["accuracy"][top])), float(np.mean(table["diversity"][top]))
    chance = float(np.mean(baselines["unconditional"]["accuracy"]))
    measured_zero = "any digit, whatever was asked" if acc0 < 0.5 else "the asked digit"
    measured_large = ("any digit, whatever was asked" if acc_top < 0.5 else
                      "the asked digit, less varied than real digits" if div_top < 0.9 else
                      "the asked digit, as varied as real digits")
    facts = (f"Measured: at s = 0 the classifier reads the asked digit in {acc0:.0%} of samples (the unconditional "
             f"model: {chance:.0%}); at s = {top:g}, in {acc_top:.0%}, with diversity {div_top:.2f} of real digits'.")
    if zero == measured_zero and large == measured_large:
        return report(True, f"{facts} Guidance 0 ignores the label; a large scale buys the label with variety.", "")
    if zero != measured_zero:
        wrong, hint = "s = 0", "at s = 0 the guided estimate is eps_uncond itself: which model is that?"
    else:
        wrong, hint = f"s = {top:g}", f"compare the diversity at s = {top:g} with real digits' 1."
    return report(False, "", f"your prediction for {wrong} is not what was measured. {facts} Compare each number "
                  "with the unconditional model and with 1.", hint, "the trade-off figure above")


@graded
def check_best_scale(my_score, best_scale, table: dict) -> None:
    """``my_score(accuracy, diversity, fd) -> number`` (higher is better) and the scale the student picked:
    is it where their own score, on the means over seeds, is highest?"""
    means = summarise(table)
    values = {s: float(my_score(means["accuracy"][s], means["diversity"][s], means["fd"][s])) for s in table["scales"]}
    if not all(np.isfinite(v) for v in values.values()):
        return report(False, "", "your score is not a finite number at every scale.")
    if len(set(np.round(list(values.values()), 12))) == 1:
        return report(False, "", "your score is the same at every scale: it must depend on at least one of the "
                      "three measurements.")
    if best_scale not in values:
        return report(False, "", f"best_scale must be one of the measured scales {table['scales']}.")
    a, d, f = means["accuracy"][1.0 if 1.0 in values else best_scale], 0.8, 20.0  # a typical row, to probe the score
    if float(my_score(a, d, f + 10)) > float(my_score(a, d, f)):
        return report(False, "", "your score rises when the FD rises: a lower FD is the better one.")
    if float(my_score(min(a, 0.9) + 0.1, d, f)) < float(my_score(min(a, 0.9), d, f)):
        return report(False, "", "your score falls when more samples read as the asked digit: is that what you want?")
    top = max(values.values())
    tied = [s for s, v in values.items() if v >= top - 1e-9]
    if len(tied) > 1:
        return report(False, "", f"your score ties at s = {', '.join(f'{s:g}' for s in tied)}: it cannot choose "
                      "between them. What does it ignore that differs there?")
    if tied == [0.0]:
        return report(False, "", "your score is highest at s = 0, where the label is ignored: does it reward the "
                      "asked digit at all?")
    if values[best_scale] < top - 1e-12:
        return report(False, "", f"your score at s = {best_scale:g} is {values[best_scale]:.4g}, but it is higher at "
                      "another measured scale: compute it at every scale before you pick.",
                      "evaluate my_score on the means at each scale in the table.")
    return report(True, f"your score is highest at s = {best_scale:g} ({top:.4g}). Argue for your score in the "
                  "markdown cell: which of the three measurements does it trade, and why that trade?", "")


def plot_rows(tables: dict[str, torch.Tensor]):
    """Side by side, one grid per entry ``{title: [10, n, 1, 8, 8]}``: a row per asked digit (0 at the top)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(4.2 * len(tables), 4.6), squeeze=False)
    for ax, (title, x) in zip(axes[0], tables.items()):
        padded = torch.nn.functional.pad(x[:, :, 0], (0, 1, 0, 1), value=0.0)  # a grey line between samples
        rows = [torch.cat(list(padded[d]), dim=1) for d in range(x.shape[0])]
        ax.imshow(torch.cat(rows, dim=0).numpy(), vmin=-1, vmax=1, cmap="gray")
        ax.set_yticks([4 + 9 * d for d in range(x.shape[0])], [str(d) for d in range(x.shape[0])])
        ax.set_xticks([])
        ax.set_ylabel("asked digit")
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    names = " and ".join(tables)
    return finish(fig, f"Grids of samples, one row per asked digit from 0 at the top to 9 at the bottom, for {names}, "
                       "at guidance scale 1. Does each row show the digit it asked for?")
