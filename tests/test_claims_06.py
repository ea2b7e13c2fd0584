"""The claims of notebooks 06 (DDIM's consistency across step counts, leading against trailing spacing) and 06b (the
score's floor, quality against DDIM steps, nearest-neighbour distances), re-run with seeds the notebooks do not
use (the shipped checkpoint, fresh sampling seeds 100-102; the floor's draws of real training digits with seeds
100-119). Every FD is against the held-out digits, which the shipped checkpoint never saw."""

import pytest

from course_lib.checkpoints import load_denoiser
from course_lib.lessons.sample_quality import floor_all_training, floor_by_n, nearest_table, sweep_over_seeds
from course_lib.lessons.sampling import consistency_study, spacing_study

SEEDS = (100, 101, 102)
DRAWS = range(100, 120)


@pytest.fixture(scope="module")
def denoiser():
    model, schedule, _ = load_denoiser()
    return model, schedule


# ----------------------------------------------------------------------------- notebook 06

@pytest.fixture(scope="module")
def consistency(denoiser):
    return consistency_study(*denoiser, steps=(5, 10, 20, 50), reference=200, seeds=SEEDS)


def test_ddim_digits_converge_as_the_steps_grow(consistency):
    d = consistency["distance"]
    assert all(d[5][i] > d[10][i] > d[20][i] > d[50][i] for i in range(3)), d
    assert all(min(d[5][i] / d[10][i], d[10][i] / d[20][i]) > 1.5 for i in range(3)), d


def test_five_steps_already_stay_near_the_digits_of_their_own_starting_noise(consistency):
    assert all(a < b for a, b in zip(consistency["distance"][5], consistency["between"])), consistency


@pytest.fixture(scope="module")
def spacing(denoiser):
    return spacing_study(*denoiser, steps=(2, 5, 10, 20), n=300, seeds=SEEDS)["fd"]


def test_trailing_spacing_scores_better_at_two_steps(spacing):
    assert all(a > b for a, b in zip(spacing["leading"][2], spacing["trailing"][2])), spacing


def test_from_five_steps_on_the_spacings_score_within_one_point(spacing):
    for s in (5, 10, 20):
        assert all(abs(a - b) < 1 for a, b in zip(spacing["leading"][s], spacing["trailing"][s])), (s, spacing)


# ----------------------------------------------------------------------------- notebook 06b

def test_fd_floor_falls_as_the_sample_size_grows():
    floors = floor_by_n(ns=(100, 300), seeds=DRAWS)
    assert all(a > floor_all_training() for a in floors[100]), floors
    # most draws of 100 score worse than the 300 that contain them, not all: draw 104 scores 24.1 against 26.6
    assert sum(a > b for a, b in zip(floors[100], floors[300])) > len(DRAWS) / 2, floors
    # not claimed: 300 against all 1,000. A draw of 300 moves by several points and can land below it (seed 102:
    # 11.0 against 13.4); notebook 06b says that the spread at n = 300 is as large as that gap.


@pytest.fixture(scope="module")
def sweep(denoiser):
    return sweep_over_seeds(*denoiser, steps=(5, 20, 50, 200), n=300, seeds=SEEDS, keep_samples=50)


def test_five_ddim_steps_score_worse_than_twenty(sweep):
    fd = sweep["fd"]
    assert all(a > b for a, b in zip(fd[5], fd[20])), fd


def test_quality_flattens_after_twenty_steps(sweep):
    fd = sweep["fd"]
    assert all(a - b > abs(b - c) for a, b, c in zip(fd[5], fd[20], fd[50])), fd
    # not claimed: DDIM-50 against the floor seed by seed. A sample's seed and a floor's draw share nothing, and
    # one seed of 300 samples (here 18.2 for seed 102) can score among the draws of real digits.


def test_from_50_to_200_steps_the_fd_still_gains_but_by_under_two_points(sweep):
    fd = sweep["fd"]
    assert all(0 < b - c < 2 for b, c in zip(fd[50], fd[200])), fd


def test_ddim_50_gap_to_the_floor_lies_in_a_not_in_the_sample_size_part(denoiser):
    from course_lib.lessons.sample_quality import floor_draws, inverse_n_fit, sample_draws, sampler_for, timed_sample

    x, _ = timed_sample(sampler_for("ddim", denoiser[1], 50), denoiser[0], 1000, seed=SEEDS[0])
    a_s, b_s = inverse_n_fit(sample_draws(x, seeds=DRAWS))
    a_f, b_f = inverse_n_fit(floor_draws(seeds=DRAWS))
    # b itself moves with the draws (here the samples' b is the smaller, in the notebook the larger), so the claim is
    # only that at n = 300 the gap in a exceeds the gap in b/n
    assert a_s - a_f > abs(b_s - b_f) / 300 + 1, (a_s, b_s, a_f, b_f)


def test_no_sample_copies_a_training_digit_yet_samples_lie_nearer_the_training_split(sweep):
    rows = nearest_table(sweep["samples"])[:len(SEEDS)]
    assert all(r["closest"] > 0.5 for r in rows), rows
    assert all(r["held-out"] > r["train"] for r in rows), rows
