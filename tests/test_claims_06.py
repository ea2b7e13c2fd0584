"""The claims of notebook 06b (the score's floor, quality against DDIM steps; notebook 06 itself claims none),
re-run with seeds the notebook does not use (the shipped checkpoint, fresh sampling seeds 100-102; the floor's
draws of real training digits with seeds 100-102). Every FD is against the held-out digits, which the shipped
checkpoint never saw."""

import pytest

from course_lib.checkpoints import load_denoiser
from course_lib.lessons.sample_quality import floor_by_n, sweep_over_seeds

SEEDS = (100, 101, 102)


def test_fd_floor_falls_as_the_sample_size_grows():
    floors = floor_by_n(ns=(100, 300, 1000), seeds=SEEDS)
    assert all(a > b for a, b in zip(floors[100], floors[300])), floors
    assert all(a > b for a, b in zip(floors[100], floors[1000])), floors
    # not claimed: 300 against all 1,000. A draw of 300 moves by several points, and seed 102 lands below it
    # (11.0 against 13.4); notebook 06b says that the spread at n = 300 is as large as that gap.


@pytest.fixture(scope="module")
def sweep():
    model, schedule, _ = load_denoiser()
    return sweep_over_seeds(model, schedule, steps=(5, 20, 50), n=300, seeds=SEEDS)


def test_five_ddim_steps_score_worse_than_twenty(sweep):
    fd = sweep["fd"]
    assert all(a > b for a, b in zip(fd[5], fd[20])), fd


def test_quality_flattens_after_twenty_steps(sweep):
    fd = sweep["fd"]
    assert all(a - b > abs(b - c) for a, b, c in zip(fd[5], fd[20], fd[50])), fd


def test_fifty_ddim_steps_score_worse_than_real_digits_of_the_same_draw(sweep):
    assert all(a > f for a, f in zip(sweep["fd"][50], sweep["floor"])), sweep
