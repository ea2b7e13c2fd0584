"""course_lib.curves: bands where a new seed lands, a live run checked against them, verdicts the curves support."""

import math

import numpy as np
import pytest
from scipy.stats import t as student_t

from course_lib.curves import (
    Curve,
    CurvesView,
    agreement,
    describe_agreement,
    ends_verdict,
    faster_verdict,
    on_plateau,
)


def rows_of(label, values, budgets):
    """Study rows of one variant: ``values[seed][j]`` at ``budgets[j]``."""
    return [{"kind": label, "seed": s, "steps": b, "score": v}
            for s, seed_values in enumerate(values) for b, v in zip(budgets, seed_values)]


BUDGETS = [100, 200, 400, 800]
RNG = np.random.default_rng(0)
# a curve that falls by half per doubling and one that flattens after 200 steps, 6 seeds each (log-normal noise)
FALLING = np.exp(np.log([8.0, 4.0, 2.0, 1.0]) + 0.05 * RNG.standard_normal((6, 4)))
FLAT = np.exp(np.log([8.0, 2.0, 2.0, 2.0]) + 0.05 * RNG.standard_normal((6, 4)))
ROWS = rows_of("falling", FALLING, BUDGETS) + rows_of("flat", FLAT, BUDGETS)


def test_a_curve_reads_its_rows_and_its_band_is_a_prediction_interval():
    c = Curve.of(ROWS, {"kind": "falling"}, "score")
    assert c.steps.tolist() == BUDGETS and c.seeds == list(range(6)) and np.array_equal(c.values, FALLING)
    logs = np.log(FALLING[:, 1])
    half = student_t.ppf(0.975, 5) * logs.std(ddof=1) * math.sqrt(1 + 1 / 6)
    lo, hi = c.band()
    assert lo[1] == pytest.approx(math.exp(logs.mean() - half)) and hi[1] == pytest.approx(math.exp(logs.mean() + half))
    assert c.centre()[1] == pytest.approx(math.exp(logs.mean()))
    # a wider level widens it; between two budgets it is interpolated, outside them it is None
    assert c.band(0.99)[1][1] > hi[1]
    mid = c.band_at(math.sqrt(100 * 200))
    assert lo[1] < mid[0] < lo[0] and c.band_at(50) is None and c.band_at(1600) is None
    with pytest.raises(ValueError, match="no rows with"):
        Curve.of(ROWS, {"kind": "nope"}, "score")
    with pytest.raises(ValueError, match="no budget 300"):
        c.column(300)


def test_a_new_seed_lands_inside_the_band_about_as_often_as_its_level_says():
    rng = np.random.default_rng(1)
    inside = 0
    for _ in range(400):
        values = np.exp(rng.standard_normal((5, 1)) * 0.3)
        c = Curve("x", np.array([100]), list(range(5)), values)
        new = math.exp(rng.standard_normal() * 0.3)
        inside += agreement({"x": c}, {"x": [(100, new)]})[0]["where"] == "inside"
    assert 0.91 < inside / 400 < 0.99  # 95% prediction interval


def test_the_live_run_is_placed_inside_above_below_or_outside_and_described_in_words():
    curves = {k: Curve.of(ROWS, {"kind": k}, "score", label=k) for k in ("falling", "flat")}
    centre = curves["falling"].centre()
    points = agreement(curves, {"falling": [(200, centre[1]), (400, 100.0), (1600, 1.0)], "flat": [(100, 0.01)]})
    assert [p["where"] for p in points] == ["inside", "above", "outside the shipped budgets", "below"]
    text = describe_agreement(points, what="loss")
    assert text.startswith("This run differs from the shipped curves: 2 of its 3 points")
    assert "falling at 400 steps: loss 100" in text and "above the band" in text and "below the band" in text
    ok = describe_agreement(agreement(curves, {"flat": [(200, curves["flat"].centre()[1])]}))
    assert ok.startswith("This run agrees with the shipped curves: 0 of its 1 points (at 200 steps)")
    # one point outside of twenty is chance: the run still agrees, and the point is named
    many = agreement(curves, {"flat": [(200, curves["flat"].centre()[1])] * 19 + [(200, 100.0)]})
    text = describe_agreement(many)
    assert text.startswith("This run agrees") and "chance alone puts up to 3 outside" in text and "flat at 200" in text
    with pytest.raises(ValueError, match="no shipped curve"):
        agreement(curves, {"other": [(100, 1.0)]})


def test_verdicts_say_ahead_at_a_budget_and_end_only_on_a_plateau():
    falling = Curve.of(ROWS, {"kind": "falling"}, "score", label="falling")
    flat = Curve.of(ROWS, {"kind": "flat"}, "score", label="flat")
    assert on_plateau(flat) and not on_plateau(falling)
    assert faster_verdict(flat, falling, 200).endswith("flat is ahead")
    assert faster_verdict(falling, flat, 100).endswith("no difference resolved")
    verdict = ends_verdict(falling, flat)
    assert verdict.startswith("not settled by 800 steps (falling -4") and "from 400 to 800 steps" in verdict
    assert verdict.endswith("falling ahead")  # where they stand at the last budget, without calling it the end
    level = Curve("level", flat.steps, flat.seeds, flat.values * np.exp(0.01 * RNG.standard_normal(flat.values.shape)))
    assert ends_verdict(flat, level).endswith("they end level")
    noisy = Curve("noisy", flat.steps, flat.seeds, flat.values * np.exp(RNG.standard_normal(flat.values.shape)))
    assert ends_verdict(flat, Curve("noisy", flat.steps, flat.seeds,
                                    np.concatenate([noisy.values[:, :-1], noisy.values[:, -2:-1]], axis=1))
                        ).endswith("no difference resolved at the end")
    better = Curve("better", flat.steps, flat.seeds, flat.values / 2)
    assert ends_verdict(better, flat).endswith("better ends better")


def test_the_budget_slider_moves_the_marker_and_the_values():
    import matplotlib

    matplotlib.use("Agg")
    curves = {k: Curve.of(ROWS, {"kind": k}, "score", label=k) for k in ("falling", "flat")}
    view = CurvesView({"panel": curves}, baselines={"panel": {"chance": 10.0}},
                      live={"panel": {"flat": [(100, 8.0)]}})
    view.update(400)
    assert list(view.lines[0].get_xdata()) == [400, 400]
    text = view.texts[0].get_text()
    assert "at 400 steps" in text and f"falling: {curves['falling'].centre()[2]:.3g}" in text
    view.update(300)
    assert "falling: not run" in view.texts[0].get_text()
