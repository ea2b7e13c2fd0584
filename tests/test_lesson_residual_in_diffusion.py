"""Notebook 07's lesson module: its curves widget and its exercises' checks (course_lib.lessons.grading)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_lib import variants
from course_lib.lessons import residual_in_diffusion as capstone
from course_lib.variants import Variant, load_results


@pytest.fixture(scope="module")
def rows():
    return load_results()[1]


# ----------------------------------------------------------------------------- the curves widget

def test_demo_widget_moves_the_budget():
    live = capstone.demo_widgets()["capstone curves"]
    assert set(live.controls) == {"budget"}
    before = live.image.value
    live.controls["budget"].value = 4000
    assert live.status.value == "" and live.image.value != before


# ----------------------------------------------------------------------------- exercise 2: paired differences

def by_position(rows, key, a, b):
    xa = [r[key] for r in rows if r["kind"] == a.kind and r["skip"] == a.skip]
    xb = [r[key] for r in rows if r["kind"] == b.kind and r["skip"] == b.skip]
    return [x - y for x, y in zip(xa, xb)]


def with_extra_seed(rows, key, a, b):
    va, vb = a.by_seed(rows, key), b.by_seed(rows, key)
    return [va.get(s, 0.0) - vb.get(s, 0.0) for s in sorted(set(va) | set(vb))]


def in_numpy_float64(rows, key, a, b):  # another correct formulation: arrays, float64, seeds matched by search
    seeds = np.array([r["seed"] for r in rows])
    values = np.array([r[key] for r in rows], dtype=np.float64)
    of = lambda v: np.array([r["kind"] == v.kind and r["skip"] == v.skip for r in rows])
    common = np.intersect1d(seeds[of(a)], seeds[of(b)])
    pick = lambda v: np.array([values[of(v) & (seeds == s)][0] for s in common])
    return pick(a) - pick(b)


def test_paired_differences_accepts_reference_and_float64(rows, capsys):
    capstone.check_paired_differences(capstone.paired_differences, rows)
    assert "✅" in capsys.readouterr().out
    capstone.check_paired_differences(in_numpy_float64, rows)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("fn, diagnosis", [
    (by_position, "paired by their position in the list, not by seed"),
    (lambda r, k, a, b: [-d for d in capstone.paired_differences(r, k, a, b)], "the sign is flipped"),
    (lambda r, k, a, b: float(np.mean(capstone.paired_differences(r, k, a, b))), "the difference of the means"),
    (lambda r, k, a, b: capstone.paired_differences(r, k, a, b)[::-1], "in another order"),
    (with_extra_seed, "a seed that only one variant has"),
])
def test_paired_differences_names_each_mistake_then_escalates(fn, diagnosis, rows, three_tries):
    first, second, third = three_tries(capstone.check_paired_differences, fn, rows)
    assert "Not yet" in first and diagnosis in first and "Hint:" not in first
    assert "Hint: pair the rows by seed" in second and "Read " not in second
    assert "Read the paragraph above the exercise" in third and "course_lib" not in third


def test_paired_differences_stub_says_not_yet(rows, capsys):
    def stub(rows, key, a, b):
        raise NotImplementedError

    capstone.check_paired_differences(stub, rows)
    capstone.check_paired_differences(None, rows)
    out = capsys.readouterr().out
    assert out.count("Not yet") == 2 and "Traceback" not in out


def test_exercise_rows_defeat_pairing_by_position(rows):
    shuffled = capstone.exercise_rows(rows)
    a, b = Variant("plain", "add"), Variant("residual", "add")
    assert by_position(shuffled, "fd", a, b) != variants.paired(shuffled, "fd", a, b)
    assert len(variants.paired(shuffled, "fd", a, b)) == len(load_results()[0]["seeds"]) - 1


# ----------------------------------------------------------------------------- exercise 3: the paired interval

def test_paired_interval_accepts_reference_and_other_formulations(rows, capsys):
    from scipy import stats

    capstone.check_paired_interval(capstone.paired_interval(rows, "add"), rows, "add")
    d = np.array(variants.paired(rows, "fd", Variant("plain", "add"), Variant("residual", "add")), dtype=np.float64)
    low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))  # scipy's own interval
    capstone.check_paired_interval([d.mean(), low, high], rows, "add")
    out = capsys.readouterr().out
    resolved = low > 0 or high < 0  # at 4,000 steps with skip=add the shipped seeds do not resolve the sign
    assert out.count("✅") == 2 and ("excludes 0" in out) == resolved and ("covers 0" in out) != resolved


@pytest.mark.parametrize("mistake", list(capstone.interval_mistakes(load_results()[1], "add")))
def test_paired_interval_names_each_mistake_then_escalates(mistake, rows, three_tries):
    value = capstone.interval_mistakes(rows, "add")[mistake]
    first, second, third = three_tries(capstone.check_paired_interval, value, rows, "add")
    assert mistake in first and "Hint:" not in first
    assert "Hint: the per-seed differences are n numbers" in second and "Read " not in second
    assert "Read Student (1908)" in third and "course_lib" not in third
    for out in (first, second, third):
        assert_no_solution(out, rows)


def test_unpaired_interval_is_diagnosed_as_unpaired(rows, capsys):
    from scipy import stats

    xa = [r["fd"] for r in Variant("plain", "add").rows(rows)]
    xb = [r["fd"] for r in Variant("residual", "add").rows(rows)]
    welch = stats.ttest_ind(xa, xb, equal_var=False).confidence_interval(0.95)  # Welch's df, not n - 1
    mean = np.mean(xa) - np.mean(xb)
    capstone.check_paired_interval((mean, welch.low, welch.high), rows, "add")
    out = capsys.readouterr().out
    assert "Not yet" in out and "independent groups" in out


def test_paired_interval_stubs_and_shapes_say_not_yet(rows, capsys):
    capstone.check_paired_interval(None, rows, "add")
    capstone.check_paired_interval((1.0, 2.0), rows, "add")
    capstone.check_paired_interval((5.0, 9.0, 1.0), rows, "add")
    out = capsys.readouterr().out
    assert out.count("Not yet") == 3 and "three numbers" in out and "(mean, low, high)" in out


def assert_no_solution(out, rows):
    """A check's message names no solution code and no expected bound."""
    assert "ppf" not in out and "std(" not in out and "sqrt(" not in out and "t_interval" not in out
    _, low, high = capstone.paired_interval(rows, "add")
    for bound in (low, high):
        for digits in (1, 2, 3):
            assert f"{bound:.{digits}f}" not in out


DIFFS = lambda rows: np.array(variants.paired(rows, "fd", Variant("plain", "add"), Variant("residual", "add")))


def normal_interval(rows):
    d = DIFFS(rows)
    half = 1.959963984540054 * d.std(ddof=1) / np.sqrt(len(d))
    return d.mean(), d.mean() - half, d.mean() + half


def t_with(rows, df_offset=-1, spread="se"):
    from scipy import stats

    d = DIFFS(rows)
    sd = d.std(ddof=1)
    half = stats.t.ppf(0.975, len(d) + df_offset) * (sd / np.sqrt(len(d)) if spread == "se" else sd)
    return d.mean(), d.mean() - half, d.mean() + half


def bootstrap(rows, resamples=2000, seed=0):
    d = DIFFS(rows)
    means = d[np.random.default_rng(seed).integers(0, len(d), (resamples, len(d)))].mean(axis=1)
    return (d.mean(), *np.percentile(means, [2.5, 97.5]))


@pytest.mark.parametrize("answer, diagnosis", [
    (normal_interval, "normal quantile (1.96)"),
    (lambda rows: t_with(rows, df_offset=0), "the degrees of freedom are n = 5"),
    (lambda rows: t_with(rows, spread="sd"), "the spread of one difference (the standard deviation)"),
    (bootstrap, "percentile bootstrap"),
    (lambda rows: bootstrap(rows, resamples=500, seed=3), "percentile bootstrap"),
    (lambda rows: (lambda m, lo, hi: (m, m - 0.6 * (m - lo), m + 0.6 * (hi - m)))(*t_with(rows)), "too narrow"),
    (lambda rows: (lambda m, lo, hi: (m, m - 2 * (m - lo), m + 2 * (hi - m)))(*t_with(rows)), "wider than"),
    (lambda rows: (lambda m, lo, hi: (m + 0.3 * (hi - m), lo, hi))(*t_with(rows)), "the centre"),
])
def test_paired_interval_diagnoses_the_method_without_giving_it(answer, diagnosis, rows, capsys):
    capstone.check_paired_interval(answer(rows), rows, "add")
    out = capsys.readouterr().out
    assert "Not yet" in out and diagnosis in out, out
    assert_no_solution(out, rows)


def test_exact_bootstrap_is_narrower_than_the_t_interval(rows):
    _, lo, hi = capstone.bootstrap_interval(DIFFS(rows))
    _, tlo, thi = capstone.paired_interval(rows, "add")
    assert tlo < lo < hi < thi


# ----------------------------------------------------------------------------- predict, then run

def test_cost_prediction(rows, capsys):
    assert capstone.largest_cost_skip(rows) == "none"
    capstone.check_cost_prediction("none", rows)
    capstone.check_cost_prediction("skip='none'", rows)
    assert capsys.readouterr().out.count("✅") == 2
    capstone.check_cost_prediction("add", rows)
    first = capsys.readouterr().out
    assert "you predicted skip='add'" in first and "without long skips" not in first
    capstone.check_cost_prediction("add", rows)
    assert "without long skips" in capsys.readouterr().out
    capstone.check_cost_prediction("add", rows)
    assert "Read the shipped learning curves below" in capsys.readouterr().out
    capstone.check_cost_prediction("resnet", rows)
    capstone.check_cost_prediction(None, rows)
    out = capsys.readouterr().out
    assert "answer with one of" in out and "still `None`" in out


def test_cost_prediction_names_its_budget_and_where_the_answer_changes(rows, capsys):
    curves = variants.load_curves()[1]
    assert capstone.cost_by_budget(curves)[4000] == "none" and capstone.cost_by_budget(curves)[125] != "none"
    capstone.check_cost_prediction("none", rows, curves)
    out = capsys.readouterr().out
    assert "at 4,000 steps the FD cost is largest with skip='none'" in out
    assert "125 steps" in out and "noise ceiling" in out


def test_live_run_check_without_a_live_run_says_what_to_run(capsys):
    capstone.check_live_run(variants.load_curves()[1], None)
    assert "run the cell under" in capsys.readouterr().out


def test_tables_label_their_means_and_columns(rows):
    table = capstone.format_table(rows)
    assert "arithmetic means" in table and "FD raw: the same from the raw weights" in table and "null:" in table
    gap = capstone.gap_differences(rows)
    assert "skip=concat +0.0141 - +0.0131 = +0.0009, 1.2% of residual's training loss (0.0766)" in gap
