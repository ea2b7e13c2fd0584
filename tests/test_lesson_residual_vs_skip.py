"""Notebook 03's lesson module: the skip-mode experiment, the skip-mode widget and the exercises' checks."""


import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot
import numpy as np
import pytest
import torch

from course_lib import UNet
from course_lib.data import load_digits
from course_lib.denoising import denoise
from course_lib.lessons import residual_vs_skip as rvs
from course_lib.lessons.residual_vs_skip import (
    SkipModeView,
    check_combine,
    check_concat_cost,
    check_most_parameters,
    concat_cost,
    conv_path_lengths,
    decoder_inputs,
    plot_skip_comparison,
    plot_skip_seeds,
    print_eps_amplification,
    print_skip_results,
    show_skip_mode,
    skip_claims,
    skip_mode_experiment,
    skip_parameters,
    t_grid,
    train_skip_modes,
)
from course_lib.schedules import NoiseSchedule
from course_lib.unet import combine


def test_skip_modes_train_expose_features_and_show_them():
    trainers = train_skip_modes(steps=5, batch_size=8, progress=False)
    assert set(trainers) == {"concat", "add", "none"}
    x = load_digits()[:2]
    feats = decoder_inputs(trainers["concat"].ema_model, x, 100)
    assert feats["skip"].shape == feats["decoder"].shape == (2, 16, 8, 8)
    assert "skip" not in decoder_inputs(trainers["none"].ema_model, x, 100)
    x_t, x0_hat = denoise(trainers["add"].ema_model, x, 300, trainers["add"].schedule)
    assert x_t.shape == x0_hat.shape == x.shape and x0_hat.abs().max() <= 1
    assert show_skip_mode(trainers, "none").axes
    fig = plot_skip_comparison(trainers, load_digits(split="test"), t=300)
    assert [ax.get_title() for ax in fig.axes[:4]] == ["skip='concat'", "skip='add'", "skip='none'",
                                                       "linear denoiser (no training)"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["clean x_0", "noisy x_t (t=300)",
                                                                    "denoised x0_hat"]
    assert all(im.get_interpolation() == "nearest" for ax in fig.axes for im in ax.images)
    loss_x = fig.axes[4].get_lines()[0].get_xdata()
    assert loss_x[-1] == 5  # the moving average ends at the last training step
    assert plot_skip_comparison(trainers).axes  # the held-out digits by default
    assert len(plot_skip_comparison(trainers, baseline=False).axes) == 4
    live = rvs.skip_mode_widget(trainers, mode="add", t=310)
    assert live.controls["mode"].value == "add" and live.controls["t"].value == 300
    assert live.controls["t"].max == 950 and live.controls["t"].step == 50


def test_skip_mode_experiment_shapes_and_claims(capsys):
    res = skip_mode_experiment(seeds=(0, 1), ts=(100, 600), steps=3, batch_size=8)
    assert set(res.mse) == {"concat", "add", "none"}
    assert all(m.shape == (2, 2) and (m > 0).all() for m in res.mse.values())
    margins = skip_claims(res)
    per_t = {f"{what} at t={t}" for what in ("none vs best skip", "concat vs add") for t in (100, 600)}
    assert set(margins) == per_t | {"none worse at every t", "having a skip vs which skip"}
    best = min(res.mse["concat"][0, 1], res.mse["add"][0, 1])
    assert margins["none vs best skip at t=600"][0] == pytest.approx(100 * (res.mse["none"][0, 1] - best) / best)
    assert plot_skip_seeds(res).axes
    print_skip_results(res)
    print_eps_amplification(res)
    out = capsys.readouterr().out
    assert "3 steps of batch 8, 2 seeds; held-out x0-MSE on 797 test digits" in out
    assert "t = 600: not ranked: no mode beats the linear denoiser" in out  # 3 steps: no model does the task
    baselines = {"mean digit": [1.0, 1.0], "linear (Wiener)": [10.0, 10.0]}  # a bar every model passes
    print_skip_results(res, baselines)
    assert "t = 600: MSE of `none` above the better of concat/add by" in capsys.readouterr().out
    assert "t = 600: an error in eps reaches x0_hat multiplied by" in out
    res.mse.pop("none")
    print_skip_results(res)
    assert "not measured" in capsys.readouterr().out
    with pytest.raises(ValueError, match="modes"):
        skip_mode_experiment(seeds=(0,), modes=("concat", "sum"), steps=1)


def test_skips_shorten_the_paths():
    lengths = {(skip, residual): conv_path_lengths(UNet(skip=skip, residual=residual))
               for skip in ("concat", "add", "none") for residual in (True, False)}
    assert len({hi for _, hi in lengths.values()}) == 1  # the path down to the bottleneck and back
    assert lengths[("none", False)][0] == lengths[("none", False)][1]
    for skip in ("concat", "add"):
        for residual in (True, False):
            assert lengths[(skip, residual)][0] < lengths[("none", residual)][0]
        assert lengths[(skip, True)][0] < lengths[(skip, False)][0]


def test_combine_is_what_the_unet_calls():
    h, skip = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4)
    for mode in ("concat", "add", "none"):
        torch.manual_seed(0)
        model = UNet(skip=mode)
        assert torch.equal(model.combine(h, skip), combine(h, skip, mode))
    assert combine(h, skip, "concat").shape == (2, 16, 4, 4) and torch.equal(combine(h, skip, "none"), h)


# ----------------------------------------------------------------------------- the widget

@pytest.fixture(scope="module")
def view():
    models = {}
    for mode in ("concat", "add", "none"):
        torch.manual_seed(0)
        models[mode] = UNet(skip=mode)
    return SkipModeView(models, NoiseSchedule.make("linear", 1000), ts=(0, 300, 900))


def test_skip_mode_view_precomputes_and_only_sets_data(view):
    assert not matplotlib.pyplot.fignum_exists(view.fig.number)  # closed: shown by the widget only
    assert set(view.frames) == {(m, t) for m in ("concat", "add", "none") for t in (0, 300, 900)}
    assert view.update("add", 300) == "add"  # each mode has its colour scale: its own background
    frame = view.frames[("add", 300)]
    assert np.array_equal(view.digits.get_array(), frame["digits"])
    assert frame["digits"].shape == (3 * 9 + 1, 6 * 9 + 1)  # clean, noisy, denoised rows of 6 digits
    assert view.maps["decoder"].get_clim() == (-view.scale["add"], view.scale["add"])
    assert view.notes["skip"].get_text() == ""
    view.update("none", 900)
    assert np.isnan(np.ma.getdata(view.maps["skip"].get_array())).all()
    assert "no encoder features" in view.notes["skip"].get_text()
    view.update("concat", 450)  # off the grid: computed on first use
    assert ("concat", 450) in view.frames
    assert all(im.get_interpolation() == "nearest" for im in [view.digits, *view.maps.values()])
    assert len(view.colorbars) == 2


def test_demo_widget_follows_each_control():
    live = rvs.demo_widgets()["skip_mode"]
    assert list(live.controls) == ["mode", "t"]
    assert live.controls["t"].max == 950 and live.controls["t"].step == 50
    for name, value in [("t", 600), ("mode", "none"), ("mode", "add"), ("t", 0)]:
        before = live.image.value
        live.controls[name].value = value
        assert live.image.value != before and live.status.value == "", (name, value)


# ----------------------------------------------------------------------------- exercises

def test_check_combine_accepts_reference_and_float64(capsys):
    check_combine(combine)
    check_combine(lambda h, s, m: combine(h.double(), s.double(), m))
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda h, s, m: torch.cat([h, s], 0) if m == "concat" else combine(h, s, m), "along dim 0 (the batch)"),
    (lambda h, s, m: torch.cat([h, s], -1) if m == "concat" else combine(h, s, m), "along dim 3 (the width)"),
    (lambda h, s, m: torch.cat([s, h], 1) if m == "concat" else combine(h, s, m), "the skip's channels come first"),
    (lambda h, s, m: h + s if m != "none" else h, "you added h and the skip"),
    (lambda h, s, m: torch.cat([h, s], 1) if h.shape == s.shape or m != "concat" else h + s,
     "tensors of different shapes cannot be added"),
    (lambda h, s, m: torch.cat([h, s], 1) if m != "none" else h, "you concatenated h and the skip: in mode 'add'"),
    (lambda h, s, m: s if m == "none" else combine(h, s, m), "you returned the encoder's skip"),
    (lambda h, s, m: h, "you returned h unchanged"),
    (lambda h, s, m: h.add_(s) if m == "add" else combine(h, s, m), "changed its input in place"),
    (lambda h, s, m: torch.stack([h, s]) if m == "concat" else combine(h, s, m), "it should be one feature map"),
])
def test_check_combine_names_each_mistake_and_escalates(wrong, diagnosis, capsys):
    check_combine(wrong)
    first = capsys.readouterr().out
    assert "Not yet" in first and diagnosis in first and "Hint:" not in first
    check_combine(wrong)
    check_combine(wrong)
    later = capsys.readouterr().out
    assert "Hint: write down the shape each mode must return" in later
    assert "Read Ronneberger et al. (2015), U-Net, Sec. 2 and Fig. 1" in later and "course_lib." not in later


def test_check_combine_never_prints_the_expected_shape(capsys):
    check_combine(lambda h, s, m: torch.stack([h, s]) if m == "concat" else combine(h, s, m))
    out = capsys.readouterr().out
    assert "(2, 2, 4, 4, 4)" in out and "(2, 8, 4, 4)" not in out and "expected" not in out


def test_check_most_parameters(capsys):
    counts = skip_parameters()
    assert counts["concat"] > counts["add"] == counts["none"]
    check_most_parameters("concat")
    check_most_parameters(" 'Concat' ")
    assert capsys.readouterr().out.count("✅") == 2
    check_most_parameters("add")
    out = capsys.readouterr().out
    assert "Not yet" in out and "adding two tensors has no weights" in out and "Hint:" not in out
    check_most_parameters("none")
    assert "Hint: under concat the first ResBlock of each decoder level" in capsys.readouterr().out
    check_most_parameters("sum")
    assert "answer with one of 'concat', 'add', 'none'" in capsys.readouterr().out


def test_t_grid_follows_the_schedule():
    assert t_grid(NoiseSchedule.make("linear", 1000)) == range(0, 1000, 50)
    assert t_grid(NoiseSchedule.make("linear", 200)) == range(0, 200, 10)


def test_concat_cost_is_the_gap_of_the_parameter_table(capsys):
    for residual in (True, False):
        counts = skip_parameters(residual=residual)
        assert sum(concat_cost(ch, residual) for ch in (16, 32)) == counts["concat"] - counts["add"]
    for ch, residual in rvs.CONCAT_COST_CASES:
        assert concat_cost(ch, residual) == rvs.measured_concat_cost(ch, residual)
    check_concat_cost(concat_cost)
    check_concat_cost(lambda ch, r: float(concat_cost(ch, r)))
    check_concat_cost(lambda ch, r: torch.tensor(concat_cost(ch, r)))
    out = capsys.readouterr().out
    assert out.count("✅") == 3 and "14,224" in out and "11,616" in out


def short_of(part):
    """The reference count minus one of its parts, ``part(ch, residual)``."""
    return lambda ch, r: concat_cost(ch, r) - part(ch, r)


@pytest.mark.parametrize("wrong, diagnosis", [
    (short_of(lambda c, r: 2 * c * c + c if r else 0), "you left out the shortcut"),
    (lambda c, r: concat_cost(c, True), "without residual connections the blocks have none"),
    (short_of(lambda c, r: c if r else 0), "your count is ch short: does the new shortcut convolution have a bias"),
    (short_of(lambda c, r: 2 * c), "you left out the normalisation"),
    (lambda c, r: concat_cost(c, r) - c if not r else concat_cost(c, r), "two parameters per input channel"),
    (short_of(lambda c, r: 8 * c * c), "9 weights per pair of input and output channels"),
    (short_of(lambda c, r: 6 * c * c), "not 3"),
    (short_of(lambda c, r: -c), "bias belongs to its output channels"),
    (lambda c, r: 2 * concat_cost(c, r), "at twice their size"),
    (lambda c, r: str(concat_cost(c, r)), "return a whole number of parameters"),
    (short_of(lambda c, r: 1), "list the block's layers and count what changes"),
    (lambda c, r: concat_cost(c, r) + (1 if c == 16 and not r else 0) if c in (16, 32) else concat_cost(c, r),
     "for ch=16, residual=False"),
])
def test_check_concat_cost_names_each_mistake_never_the_count(wrong, diagnosis, capsys):
    for _ in range(3):
        check_concat_cost(wrong)
    out = capsys.readouterr().out
    assert out.count("Not yet") == 3 and diagnosis in out and "✅" not in out
    assert "Hint: only the layers that read the block's input change" in out and "Read Ronneberger et al." in out
    assert "expected" not in out and "course_lib." not in out
    for ch, residual in rvs.CONCAT_COST_CASES:
        right = concat_cost(ch, residual)
        if f"ch={ch}, residual={residual}" in out.split("\n")[0]:
            assert f"{right:,}" not in out and f" {right}" not in out.replace(f"ch={ch}", "")  # never printed


def test_check_concat_cost_against_the_totals(capsys):
    """A count right at each width it is tried on, wrong only in the U-Net's totals, is not accepted."""
    calls = []

    def drifting(ch, residual):
        calls.append(ch)
        return concat_cost(ch, residual) + (len(calls) > len(rvs.CONCAT_COST_CASES))

    check_concat_cost(drifting)
    assert "does your function depend on anything other than ch and residual" in capsys.readouterr().out


def test_checks_say_not_yet_on_stubs(capsys):
    def stub(*args):
        raise NotImplementedError

    for check in (check_combine, check_concat_cost):
        check(stub)
        check(None)
    check_most_parameters(None)
    out = capsys.readouterr().out
    assert out.count("Not yet") == 5 and "Traceback" not in out


# ----------------------------------------------------------------------------- baselines and the shipped runs

def test_linear_denoiser_reaches_the_gaussian_mmse():
    """For Gaussian data the Wiener filter is the posterior mean: its error is the closed-form MMSE,
    tr(S - ab S (ab S + (1 - ab) I)^-1 S) per pixel."""
    from course_lib.lessons.residual_vs_skip import LinearDenoiser
    from course_lib.schedules import NoiseSchedule

    torch.manual_seed(0)
    a = torch.randn(16, 16, dtype=torch.float64) / 4
    x0 = (torch.randn(20000, 16, dtype=torch.float64) @ a.T + 0.3).float().reshape(-1, 1, 4, 4)
    schedule = NoiseSchedule.make("linear", 1000)
    den = LinearDenoiser(x0, schedule)
    for t in (100, 500):
        ab = float(schedule.alpha_bar[t])
        x_t = ab ** 0.5 * x0 + (1 - ab) ** 0.5 * torch.randn_like(x0)
        mse = float(((den.x0_hat(x_t, t) - x0) ** 2).mean())
        s = a @ a.T
        mmse = float(torch.trace(s - ab * s @ torch.linalg.inv(ab * s + (1 - ab) * torch.eye(16, dtype=s.dtype)) @ s))
        assert mse == pytest.approx(mmse / 16, rel=0.05)


def test_baselines_and_shipped_claims():
    from course_lib.lessons.residual_vs_skip import (
        baseline_mse,
        baseline_table,
        shipped_skip_claims,
        shipped_skip_results,
        working_ts,
    )

    b = baseline_mse((50, 900))
    assert b["linear (Wiener)"][0] < b["mean digit"][0] and b["linear (Wiener)"][1] <= b["mean digit"][1] * 1.01
    assert len(set(b["mean digit"])) == 1  # the mean digit ignores x_t
    shipped = shipped_skip_results()
    assert len(shipped.seeds) >= 5 and all(m.shape == (len(shipped.seeds), 5) for m in shipped.mse.values())
    full = baseline_mse(shipped.ts)
    assert working_ts(shipped, full) and 900 not in working_ts(shipped, full)
    assert "linear (Wiener)" in baseline_table(shipped, full)
    margins = shipped_skip_claims(shipped, full)
    assert all(m is not None and (m > 0).all() for m in margins.values())
    shipped.mse.pop("none")  # a student who drops a mode: the claim that needs it is not measured, no traceback
    assert shipped_skip_claims(shipped, full)["none worse than add"] is None
