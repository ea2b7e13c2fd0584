"""The plain functions behind the notebooks' widgets and experiments, called without a browser."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from course_lib import NoiseSchedule, UNet
from course_lib.data import load_digits
from course_lib.diffusion import q_sample
from course_lib.lessons import forward_diffusion, sampling, training
from course_lib.lessons import vanishing_gradients as vanishing
from course_lib.lessons.forward_diffusion import chain_vs_closed_form, show_forward, show_schedules
from course_lib.lessons.gradient_pathologies import depth_claims, depth_table, format_depth_table, plot_depth_table
from course_lib.lessons.sample_quality import plot_sweep_seeds, sweep_over_seeds, time_and_score
from course_lib.lessons.sampling import (
    plot_2d_trajectories,
    show_trajectory_step,
    show_trajectory_steps,
)
from course_lib.lessons.start_here import plot_wave
from course_lib.lessons.training import plot_ema_study, raw_vs_ema, train_digit_unet
from course_lib.lessons.vanishing_gradients import (
    degradation_claims,
    degradation_experiment,
    degradation_summary,
    gradient_profiles,
    init_variance,
    plot_degradation,
    plot_gradient_profiles,
    show_gradient_profiles,
)
from course_lib.metrics import floor_by_n
from course_lib.plotting import ZERO_LABEL, plot_sample_grids
from course_lib.samplers import DDIMSampler
from course_lib.study import load_studies


def test_widget_functions_return_figures():
    for fig in (plot_wave(2.0, 0.5), show_gradient_profiles(depth=6), show_forward(t=10, T=100), show_schedules()):
        assert isinstance(fig, matplotlib.figure.Figure) and fig.axes


def test_gradient_profiles_plain_vanishes_with_depth():
    p = gradient_profiles(depth=30, activation="sigmoid")
    assert p["plain"][0] / p["plain"][-1] < 1e-6 < p["residual"][0] / p["residual"][-1]


def test_degradation_rows_summary_plot_and_claims():
    runs = (("plain", "default", 32), ("plain", "kaiming", 4), ("residual", "kaiming", 24))
    rows = degradation_experiment(runs=runs, seeds=(0, 1), steps=120)
    assert len(rows) == 6 and {r["seed"] for r in rows} == {0, 1}
    dead = [r for r in rows if r["init"] == "default"]
    assert all(abs(r["train_loss"] - np.log(10)) < 0.05 for r in dead)  # default init: stuck at chance
    assert all(r["train_loss"] < 1.0 for r in rows if r["init"] == "kaiming")
    assert set(degradation_claims(rows)) == {"default_dead"}  # claims whose runs are missing are left out
    assert "plain-32, default init" in degradation_summary(rows) and "2 seeds" in degradation_summary(rows)
    assert len(plot_degradation(rows).axes) == 2
    with pytest.raises(ValueError, match="shortcut"):
        degradation_experiment(runs=(("dense", "kaiming", 4),), seeds=(0,), steps=1)


def test_init_variance_is_exact():
    v = init_variance(fan_in=64, depth=32)
    assert v["ratio"] == pytest.approx(6.0) and v["gain_kaiming"] == pytest.approx(1.0)
    assert v["rms_factor_default"] == pytest.approx((1 / 6) ** 16)


def test_exact_zeros_are_marked_not_floored():
    fig = plot_gradient_profiles({"plain": np.array([0.0, 0.0, 1e-5, 1e-2]), "residual": np.array([0.1] * 4)})
    ax = fig.axes[0]
    assert ZERO_LABEL in [t.get_text() for t in ax.get_legend().get_texts()]
    plain = ax.get_lines()[0].get_ydata()
    assert np.isnan(plain[:2]).all() and plain[2] == pytest.approx(1e-5)  # no line drawn through the zeros
    fig = plot_gradient_profiles({"plain": np.array([1e-3, 1e-2])})
    assert ZERO_LABEL not in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_depth_table_vanishing_depends_on_init():
    depths = (2, 32, 64)
    table = depth_table(depths, seeds=(0,))
    assert all(v.shape == (1, 3) for v in table.values())
    default, kaiming = table["plain, default init"][0], table["plain, Kaiming init"][0]
    assert default[1] < 1e-6 * default[0] and 0.01 < kaiming[1] / kaiming[0] < 100
    assert set(depth_claims(table, depths)) >= {"vanishing_default", "kaiming_healthy", "unscaled_explodes"}
    assert "plain, Kaiming init" in format_depth_table(table, depths)
    assert plot_depth_table(table, depths).axes


def test_chain_and_closed_form_agree_in_notebook_helper():
    check = chain_vs_closed_form(load_digits()[0], t=10, schedule=NoiseSchedule.make("linear", 100), n=3000)
    early, same, late = check["rows"]["exact noise variance - (1 - alpha_bar)"]
    assert same == 0.0 and early > 0 > late  # only the same timestep agrees exactly
    early, same, late = check["rows"]["sampled noise variance - (1 - alpha_bar), in SE"]
    assert abs(same) < 4 and early > 4 and late < -4  # the sample is fine enough to see one step off



def test_sampling_helpers():
    from course_lib.checkpoints import load_denoiser

    model, schedule, _ = load_denoiser()
    r = time_and_score(model, schedule, "ddim", 10, n=64)
    assert r["samples"].shape == (64, 1, 8, 8) and r["seconds"] > 0 and r["fd"] < r["ceiling"]
    _, traj = DDIMSampler(schedule, 10).sample(model, (4, 1, 8, 8), return_trajectory=True)
    assert show_trajectory_step(traj, 3).axes
    _, path = DDIMSampler(schedule, 5).sample(lambda x, t: 0.1 * x, (20, 2), return_trajectory=True)
    assert plot_2d_trajectories(path, torch.randn(50, 2)).axes


def test_show_forward_shows_clean_x0_beside_noised_images():
    digit = load_digits()[0]
    fig = show_forward(t=999, T=1000, images={"digit": digit})
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 2  # x_0 and x_t
    clean = ((digit.clamp(-1, 1) + 1) / 2).squeeze(0).numpy()
    assert abs(images[0] - clean).max() < 1e-6 and abs(images[1] - clean).max() > 0.3


def test_floor_by_n_falls_with_sample_size_and_checks_its_argument():
    floors = floor_by_n(ns=(60, 1000), seeds=(5, 6))
    assert all(small > large for small, large in zip(floors[60], floors[1000]))
    assert floors[1000][0] == pytest.approx(floors[1000][1])  # all training digits: the draw does not matter
    with pytest.raises(ValueError, match="ns contains 5000"):
        floor_by_n(ns=(5000,))


def test_sweep_over_seeds_and_figures():
    from course_lib.checkpoints import load_denoiser

    model, schedule, _ = load_denoiser()
    sweep = sweep_over_seeds(model, schedule, steps=(2, 10), n=40, seeds=(0, 1))
    assert set(sweep) == {"fd", "seconds", "floor"} and all(len(v) == 2 for v in sweep["fd"].values())
    assert sweep["fd"][2] != sweep["fd"][10]
    assert plot_sweep_seeds(sweep).axes
    x = torch.rand(40, 1, 8, 8) * 2 - 1
    assert "FD" not in plot_sample_grids({"a": x}, score=False).axes[0].get_title()
    assert "n = 40" in plot_sample_grids({"a": x}).axes[0].get_title()
    _, traj = DDIMSampler(schedule, 10).sample(model, (4, 1, 8, 8), return_trajectory=True)
    fig = show_trajectory_steps(traj, (0, 5, 9))
    assert [ax.get_title() for ax in fig.axes][::2] == [f"x_t, t = {traj.timesteps[i]}" for i in (0, 5, 9)]


def test_raw_vs_ema_on_a_tiny_run():
    trainer = train_digit_unet(seed=3, steps=4, width=8)
    assert trainer.step == 4
    r = raw_vs_ema(trainer, n=40, steps=3)
    assert set(r) == {"raw", "ema", "floor", "ceiling"} and r["raw"] != r["ema"]
    rows = [{"seed": 0, "steps": 4, "raw": r["raw"], "ema": r["ema"], "floor": r["floor"]}]
    assert plot_ema_study(rows).axes


def test_shipped_studies_have_five_seeds():
    studies = load_studies()
    for key in ("ema", "ddpm_vs_ddim"):
        assert sorted(r["seed"] for r in studies[key]) == [0, 1, 2, 3, 4]
        assert all(r["n"] == 300 for r in studies[key])


@pytest.mark.parametrize("check, good, bad", [
    (vanishing.check_orders_per_layer, vanishing.orders_per_layer, lambda n: n[-1] / n[0]),
    (forward_diffusion.check_q_sample, lambda x0, t, s, n: q_sample(x0, t, s, noise=n), lambda x0, t, s, n: x0 + n),
    (training.check_eps_loss, training.eps_loss, lambda m, x0, t, n, s: torch.tensor(0.0)),
    (sampling.check_ddim_step, sampling.ddim_step, lambda x, e, a, b: x),
])
def test_checks_accept_reference_and_reject_wrong_answers(check, good, bad, capsys):
    fn = check
    fn(good)
    assert "✅" in capsys.readouterr().out
    fn(bad)
    assert "Not yet" in capsys.readouterr().out


def test_checks_never_crash_on_todo_stubs(capsys):
    def stub(*args):
        raise NotImplementedError

    forward_diffusion.check_q_sample(lambda *a: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    vanishing.check_sigmoid_derivative_max(None)
    forward_diffusion.check_alpha_bar_prediction(None)
    forward_diffusion.check_alpha_bar_prediction("1/10")
    out = capsys.readouterr().out
    assert out.count("✅") == 1 and "Not yet" in out
    assert UNet is not None


def test_answer_text_reads_a_prediction_however_it_is_typed():
    from course_lib.lessons.grading import answer_text

    assert answer_text(" 'Small ' ") == answer_text('"small"') == answer_text("SMALL") == "small"
    assert answer_text(0.1) == "0.1" and answer_text(None) == "none"
