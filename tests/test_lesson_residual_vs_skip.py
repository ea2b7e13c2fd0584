"""Notebook 03's lesson module: the skip-mode experiment, the skip-mode widget and the exercises' checks."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot
import numpy as np
import pytest
import torch

from course_lib import UNet
from course_lib.data import load_digits
from course_lib.lessons import residual_vs_skip as rvs
from course_lib.lessons.residual_vs_skip import (
    SkipModeView,
    check_combine,
    check_concat_channels,
    check_most_parameters,
    concat_channels,
    conv_path_lengths,
    decoder_inputs,
    denoise,
    plot_skip_comparison,
    plot_skip_seeds,
    show_skip_mode,
    skip_claims,
    skip_mode_experiment,
    skip_parameters,
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
    assert [ax.get_title() for ax in fig.axes[:3]] == ["skip='concat'", "skip='add'", "skip='none'"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["clean x_0", "noisy x_t (t=300)",
                                                                    "denoised x0_hat"]
    assert all(im.get_interpolation() == "nearest" for ax in fig.axes for im in ax.images)


def test_skip_mode_experiment_shapes_and_claims():
    res = skip_mode_experiment(seeds=(0, 1), ts=(100, 600), steps=3, batch_size=8)
    assert set(res.mse) == {"concat", "add", "none"}
    assert all(m.shape == (2, 2) and (m > 0).all() for m in res.mse.values())
    margins = skip_claims(res)
    per_t = {f"{what} at t={t}" for what in ("none vs best skip", "concat vs add") for t in (100, 600)}
    assert set(margins) == per_t | {"none worse at every t", "having a skip vs which skip"}
    best = min(res.mse["concat"][0, 1], res.mse["add"][0, 1])
    assert margins["none vs best skip at t=600"][0] == pytest.approx(100 * (res.mse["none"][0, 1] - best) / best)
    assert plot_skip_seeds(res).axes
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
])
def test_check_combine_names_each_mistake_and_escalates(wrong, diagnosis, capsys):
    check_combine(wrong)
    first = capsys.readouterr().out
    assert "Not yet" in first and diagnosis in first and "Hint:" not in first
    check_combine(wrong)
    check_combine(wrong)
    later = capsys.readouterr().out
    assert "Hint: concat stacks the two maps along the channel dimension" in later
    assert "course_lib.unet.combine" in later


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
    assert "Hint: the first ResBlock of each decoder level" in capsys.readouterr().out
    check_most_parameters("sum")
    assert "answer with one of 'concat', 'add', 'none'" in capsys.readouterr().out


def test_check_concat_channels(capsys):
    check_concat_channels(concat_channels)
    assert "✅" in capsys.readouterr().out
    check_concat_channels(lambda a, b, m: a + b)
    assert "concat_channels(32, 32, 'add') returned 64, expected 32" in capsys.readouterr().out


def test_checks_say_not_yet_on_stubs(capsys):
    def stub(*args):
        raise NotImplementedError

    for check in (check_combine, check_concat_channels):
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
