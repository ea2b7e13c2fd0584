"""Notebook 01's lesson module: the gradient-profile live figure, the figures, and the exercises' checks (each
accepts the reference and another correct formulation, names each common mistake, escalates, says "not yet")."""

import matplotlib.figure
import numpy as np
import pytest
import torch

from course_lib.lessons import gradient_pathologies as pathologies
from course_lib.lessons import vanishing_gradients as lesson


def stub(*args):
    raise NotImplementedError


# ----------------------------------------------------------------------------- widget and figures

def test_gradient_profiles_view_caches_profiles_and_names_its_background():
    view = lesson.GradientProfilesView()
    key = view.update(depth=30, activation="sigmoid", init="default")
    assert len(view.profiles) == 2  # the plain net and its residual twin
    plain = view.lines["plain"].get_ydata()
    # float64 norms: layer 1's gradient is ~1e-26, drawn on the line, not as an "exactly 0" triangle
    assert 0 < plain[0] < 1e-20 and len(view.zero_marks["plain"].get_xdata()) == 0
    assert key[0] == 30 and key[3] is False  # depth, and "there are no exact zeros"
    assert lesson.ZERO_LABEL not in [t.get_text() for t in view.ax.get_legend().get_texts()]
    deep = lesson.GradientProfilesView()
    assert deep.update(depth=128, activation="relu", init="default", residual=False)[3] is True  # real zeros
    assert len(deep.zero_marks["plain"].get_xdata()) > 0
    assert lesson.ZERO_LABEL in [t.get_text() for t in deep.ax.get_legend().get_texts()]
    assert view.update(depth=30, activation="sigmoid", init="default") == key
    assert len(view.profiles) == 2  # nothing recomputed
    view.update(depth=30, activation="sigmoid", init="default", residual=False)
    assert len(view.lines["residual"].get_xdata()) == 0
    assert [t.get_text() for t in view.ax.get_legend().get_texts()][:1] == ["plain, f(h)"]
    assert view.update(depth=8, activation="relu", init="kaiming")[0] == 8


def test_show_gradient_profiles_is_the_view_at_fixed_values():
    fig = lesson.show_gradient_profiles(depth=6, activation="relu", init="kaiming")
    assert isinstance(fig, matplotlib.figure.Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    np.testing.assert_allclose(ax.lines[0].get_ydata(), lesson.layer_profile(6, False, "relu", "kaiming"))


def test_demo_widget_redraws_for_every_control():
    live = lesson.demo_widgets()["gradient_profiles"]
    assert set(live.controls) == {"depth", "activation", "init", "residual", "scale_branch", "norm"}
    assert live.controls["depth"].continuous_update is False  # it computes
    for name, value in (("depth", 10), ("activation", "sigmoid"), ("init", "kaiming"), ("scale_branch", False),
                        ("norm", "layer"), ("residual", False)):  # scale_branch changes nothing once the twin is hidden
        before = live.image.value
        live.controls[name].value = value
        assert live.image.value != before and not live.status.value, name


def test_frozen_layers_tiny_gradients_do_not_move_float32_weights():
    """Depth 30, sigmoid, default init: float32 .norm() says 0 for the first layers, float64 does not; Adam's
    first step there is far below the float32 spacing of the weights, and 20 steps leave them bit-for-bit."""
    fr = pathologies.frozen_layers(depth=30, seeds=(0,), steps=20)
    assert all(v.shape == (1, 30) for v in fr.values())
    assert (fr["norm64"] > 0).all() and (fr["norm32"][0, :3] == 0).all()
    np.testing.assert_allclose(fr["norm32"][fr["norm32"] > 1e-15], fr["norm64"][fr["norm32"] > 1e-15], rtol=1e-4)
    # Adam's first step is lr * |g| / (|g| + eps): lr for a large gradient, about lr * |g| / eps for a tiny one
    assert fr["step"][0, -1] == pytest.approx(1e-3, rel=1e-3) and (fr["step"][0, :6] < 1e-16).all()
    assert (fr["step"][0, :6] < fr["spacing"][0, :6] / 2).all()  # rounds back to the same float32 weight
    assert (fr["changed"][0, :10] == 0).all() and fr["changed"][0, -1] == 4096
    margins = pathologies.frozen_claims(fr)
    assert margins["nonzero"][0] > -30 and margins["float32_norm_zero"][0] >= 3 and margins["frozen"][0] > 0
    assert pathologies._leading_zeros([0, 0, 3, 0]) == 2 and pathologies._leading_zeros([0, 0]) == 2


def test_format_frozen_layers_has_one_row_per_layer():
    fr = {k: np.ones((1, 30)) for k in ("norm32", "norm64", "step", "spacing", "changed")}
    text = pathologies.format_frozen_layers(fr, layers=(1, 30))
    assert len(text.splitlines()) == 3 and "of 4096 weights" in text


def test_layer_profile_restores_the_thread_count():
    threads = torch.get_num_threads()
    lesson.layer_profile(4)
    assert torch.get_num_threads() == threads


def test_plot_shattered_shows_every_seed():
    rng = np.random.default_rng(0)
    depths = (2, 4, 8)
    by_depth = {"plain": np.array([[0.9, 0.2, -0.6]] * 2), "residual": np.ones((2, 3)),
                "plain_std": np.ones((2, 3)), "residual_std": np.ones((2, 3))}
    x = np.linspace(-2, 2, 16)
    curves = {"plain": (x, rng.normal(size=16), 0.0), "residual": (x, x, 1.0)}
    fig = pathologies.plot_shattered(curves, by_depth, depths)
    ax = fig.axes[-1]
    assert ax.get_ylim()[0] < -0.6 and ax.get_legend() is not None
    # each dy/dx panel has its own y-axis, fitted to its own curve (a shared one would flatten the smaller curve)
    curves = {"plain": (x, 100 * rng.normal(size=16), 0.0), "residual": (x, x, 1.0)}
    plain_ax, residual_ax = pathologies.plot_shattered(curves, by_depth, depths).axes[:2]
    assert residual_ax.get_ylim()[1] < 3 < 50 < plain_ax.get_ylim()[1] - plain_ax.get_ylim()[0]


# ----------------------------------------------------------------------------- exercise 1: sigma' <= 1/4

def test_check_sigmoid_derivative_max_accepts_other_forms(capsys):
    for value in (0.25, 1 / 4, np.float32(0.25), torch.tensor(0.25, dtype=torch.float64)):
        lesson.check_sigmoid_derivative_max(value)
    assert capsys.readouterr().out.count("✅") == 4


@pytest.mark.parametrize("wrong, diagnosis", [
    (0.5, "sigma(0), the sigmoid's own value"), (1.0, "approaches for large z"), (0, "only far out in the tails"),
    (0.19661193, "that is sigma'(1)"), (0.3, "is not the largest value"), ("1/4", "should be one number")])
def test_check_sigmoid_derivative_max_diagnoses(wrong, diagnosis, capsys):
    lesson.check_sigmoid_derivative_max(wrong)
    out = capsys.readouterr().out
    assert "Not yet" in out and diagnosis in out and "Hint:" not in out


def test_check_sigmoid_derivative_max_escalates_and_says_not_yet_on_none(capsys):
    lesson.check_sigmoid_derivative_max(None)
    assert "still `None`" in capsys.readouterr().out
    lesson.check_sigmoid_derivative_max(0.5)
    assert "Hint: sigma'(z) = sigma(z) (1 - sigma(z)): a product of two numbers" in capsys.readouterr().out
    lesson.check_sigmoid_derivative_max(0.5)
    out = capsys.readouterr().out
    assert "Glorot and Bengio (2010), Sec. 3.1" in out and "vanishing_gradients.py" not in out


# ----------------------------------------------------------------------------- exercise 2: the twins' layers

def test_check_residual_layers_accepts_reference_and_float64(capsys):
    lesson.check_residual_layers(lesson.residual_layer, lesson.plain_layer)
    lesson.check_residual_layers(lambda h, f, s: h.double() + s * f(h).double(), lambda h, f: f(h).double())
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize("residual, plain, diagnosis", [
    (lambda h, f, s: h + f(h), lesson.plain_layer, "the branch is not scaled"),
    (lambda h, f, s: s * (h + f(h)), lesson.plain_layer, "s scales the whole sum"),
    (lambda h, f, s: s * h + f(h), lesson.plain_layer, "s scales the shortcut"),
    (lambda h, f, s: h + f(s * h), lesson.plain_layer, "s went inside f"),
    (lambda h, f, s: s * f(h), lesson.plain_layer, "there is no shortcut"),
    (lambda h, f, s: f(h), lesson.plain_layer, "that is the plain layer"),
    (lesson.residual_layer, lambda h, f: h + f(h), "plain_layer: your plain layer has a shortcut"),
    (lesson.residual_layer, lambda h, f: s_scaled(h, f), "plain_layer: the plain layer has no branch scale"),
    (lambda h, f, s: None, lesson.plain_layer, "residual_layer returns None"),
    (lesson.residual_layer, None, "now write plain_layer"),
])
def test_check_residual_layers_names_each_mistake_then_escalates(residual, plain, diagnosis, capsys):
    lesson.check_residual_layers(residual, plain)
    out = capsys.readouterr().out
    assert "Not yet" in out and diagnosis in out and "Hint:" not in out
    lesson.check_residual_layers(residual, plain)
    if "None" not in diagnosis:
        assert "Hint: a residual layer adds its input back" in capsys.readouterr().out


def s_scaled(h, f):
    return f(h) / 6 ** 0.5  # the twins have depth 6: s = 1/sqrt(6)


def test_check_residual_layers_says_not_yet_on_stubs(capsys):
    lesson.check_residual_layers(stub, stub)
    assert "replace the `raise NotImplementedError`" in capsys.readouterr().out
    lesson.check_residual_layers(None, None)
    assert "still `None`" in capsys.readouterr().out


# ----------------------------------------------------------------------------- predict, then run

@pytest.fixture(scope="module")
def sigmoid_profile():
    return lesson.layer_profile(30, False, "sigmoid", "default")


def test_smallest_layer():
    assert lesson.smallest_layer([0.0, 0.0, 1e-3, 1.0]) == "first"
    assert lesson.smallest_layer([1.0, 1e-3, 1.0]) == "middle"
    assert lesson.smallest_layer([1.0, 0.5, 1e-3]) == "last"


def test_check_smallest_layer(sigmoid_profile, capsys):
    for right in ("first", " First ", "layer 1", 1, "input side"):
        lesson.check_smallest_layer(right, sigmoid_profile)
    assert capsys.readouterr().out.count("✅") == 5
    lesson.check_smallest_layer("last", sigmoid_profile)
    out = capsys.readouterr().out
    assert "right under the loss" in out and "Hint:" not in out
    lesson.check_smallest_layer("middle", sigmoid_profile)
    assert "keeps falling" in (out := capsys.readouterr().out) and "Hint:" in out
    lesson.check_smallest_layer("somewhere", sigmoid_profile)
    assert "one of 'first', 'middle', 'last'" in capsys.readouterr().out
    lesson.check_smallest_layer(None, sigmoid_profile)
    assert "still `None`" in capsys.readouterr().out


# ----------------------------------------------------------------------------- exercise 4: powers of ten per layer

def test_orders_per_layer_counts_the_slope_of_a_geometric_profile():
    norms = 10.0 ** np.linspace(-30, 0, 31)  # one power of ten per step
    assert lesson.orders_per_layer(norms) == pytest.approx(1.0)
    assert lesson.orders_per_layer(norms[::-1]) == pytest.approx(-1.0)  # growing towards the input


def test_check_orders_per_layer_accepts_reference_and_other_forms(capsys):
    lesson.check_orders_per_layer(lesson.orders_per_layer)
    lesson.check_orders_per_layer(lambda n: float(np.mean(np.diff(np.log10(n)))))
    lesson.check_orders_per_layer(lambda n: (torch.tensor(n).log10()[-1] - torch.tensor(n).log10()[0]) / (len(n) - 1))
    assert capsys.readouterr().out.count("✅") == 3


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda n: np.log10(n[0] / n[-1]) / (len(n) - 1), "the sign is flipped"),
    (lambda n: np.log(n[-1] / n[0]) / (len(n) - 1), "natural logarithm"),
    (lambda n: np.log10(n[-1] / n[0]) / len(n), "n - 1 steps"),
    (lambda n: np.log10(n[-1] / n[0]), "the total over the whole path"),
    (lambda n: n[0] / n[-1], "take a logarithm"),
    (lambda n: np.log10(n.max() / n.min()) / (len(n) - 1), "the largest and the smallest norm"),
    (lambda n: 3.0, "the same number for two different profiles"),
    (lambda n: np.log10(n[-2] / n[0]), "which ends of the profile"),
    (lambda n: n, "one number"),
])
def test_check_orders_per_layer_names_each_mistake_then_escalates(wrong, diagnosis, capsys):
    lesson.check_orders_per_layer(wrong)
    out = capsys.readouterr().out
    assert "Not yet" in out and diagnosis in out and "Hint:" not in out
    assert "log10(norms[-1]" not in out  # never the solution
    lesson.check_orders_per_layer(wrong)
    lesson.check_orders_per_layer(wrong)
    out = capsys.readouterr().out
    assert "Hint: powers of ten are counted by log10" in out and "Read the gradient profiles above" in out


def test_check_orders_per_layer_says_not_yet_on_stub(capsys):
    lesson.check_orders_per_layer(stub)
    assert "replace the `raise NotImplementedError`" in capsys.readouterr().out


# ----------------------------------------------------------------------------- the theory against the measurement

def test_init_variance_for_the_30_layer_nets():
    v = lesson.init_variance(fan_in=64, depth=30)
    assert v["ratio"] == pytest.approx(6) and v["var_xavier_relu"] == pytest.approx(v["var_kaiming"])
    assert v["orders_per_step_default"] == pytest.approx(np.log10(6) / 2)
    assert v["rms_factor_default"] == pytest.approx(6 ** -14.5)  # 29 steps from layer 30 down to layer 1


def test_xavier_in_deep_nets_carries_the_activations_gain():
    from course_lib.deep_nets import DeepMLP

    for activation, var in (("relu", 2 / 64), ("sigmoid", 1 / 64), ("tanh", 25 / 9 / 64)):
        torch.manual_seed(0)
        w = DeepMLP(depth=4, activation=activation, init="xavier").layers[1].linear.weight
        assert w.var().item() == pytest.approx(var, rel=0.1), activation


def test_backward_split_the_backpropagated_signal_follows_the_theory_the_weight_gradient_loses_less():
    split = lesson.backward_split(depth=30, activation="relu", init="default", seed=0)
    assert {k: v.shape for k, v in split.items()} == {"delta": (30,), "inputs": (30,), "weight": (30,)}
    np.testing.assert_allclose(split["weight"], lesson.layer_profile(30, False, "relu", "default"), rtol=1e-4)
    delta, weight = lesson.orders_per_layer(split["delta"]), lesson.orders_per_layer(split["weight"])
    assert abs(delta - np.log10(6) / 2) < 0.03 and weight < delta - 0.04  # 0.40 against the theory's 0.39; 0.33
    assert split["inputs"][0] > 5 * split["inputs"][5] and split["inputs"][5] < 2 * split["inputs"][-1]
    text = lesson.format_backward_split(split)
    assert "the backpropagated dL/dz loses 0.40" in text and "layer inputs" in text


def test_the_gradient_profile_title_gives_width_and_batch():
    view = lesson.GradientProfilesView()
    view.update(depth=4, activation="relu", init="kaiming")
    assert view.title.get_text().endswith("(width 64, 256 digits)")
