"""Notebook 07's experiment: its measurements, statistics and shipped results."""

import math

import pytest
import torch
from torch import nn

from course_lib.data import load_digits
from course_lib.lessons import residual_in_diffusion as capstone
from course_lib.lessons.residual_in_diffusion import (
    COMPARISONS,
    KINDS,
    SWEEP_VARIANTS,
    VARIANTS,
    Variant,
    calibrate,
    effect_rows,
    format_effects,
    format_table,
    load_results,
    paired,
    split_gap,
    steps_for_budget,
    summary,
    t_interval,
)
from course_lib.metrics import digit_fd, digit_quality
from course_lib.schedules import NoiseSchedule
from course_lib.unet import SKIP_MODES

# ----------------------------------------------------------------------------- FD against held-out digits

def test_fd_reference_split_rewards_memorisation_only_against_train():
    train, test = load_digits(split="train"), load_digits(split="test")
    assert digit_fd(test, reference="test") < 1e-6  # the reference itself
    assert digit_fd(train, reference="train") < 1e-6
    copies = train[:300]  # a "model" that memorised 300 training digits
    assert digit_fd(copies, reference="train") < digit_fd(copies, reference="test")
    q = digit_quality(copies, reference="test")
    assert q["fd"] == pytest.approx(digit_fd(copies, reference="test"))
    assert q["floor"] < q["fd"] * 2 and q["ceiling"] > 10 * q["floor"]


def test_fd_reference_must_be_a_split():
    with pytest.raises(ValueError, match="reference='all'"):
        digit_fd(load_digits(split="test")[:50], reference="all")
    with pytest.raises(ValueError, match="reference"):
        digit_quality(load_digits(split="test")[:50], reference="held-out")


# ----------------------------------------------------------------------------- gap and its null

class Constant(nn.Module):
    """Predicts eps = 0 whatever the input: its loss is mean(noise^2), the same on every set."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x, t):
        return torch.zeros_like(x) * self.w


class Memoriser(nn.Module):
    """The ideal denoiser of the training digits alone: x0_hat = the training digit nearest to x_t / sqrt(ab)."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule, self.memory = schedule, load_digits(split="train").flatten(1)
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x, t):
        ab = self.schedule.alpha_bar[t].float()[:, None]
        flat = x.flatten(1)
        x0 = self.memory[torch.cdist(flat / ab.sqrt(), self.memory).argmin(1)]
        return ((flat - ab.sqrt() * x0) / (1 - ab).sqrt()).view_as(x)


def test_gap_uses_identical_t_and_noise_on_every_set():
    out = split_gap(Constant(), NoiseSchedule.make(), draws=3, n=100)
    assert out["gap"] == 0.0 and out["null"] == 0.0 and out["gap_se"] == 0.0


def test_gap_detects_memorisation_and_null_does_not():
    schedule = NoiseSchedule.make()
    out = split_gap(Memoriser(schedule), schedule, draws=6, n=200, seed=3)
    # held-out digits are not in the memory: near t = 0 their error is amplified by 1 / sqrt(1 - alpha_bar_t)
    assert out["gap"] > 2 * out["gap_se"] > 0
    assert out["gap"] > 100 * abs(out["null"])  # both training halves are in the memory


def test_gap_rejects_too_large_sets():
    with pytest.raises(ValueError, match="n=600"):
        split_gap(Constant(), NoiseSchedule.make(), n=600)


# ----------------------------------------------------------------------------- statistics

def test_t_interval_known_values():
    mean, lo, hi = t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert hi - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert mean - lo == pytest.approx(hi - mean)
    with pytest.raises(ValueError, match="at least 2"):
        t_interval([1.0])


def rows_for(seeds=(0, 1, 2), fd=None):
    """Synthetic rows for every variant and seed; fd(kind, skip, seed) gives the FD."""
    fd = fd or (lambda kind, skip, seed: {"residual": 40, "residual, default init": 60, "plain": 200}[kind]
                + {"concat": 0, "add": 10, "none": 100}[skip] * (kind == "plain") + seed)
    return [{"kind": k, "skip": s, "seed": seed, "params": 1, "steps": 10, "final_loss": 0.1, "gap": 0.001 * seed,
             "null": 0.0, "gap_se": 1e-4, "fd": float(fd(k, s, seed)), "floor": 10.0, "fd_train": 5.0}
            for seed in seeds for k, s in ((v.kind, v.skip) for v in VARIANTS)]


def test_paired_differences_match_seeds():
    rows = rows_for(fd=lambda k, s, seed: 100 * (k == "plain") + seed * (2 if k == "plain" else 1))
    plain, residual = Variant("plain", "none"), Variant("residual", "none")
    assert paired(rows, "fd", plain, residual) == [100.0, 101.0, 102.0]
    # a seed missing on one side is left out, not mismatched; the order of the rows does not matter
    missing = [r for r in rows if not (r["seed"] == 2 and Variant.of(r) == plain)]
    assert paired(missing[::-1], "fd", plain, residual) == [100.0, 101.0]
    table = effect_rows(rows)
    assert len(table) == len(COMPARISONS) * len(SKIP_MODES)
    assert "residual on - off" in format_effects(rows) and "plain" in format_table(rows)


def test_gap_is_resolved_only_when_it_leaves_its_null():
    rows = rows_for()
    for r in rows:  # gaps whose spread over seeds covers 0
        r["gap"] = [0.001, -0.001, 0.0005][r["seed"]]
    assert not any(e["gap_resolved"] for e in summary(rows))
    for r in rows:
        r["gap"] = 0.01 + 0.0001 * r["seed"]
    assert all(e["gap_resolved"] for e in summary(rows))


def test_steps_for_budget_equalise_time():
    sps = {v: 0.01 * (1 + i) for i, v in enumerate(VARIANTS)}
    steps = steps_for_budget(sps, 300, reference=VARIANTS[0])
    assert steps[VARIANTS[0]] == 300 and steps[VARIANTS[2]] == 100
    budget = 300 * 0.01
    for v, n in steps.items():  # every variant trains as long as the reference, to within half a step
        assert abs(n * sps[v] - budget) <= sps[v] / 2 + 1e-9
    # a uniformly slower machine changes no step count: only the ratios enter
    assert steps_for_budget({k: 3 * v for k, v in sps.items()}, 300, reference=VARIANTS[0]) == steps


def test_calibration_times_every_variant_and_pools_identical_operations():
    variants = [Variant(kind, "none") for kind in KINDS]
    sps = calibrate(variants, rounds=2, steps_per_round=1, batch_size=4)
    assert set(sps) == set(variants)
    assert sps[Variant("residual", "none")] == sps[Variant("residual, default init", "none")]
    assert all(v > 0 for v in sps.values())


# ----------------------------------------------------------------------------- the shipped results

def test_shipped_results_are_an_equal_time_experiment():
    meta, rows = load_results()
    seeds = meta["seeds"]
    assert len(seeds) >= 5
    expected = {(v, seed) for v in SWEEP_VARIANTS for seed in seeds}
    assert {(Variant.of(r), r["seed"]) for r in rows} == expected
    sps = meta["calibration_s_per_step"]
    ref = Variant(*meta["reference"]).name
    assert {Variant.parse(name) for name in meta["steps"]} == set(SWEEP_VARIANTS)
    for r in rows:  # each run used the step count of its variant: equal time by the calibration
        name = Variant.of(r).name
        assert r["steps"] == meta["steps"][name] == round(meta["ref_steps"] * sps[ref] / sps[name])
    assert all(len(r["samples"]) == 16 for r in rows if r["seed"] == seeds[0])
    assert set(KINDS) == {r["kind"] for r in rows}
    for r in rows:
        assert r["gap_se"] < 0.001, "the gap must be stable under the evaluation's draws"
        assert r["floor"] < r["fd"] < 1000
    assert capstone.shipped_samples(rows).keys() == set(SWEEP_VARIANTS)


# ----------------------------------------------------------------------------- the variants

def test_variant_names_parse_back_and_bad_names_are_refused():
    for v in VARIANTS:
        assert Variant.parse(v.name) == v and str(v) == v.name
    assert Variant("plain", "add").build().config.residual is False
    assert {v.kind for v in SWEEP_VARIANTS} == set(KINDS) and len(set(VARIANTS)) == 9
    with pytest.raises(ValueError, match="kind"):
        Variant("resnet", "add")
    with pytest.raises(ValueError, match="skip"):
        Variant("plain", "sum")


def test_capstone_row_and_summaries():  # moved from tests/test_lessons.py
    from course_lib.lessons.residual_in_diffusion import plot_capstone, plot_effects, run_variant, shipped_samples

    row = run_variant(Variant("residual", "add"), steps=3, batch_size=8, n_samples=40, eval_draws=2, keep_samples=4)
    keys = {"kind", "skip", "params", "steps", "final_loss", "gap", "null", "gap_se", "fd", "floor", "fd_train"}
    assert keys <= set(row)
    assert row["steps"] == 3 and len(row["samples"]) == 4
    rows = [{**row, "seed": seed, "fd": row["fd"] + seed} for seed in (0, 1)]
    rows += [{**r, "kind": kind, "fd": r["fd"] + 50} for r in rows for kind in ("plain", "residual, default init")]
    assert "add" in format_table(rows)
    assert plot_capstone(rows).axes and plot_effects(rows).axes
    assert capstone.plot_sample_grids(shipped_samples(rows)).axes
