"""The shipped learning curves of notebooks 01, 03 and 07, the live run checked against them, and their verdicts."""

import numpy as np
import pytest
import torch

from course_lib import variants
from course_lib.classify import train_classifier
from course_lib.deep_nets import DeepMLP
from course_lib.lessons import residual_in_diffusion as capstone
from course_lib.lessons import residual_vs_skip as skip_lesson
from course_lib.lessons import vanishing_gradients as lesson

# ----------------------------------------------------------------------------- 01: degradation


def test_a_degradation_curve_equals_separate_runs_of_each_length():
    rows = lesson.degradation_curve(seed=2, shortcut="plain", init="kaiming", depth=8, budgets=[5, 12])
    torch.manual_seed(2)
    net = DeepMLP(depth=8, width=64, activation="relu", init="kaiming")
    _, acc = train_classifier(net, steps=12, seed=2)
    assert [r["steps"] for r in rows] == [5, 12] and rows[-1]["accuracy"] == pytest.approx(acc)
    assert rows[0]["grad_ratio"] == rows[1]["grad_ratio"] > 0
    with pytest.raises(ValueError, match="shortcut"):
        lesson.degradation_curve(seed=0, shortcut="skip", init="kaiming", depth=4, budgets=[1])


def test_plain_relu_jacobians_keep_fewer_directions_with_depth_residual_ones_more():
    rows = {(r["shortcut"], r["depth"]): r for r in lesson.jacobian_spectrum(depths=(4, 32), seeds=(0,), n_inputs=3)}
    assert rows[("plain", 32)]["kept"] < rows[("plain", 4)]["kept"]
    assert rows[("residual", 32)]["kept"] > 2 * rows[("plain", 32)]["kept"]
    assert 0.1 < rows[("plain", 32)]["mean_sq"] < 10  # Kaiming: the mean square stays of order one
    assert "plain-32" in lesson.format_jacobian_spectrum(list(rows.values()))


def test_the_shipped_degradation_curves_and_their_claims():
    meta, rows = lesson.load_degradation_curves()
    panels = lesson.degradation_panels(rows)
    assert all(len(c.seeds) >= 5 for p in panels.values() for c in p.values())
    assert meta["baselines"]["chance_loss"] == pytest.approx(np.log(10))
    assert 0 < meta["baselines"]["linear_train_loss"] < 0.5 and meta["baselines"]["linear_accuracy"] > 0.8
    for name, margins in lesson.shipped_degradation_claims(rows).items():
        assert len(margins) >= 5 and (margins > 0).all(), name
    text = lesson.degradation_verdicts(rows)
    assert text.count("\n") == 5 and "plain-64 at 6,400 steps, train loss per seed" in text
    # two curves both at the 0.001 floor are not compared (their ratio is 1 by construction), nor printed twice
    assert "plain-4 (from 800 steps) and plain-32 (from 1,600) are both below 0.001 on every seed: not compared" in text
    assert "they end level" not in text and "1.00 (1.00-1.00" not in text
    assert "residual-64 against plain-64: the line above again" in text and text.count("0.09 (0.00-7.11") == 1
    assert lesson.floor_from(panels["residual, Kaiming init"]["residual-64"]) == 800
    assert lesson.floor_from(panels["plain, Kaiming init"]["plain-64"]) is None  # seed 4 is still above at 6,400


def test_the_live_degradation_run_is_placed_on_the_shipped_curves(capsys):
    _, rows = lesson.load_degradation_curves()
    same = [{"shortcut": r["shortcut"], "init": r["init"], "depth": r["depth"], "seed": r["seed"],
             "loss": [0.0] * 200, "train_loss": r["train_loss"]}
            for r in rows if r["steps"] == 200 and r["seed"] < 3 and r["init"] == "kaiming"]
    lesson.check_live_degradation(rows, same)  # the shipped seeds themselves: inside their own band
    assert capsys.readouterr().out.startswith("This run agrees with the shipped curves")
    wrong = [{**r, "train_loss": 50 * r["train_loss"] + 1} for r in same]
    lesson.check_live_degradation(rows, wrong)
    assert "above the band" in capsys.readouterr().out
    live = lesson.degradation_curves_widget(*lesson.load_degradation_curves(), runs=same)
    live.controls["budget"].value = 800
    assert live.image.value


# ----------------------------------------------------------------------------- 03: denoisers per t


def test_where_the_shipped_denoisers_beat_the_baselines():
    rows = skip_lesson.shipped_curve_rows()
    baselines = skip_lesson.baseline_mse()
    table = skip_lesson.where_models_win(rows, baselines).splitlines()
    concat = next(line for line in table if line.strip().startswith("concat"))
    assert concat.split()[1] == "125" and "not by" in concat.split("|")[-1]  # t=50 at once, t=900 never
    shipped = skip_lesson.shipped_skip_results()
    text = skip_lesson.gap_intervals(shipped, baselines)
    assert "none vs add" in text and "t=900" not in text  # only where every model beats the linear denoiser


def test_the_live_denoisers_are_placed_on_the_shipped_curves(capsys):
    rows = skip_lesson.shipped_curve_rows()
    res = skip_lesson.SkipResults([0, 1], [50, 100, 300, 600, 900], steps=125, batch_size=128)
    for mode in ("concat", "add", "none"):
        res.mse[mode] = np.array([r["x0_mse"] for r in rows if (r["kind"], r["skip"], r["steps"]) ==
                                  ("residual", mode, 125) and r["seed"] < 2])
    skip_lesson.check_live_denoisers(rows, res)
    assert capsys.readouterr().out.startswith("This run agrees")
    res.mse["none"] = res.mse["none"] * 3
    skip_lesson.check_live_denoisers(rows, res)
    assert "none, t = 300 at 125 steps" in capsys.readouterr().out


# ----------------------------------------------------------------------------- 07: the capstone's curves


def test_capstone_verdicts_read_where_the_curves_allow_and_the_sampler_share():
    meta, rows = variants.load_curves()
    text = capstone.curve_verdicts(rows)
    assert text.count("early:") == len(variants.CURVE_COMPARISONS) == text.count("end:")
    assert "residual / skip=concat is ahead" in text  # trains faster at 125 steps
    table = variants.sampler_table(rows, meta)
    assert "DDPM-1000" in table and "the shipped checkpoint" in table
    for r in rows:
        if "fd_ddpm" in r:  # more sampling steps score the same weights better
            assert r["fd_ddpm"] < r["fd_ema"]


def test_the_live_capstone_run_is_placed_on_the_shipped_curves(capsys):
    _, rows = variants.load_curves()
    live = [r for r in rows if r["steps"] == 125 and r["seed"] == 0 and r["kind"] != "residual, default init"]
    capstone.check_live_run(rows, live)
    out = capsys.readouterr().out
    assert "FD: This run agrees" in out and "training loss: This run agrees" in out
    assert "under 3 of 3 kinds of long skip" in out
    assert capstone.live_table(live).count("\n") == 6
