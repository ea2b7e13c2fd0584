import pytest
import torch
import torch.nn.functional as F

from course_lib.data import load_digits, make_toy_2d
from course_lib.metrics import (
    classifier_accuracy,
    digit_ceiling,
    digit_fd,
    digit_floor,
    digit_quality,
    frechet_distance,
    mmd,
    sliced_wasserstein,
    toy_quality,
)


def test_frechet_distance_of_gaussians_matches_closed_form():
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    b = 2.0 * rng.standard_normal((20000, 3)) + 1.0
    # N(0, I) vs N(1, 4I): |mu|^2 = 3, trace term = 3 * (1 + 4 - 2 * 2) = 3
    assert abs(frechet_distance(a, b) - 6.0) < 0.2
    assert frechet_distance(a, a) < 1e-6


def test_classifier_is_accurate_on_held_out_digits():
    x, y = load_digits(split="test", return_labels=True)
    assert classifier_accuracy(x, y) > 0.9


def test_digit_score_orders_real_blurred_noise():
    real = load_digits(split="train")[-400:]  # real digits that are not the (held-out) reference
    blurred = F.avg_pool2d(F.pad(real, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    noise = torch.rand(400, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    q = digit_quality(real)
    assert q["fd"] < digit_fd(blurred) < digit_fd(noise)
    assert q["floor"] < 3 * q["fd"] and q["fd"] < q["ceiling"] / 5
    assert digit_fd(load_digits(16, split="train")[-400:]) < digit_fd(blurred)


def test_the_reference_is_the_held_out_split_by_default():
    held_out, train = load_digits(split="test"), load_digits(split="train")
    assert digit_fd(held_out) < 1e-6 and digit_fd(train, reference="train") < 1e-6  # a set against itself
    assert digit_fd(train) == digit_fd(train, reference="test") > 1.0


def test_the_floor_is_drawn_with_the_seed_and_moves_between_draws():
    floors = [digit_floor(300, seed) for seed in range(4)]
    assert floors[0] == digit_floor(300, 0)  # the same draw for the same seed
    assert len(set(floors)) == 4 and max(floors) - min(floors) > 1.0  # one draw is not the floor
    full = digit_floor(1000, 0)  # all 1,000 training digits: only the summation order changes with the seed
    assert digit_floor(1000, 3) == pytest.approx(full, rel=1e-9) == digit_floor(5000, 1)
    real = load_digits(split="train")[:300]
    for seed in (0, 2):
        q = digit_quality(real, seed=seed)
        assert q["floor"] == digit_floor(300, seed) and q["ceiling"] == digit_ceiling(300, seed)
    assert digit_ceiling(300, 0) != digit_ceiling(300, 1) and digit_ceiling(300, 0) > 20 * max(floors)


def test_2d_scores_order_real_blurred_noise():
    real = make_toy_2d("moons", 1000, seed=5)
    blurred = real + 0.15 * torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(1000, 2, generator=torch.Generator().manual_seed(1))
    q, qb, qn = toy_quality(real, "moons"), toy_quality(blurred, "moons"), toy_quality(noise, "moons")
    assert q["swd"] < qb["swd"] < qn["swd"] and q["mmd"] < qb["mmd"] < qn["mmd"]
    assert q["swd"] < 2 * q["swd_floor"]
    assert sliced_wasserstein(real, real) == 0.0 and abs(mmd(real, real)) < 1e-2
