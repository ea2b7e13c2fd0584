"""Notebook 07's experiment: its measurements, statistics and shipped results.

07b's statistics (ratios, joint verdicts, the paired table) are tested in tests/test_lesson_comparing_variants.py.
"""


import numpy as np
import pytest
import torch
from torch import nn

from course_lib import variants
from course_lib.data import load_digits
from course_lib.lessons import residual_in_diffusion as capstone
from course_lib.lessons.residual_in_diffusion import format_table, split_gap
from course_lib.metrics import digit_fd, digit_quality
from course_lib.schedules import NoiseSchedule
from course_lib.variants import KINDS, SWEEP_VARIANTS, VARIANTS, Variant, paired, summary

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

def rows_for(seeds=(0, 1, 2), fd=None):
    """Synthetic rows for every variant and seed; fd(kind, skip, seed) gives the FD."""
    fd = fd or (lambda kind, skip, seed: {"residual": 40, "residual, default init": 60, "plain": 200}[kind]
                + {"concat": 0, "add": 10, "none": 100}[skip] * (kind == "plain") + seed)
    return [{"kind": k, "skip": s, "seed": seed, "steps": 10, "final_loss": 0.1, "gap": 0.001 * seed,
             "null": 0.0, "gap_se": 1e-4, "fd": float(fd(k, s, seed)), "fd_raw": float(fd(k, s, seed)) + 1}
            for seed in seeds for k, s in ((v.kind, v.skip) for v in VARIANTS)]


def test_paired_differences_match_seeds():
    rows = rows_for(fd=lambda k, s, seed: 100 * (k == "plain") + seed * (2 if k == "plain" else 1))
    plain, residual = Variant("plain", "none"), Variant("residual", "none")
    assert paired(rows, "fd", plain, residual) == [100.0, 101.0, 102.0]
    # a seed missing on one side is left out, not mismatched; the order of the rows does not matter
    missing = [r for r in rows if not (r["seed"] == 2 and Variant.of(r) == plain)]
    assert paired(missing[::-1], "fd", plain, residual) == [100.0, 101.0]
    assert "plain" in format_table(rows)


def test_gap_is_resolved_only_when_it_leaves_its_null():
    rows = rows_for()
    for r in rows:  # gaps whose spread over seeds covers 0
        r["gap"] = [0.001, -0.001, 0.0005][r["seed"]]
    assert not any(e["gap_resolved"] for e in summary(rows))
    for r in rows:
        r["gap"] = 0.01 + 0.0001 * r["seed"]
    assert all(e["gap_resolved"] for e in summary(rows))


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


def test_shipped_curves_cover_every_variant_seed_and_budget():
    meta, rows = variants.load_curves()
    seeds, budgets = meta["seeds"], meta["budgets"]
    assert len(seeds) >= 5 and budgets == sorted(budgets) and budgets[-1] >= 4000
    long = meta["long_budgets"]
    assert long[: len(budgets)] == budgets and long[-1] > budgets[-1]
    want = {(v, seed, b) for v in SWEEP_VARIANTS for seed in seeds
            for b in (long if v in variants.LONG_VARIANTS else budgets)}
    assert {(Variant.of(r), r["seed"], r["steps"]) for r in rows} == want
    last = {(v, s): max(b for w, t, b in want if (w, t) == (v, s)) for v, s, _ in want}
    for r in rows:
        assert r["gap_se"] < 0.002, "the gap must be stable under the evaluation's draws"
        assert 0 < r["fd_ema"] < 1000 and 0 < r["fd_raw"] < 1000 and len(r["x0_mse"]) == len(meta["probe_ts"])
        assert ("samples" in r) == (r["steps"] == last[(Variant.of(r), r["seed"])])
        if Variant.of(r) in variants.LONG_VARIANTS and r["steps"] >= capstone.SAMPLER_BUDGET:
            assert r["fd_ddpm"] < r["fd_ddim50"] < r["fd_ema"] * 1.05  # the sampler's share, measured
    floor, ceiling = meta["reference"]["floor"], meta["reference"]["ceiling"]
    assert len(floor) >= 5 and max(floor) < min(ceiling) / 10
    # the top budget is a working one: the reference variant scores within 2x of the real-data floor
    top = [r["fd_ema"] for r in rows if r["steps"] == budgets[-1] and Variant.of(r) == Variant("residual", "concat")]
    assert np.mean(top) < 2 * np.mean(floor)
    assert set(meta["cpu_s_per_step"]) == {v.name for v in SWEEP_VARIANTS}
    assert variants.common_budget(rows) == budgets[-1]
    assert {r["steps"] for r in variants.load_results()[1]} == {budgets[-1]}


def test_curve_claims_hold_on_the_shipped_seeds_and_say_when_not_measured(capsys):
    _, rows = variants.load_curves()
    for name, margins in capstone.curve_claims(rows).items():
        assert margins is not None and (np.asarray(margins) > 0).all(), name
    capstone.check_curve_claims(rows)
    assert capsys.readouterr().out.count("held for 5 of 5 seeds") == len(capstone.CLAIM_TEXT)
    # a student who drops the largest budgets or a variant gets "not measured", never a traceback
    early = [r for r in rows if r["steps"] <= 250 and r["kind"] != "plain"]
    assert all(m is None for m in capstone.curve_claims(early).values())
    capstone.check_curve_claims(early)
    assert "not measured" in capsys.readouterr().out


def test_a_measure_left_out_changes_none_of_the_others():
    """``measures`` (what the claim tests take): each measure has its own seeded draws, so a row with fewer of them
    holds the same values; an unknown name is an error that lists the allowed ones."""
    full, fewer = (capstone.run_curves((3,), variants=[Variant("residual", "add")], measures=m)
                   for m in (capstone.MEASURES, ("fd_ema", "x0_mse")))
    assert set(full[0]) - set(fewer[0]) == {"fd_raw", "gap", "gap_se", "null", "null_se"}
    assert fewer[0]["fd_ema"] == full[0]["fd_ema"] and fewer[0]["x0_mse"] == full[0]["x0_mse"]
    with pytest.raises(ValueError, match=r"measures=.*'fd'.*allowed"):
        capstone.run_curves((3,), variants=[Variant("residual", "add")], measures=("fd",))


def test_the_live_run_measures_only_what_the_notebook_shows_of_it(capsys):
    """Notebook 07 reads the live run's FD (EMA weights) and loss: its table, its crosses and its check."""
    live = capstone.run_curves((2,), variants=[Variant("residual", "add")])
    assert {"fd_ema", "loss"} <= set(live[0]) and not {"fd_raw", "gap", "x0_mse"} & set(live[0])
    assert "residual / skip=add" in capstone.live_table(live)
    meta, curves = variants.load_curves()
    assert capstone.capstone_curves_widget(meta, curves, live).image.value
    capstone.check_live_run(curves, live)
    assert "FD" in capsys.readouterr().out


def test_capstone_curve_run_and_plots():
    rows = capstone.run_curves((2, 4), variants=[Variant("residual", "add"), Variant("plain", "add")],
                               measures=capstone.MEASURES)
    assert [r["steps"] for r in rows] == [2, 4, 2, 4]
    keys = {"kind", "skip", "seed", "steps", "train_s", "loss", "fd_ema", "fd_raw", "gap", "null", "x0_mse"}
    assert all(keys <= set(r) for r in rows)
    assert len(rows[1]["samples"]) == 16 and "samples" not in rows[0]
    meta, _ = variants.load_curves()
    assert "residual / skip=add" in capstone.curve_table(meta, rows)
    assert capstone.capstone_curves_widget(*variants.load_curves(), live=rows).image.value
    end = variants.curve_rows(rows)
    assert {r["steps"] for r in end} == {4} and "add" in format_table(end)
