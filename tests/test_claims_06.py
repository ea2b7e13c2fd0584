"""Notebook 06's claims, re-run with seeds the notebook does not use (the shipped checkpoint, fresh sampling
seeds 100-102; the floor's held-out draws with seeds 100-102)."""

import pytest

from course_lib.checkpoints import load_denoiser
from course_lib.lessons.sampling import floor_by_n, sweep_over_seeds

SEEDS = (100, 101, 102)


def test_fd_floor_falls_as_the_sample_size_grows():
    floors = floor_by_n(ns=(100, 300, 797), seeds=SEEDS)
    assert all(a > b for a, b in zip(floors[100], floors[300])), floors
    assert all(a > b for a, b in zip(floors[300], floors[797])), floors


@pytest.fixture(scope="module")
def sweep():
    model, schedule, _ = load_denoiser()
    return sweep_over_seeds(model, schedule, steps=(5, 20, 50), n=300, seeds=SEEDS)["fd"]


def test_five_ddim_steps_score_worse_than_twenty(sweep):
    assert all(a > b for a, b in zip(sweep[5], sweep[20])), sweep


def test_quality_flattens_after_twenty_steps(sweep):
    assert all(a - b > abs(b - c) for a, b, c in zip(sweep[5], sweep[20], sweep[50])), sweep

