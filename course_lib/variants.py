"""The capstone's U-Net variants and the shipped learning curves they were measured on (notebooks 07 and 07b).

* **the variants**, listed in one place: a ``Variant(kind, skip)`` is a kind of ResBlock (``KIND_SWITCHES``) and a
  long-skip mode of ``UNet``; ``VARIANTS`` (all 9), ``MAIN_VARIANTS`` (6), ``SWEEP_VARIANTS`` (the 7 of the shipped
  curves), ``COMPARISONS`` (which kinds are subtracted from which) and ``CURVE_COMPARISONS`` (FD ratios a / b);
* **the shipped curves** (``CURVES``, written by ``python -m course_lib study capstone``): ``load_curves`` (every
  budget), ``load_results`` (one budget, shaped by ``curve_rows``), ``common_budget``; samples are stored as 0..255
  pixels (``to_pixels``, ``from_pixels``);
* **statistics over seeds**: ``paired`` (per-seed differences), ``summary`` (means per variant at one budget),
  ``reference_band`` (the floor and ceiling stored with the curves) and ``sampler_table`` (the sampler's share).

What a curve measures and how the study runs are notebook 07's (``lessons.residual_in_diffusion``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import stats
from ._checks import check_choice
from .study import SHIPPED_RESULTS, load_study
from .unet import SKIP_MODES, UNet
from .utils import count_parameters

CURVES = SHIPPED_RESULTS / "capstone_curves.json"  # shipped inside the package

# ----------------------------------------------------------------------------- the variants (one place)

# kind -> (residual, zero_init): the two switches of ``UNet`` each kind of block sets
KIND_SWITCHES = {
    "residual": (True, True),  # h = shortcut(x) + F(x, t), F's last conv zero-initialised
    "residual, default init": (True, False),  # the shortcut kept, the zero-init dropped (the control)
    "plain": (False, False),  # h = F(x, t), PyTorch's default init
}
KINDS = tuple(KIND_SWITCHES)


@dataclass(frozen=True)
class Variant:
    """One U-Net of the capstone: a kind of block (``KINDS``) and a long-skip mode (``SKIP_MODES``).

    Rows of results (plain dicts, as stored in JSON) carry it as ``row["kind"]`` and ``row["skip"]``;
    the shipped file's "meta" names it by ``name``, e.g. ``"residual / skip=concat"``.
    """

    kind: str
    skip: str

    def __post_init__(self):
        check_choice("kind", self.kind, KINDS)
        check_choice("skip", self.skip, SKIP_MODES)

    @property
    def name(self) -> str:
        return f"{self.kind} / skip={self.skip}"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def parse(cls, name: str) -> Variant:
        """The variant named ``name`` (inverse of ``name``)."""
        kind, _, skip = name.partition(" / skip=")
        return cls(kind, skip)

    @classmethod
    def of(cls, row: dict) -> Variant:
        """The variant a row of results belongs to."""
        return cls(row["kind"], row["skip"])

    def build(self) -> UNet:
        """A freshly initialised U-Net of this variant."""
        residual, zero_init = KIND_SWITCHES[self.kind]
        return UNet(skip=self.skip, residual=residual, zero_init=zero_init)

    def rows(self, rows) -> list[dict]:
        """This variant's rows, sorted by seed."""
        return sorted((r for r in rows if r["kind"] == self.kind and r["skip"] == self.skip), key=lambda r: r["seed"])

    def by_seed(self, rows, key: str) -> dict[int, float]:
        """``{seed: row[key]}`` over this variant's rows."""
        return {r["seed"]: r[key] for r in self.rows(rows)}


VARIANTS = [Variant(kind, skip) for kind in KINDS for skip in SKIP_MODES]  # all 9
MAIN_VARIANTS = [v for v in VARIANTS if v.kind in ("residual", "plain")]  # the 6 of the live run
# what scripts/capstone.py runs: the six main variants, and the control where the switch matters most
SWEEP_VARIANTS = [*MAIN_VARIANTS, Variant("residual, default init", "none")]
LONG_VARIANTS = [Variant("residual", "none"), Variant("residual, default init", "none")]  # trained on to 8,000 steps
RESCORED_VARIANTS = [Variant("plain", "concat"), Variant("plain", "none")]  # DDIM-50 and DDPM at 4,000 steps too


@dataclass(frozen=True)
class Comparison:
    """The per-seed difference "kind ``a`` minus kind ``b``" at each skip mode."""

    name: str
    a: str
    b: str

    def at(self, skip: str) -> tuple[Variant, Variant]:
        return Variant(self.a, skip), Variant(self.b, skip)


COMPARISONS = [
    Comparison("residual on - off", "residual", "plain"),
    Comparison("shortcut alone", "residual, default init", "plain"),
    Comparison("zero-init alone", "residual", "residual, default init"),
]


# (name, variant a, variant b): "a vs b" as the FD ratio a / b per seed (below 1: a scores better)
CURVE_COMPARISONS = [
    *[(f"residual vs plain, skip={skip}", Variant("residual", skip), Variant("plain", skip)) for skip in SKIP_MODES],
    ("shortcut alone, skip=none", Variant("residual, default init", "none"), Variant("plain", "none")),
    ("zero-init alone, skip=none", Variant("residual", "none"), Variant("residual, default init", "none")),
    ("residual-only vs skip-only", Variant("residual", "none"), Variant("plain", "concat")),
]


# ----------------------------------------------------------------------------- the shipped curves

def to_pixels(x: torch.Tensor) -> list:
    """``[B, 1, 8, 8]`` in [-1, 1] -> nested lists of integers 0..255 (compact for JSON)."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).squeeze(1).tolist()


def from_pixels(p) -> torch.Tensor:
    """Inverse of ``to_pixels``: ``[B, 1, 8, 8]`` in [-1, 1]."""
    return torch.tensor(p, dtype=torch.float32).unsqueeze(1) / 127.5 - 1.0


def curve_rows(rows, steps: int | None = None) -> list[dict]:
    """The rows at one budget (default: the largest), shaped like the single-budget rows (``fd`` = ``fd_ema``),
    so that ``summary``, ``effect_rows`` and the tables read them."""
    steps = max(r["steps"] for r in rows) if steps is None else steps
    return [{**r, "fd": r["fd_ema"], "final_loss": r["loss"]} for r in rows if r["steps"] == steps]


def load_curves(path: str | Path = CURVES) -> tuple[dict, list[dict]]:
    """(meta, rows) of the shipped learning curves (``scripts/capstone.py``)."""
    return load_study(path)


def load_results(path: str | Path = CURVES, steps: int | None = None) -> tuple[dict, list[dict]]:
    """(meta, rows) of the shipped learning curves at one budget (default: the largest every variant reached),
    shaped for the tables and the exercises (``curve_rows``)."""
    meta, rows = load_curves(path)
    floor = float(np.mean(meta["reference"]["floor"]))
    return meta, [{**r, "floor": floor} for r in curve_rows(rows, common_budget(rows) if steps is None else steps)]


def common_budget(rows) -> int:
    """The largest budget that every variant in ``rows`` reached (4,000 in the shipped curves; the variants
    without long skips go on to 8,000)."""
    return min(max(r["steps"] for r in v.rows(rows)) for v in SWEEP_VARIANTS if v.rows(rows))


# ----------------------------------------------------------------------------- statistics over seeds

def paired(rows, key: str, a: Variant, b: Variant) -> list[float]:
    """Per-seed differences ``key(a) - key(b)``, seed by seed, over the seeds both variants have."""
    return stats.paired(a.by_seed(rows, key), b.by_seed(rows, key))


def summary(rows) -> list[dict]:
    """One row per variant at one budget: means over seeds of the measurements, and the gap's verdict against its
    null. ``gap_vs_null`` is the t-interval over seeds of (gap - null); ``gap_resolved`` is True when it excludes 0
    (the held-out gap differs from what two halves of the training set show), else the gap is unresolved."""
    out = []
    for v in VARIANTS:
        group = v.rows(rows)
        if not group:
            continue

        def mean(k, group=group):
            return float(np.mean([r[k] for r in group]))

        entry = {"kind": v.kind, "skip": v.skip, "seeds": len(group), "params": count_parameters(v.build()),
                 "steps": round(mean("steps")), **{k: mean(k) for k in ("final_loss", "gap", "null", "fd", "fd_raw")}}
        fds = [r["fd"] for r in group]
        entry["fd_min"], entry["fd_max"] = min(fds), max(fds)
        if len(group) > 1:
            ci = stats.t_interval([r["gap"] - r["null"] for r in group])
            entry["gap_vs_null"] = ci
            entry["gap_resolved"] = not (ci[1] <= 0.0 <= ci[2])
        out.append(entry)
    return out


def reference_band(meta: dict) -> dict[str, tuple[float, float, float]]:
    """``{"floor": (mean, min, max), "ceiling": (...)}``: FD of 300 real training digits and of 300 noise images
    against the held-out digits, over the draws stored with the curves."""
    return {k: (float(np.mean(v)), float(min(v)), float(max(v))) for k, v in meta["reference"].items()}


def sampler_table(rows, meta: dict | None = None) -> str:
    """The sampler's own share of the score: FD of the same EMA weights from the same starting noise with DDIM-20
    (the curves' sampler), DDIM-50 and DDPM-1000, for every run that stored them, mean over seeds [min-max]."""
    lines = ["FD to the held-out digits, arithmetic mean over seeds [min-max]; the last column: geometric mean of the "
             "seeds' ratios",
             f"{'variant':<36}{'steps':>7}{'DDIM-20':>20}{'DDIM-50':>20}{'DDPM-1000':>20}   DDPM / DDIM-20"]
    for v in SWEEP_VARIANTS:
        for steps in sorted({r["steps"] for r in v.rows(rows) if "fd_ddpm" in r}):
            at = [r for r in v.rows(rows) if r["steps"] == steps and "fd_ddpm" in r]
            cells = []
            for key in ("fd_ema", "fd_ddim50", "fd_ddpm"):
                x = np.array([r[key] for r in at])
                cells.append(f"{x.mean():.1f} [{x.min():.1f}-{x.max():.1f}]")
            ratio = np.exp(np.mean([np.log(r["fd_ddpm"] / r["fd_ema"]) for r in at]))
            lines.append(f"{v.name:<36}{steps:>7}" + "".join(f"{c:>20}" for c in cells) + f"   {ratio:.2f} "
                         f"({len(at)} seeds)")
    ref = (meta or {}).get("checkpoint_samplers")
    if ref:
        lines.append(f"{ref['variant'] + ', seed ' + str(ref['seed']):<36}{ref['steps']:>7}"
                     + "".join(f"{ref[k]:>20.1f}" for k in ("fd_ema", "fd_ddim50", "fd_ddpm"))
                     + f"   {ref['fd_ddpm'] / ref['fd_ema']:.2f} (the shipped checkpoint: one seed)")
    if meta and "reference" in meta:
        m, lo, hi = reference_band(meta)["floor"]
        lines.append(f"floor (300 real training digits): {m:.1f} (min {lo:.1f}, max {hi:.1f} over "
                     f"{len(meta['reference']['floor'])} draws)")
    return "\n".join(lines)
