"""Notebook 06b's lesson module: the eta prediction's three verdicts, the FD-against-steps figure, the studies."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from course_lib.lessons import grading
from course_lib.lessons import sample_quality as Q

ETA0_WINS = ([34.6, 36.1, 37.2], [37.4, 38.0, 41.7])  # (FD at eta = 0, FD at eta = 1), one per seed
ETA1_WINS = ([40.0, 39.5, 41.0], [38.0, 39.0, 40.2])
MIXED = ([34.6, 39.0, 37.2], [37.4, 38.0, 41.7])


@pytest.fixture(autouse=True)
def fresh_attempts():
    grading.attempts.clear()


def test_eta_verdict_names_a_winner_only_when_every_seed_agrees():
    assert Q.eta_verdict(*ETA0_WINS) == ("eta=0", 3, 0)
    assert Q.eta_verdict(*ETA1_WINS) == ("eta=1", 0, 3)
    assert Q.eta_verdict(*MIXED) == (None, 2, 1)
    assert Q.eta_verdict([1.0, 2.0], [1.0, 3.0]) == (None, 1, 0)  # a tie is nobody's win
    with pytest.raises(ValueError, match="one FD per seed"):
        Q.eta_verdict([1.0], [1.0, 2.0])


@pytest.mark.parametrize("winner, loser, fds", [("eta=0", "eta=1", ETA0_WINS), ("eta=1", "eta=0", ETA1_WINS)])
def test_one_eta_better_in_every_seed(winner, loser, fds, capsys):
    verdict = f"eta = {winner[-1]} scored the better FD in all 3 seeds"
    Q.check_eta_prediction(winner, *fds)
    out = capsys.readouterr().out
    assert "✅" in out and verdict in out
    if winner == "eta=1":  # the opposite of what DDPM's noise might suggest: the message says so
        assert "opposite" in out
    Q.check_eta_prediction(loser, *fds)
    out = capsys.readouterr().out
    assert "Not yet" in out and verdict in out


def test_mixed_seeds_say_how_they_split_and_how_the_prediction_fared(capsys):
    Q.check_eta_prediction("eta=0", *MIXED)
    out = capsys.readouterr().out
    assert "Mixed" in out and "eta = 0 scored the better FD in 2 of 3 seeds, eta = 1 in 1" in out
    assert "Your prediction, eta=0, held in 2 of 3 seeds" in out and "✅" not in out and "Not yet" not in out
    Q.check_eta_prediction("eta=1", *MIXED)
    assert "Your prediction, eta=1, held in 1 of 3 seeds" in capsys.readouterr().out
    Q.check_eta_prediction("eta=0", [1.0, 2.0], [1.0, 3.0])
    assert "and 1 tied" in capsys.readouterr().out


def test_eta_prediction_must_be_one_of_the_choices(capsys):
    Q.check_eta_prediction("first", *ETA0_WINS)
    assert "one of ('eta=0', 'eta=1')" in capsys.readouterr().out
    Q.check_eta_prediction(None, *ETA0_WINS)
    assert "still `None`" in capsys.readouterr().out


def test_plot_sweep_seeds_shows_the_floors_range_and_plain_step_labels():
    sweep = {"fd": {5: [40.0, 44.0], 10: [30.0, 31.0], 20: [26.0, 27.0], 50: [20.0, 25.0]},
             "seconds": {5: [0.1, 0.1], 10: [0.2, 0.2], 20: [0.4, 0.4], 50: [1.0, 1.1]}, "floor": [13.5, 22.5]}
    fig = Q.plot_sweep_seeds(sweep)
    fig.canvas.draw()
    ax = fig.axes[0]
    band = ax.patches[0].get_extents().transformed(ax.transData.inverted())
    assert (band.y0, band.y1) == pytest.approx((13.5, 22.5))
    assert any("2 draws" in t.get_text() for t in ax.get_legend().get_texts())
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["5", "10", "20", "50"]
        assert not [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]


def test_shared_helpers_come_from_the_library():
    from course_lib import metrics, plotting, samplers, study

    assert Q.floor_by_n is metrics.floor_by_n and Q.load_studies is study.load_studies
    assert Q.plot_sample_grids is plotting.plot_sample_grids and Q.timed_sample is samplers.timed_sample


def test_ddpm_vs_ddim_rows_and_time_and_score():
    from course_lib.checkpoints import load_denoiser

    model, schedule, _ = load_denoiser()
    rows = Q.ddpm_vs_ddim(model, schedule, seeds=(7,), n=40, ddim_steps=5)
    assert set(rows[0]) == {"seed", "n", "ddpm", "ddim", "floor", "ddpm_seconds", "ddim_seconds"}
    assert rows[0]["floor"] == pytest.approx(Q.time_and_score(model, schedule, "ddim", 5, n=40, seed=7)["floor"])


def test_floor_all_training_is_one_number_and_draws_below_counts_better_draws():
    from course_lib.metrics import digit_floor

    assert Q.floor_all_training() == pytest.approx(digit_floor(1000, 0)) == pytest.approx(digit_floor(1000, 7))
    assert Q.draws_below(20.0, [10.0, 19.9, 20.0, 25.0]) == 2


def test_nearest_distances_find_a_copy_and_leave_a_digit_out():
    from course_lib.data import load_digits

    train, held_out = load_digits(split="train"), load_digits(split="test")
    d = Q.nearest_distances(train[:5])
    assert d["train"] == pytest.approx([0.0] * 5, abs=1e-6) and (d["held-out"] > 0.5).all()
    other = Q.nearest_distances(held_out, leave_out="held-out")["held-out"]
    assert len(other) == len(held_out) and (other > 0).all()


def test_nearest_table_rows_and_figure():
    from course_lib.data import load_digits

    copies = load_digits(split="train")[:50]
    rows = Q.nearest_table([copies, torch.rand(50, 1, 8, 8) * 2 - 1])
    assert [r["name"] for r in rows] == ["samples, seed 0", "samples, seed 1", "real training digits",
                                         "real held-out digits"]
    assert rows[0]["closest"] == pytest.approx(0.0, abs=1e-6) and rows[0]["train"] < rows[0]["held-out"]
    assert rows[1]["closest"] > 2 and rows[2]["train"] < rows[2]["held-out"] and rows[3]["held-out"] < rows[3]["train"]
    fig = Q.plot_nearest(copies, n_pairs=4)
    assert "the 4 samples nearest" in fig.axes[1].get_title()


def test_sweep_keeps_samples_only_when_asked_and_plots_given_floors():
    from course_lib.checkpoints import load_denoiser

    model, schedule, _ = load_denoiser()
    sweep = Q.sweep_over_seeds(model, schedule, steps=(2, 3), n=40, seeds=(0, 1), keep_samples=True)
    assert set(sweep) == {"fd", "seconds", "floor", "samples"} and sweep["samples"][1].shape == (40, 1, 8, 8)
    fig = Q.plot_sweep_seeds(sweep, floors=[12.0, 14.0, 30.0])
    assert any("3 draws" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert set(Q.eta_study(model, schedule, steps=3, etas=(0.0,), n=40, seeds=(0,))) == {0.0}


# ----------------------------------------------------------------------------- the floor's bias with n

def test_floor_draws_are_digit_floors_and_reject_too_few_digits():
    from course_lib.metrics import digit_floor

    draws = Q.floor_draws(ns=(60, 1000), seeds=(5, 6))
    assert draws[60] == pytest.approx([digit_floor(60, 5), digit_floor(60, 6)], rel=1e-5)
    assert draws[1000][0] == pytest.approx(draws[1000][1], rel=1e-9)  # all 1,000 training digits
    draws[60].append(0.0)  # a caller's change does not reach the cache
    assert len(Q.floor_draws(ns=(60, 1000), seeds=(5, 6))[60]) == 2
    with pytest.raises(ValueError, match=r"ns contains 20; each sample size must lie in \[33, 1000\]"):
        Q.floor_draws(ns=(20,))


def test_inverse_n_fit_and_shrink_ratios_recover_a_one_over_n_law():
    draws = {n: [10.0 + 2000.0 / n - 1.0, 10.0 + 2000.0 / n + 1.0] for n in (50, 100, 200, 400, 800)}
    a, b = Q.inverse_n_fit(draws)
    assert (a, b) == (pytest.approx(10.0), pytest.approx(2000.0))
    assert Q.shrink_ratios(draws) == {50: pytest.approx(0.25), 100: pytest.approx(0.25), 200: pytest.approx(0.25)}


@pytest.mark.parametrize("shrink, says", [
    (0.5, "*size* of an average's error"), (1 / 16, "faster than the measurements"), (0, "does not vanish"),
    (1, "1 means no change"), (4, "is above 1"), (0.4, "does not follow from how the FD's errors depend on n"),
    ("a quarter", "write the factor as one number"), (None, "still `None`")])
def test_floor_shrink_check_diagnoses_without_giving_the_factor(shrink, says, capsys):
    Q.check_floor_shrink(shrink, seeds=range(3))
    out = capsys.readouterr().out
    assert "Not yet" in out and says in out
    assert "1/4" not in out and "0.25" not in out and "quarter" not in out.replace("'a quarter'", "")
    Q.check_floor_shrink(shrink, seeds=range(3))  # a second miss adds a hint, still without the factor
    out = capsys.readouterr().out
    assert "1/n" not in out and "quarter" not in out.replace("'a quarter'", "")


@pytest.mark.parametrize("shrink", [0.25, 1 / 4, 0.3])
def test_floor_shrink_check_passes_a_quarter_and_reports_the_measurement(shrink, capsys):
    Q.check_floor_shrink(shrink, seeds=range(3))
    out = capsys.readouterr().out
    assert "✅" in out and "(n = 100 to 400)" in out


def test_floor_widget_looks_up_each_n_and_says_it_in_the_title():
    live = Q.demo_widgets()["floor"]
    assert list(live.controls["n"].options) == list(Q.FLOOR_NS) and live.controls["n"].value == 100
    before = live.image.value
    live.controls["n"].value = 400
    assert not live.status.value and live.image.value != before
    assert live.view.title.get_text().startswith("n = 400: 20 draws, mean ")
    assert "the line: a + b/n = " in live.view.title.get_text()
    assert live.last_seconds < 1.0  # a look-up and a blit (under 100 ms on an idle CPU)


def test_sweep_keeps_the_samples_of_a_chosen_step_count():
    from course_lib.checkpoints import load_denoiser

    model, schedule, _ = load_denoiser()
    sweep = Q.sweep_over_seeds(model, schedule, steps=(2, 3), n=40, seeds=(0,), keep_samples=2)
    want, _ = Q.timed_sample(Q.sampler_for("ddim", schedule, 2), model, 40, 0)
    assert torch.equal(sweep["samples"][0], want)


def test_sample_draws_fit_like_the_floor_and_score_setup_names_the_counts():
    from course_lib.data import load_digits

    train = load_digits(split="train")
    draws = Q.sample_draws(train, ns=(60, 1000), seeds=(5, 6))
    floors = Q.floor_draws(ns=(60, 1000), seeds=(5, 6))
    assert all(draws[n] == pytest.approx(floors[n], rel=1e-6) for n in (60, 1000))  # the same picks
    with pytest.raises(ValueError, match=r"ns contains 20"):
        Q.sample_draws(train[:100], ns=(20,))
    line = Q.score_setup()
    assert "32 features" in line and "1,000 training digits" in line and "797 held-out digits" in line


@pytest.mark.parametrize("shrink, passes", [(0.31, True), (0.33, True), (0.2, True), (0.35, False), (0.15, False)])
def test_floor_shrink_check_accepts_what_the_measurement_supports(shrink, passes, capsys):
    Q.check_floor_shrink(shrink, seeds=range(3))
    out = capsys.readouterr().out
    assert ("✅" in out) == passes and ("leading order" in out) == passes
