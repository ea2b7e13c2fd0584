"""Notebook 01b's lesson module alone: Adam's eps experiment, the eps sweep and its widget, the two Adam
exercises' checks (against torch.optim.Adam), and the shattered-gradients table."""

import numpy as np
import pytest
import torch

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


def test_adam_eps_claims_with_the_two_controls():
    """The eps = 1e-8 run (frozen_layers with loss=True) must stay at chance too, and the shallow twin must learn:
    otherwise "moving is not learning" could be the budget's fault."""
    first = {k: np.zeros((2, 4)) for k in ("grad", "changed", "weights", "step_min", "step_median", "step_max")}
    trained = {"moved": np.array([0.2, 0.3]), "loss": np.full(2, np.log(10))}
    default = {"loss": np.array([np.log(10) + 0.01, 2.0])}
    shallow = {"moved": np.array([0.3, 0.3]), "loss": np.array([1.7, 2.2])}
    margins = lesson.adam_eps_claims(first, trained, default=default, shallow=shallow)
    np.testing.assert_allclose(margins["default_chance"], [0.04, 0.05 - (np.log(10) - 2.0)])
    np.testing.assert_allclose(margins["shallow_learns"], np.log(10) - np.array([1.7, 2.2]) - 0.3)
    assert "default_chance" not in lesson.adam_eps_claims(first, trained)


def test_frozen_layers_loss_is_the_control_run_at_chance():
    fr = lesson.frozen_layers(depth=30, seeds=(0,), steps=3, loss=True)
    assert fr["loss"].shape == (1,) and abs(fr["loss"][0] - np.log(10)) < 0.05
    assert "loss" not in lesson.frozen_layers(depth=2, seeds=(0,), steps=1)


def test_a_shallow_twin_learns_in_the_same_budget():
    """The control of "moving is not learning": the same training, 4 layers instead of 30, leaves chance."""
    shallow = lesson.adam_tiny_eps_training(depth=4, seeds=(0,), steps=200)
    assert shallow["loss"][0] < np.log(10) - 0.3


def test_format_adam_eps_prints_the_control_table():
    first = {k: np.ones((1, 4)) for k in ("grad", "step_min", "step_median", "step_max", "changed", "weights")}
    text = lesson.format_adam_eps(first, {"moved": np.array([0.25]), "loss": np.array([2.305])},
                                  default={"changed": np.zeros((1, 30)), "loss": np.array([2.306])},
                                  shallow={"moved": np.array([0.31]), "loss": np.array([1.7])})
    lines = text.splitlines()
    assert "2.303" in lines[-5] and lines[-4].startswith("sigmoid net")
    rows = lines[-3:]
    assert "1e-8" in rows[0] and "2.306" in rows[0] and "no weight changed" in rows[0]
    assert "1e-30" in rows[1] and "0.25" in rows[1] and "2.305" in rows[1]
    assert rows[2].startswith("4 layers") and "1.700" in rows[2]


def test_format_adam_eps_has_one_row_per_case_and_the_training_line():
    first = {k: np.ones((1, 4)) for k in ("grad", "step_min", "step_median", "step_max", "changed", "weights")}
    text = lesson.format_adam_eps(first, {"moved": np.array([0.25]), "loss": np.array([2.305])})
    lines = text.splitlines()
    assert len(lines) == 2 + 4 + 1 and "float64" in lines[-2] and "2.305" in lines[-1] and "2.303" in lines[-1]


def test_shattered_claims_residual_smooth_only_when_asked():
    by_depth = {"plain": np.array([[0.9, 0.1]]), "residual": np.array([[0.95, 0.85]]),
                "plain_std": np.full((1, 2), 50.0), "residual_std": np.full((1, 2), 1.0)}
    assert set(lesson.shattered_claims(by_depth, (2, 32))) == {"smoother", "larger"}
    margins = lesson.shattered_claims(by_depth, (2, 32), smooth=0.8)
    np.testing.assert_allclose(margins["residual_smooth"], [0.05])
    assert lesson.shattered_claims(by_depth, (2, 4), smooth=0.8) == {}


def test_format_tables_label_which_weight_gap_they_show(sweep):
    fr = {k: np.ones((1, 30)) for k in ("norm32", "norm64", "step", "spacing", "changed")}
    assert "smallest weight's gap" in lesson.format_frozen_layers(fr, layers=(1,)).splitlines()[0]
    assert "median weight's gap" in lesson.format_eps_sweep(sweep).splitlines()[0]


@pytest.mark.parametrize("answer", ["stay", "vanish"])
def test_check_batchnorm_prediction_diagnoses_without_naming_the_answer(answer, capsys):
    table = {"plain, default init + BatchNorm": np.array([[1.0, 1e5]])}
    lesson.check_batchnorm_prediction(answer, table, (2, 64))
    out = capsys.readouterr().out
    assert "Not yet" in out and "grow" not in out.lower() and "amplif" not in out


def test_format_shattered_vs_depth_prints_medians_per_depth():
    by_depth = {"plain": np.array([[0.9, 0.1], [0.8, 0.0], [0.7, -0.1]]), "residual": np.full((3, 2), 0.95),
                "plain_std": np.full((3, 2), 50.0), "residual_std": np.full((3, 2), 1.0)}
    lines = lesson.format_shattered_vs_depth(by_depth, (2, 32)).splitlines()
    assert lines[2].split() == ["plain", "0.80", "0.00"] and lines[3].split() == ["residual", "0.95", "0.95"]
    assert "50x" in lines[-1] and "depth 32" in lines[-1]


# ----------------------------------------------------------------------------- Adam's eps: formula, sweep, widget

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("eps", [1e-8, 1e-30])
def test_adam_step_size_is_torch_adams_first_step(dtype, eps):
    """The oracle: one real torch.optim.Adam step on a tiny tensor whose entries span |g| >> eps to |g| << eps
    (in float32, 1e-28 squared underflows: v = 0 and the step is lr |g| / eps, far above lr for eps = 1e-30)."""
    grads = [0.5, -3e-4, 1e-9, -1e-20, 1e-28, -2e-28]
    w = torch.zeros(len(grads), dtype=getattr(torch, dtype), requires_grad=True)
    w.grad = torch.tensor(grads, dtype=w.dtype)
    torch.optim.Adam([w], lr=1e-3, eps=eps).step()
    np.testing.assert_allclose(lesson.adam_step_size(grads, eps, lr=1e-3, dtype=dtype), w.detach().abs().double(),
                               rtol=1e-6 if dtype == "float64" else 1e-5)
    both = lesson.adam_step_size(grads, [1e-8, 1e-30], lr=1e-3, dtype=dtype)
    assert both.shape == (2, len(grads))
    np.testing.assert_array_equal(both[0 if eps == 1e-8 else 1], lesson.adam_step_size(grads, eps, dtype=dtype))


def test_adam_step_size_limits_and_a_wrong_dtype():
    step = lesson.adam_step_size([1e-28, 1.0], 1e-8)
    assert step[0] == pytest.approx(1e-3 * 1e-28 / 1e-8, rel=1e-6) and step[1] == pytest.approx(1e-3, rel=1e-6)
    assert lesson.adam_step_size([1e-28], 1e-30, dtype="float32")[0] == pytest.approx(1e-3 * 1e-28 / 1e-30, rel=1e-5)
    with pytest.raises(ValueError, match="dtype"):
        lesson.adam_step_size([1.0], 1e-8, dtype="float16")


@pytest.fixture(scope="module")
def sweep():
    return lesson.eps_sweep(depth=30, seed=0)


def test_eps_sweep_layer_1_is_frozen_at_the_default_and_moves_at_a_tiny_eps(sweep):
    ks = list(sweep["exponents"])
    assert ks[0] == -30 and ks[-1] == -6 and len(ks) == 25  # one website frame per value
    for dtype in ("float64", "float32"):
        data = sweep[dtype]
        assert data["moved"].shape == (len(ks), 30) and data["grad"].shape == data["gap"].shape == (30,)
        assert 0 < data["grad"][0] < 1e-25 and data["grad"][-1] > 1e-5  # tiny, not zero, at the input side
        assert data["moved"][ks.index(-8), 0] == 0 and data["moved"][ks.index(-30), 0] == 1
        assert (np.diff(data["moved"][:, 0]) <= 0).all()  # a larger eps never moves more of layer 1
    assert sweep["float32"]["gap"][0] > 1e8 * sweep["float64"]["gap"][0]
    # layer 1 starts to move (half its weights) where lr |g| / eps reaches about half the gap of a typical weight
    estimate = np.log10(2 * sweep["lr"] * sweep["float64"]["grad"][0] / sweep["float64"]["gap"][0])
    assert abs(lesson.eps_threshold(sweep) - estimate) <= 1
    assert lesson.eps_threshold(sweep, "float32") < lesson.eps_threshold(sweep) - 5
    assert lesson.eps_threshold(sweep, layer=30) == -6  # the last layer moves at every eps of the sweep


def test_eps_sweep_moved_matches_a_real_adam_step_on_layer_1(sweep):
    """The sweep's share of moved weights at eps = 1e-14 equals the share that adam_step_size predicts from the
    rounding rule (a float64 weight changes when its step survives w - step), up to a few weights."""
    import torch.nn.functional as F

    from course_lib.classify import first_digits

    x, y = first_digits(256)
    net = lesson._sigmoid_net(30, 0, "float64")
    F.cross_entropy(net(x.double()), y).backward()
    w = net.layers[0].linear.weight
    step = torch.as_tensor(lesson.adam_step_size(w.grad.numpy(), 1e-14)) * torch.sign(w.grad)
    predicted = ((w.detach() - step) != w.detach()).double().mean().item()
    k = list(sweep["exponents"]).index(-14)
    assert sweep["float64"]["moved"][k, 0] == pytest.approx(predicted, abs=0.01)


def test_format_eps_sweep_prints_layer_1_and_the_learning_rate(sweep):
    lines = lesson.format_eps_sweep(sweep).splitlines()
    assert lines[1].split()[0] == "1" and lines[2].split()[0] == "30" and "0.001" in lines[-1]
    assert f"{sweep['float64']['grad'][0]:.1e}" in lines[1]


def test_adam_eps_view_draws_the_precomputed_rows(sweep):
    view = lesson.AdamEpsView(sweep)
    assert view.update(log10_eps=-8, dtype="float64") == "float64"
    k = list(sweep["exponents"]).index(-8)
    heights = [seg[1][1] for seg in view.bars.get_segments()]
    np.testing.assert_allclose(heights, sweep["float64"]["moved"][k])
    assert view.right_title.get_text().startswith("layers 1-") and "1e-8" in view.left_title.get_text()
    np.testing.assert_allclose(view.eps_line.get_xdata(), [1e-8, 1e-8])
    assert view.update(log10_eps=-30, dtype="float32") == "float32"
    assert view.right_title.get_text() == "layer 1: 100% of its weights move"
    assert float(view.left_title.get_text().split("step ")[1].split(",")[0]) > 100 * 1e-3  # float32 overshoot
    np.testing.assert_allclose(view.gap_line.get_ydata(), [sweep["float32"]["gap"][0] / 2] * 2)


def test_eps_widget_answers_a_slider_move_from_its_precomputed_data(sweep):
    import time

    live = lesson.eps_widget(sweep)
    assert set(live.controls) == {"log10_eps", "dtype"} and live.values() == {"log10_eps": -8, "dtype": "float64"}
    times = []
    for name, value in (("log10_eps", -20), ("log10_eps", -14), ("dtype", "float32"), ("log10_eps", -30)):
        before = live.image.value
        start = time.perf_counter()
        live.controls[name].value = value
        times.append(time.perf_counter() - start)
        assert live.image.value != before and not live.status.value, name
    assert sorted(times)[len(times) // 2] < 0.1  # the median move, on a shared machine


# ----------------------------------------------------------------------------- the two Adam exercises

def reference_adam_changes(grads, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = v = 0.0
    changes = []
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        changes.append(-lr * m_hat / (v_hat.sqrt() + eps))
    return changes


def test_torch_adam_changes_reads_even_tiny_changes_exactly():
    changes = lesson.torch_adam_changes([1e-28] * 3, eps=1e-8)
    np.testing.assert_allclose(changes, [-1e-23] * 3, rtol=1e-9)
    np.testing.assert_allclose(lesson.torch_adam_changes([0.5] * 3), [-1e-3] * 3, rtol=1e-6)


def test_check_adam_changes_accepts_the_reference(capsys):
    lesson.check_adam_changes(reference_adam_changes)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", list(lesson.ADAM_MISTAKES))
def test_check_adam_changes_names_each_mistake_without_the_formula(mistake, capsys):
    kw = lesson.ADAM_MISTAKES[mistake]
    lesson.check_adam_changes(lambda grads, lr=1e-3, eps=1e-8: lesson._adam_variant(grads.tolist(), lr, eps, **kw))
    out = capsys.readouterr().out
    assert "Not yet" in out and mistake in out
    assert "beta1 **" not in out and "torch_adam_changes" not in out and "(1 - beta" not in out


def test_check_adam_changes_stub_and_hint_tiers(capsys):
    def stub(grads, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        raise NotImplementedError

    lesson.check_adam_changes(stub)
    assert "raise NotImplementedError" in capsys.readouterr().out
    for _ in range(2):
        lesson.check_adam_changes(lambda grads, lr=1e-3, eps=1e-8: [0.0] * len(grads))
    out = capsys.readouterr().out
    assert "Hint:" in out and "Read Kingma & Ba (2015)" in out
    lesson.check_adam_changes(reference_adam_changes)
    capsys.readouterr()


@pytest.mark.parametrize("answer, words", [
    (-8, "round back"), (-5, "round back"), (-28, "already about lr/2"), (-22, "float32"),
    (-18, "already move at a larger eps"), (1e-20, "looks like eps itself"), ("minus fourteen", "as a number"),
    (True, "as a number")])
def test_check_eps_prediction_diagnoses_without_naming_the_answer(sweep, answer, words, capsys):
    lesson.check_eps_prediction(answer, sweep)
    out = capsys.readouterr().out
    assert "Not yet" in out and words in out
    assert f"1e{lesson.eps_threshold(sweep)}" not in out and str(lesson.eps_threshold(sweep)) not in out


def test_check_eps_prediction_accepts_within_one_decade(sweep, capsys):
    actual = lesson.eps_threshold(sweep)
    for k in (actual - 1, actual, actual + 1, actual + 0.4):
        lesson.check_eps_prediction(k, sweep)
    assert capsys.readouterr().out.count("✅") == 4
    lesson.check_eps_prediction(-14, {**sweep, "exponents": sweep["exponents"][-3:],
                                      "float64": {**sweep["float64"], "moved": sweep["float64"]["moved"][-3:]}})
    assert "Not measured" in capsys.readouterr().out
