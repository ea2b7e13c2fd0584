"""Notebook 04's lesson module: the exercises' checks (diagnoses, tiers, stubs) and the widget."""

import pytest
import torch

from course_lib import NoiseSchedule, q_sample
from course_lib.lessons import forward_diffusion as fd


def per_example(v, x):
    return v.view(-1, *[1] * (x.dim() - 1))


def reference(x0, t, s, noise):
    return q_sample(x0, t, s, noise=noise)


def float64_version(x0, t, s, noise):
    ab = per_example(s.alpha_bar[t].double(), x0)
    return torch.exp(0.5 * torch.log(ab)) * x0.double() + torch.sqrt(1 - ab) * noise.double()


def with_alpha(x0, t, s, noise):
    a = per_example(s.alphas[t], x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def no_square_root(x0, t, s, noise):
    ab = per_example(s.alpha_bar[t], x0)
    return ab * x0 + (1 - ab) * noise


def images_only(x0, t, s, noise):
    ab = s.alpha_bar[t].view(-1, 1, 1, 1)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("fn", [reference, float64_version])
def test_q_sample_check_accepts_correct_answers(fn, capsys):
    fd.check_q_sample(fn)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("fn, diagnosis", [
    (with_alpha, "alpha_t, the signal one step keeps, where alpha_bar_t"),
    (no_square_root, "a square root is missing"),
    (images_only, "works on images but not on 2-D points"),
])
def test_q_sample_check_names_the_mistake_then_escalates(fn, diagnosis, capsys):
    fd.check_q_sample(fn)
    first = capsys.readouterr().out
    assert "Not yet" in first and diagnosis in first and "Hint:" not in first
    fd.check_q_sample(fn)
    second = capsys.readouterr().out
    assert diagnosis in second and "Read " not in second
    assert "Hint: the closed form above, with one alpha_bar per example" in second
    fd.check_q_sample(fn)
    third = capsys.readouterr().out
    assert "Read Ho et al. (2020), Eq. 4" in third and "course_lib" not in third


def test_q_sample_check_says_not_yet_on_stubs(capsys):
    fd.check_q_sample(stub)
    assert "replace the `raise NotImplementedError`" in capsys.readouterr().out
    fd.check_q_sample(None)
    assert "still `None`" in capsys.readouterr().out


@pytest.mark.parametrize("fn", [lambda b: torch.cumprod(1 - b, 0),
                                lambda b: torch.exp(torch.cumsum(torch.log1p(-b.double()), 0))])
def test_alpha_bar_check_accepts_correct_answers(fn, capsys):
    fd.check_alpha_bar(fn)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("fn, diagnosis", [
    (lambda b: 1 - torch.cumsum(b, 0), "1 minus the sum of the betas"),
    (lambda b: torch.cumprod(b, 0), "built from the betas, the noise each step adds"),
    (lambda b: 1 - b, "that is alpha_t, what one step keeps"),
    (lambda b: torch.cat([torch.ones(1, dtype=b.dtype), torch.cumprod(1 - b, 0)[:-1]]), "off by one step"),
])
def test_alpha_bar_check_names_the_mistake_then_escalates(fn, diagnosis, capsys):
    fd.check_alpha_bar(fn)
    first = capsys.readouterr().out
    assert diagnosis in first and "cumprod" not in first and "product" not in first
    fd.check_alpha_bar(fn)
    second = capsys.readouterr().out
    assert "Hint: one step keeps the fraction 1 - beta_1" in second and "product" not in second
    fd.check_alpha_bar(fn)
    third = capsys.readouterr().out
    assert "Read Ho et al. (2020), Section 2" in third and "course_lib." not in third


def test_checks_before_exercise_3_never_state_its_answer(capsys):
    """Exercises 1 and 2 come before exercise 3 (alpha_bar from the betas): their diagnoses and hints, at every
    tier, do not give away that alpha_bar is a product of what each step keeps."""
    for _ in range(3):
        fd.check_alpha_bar_prediction("1/2")
        fd.check_q_sample(with_alpha)
    out = capsys.readouterr().out
    assert "prod" not in out and "multipl" not in out
    assert "of what is left" not in out, "the product rule in words: each step removes a fraction of what is left"


def test_the_product_against_the_sum_table_follows_the_schedule(capsys):
    fd.alpha_bar_against_the_sum(NoiseSchedule.make("linear", 1000))
    out = capsys.readouterr().out
    assert "t = 999: alpha_bar[t] = 0.0000, 1 - sum of betas = -9.0" in out
    assert "negative from t = " in out
    fd.alpha_bar_against_the_sum(NoiseSchedule.make("cosine", 50))
    assert "t =  49: alpha_bar[t] = " in capsys.readouterr().out


def test_alpha_bar_check_says_not_yet_on_stubs(capsys):
    fd.check_alpha_bar(stub)
    assert "replace the `raise NotImplementedError`" in capsys.readouterr().out
    fd.check_alpha_bar(None)
    assert "still `None`" in capsys.readouterr().out


def test_alpha_bar_reference_matches_the_schedules():
    for name in ("linear", "cosine", "sigmoid", "quadratic"):
        s = NoiseSchedule.make(name, 1000)
        assert torch.allclose(fd.alpha_bar_from_betas(s.betas), s.alpha_bar, rtol=1e-6, atol=1e-12)


def test_show_schedules_labels_axes_and_end_values():
    fig = fd.show_schedules()
    a, b = fig.axes
    assert a.get_xlabel() and a.get_ylabel() and b.get_ylabel()
    labels = [line.get_label() for line in b.get_lines()]
    assert any(label.startswith("cosine") and "-19.8" in label for label in labels)
    assert labels[-2].startswith("cosine")  # drawn last (the axhline at 0 comes after), so no curve hides it


def test_demo_widget_controls_change_the_figure():
    widgets = fd.demo_widgets()
    live = widgets["forward"]
    for name, value in (("t", 500), ("schedule", "cosine"), ("T", 100)):
        before = live.image.value
        live.controls[name].value = value
        assert live.image.value != before, name
        assert live.status.value == ""


def test_the_t_slider_follows_T():
    live = fd.demo_widgets()["forward"]
    t, menu = live.controls["t"], live.controls["T"]
    assert (t.min, t.max, t.value, t.step) == (0, 999, 100, 10)
    t.value = 700
    menu.value = 50
    assert (t.max, t.value, t.step) == (49, 49, 1)  # no t past the schedule's end is offered
    assert "t = 49" in live.view.noised_titles[0].get_text()
    menu.value = 500
    assert (t.max, t.value, t.step) == (499, 49, 5)
    assert live.status.value == ""


@pytest.mark.parametrize("T, schedule", [(50, "linear"), (200, "cosine"), (7, "quadratic")])
def test_controls_fit_any_T_and_schedule(T, schedule):
    live = fd.demo_widgets(T=T, schedule=schedule)["forward"]
    t, menu = live.controls["t"], live.controls["T"]
    assert (t.max, t.value, menu.value, live.controls["schedule"].value) == (T - 1, T // 10, T, schedule)
    assert list(menu.options) == sorted(menu.options) and T in menu.options
    t.value = t.max
    assert live.status.value == "" and f"T = {T}:" in live.view.curve_title.get_text()


@pytest.mark.parametrize("T", [50, 200])
def test_show_schedules_and_show_forward_take_any_T(T):
    fig = fd.show_schedules(T=T)
    assert fig.axes[0].get_lines()[0].get_xdata().shape == (T,)
    fd.show_forward(t=T - 1, schedule="cosine", T=T)


@pytest.mark.parametrize("prediction", ["1/10", " 1/10 ", "0.1", 0.1, 0.078])
def test_alpha_bar_prediction_accepts_the_linear_schedules_value(prediction, capsys):
    fd.check_alpha_bar_prediction(prediction)
    out = capsys.readouterr().out
    assert out.startswith("✅") and "alpha_bar[500] = 0.078" in out


def test_the_prediction_answer_follows_the_schedule_not_a_constant(capsys):
    assert float(NoiseSchedule.make("linear", 1000).alpha_bar[500]) == pytest.approx(0.078, abs=1e-3)
    fd.check_alpha_bar_prediction("1/2", t=100)  # early on, half of the variance is still there
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize("prediction, diagnosis", [("1/2", "cosine schedule keeps"), ("1/100", "too little"),
                                                   ("half", "write the prediction as one of"),
                                                   (2, "write the prediction as one of")])
def test_alpha_bar_prediction_diagnoses_then_gives_the_formula(prediction, diagnosis, capsys):
    fd.check_alpha_bar_prediction(prediction)
    first = capsys.readouterr().out
    assert "Not yet" in first and diagnosis in first and "exp(-" not in first
    fd.check_alpha_bar_prediction(prediction)
    second = capsys.readouterr().out
    assert diagnosis in second and ("exp(-" in second or "write the prediction" in second)


def test_chain_variances_are_the_closed_form_exactly():
    for name, T in (("linear", 1000), ("cosine", 200)):
        s = NoiseSchedule.make(name, T)
        for t in (0, T // 10, T - 1):
            signal, noise = fd.chain_variances(t, s)
            assert signal == pytest.approx(float(s.alpha_bar[t]), abs=1e-13)
            assert noise == pytest.approx(float(1 - s.alpha_bar[t]), abs=1e-13)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chain_check_could_see_an_off_by_one(seed):
    """Only the middle column (the same timestep) agrees; one step early or late is visible in the exact rows and,
    many SE away, in the sampled variance (as the notebook says, for its settings and any seed)."""
    from course_lib.data import load_digits

    s = NoiseSchedule.make("linear", 1000)
    check = fd.chain_vs_closed_form(load_digits()[0], t=100, schedule=s, n=16000, seed=seed)
    assert check["timesteps"] == (99, 100, 101)
    rows = check["rows"]
    for label in ("exact signal variance - alpha_bar", "exact noise variance - (1 - alpha_bar)"):
        early, same, late = rows[label]
        assert same == 0.0 and abs(early) > 1e-3 and abs(late) > 1e-3
    early, same, late = rows["sampled noise variance - (1 - alpha_bar), in SE"]
    assert abs(same) < 3 and early > 8 and late < -8


def test_chain_check_needs_a_timestep_on_each_side():
    s = NoiseSchedule.make("linear", 100)
    with pytest.raises(ValueError, match="t must be between 1 and T - 2"):
        fd.chain_vs_closed_form(torch.zeros(1, 2, 2), t=0, schedule=s, n=10)


def test_the_curves_are_traced_only_up_to_t():
    """The stored widget figure (t = T/10) must not show alpha_bar half-way: notebook 04's first prediction."""
    view = fd.ForwardView()
    view.update(t=100)
    x, _ = view.alpha_bar_line.get_data()
    assert len(x) == 101 and x[-1] == 100 and len(view.log_snr_line.get_data()[0]) == 101
    view.update(t=999)
    assert len(view.alpha_bar_line.get_data()[0]) == 1000


def test_the_histogram_says_whose_pixels_it_pools():
    view = fd.ForwardView()
    view.update(t=600)
    ax = view.histogram.axes
    assert "photo and digit" in ax.get_title()
    label = view.histogram.get_label()
    assert "12,288 of the photo" in label and "64 of the digit" in label
    assert view.noised_titles[0].get_text() == "photo at timestep t = 600"
