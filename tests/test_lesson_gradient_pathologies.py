"""Notebook 01b's lesson module alone: Adam's eps experiment and the shattered-gradients table."""

import numpy as np
import pytest

from course_lib.lessons import gradient_pathologies as lesson


def test_adam_first_step_eps_freezes_layer_1_and_a_tiny_eps_moves_it():
    """Depth 30, sigmoid, default init, one real torch.optim.Adam step: with eps = 1e-8 layer 1 does not move in
    float32 or float64; with eps = 1e-30, float64 moves every weight by about lr, float32 (v = g^2 underflows to 0)
    by lr * g / eps, far more than lr."""
    first = lesson.adam_first_step(depth=30, seeds=(0,))
    cases = list(lesson.ADAM_CASES)
    assert all(v.shape == (1, len(cases)) for v in first.values())
    assert (first["grad"] > 0).all() and (first["grad"] < 1e-20).all()  # tiny, not zero, in both dtypes
    for dtype in ("float32", "float64"):
        j = cases.index((dtype, 1e-8))
        assert first["changed"][0, j] == 0 and first["step_max"][0, j] == 0
    j = cases.index(("float64", 1e-30))
    assert first["changed"][0, j] == first["weights"][0, j] == 4096
    assert first["step_median"][0, j] == pytest.approx(1e-3, rel=0.05)
    assert 0 < first["step_min"][0, j] < first["step_max"][0, j] == pytest.approx(1e-3, rel=1e-2)
    j = cases.index(("float32", 1e-30))
    assert first["step_max"][0, j] == pytest.approx(1e-3 * first["grad"][0, j] / 1e-30, rel=1e-3)


def test_adam_first_step_names_a_wrong_dtype():
    with pytest.raises(ValueError, match="dtype"):
        lesson.adam_first_step(depth=2, seeds=(0,), cases=(("float16", 1e-8),))


def test_adam_tiny_eps_training_moves_layer_1_and_reports_the_loss():
    trained = lesson.adam_tiny_eps_training(depth=30, seeds=(0,), steps=3)
    assert trained["moved"].shape == trained["loss"].shape == (1,)
    assert trained["moved"][0] == pytest.approx(3e-3, rel=0.05)  # three steps of about lr, same sign
    assert abs(trained["loss"][0] - np.log(10)) < 0.05


def test_adam_eps_claims_margins_and_missing_cases():
    cases = lesson.ADAM_CASES
    first = {"grad": np.full((2, 4), 1e-27), "changed": np.array([[0, 4096, 0, 4096], [0, 4096, 1, 4095]]),
             "weights": np.full((2, 4), 4096), "step_min": np.array([[0, 0.1, 0, 2e-5]] * 2),
             "step_median": np.array([[0, 0.2, 0, 9e-4]] * 2), "step_max": np.array([[0, 2.0, 0, 1e-3]] * 2)}
    trained = {"moved": np.array([0.2, 0.3]), "loss": np.array([np.log(10), 2.0])}
    margins = lesson.adam_eps_claims(first, trained, cases)
    np.testing.assert_allclose(margins["eps_freezes"], [0.5, -0.5])  # the second seed moved one weight
    np.testing.assert_allclose(margins["tiny_eps_moves_all"], [0.5, -0.5])  # the second seed left one weight
    np.testing.assert_allclose(margins["tiny_eps_median_is_lr"], np.log10(2) - np.log10(1e-3 / 9e-4))
    np.testing.assert_allclose(margins["float32_overshoots"], np.log10(2000) - 2)
    np.testing.assert_allclose(margins["still_chance"], [0.05, 0.05 - (np.log(10) - 2.0)])
    only_default = lesson.adam_eps_claims({k: v[:, [0]] for k, v in first.items()}, trained, cases[:1])
    assert set(only_default) == {"eps_freezes", "still_chance"}


def test_format_adam_eps_has_one_row_per_case_and_the_training_line():
    first = {k: np.ones((1, 4)) for k in ("grad", "step_min", "step_median", "step_max", "changed", "weights")}
    text = lesson.format_adam_eps(first, {"moved": np.array([0.25]), "loss": np.array([2.305])})
    lines = text.splitlines()
    assert len(lines) == 2 + 4 + 1 and "float64" in lines[-2] and "2.305" in lines[-1] and "2.303" in lines[-1]


def test_format_shattered_vs_depth_prints_medians_per_depth():
    by_depth = {"plain": np.array([[0.9, 0.1], [0.8, 0.0], [0.7, -0.1]]), "residual": np.full((3, 2), 0.95),
                "plain_std": np.full((3, 2), 50.0), "residual_std": np.full((3, 2), 1.0)}
    lines = lesson.format_shattered_vs_depth(by_depth, (2, 32)).splitlines()
    assert lines[2].split() == ["plain", "0.80", "0.00"] and lines[3].split() == ["residual", "0.95", "0.95"]
    assert "50x" in lines[-1] and "depth 32" in lines[-1]
