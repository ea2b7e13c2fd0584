"""The plain functions behind the notebooks' widgets and experiments, called without a browser."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from course_lib import NoiseSchedule, UNet, exercises
from course_lib.capstone import effects, format_table, mean_by_variant, run_variant
from course_lib.data import load_digits
from course_lib.forward import chain_vs_closed_form, show_forward, show_schedules
from course_lib.lesion import accuracy_without, identity_error, lesion_study, show_lesion, train_small_resnet
from course_lib.notebook import plot_wave
from course_lib.samplers import DDIMSampler
from course_lib.sampling import (
    floor_by_n,
    load_studies,
    plot_2d_trajectories,
    plot_sample_grids,
    plot_sweep_seeds,
    show_trajectory_step,
    show_trajectory_steps,
    sweep_over_seeds,
    time_and_score,
)
from course_lib.skips import decoder_inputs, denoise, show_skip_mode, train_skip_modes
from course_lib.training_views import plot_ema_study, raw_vs_ema, train_digit_unet
from course_lib.vanishing import degradation_experiment, gradient_profiles, show_gradient_profiles


def test_widget_functions_return_figures():
    for fig in (plot_wave(2.0, 0.5), show_gradient_profiles(depth=6), show_forward(t=10, T=100), show_schedules()):
        assert isinstance(fig, matplotlib.figure.Figure) and fig.axes


def test_gradient_profiles_plain_vanishes_with_depth():
    p = gradient_profiles(depth=30, activation="sigmoid")
    assert p["plain"][0] / p["plain"][-1] < 1e-6 < p["residual"][0] / p["residual"][-1]


def test_degradation_deep_plain_trains_worse():
    runs = degradation_experiment(depths=(4, 24), steps=150)
    assert runs["plain-24"]["loss"][-20:].mean() > 2.0  # stuck near ln(10)
    assert runs["plain-4"]["loss"][-20:].mean() < 1.0
    assert runs["residual-24"]["loss"][-20:].mean() < 1.0


def test_lesion_hurts_plain_more_than_residual():
    drops = {}
    for residual in (True, False):
        net, acc = train_small_resnet(residual=residual, num_blocks=6, steps=150)
        lesions = lesion_study(net)
        drops[residual] = sum(acc - a for a in lesions.values()) / len(lesions)
        assert accuracy_without(net, set()) == pytest.approx(acc)
    assert drops[True] < drops[False]
    assert show_lesion({"r": net}, block=1).axes


def test_zero_init_identity_error_is_zero():
    from course_lib import BasicBlock

    out_err, jac_err = identity_error(BasicBlock(4, 4, zero_init=True), torch.rand(2, 4, 4, 4) + 0.1)
    assert out_err == 0 and jac_err == 0


def test_skip_modes_train_and_expose_features():
    trainers = train_skip_modes(steps=5, batch_size=8, progress=False)
    assert set(trainers) == {"concat", "add", "none"}
    x = load_digits()[:2]
    feats = decoder_inputs(trainers["concat"].ema_model, x, 100)
    assert feats["skip"].shape == feats["decoder"].shape == (2, 16, 8, 8)
    assert "skip" not in decoder_inputs(trainers["none"].ema_model, x, 100)
    x_t, x0_hat = denoise(trainers["add"].ema_model, x, 300, trainers["add"].schedule)
    assert x_t.shape == x0_hat.shape == x.shape and x0_hat.abs().max() <= 1
    assert show_skip_mode(trainers, "none").axes


def test_chain_and_closed_form_agree_in_notebook_helper():
    stats = chain_vs_closed_form(load_digits()[0], t=50, schedule=NoiseSchedule.make("linear", 100), n=3000)
    (em, ev) = stats["exact"]
    se = (ev[0] / 3000) ** 0.5
    for how in ("chain", "closed"):
        m, v = stats[how]
        assert (m - em).abs().max() < 5 * se
        assert (v - ev).abs().max() < 5 * ev[0] * (2 / 3000) ** 0.5


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
    floors = floor_by_n(ns=(60, 797), seeds=(5, 6))
    assert all(small > large for small, large in zip(floors[60], floors[797]))
    assert floors[797][0] == pytest.approx(floors[797][1])  # all held-out digits: the draw does not matter
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


def test_capstone_row_and_summaries():
    row = run_variant(True, "add", steps=3, batch_size=8, n_samples=40)
    assert {"residual", "skip", "params", "final_loss", "heldout_gap", "fd", "floor"} <= set(row)
    rows = [row, {**row, "residual": False, "fd": row["fd"] + 1, "final_loss": row["final_loss"] + 0.1}]
    assert effects(rows)["fd"] == pytest.approx(-1.0)
    assert len(mean_by_variant(rows)) == 2 and "add" in format_table(rows)


@pytest.mark.parametrize("check, good, bad", [
    ("check_residual_forward", lambda: exercises.residual_forward, lambda: (lambda b, x: b(x))),
    ("check_gradient_ratio", lambda: exercises.gradient_ratio, lambda: (lambda n: n[-1] / n[0])),
    ("check_concat_channels", lambda: exercises.concat_channels, lambda: (lambda a, b, m: a + b)),
    ("check_q_sample", lambda: exercises.q_sample, lambda: (lambda x0, t, s, n: x0 + n)),
    ("check_eps_loss", lambda: exercises.eps_loss, lambda: (lambda m, x0, t, n, s: torch.tensor(0.0))),
    ("check_ddim_step", lambda: exercises.ddim_step, lambda: (lambda x, e, a, b: x)),
])
def test_checks_accept_reference_and_reject_wrong_answers(check, good, bad, capsys):
    fn = getattr(exercises, check)
    fn(good())
    assert "✅" in capsys.readouterr().out
    fn(bad())
    assert "Not yet" in capsys.readouterr().out


def test_checks_never_crash_on_todo_stubs(capsys):
    def stub(*args):
        raise NotImplementedError

    exercises.check_residual_forward(stub)
    assert "replace the `raise NotImplementedError`" in capsys.readouterr().out
    exercises.check_q_sample(lambda *a: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    exercises.check_sigmoid_derivative_max(None)
    exercises.check_identity_jacobian(torch.eye(3))
    exercises.check_unet_parameters(exercises.unet_parameters("add", False))
    exercises.check_t_half(exercises.t_half(NoiseSchedule.make()), NoiseSchedule.make())
    out = capsys.readouterr().out
    assert out.count("✅") == 3 and "Not yet" in out
    assert UNet is not None
