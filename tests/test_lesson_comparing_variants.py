"""Notebook 07b's lesson module: the paired table, FD ratios along the budget axis, joint verdicts, the samples
widget, and the exercises' checks (the ratio interval, the joint level, the sign test)."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_lib import variants
from course_lib.lessons import comparing_variants as compare
from course_lib.lessons import residual_in_diffusion
from course_lib.lessons.comparing_variants import SamplesView, Variant, load_results
from course_lib.unet import SKIP_MODES
from course_lib.variants import COMPARISONS, SWEEP_VARIANTS


@pytest.fixture(scope="module")
def rows():
    return load_results()[1]


@pytest.fixture(scope="module")
def curves():
    return compare.load_curves()[1]


def test_07_and_07b_share_the_librarys_variants():
    """Both lessons read the variants and the shipped curves from ``course_lib.variants`` (neither imports the other:
    tests/test_imports.py)."""
    for lesson in (compare, residual_in_diffusion):
        assert lesson.Variant is variants.Variant and lesson.load_curves is variants.load_curves


def test_paired_table_has_every_comparison(rows):
    table = compare.effect_rows(rows)
    assert len(table) == len(COMPARISONS) * len(SKIP_MODES) - 4  # the control ran without long skips only
    assert {e["comparison"] for e in table} == {c.name for c in COMPARISONS}
    assert "residual on - off" in compare.format_effects(rows)


def test_paired_table_of_synthetic_rows():
    rows = [{"kind": v.kind, "skip": v.skip, "seed": seed, "steps": 10, "final_loss": 0.1, "gap": 0.001 * seed,
             "null": 0.0, "gap_se": 1e-4, "fd": 100.0 * (v.kind == "plain") + seed, "fd_raw": 1.0}
            for seed in (0, 1, 2) for v in variants.VARIANTS]
    assert len(compare.effect_rows(rows)) == len(COMPARISONS) * len(SKIP_MODES)


def test_ratio_effects_are_geometric_means_with_intervals_and_counts():
    _, rows = compare.load_curves()
    effects = compare.ratio_effects(rows)
    n_budgets = len({r["steps"] for r in rows})
    # every comparison at every budget both of its variants reached (the long runs add one for "zero-init alone")
    assert len(effects) == len(compare.CURVE_COMPARISONS) * (n_budgets - 1) + 1
    for e in effects:
        assert e["low"] <= e["ratio"] <= e["high"]
        assert e["ratio"] == pytest.approx(math.exp(np.mean(e["logs"])))
        assert e["a_better"] == sum(x < 0 for x in e["logs"])
    joint = compare.ratio_effects(rows, level=0.999)
    for a, b in zip(effects, joint):  # a higher level widens every interval
        assert b["low"] <= a["low"] and b["high"] >= a["high"]
    text = compare.joint_verdicts(rows)
    assert f"of {len(effects)} intervals" in text



def test_plots_of_ratios_and_samples(curves, rows):
    assert len(compare.plot_ratio_effects(curves).axes) == 6
    assert compare.plot_sample_grids(compare.shipped_samples(rows)).axes
    last = compare.last_rows(compare.load_curves()[0], curves)
    assert {(Variant.of(r), r["steps"]) for r in last} >= {(Variant("residual", "none"), 8000),
                                                           (Variant("plain", "none"), 4000)}
    assert all("samples" in r for r in last)


# ----------------------------------------------------------------------------- the samples widget

def test_demo_widget_follows_every_control():
    live = compare.demo_widgets()["capstone samples"]
    assert set(live.controls) == {"a", "b", "seed"}
    assert list(live.controls["a"].options) == [v.name for v in compare.VARIANTS if v in SWEEP_VARIANTS]
    for name, value in [("a", "plain / skip=none"), ("b", "residual, default init / skip=none"), ("seed", 3)]:
        before = live.image.value
        live.controls[name].value = value
        assert live.status.value == "" and live.image.value != before, name


def test_samples_view_shows_the_chosen_variants_and_seed(rows):
    view = SamplesView(rows)
    view.update("residual / skip=add", "plain / skip=add", seed=2)
    a, b = Variant("residual", "add"), Variant("plain", "add")
    _, shown = view.grid(a, 2)
    assert shown == 2  # the shipped curves store samples of every seed at the largest budget
    assert np.array_equal(view.images[0].get_array(), view.grids[(a, 2)])
    assert "seed 2" in view.titles[0].get_text() and "not stored" not in view.titles[0].get_text()
    # a seed without samples falls back to the first seed that has them, and says so
    view.update("residual / skip=add", "plain / skip=add", seed=2)
    partial = [r if r["seed"] == 0 else {k: v for k, v in r.items() if k != "samples"} for r in rows]
    other = SamplesView(partial)
    other.update("residual / skip=add", "plain / skip=add", seed=2)
    assert "seed 0" in other.titles[0].get_text() and "seed 2 not stored" in other.titles[0].get_text()
    fd_a, fd_b = a.by_seed(rows, "fd")[2], b.by_seed(rows, "fd")[2]
    assert list(view.chosen.get_ydata()) == [fd_a, fd_b]
    assert f"seed 2: {fd_a - fd_b:+.0f}" in view.difference.get_text()
    assert view.images[0].get_interpolation() == "nearest"


def test_samples_view_uses_the_chosen_seed_when_it_has_samples(rows):
    rows = [dict(r) for r in rows if r["seed"] != 1 or (r["kind"], r["skip"]) == ("residual", "concat")]
    rows = [r if r["seed"] != 1 else {k: v for k, v in r.items() if k != "samples"} for r in rows]
    donor = next(r for r in rows if "samples" in r and r["kind"] == "plain" and r["skip"] == "none")
    target = next(r for r in rows if r["seed"] == 1 and r["kind"] == "residual" and r["skip"] == "concat")
    target["samples"] = donor["samples"]
    view = SamplesView(rows)
    view.update("residual / skip=concat", "plain / skip=none", seed=1)
    assert np.array_equal(view.images[0].get_array(), view.grids[(Variant("residual", "concat"), 1)])
    assert "not stored" not in view.titles[0].get_text()


def test_show_samples_is_a_static_figure(rows):
    fig = compare.show_samples(rows, "residual / skip=none", "plain / skip=none", seed=4)
    assert len(fig.axes) == 3 and "seed 4" in fig.axes[2].get_title()


# ----------------------------------------------------------------------------- exercise 1: the ratio interval

def test_ratio_interval_accepts_reference_and_another_formulation(curves, capsys):
    from scipy import stats

    compare.check_ratio_interval(compare.ratio_interval(curves), curves)
    at = [r for r in curves if r["steps"] == 500]
    a = Variant("residual", "concat").by_seed(at, "fd_ema")
    b = Variant("plain", "concat").by_seed(at, "fd_ema")
    logs = np.log(np.array([a[s] for s in sorted(a)]) / np.array([b[s] for s in sorted(b)]))
    low, high = stats.t.interval(0.95, len(logs) - 1, loc=logs.mean(), scale=stats.sem(logs))
    compare.check_ratio_interval(np.exp([logs.mean(), low, high]), curves)
    out = capsys.readouterr().out
    assert out.count("✅") == 2 and "still reaches 1" in out and "5 of 5 seeds" in out
    # the numbers the prose quotes: the upper end to 4 decimals, and each seed's ratio (two far below the others)
    assert f"its upper end is {compare.ratio_interval(curves)[2]:.4f}" in out and "seed 4: 0.28" in out


def test_samples_view_says_the_steps_of_each_variant():
    meta, curves = compare.load_curves()
    view = SamplesView(compare.last_rows(meta, curves))
    view.update("residual / skip=none", "plain / skip=concat", seed=0)
    assert "8,000 steps" in view.titles[0].get_text() and "4,000 steps" in view.titles[1].get_text()
    assert "not the same steps" in view.difference.get_text()
    view.update("residual / skip=concat", "plain / skip=concat", seed=0)
    assert "not the same steps" not in view.difference.get_text()


def test_gap_report_and_sampler_table_give_the_scales_the_prose_compares_to(rows):
    meta, curves = compare.load_curves()
    assert "for scale, the training loss" in compare.gap_report(rows, 16)
    table = compare.sampler_table(curves, meta)
    assert "arithmetic mean" in table and "floor (300 real training digits): 17.5" in table


def test_the_shipped_ratio_has_every_seed_agreeing_yet_reaches_one(curves):
    ratio, low, high = compare.ratio_interval(curves)
    assert low < ratio < 1 < high
    e = next(e for e in compare.ratio_effects(curves)
             if e["comparison"] == "residual vs plain, skip=concat" and e["steps"] == 500)
    assert e["a_better"] == e["n"] == 5 and e["ratio"] == pytest.approx(ratio)


@pytest.mark.parametrize("mistake", list(compare.ratio_mistakes(compare.load_curves()[1])))
def test_ratio_interval_names_each_mistake_then_escalates(mistake, curves, three_tries):
    value = compare.ratio_mistakes(curves)[mistake]
    first, second, third = three_tries(compare.check_ratio_interval, value, curves)
    assert mistake in first and "Hint:" not in first
    assert "Hint: a ratio of 2 and a ratio of 1/2" in second and "Read " not in second
    assert "Read Bland and Altman (1996)" in third and "course_lib" not in third
    _, low, high = compare.ratio_interval(curves)
    for out in (first, second, third):
        assert "ratio_interval" not in out and f"{low:.2f}" not in out and f"{high:.2f}" not in out


@pytest.mark.parametrize("value, diagnosis", [
    (None, "still `None`"),
    ((1.0, 2.0), "three numbers"),
    ((5.0, 9.0, 1.0), "(ratio, low, high)"),
])
def test_ratio_interval_stubs_and_shapes_say_not_yet(value, diagnosis, curves, capsys):
    compare.check_ratio_interval(value, curves)
    out = capsys.readouterr().out
    assert "Not yet" in out and diagnosis in out


def test_ratio_interval_unlisted_answers_get_a_shape_diagnosis(curves, capsys):
    r, low, high = compare.ratio_interval(curves)
    compare.check_ratio_interval((r * 1.3, low, high * 1.3), curves)
    compare.check_ratio_interval((r, r * (low / r) ** 0.5, r * (high / r) ** 0.5), curves)
    compare.check_ratio_interval((r, r * (low / r) ** 2, r * (high / r) ** 2), curves)
    out = capsys.readouterr().out
    assert "the centre" in out and "too narrow" in out and "wider than" in out


# ----------------------------------------------------------------------------- exercise 2: many intervals

def test_joint_level_accepts_bonferroni(capsys):
    compare.check_joint_level(37 * 0.05, 1 - 0.05 / 37, 37)
    out = capsys.readouterr().out
    assert "✅" in out and "99.86%" in out


@pytest.mark.parametrize("chance, level, diagnosis", [
    (37 * 0.95, 1 - 0.05 / 37, "counts the intervals that hold"),
    (0.05, 1 - 0.05 / 37, "the chance for one interval"),
    (3, 1 - 0.05 / 37, "not the number of misses"),
    (37 * 0.05, 0.95 ** (1 / 37), "if the intervals were independent"),
    (37 * 0.05, 100 * (1 - 0.05 / 37), "not a percentage"),
    (37 * 0.05, 0.05 / 37, "the chance each interval may miss"),
    (37 * 0.05, 0.95 / 37, "lower than 95%"),
    (37 * 0.05, 1 - 0.05 * 37, "not guaranteed to reach 95%"),
    (37 * 0.05, 1 - 0.01 / 37, "higher than all the intervals need"),
])
def test_joint_level_names_each_mistake(chance, level, diagnosis, capsys):
    compare.check_joint_level(chance, level, 37)
    out = capsys.readouterr().out
    assert "Not yet" in out and diagnosis in out and "bonferroni_level" not in out


def test_joint_level_escalates_to_a_paper(three_tries):
    first, second, third = three_tries(compare.check_joint_level, 37 * 0.05, 0.95 ** (1 / 37), 37)
    assert "Hint:" not in first and "Hint: if each interval misses" in second and "Read Dunn (1961)" in third
    assert "course_lib" not in third


def test_joint_level_stubs_say_not_yet(capsys):
    compare.check_joint_level(None, None, 37)
    compare.check_joint_level(1.85, None, 37)
    compare.check_joint_level([1, 2], 0.99, 37)
    out = capsys.readouterr().out
    assert out.count("Not yet") == 3 and "Traceback" not in out


# ----------------------------------------------------------------------------- exercise 3: the sign test

def exact(k, n):
    far = max(k, n - k)
    return min(1.0, 2 * sum(math.comb(n, j) for j in range(far, n + 1)) / 2 ** n)


def test_sign_test_accepts_reference_and_scipy(capsys):
    from scipy.stats import binomtest

    compare.check_sign_test(exact)
    compare.check_sign_test(lambda k, n: binomtest(k, n, 0.5).pvalue)
    out = capsys.readouterr().out
    assert out.count("✅") == 2 and "0.0625" in out
    assert compare.sign_test_p(5, 5) == pytest.approx(2 / 32)


def normal_approximation(k, n):
    from scipy.stats import norm

    return min(1.0, 2 * norm.sf(abs(k - n / 2) / math.sqrt(n / 4)))


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda k, n: sum(math.comb(n, j) for j in range(max(k, n - k), n + 1)) / 2 ** n, "one-sided"),
    (lambda k, n: 2 * math.comb(n, max(k, n - k)) / 2 ** n, "exactly this split"),
    (lambda k, n: 2 * sum(math.comb(n, j) for j in range(max(k, n - k), n + 1)) / 2 ** n, "above 1"),
    (lambda k, n: min(1.0, 2 * sum(math.comb(n, j) for j in range(k, n + 1)) / 2 ** n), "the wrong tail"),
    (normal_approximation, "not the exact two-sided probability"),
])
def test_sign_test_names_each_mistake(fn, diagnosis, capsys):
    compare.check_sign_test(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and diagnosis in out


def test_sign_test_escalates_without_naming_the_solution(three_tries):
    one_sided = lambda k, n: sum(math.comb(n, j) for j in range(max(k, n - k), n + 1)) / 2 ** n
    first, second, third = three_tries(compare.check_sign_test, one_sided)
    assert "Hint:" not in first and "Hint: if the switch made no difference" in second
    assert "Read Conover (1999)" in third and "course_lib" not in third and "sign_test(" not in third


def test_sign_test_stubs_say_not_yet(capsys):
    def stub(k, n):
        raise NotImplementedError

    compare.check_sign_test(stub)
    compare.check_sign_test(None)
    compare.check_sign_test(lambda k, n: [0.1, 0.2])
    out = capsys.readouterr().out
    assert out.count("Not yet") == 3 and "Traceback" not in out


def test_sampler_ratios_see_a_sampler_that_moves_one_variant_more():
    """The same ratio with every sampler when the sampler scales every FD alike; a verdict that flips when it
    scales one variant's FD more (the table says so in words); the shipped file keeps every verdict."""
    from course_lib.lessons import comparing_variants as cv

    rows = []
    for seed in range(5):
        for kind, skip, fd in (("residual", "none", 40 + seed), ("plain", "none", 200 + 10 * seed),
                               ("residual, default init", "none", 41 + seed), ("plain", "concat", 30 - seed)):
            rows.append({"kind": kind, "skip": skip, "seed": seed, "steps": 4000, "fd_ema": fd,
                         "fd_ddim50": 0.9 * fd, "fd_ddpm": (1.2 if kind == "plain" and skip == "concat" else 0.6) * fd})
    ratios = {r["comparison"]: r for r in cv.sampler_ratios(rows)}
    same = ratios["residual vs plain, skip=none"]
    assert same["DDIM-20"][0] == pytest.approx(same["DDIM-50"][0]) == pytest.approx(same["DDPM-1000"][0])
    flipped = ratios["residual-only vs skip-only"]
    assert cv.side(*flipped["DDIM-20"][1:3]) == "b better" and cv.side(*flipped["DDPM-1000"][1:3]) == "a better"
    text = cv.format_sampler_ratios(rows)
    assert "residual-only vs skip-only: b better with DDIM-20; b better with DDIM-50, a better with DDPM-1000" in text
    _, shipped = cv.load_curves()
    assert "with DDPM" not in cv.format_sampler_ratios(shipped).split("k/n: seeds")[1].replace(
        "the same with DDIM-50 and DDPM", "")
