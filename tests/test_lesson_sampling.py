"""Notebook 06's lesson module: the exercises' checks (tiers, diagnoses, stubs), the live views and demo_widgets."""

import pytest
import torch

from course_lib import DDIMSampler, DDPMSampler, NoiseSchedule
from course_lib.lessons import grading
from course_lib.lessons import sampling as S


def _parts(schedule, t):
    return (schedule.alpha_bar[t], schedule.alpha_bar_prev[t], schedule.alphas[t], schedule.betas[t])


def ddpm_variant(x0_rule="ok", var_rule="ok", swap=False, weights="ok", returns="step"):
    """A student's DDPM step with one mistake switched on."""
    def step(x_t, eps, t, schedule, z):
        ab, ab_prev, a, beta = _parts(schedule, t)
        if x0_rule == "alpha":
            x0 = (x_t - (1 - a).sqrt() * eps) / a.sqrt()
        elif x0_rule == "sign":
            x0 = (x_t + (1 - ab).sqrt() * eps) / ab.sqrt()
        elif x0_rule == "no_sqrt":
            x0 = (x_t - (1 - ab).sqrt() * eps) / ab
        else:
            x0 = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
        c1, c2 = ab_prev.sqrt() * beta / (1 - ab), a.sqrt() * (1 - ab_prev) / (1 - ab)
        if weights == "alpha_bar_for_alpha":  # sqrt(alpha_bar_t) where sqrt(alpha_t) belongs
            c2 = ab.sqrt() * (1 - ab_prev) / (1 - ab)
        elif weights == "alpha_for_alpha_bar_prev":
            c1 = a.sqrt() * beta / (1 - ab)
        elif weights == "alpha_bar_for_alpha_bar_prev":
            c1, c2 = ab.sqrt() * beta / (1 - ab), a.sqrt() * (1 - ab) / (1 - ab)
        if swap:
            c1, c2 = c2, c1
        var = (1 - ab_prev) / (1 - ab) * beta
        std = {"ok": var.sqrt(), "no_sqrt": var, "beta": beta.sqrt(), "none": 0.0, "minus": -var.sqrt()}[var_rule]
        if returns == "x0_hat":
            return x0
        return c1 * x0 + c2 * x_t + std * z
    return step


def noise_at_zero_only(x_t, eps, t, schedule, z):
    """Right for t > 0; at t = 0 it adds sqrt(beta_0) z."""
    out = S.ddpm_step(x_t, eps, t, schedule, z)
    return out + schedule.betas[0].sqrt() * z if t == 0 else out


# What a hint or a diagnosis must never print: pieces of the solution's code.
SOLUTION_CODE = ("** 0.5", ".sqrt()", "sqrt(alpha_bar", "sqrt(1 -", "sqrt(ab", "(1 - ab", "* eps", "* z", "x0_hat +",
                 "alpha_bar_prev) x0", "= (x_t")


def assert_no_solution_code(text):
    for piece in SOLUTION_CODE:
        assert piece not in text, f"the check printed {piece!r}: {text}"


def test_ddpm_reference_is_one_step_of_the_library_sampler():
    s = NoiseSchedule.make("linear", 1000)
    x_t = torch.randn(3, 1, 8, 8)
    eps = torch.randn(3, 1, 8, 8)
    for t in (999, 300, 0):
        z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(t))
        want, _ = DDPMSampler(s).step(eps, t, x_t, generator=torch.Generator().manual_seed(t))
        assert torch.allclose(S.ddpm_step(x_t, eps, t, s, z), want, atol=1e-6)


def test_check_ddpm_step_accepts_reference_and_float64(capsys):
    S.check_ddpm_step(S.ddpm_step)
    S.check_ddpm_step(ddpm_variant())
    S.check_ddpm_step(lambda x, e, t, s, z: ddpm_variant()(x.double(), e.double(), t, s, z.double()))
    assert capsys.readouterr().out.count("✅") == 3


@pytest.mark.parametrize("wrong, text", [
    (ddpm_variant(x0_rule="alpha"), "x0_hat uses alpha_t where alpha_bar_t belongs"),
    (ddpm_variant(x0_rule="sign"), "sign of the noise term"),
    (ddpm_variant(x0_rule="no_sqrt"), "not by its square root"),
    (ddpm_variant(returns="x0_hat"), "that is x0_hat, the estimate of x_0"),
    (ddpm_variant(weights="alpha_bar_for_alpha"), "weight of x_t in the posterior mean uses alpha_bar_t"),
    (ddpm_variant(weights="alpha_for_alpha_bar_prev"), "weight of x0_hat in the posterior mean uses alpha_t"),
    (ddpm_variant(weights="alpha_bar_for_alpha_bar_prev"), "uses alpha_bar_t where alpha_bar_{t-1} belongs"),
    (ddpm_variant(swap=True), "swapped"),
    (ddpm_variant(var_rule="no_sqrt"), "missing square root"),
    (ddpm_variant(var_rule="beta"), "variance beta_t, the other choice"),
    (ddpm_variant(var_rule="none"), "no noise was added"),
    (ddpm_variant(var_rule="minus"), "the noise term is subtracted"),
    (noise_at_zero_only, "noise was added at t = 0"),
])
def test_check_ddpm_step_names_each_mistake_then_escalates(wrong, text, three_tries):
    first, second, third = three_tries(S.check_ddpm_step, wrong)
    assert "Not yet" in first and text in first and "Hint:" not in first, first
    assert text in second and "Hint:" in second and "Read " not in second
    assert "Ho, Jain and Abbeel (2020)" in third and "Eq. 6-7" in third
    for out in (first, second, third):
        assert_no_solution_code(out)


def loop_variant(kind):
    def loop(model, sampler, shape, generator):
        x = torch.randn(shape, generator=generator)
        x_T = x
        timesteps = list(reversed(sampler.timesteps)) if kind == "backwards" else sampler.timesteps
        for t in timesteps:
            tt = t if kind == "int_t" else torch.full((shape[0],), t)
            x, _ = sampler.step(model(x, tt), t, x, generator=None if kind == "no_generator" else generator)
        return x_T if kind == "no_update" else x
    return loop


def test_check_sample_loop_accepts_reference_and_diagnoses(capsys):
    S.check_sample_loop(S.sample_loop)
    S.check_sample_loop(loop_variant("ok"))
    assert capsys.readouterr().out.count("✅") == 2
    for kind, text in [("backwards", "from 0 up"), ("no_generator", "generator=generator"),
                       ("no_update", "starting noise x_T"), ("int_t", "tensor of shape [B]")]:
        grading.attempts.clear()
        S.check_sample_loop(loop_variant(kind))
        out = capsys.readouterr().out
        assert "Not yet" in out and text in out, (kind, out)
    S.check_sample_loop(loop_variant("backwards"))
    assert "Hint:" in capsys.readouterr().out  # the int_t miss above was the first; this is the second


def test_check_sample_loop_matches_library_sample_for_both_samplers():
    for sampler, shape in [(DDPMSampler(NoiseSchedule.make("linear", 50)), (4, 2)),
                           (DDIMSampler(NoiseSchedule.make("linear", 1000), 5, eta=1.0), (2, 1, 8, 8))]:
        got = S.sample_loop(S._toy_eps_model, sampler, shape, torch.Generator().manual_seed(3))
        want = sampler.sample(S._toy_eps_model, shape, generator=torch.Generator().manual_seed(3))
        assert torch.equal(got, want)


def _x0(x, e, a):
    return (x - (1 - a) ** 0.5 * e) / a ** 0.5


@pytest.mark.parametrize("wrong, text", [
    (lambda x, e, a, b: b ** 0.5 * (x + (1 - a) ** 0.5 * e) / a ** 0.5 + (1 - b) ** 0.5 * e, "sign of the noise"),
    (lambda x, e, a, b: b ** 0.5 * (x - (1 - a) ** 0.5 * e) / a + (1 - b) ** 0.5 * e, "not by its square root"),
    (lambda x, e, a, b: S.ddim_step(x, e, b, a), "swapped"),
    (lambda x, e, a, b: _x0(x, e, a), "that is x0_hat itself"),
    (lambda x, e, a, b: x, "x_t came back unchanged"),
    (lambda x, e, a, b: b ** 0.5 * _x0(x, e, a), "the predicted noise was dropped"),
    (lambda x, e, a, b: b ** 0.5 * _x0(x, e, a) + (1 - b) * e, "the noise part misses a square root"),
    (lambda x, e, a, b: b * _x0(x, e, a) + (1 - b) ** 0.5 * e, "the signal part misses a square root"),
    (lambda x, e, a, b: b ** 0.5 * _x0(x, e, a) + (1 - a) ** 0.5 * e, "kept the size it had at level t"),
    (lambda x, e, a, b: a ** 0.5 * _x0(x, e, a) + (1 - b) ** 0.5 * e, "x0_hat kept the scale it had at level t"),
])
def test_check_ddim_step_names_each_mistake_then_escalates(wrong, text, three_tries):
    first, second, third = three_tries(S.check_ddim_step, wrong)
    assert "Not yet" in first and text in first and "Hint:" not in first, first
    assert "Hint:" in second and "Read " not in second
    assert "Song, Meng and Ermon (2021)" in third and "Eq. 12" in third
    for out in (first, second, third):
        assert_no_solution_code(out)


def test_check_ddim_step_accepts_reference_and_float64(capsys):
    S.check_ddim_step(S.ddim_step)
    S.check_ddim_step(lambda x, e, a, b: S.ddim_step(x.double(), e.double(), a, b))
    assert capsys.readouterr().out.count("✅") == 2


def test_checks_say_not_yet_on_stubs(capsys):
    def stub(*args):
        raise NotImplementedError

    for check in (S.check_ddpm_step, S.check_sample_loop, S.check_ddim_step):
        check(stub)
        check(None)
    out = capsys.readouterr().out
    assert out.count("replace the `raise NotImplementedError`") == 3 and out.count("still `None`") == 3


def test_sample_both_spacings_is_ddim_from_one_starting_noise():
    from course_lib.checkpoints import load_denoiser

    model, schedule, _ = load_denoiser()
    xs = S.sample_both_spacings(model, schedule, steps=4, n=3, seed=5)
    for spacing in S.SPACINGS:
        want = DDIMSampler(schedule, 4, spacing=spacing, clip_x0=True).sample(
            model, (3, 1, 8, 8), generator=torch.Generator().manual_seed(5))
        assert torch.allclose(xs[spacing], want, atol=1e-5)
    assert not torch.allclose(xs["leading"], xs["trailing"])


@pytest.fixture(scope="module")
def widgets():
    return S.demo_widgets()


def test_demo_widgets_each_control_changes_the_image(widgets):
    moves = {"samples": {"steps": 2, "eta": 0.5, "spacing": "trailing"}, "trajectory": {"i": 30}, "cloud": {"k": 50}}
    assert set(widgets) == set(moves)
    for name, live in widgets.items():
        for control, value in moves[name].items():
            before = live.image.value
            live.controls[control].value = value
            assert not live.status.value, live.status.value
            assert live.image.value != before, (name, control)
    samples = widgets["samples"]
    assert samples.controls["steps"].continuous_update is False and samples.controls["eta"].continuous_update is False
    assert list(samples.controls["steps"].options) == list(S.STEP_OPTIONS)


def test_samples_view_caches_per_setting_and_spacing_only_looks_up(widgets):
    view = widgets["samples"].view
    n_cached = len(view.cache)
    widgets["samples"].controls["spacing"].value = "leading"
    widgets["samples"].controls["spacing"].value = "trailing"
    assert len(view.cache) == n_cached


def test_static_figures_come_from_the_views():
    from course_lib.checkpoints import load_denoiser

    model, schedule, _ = load_denoiser()
    fig = S.show_samples_at(model, schedule, steps=2, n=8)
    assert "2 steps" in fig.axes[0].get_title() and "t = 500, 0" in fig.axes[0].get_title()
    _, traj = DDIMSampler(schedule, 6).sample(model, (4, 1, 8, 8), return_trajectory=True)
    assert "t = " in S.show_trajectory_step(traj, 2).axes[0].get_title()
    _, path = DDIMSampler(schedule, 5).sample(lambda x, t: 0.1 * x, (100, 2), return_trajectory=True)
    fig = S.plot_2d_trajectories(path, torch.randn(50, 2), n_paths=10)
    assert fig.axes[0].get_title() == "10 of the 100 reverse paths"
    assert "x_0 (the samples)" in fig.axes[1].get_title()


def test_floor_by_n_draws_training_digits_against_the_held_out_ones():
    from course_lib.metrics import digit_floor

    floors = S.floor_by_n(ns=(60, 1000), seeds=(5, 6))
    assert floors[60] == [digit_floor(60, 5), digit_floor(60, 6)] and floors[60][0] != floors[60][1]
    assert floors[1000][0] == pytest.approx(floors[1000][1], rel=1e-9)  # all 1,000 training digits
    assert all(small > large for small, large in zip(floors[60], floors[1000]))
    with pytest.raises(ValueError, match=r"ns contains 1001; each sample size must lie in \[2, 1000\]"):
        S.floor_by_n(ns=(1001,))


def test_timed_sample_times_a_seeded_run():
    s = NoiseSchedule.make("linear", 50)
    x, seconds = S.timed_sample(DDIMSampler(s, 5), S._toy_eps_model, n=3, seed=4, shape=(2,))
    want = DDIMSampler(s, 5).sample(S._toy_eps_model, (3, 2), generator=torch.Generator().manual_seed(4))
    assert torch.equal(x, want) and seconds > 0


def test_step_options_follow_the_schedule():
    assert S.step_options(NoiseSchedule.make("linear", 1000)) == list(S.STEP_OPTIONS)
    assert S.step_options(NoiseSchedule.make("linear", 100)) == [s for s in S.STEP_OPTIONS if s <= 100]


def test_train_toy_2d_trains_without_a_progress_bar(capsys):
    trainer, data = S.train_toy_2d(steps=3, n_data=500)
    assert trainer.step == 3 and data.shape == (500, 2) and trainer.progress is False
    assert "training" not in capsys.readouterr().err


def test_eq11_is_the_posterior_mean_at_x0_hat():
    """Ho et al.'s Eq. 11 written out here, against the x0-hat route of the exercise, in float64."""
    schedule = NoiseSchedule.make("linear", 1000)
    x_t, eps = torch.randn(2, 5, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for t in (999, 400, 1, 0):
        eq11 = (x_t - schedule.betas[t] / (1 - schedule.alpha_bar[t]).sqrt() * eps) / schedule.alphas[t].sqrt()
        assert torch.allclose(S.posterior_mean_via_x0(x_t, eps, t, schedule), eq11, rtol=0, atol=1e-12)
        assert torch.allclose(S.ddpm_step(x_t, eps, t, schedule, torch.zeros_like(x_t)), eq11, rtol=0, atol=1e-12)


def test_ddim_from_is_the_library_sampler_from_the_same_noise():
    from course_lib.checkpoints import load_denoiser

    model, schedule, _ = load_denoiser()
    x_T = torch.randn((3, 1, 8, 8), generator=torch.Generator().manual_seed(4))
    want = DDIMSampler(schedule, 4, spacing="trailing", clip_x0=True).sample(
        model, (3, 1, 8, 8), generator=torch.Generator().manual_seed(4))
    assert torch.allclose(S.ddim_from(model, schedule, x_T, 4, spacing="trailing"), want, atol=1e-5)


def test_consistency_study_shapes_and_reference():
    from course_lib.checkpoints import load_denoiser

    model, schedule, _ = load_denoiser()
    study = S.consistency_study(model, schedule, steps=(2, 4), reference=8, n=3, seeds=(0, 1))
    assert list(study["samples"]) == [2, 4, 8] and study["samples"][8].shape == (3, 1, 8, 8)
    assert all(len(v) == 2 for v in study["distance"].values()) and len(study["between"]) == 2
    # the first seed's reference digits are a plain DDIM run from that seed's noise
    want = DDIMSampler(schedule, 8, clip_x0=True).sample(model, (3, 1, 8, 8),
                                                         generator=torch.Generator().manual_seed(0))
    assert torch.allclose(study["samples"][8], want, atol=1e-5)
    assert S.rms_distance(want, want).abs().max() == 0
    with pytest.raises(ValueError, match="must all be below reference=8"):
        S.consistency_study(model, schedule, steps=(2, 8), reference=8)
    titles = [ax.get_title() for ax in S.plot_consistency(study).axes]
    assert titles == ["DDIM, 2 steps", "DDIM, 4 steps", "8 steps (reference)"]


def test_spacing_study_scores_both_spacings_from_one_noise():
    from course_lib.checkpoints import load_denoiser
    from course_lib.metrics import digit_fd

    model, schedule, _ = load_denoiser()
    study = S.spacing_study(model, schedule, steps=(2, 3), n=40, seeds=(5, 6))
    assert set(study) == {"fd", "floor", "ceiling"} and set(study["fd"]) == set(S.SPACINGS)
    xs = S.sample_both_spacings(model, schedule, 3, n=40, seed=6)
    assert study["fd"]["trailing"][3][1] == pytest.approx(digit_fd(xs["trailing"]), rel=1e-6)
    assert len(study["floor"]) == 2 and study["ceiling"] > max(study["floor"])
    fig = S.plot_spacing_study(study)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[:2] == ["leading spacing", "trailing spacing"] and "2 draws" in labels[2]


def test_samples_view_scores_what_it_samples():
    from course_lib.checkpoints import load_denoiser

    model, schedule, _ = load_denoiser()
    fig = S.show_samples_at(model, schedule, steps=3, n=8, n_scored=40)
    title = fig.axes[0].get_title()
    assert "FD of 40 digits" in title and "40 real digits:" in title
    with pytest.raises(ValueError, match="n_scored=20 is not allowed"):
        S.SamplesView(model, schedule, n=8, n_scored=20)


def test_time_samplers_warms_up_then_times_each_sampler_repeatedly():
    s = NoiseSchedule.make("linear", 50)
    samplers = {"DDPM": DDPMSampler(s), "DDIM-5": DDIMSampler(s, 5)}
    samples, seconds = S.time_samplers(samplers, S._toy_eps_model, n=3, seed=4, repeats=2)
    assert set(samples) == set(seconds) == set(samplers) and all(len(v) == 2 and min(v) > 0 for v in seconds.values())
    want = DDIMSampler(s, 5).sample(S._toy_eps_model, (3, 1, 8, 8), generator=torch.Generator().manual_seed(4))
    assert torch.equal(samples["DDIM-5"], want)


def test_your_step_or_none_runs_a_step_and_reports_an_unwritten_or_broken_one(capsys):
    schedule = NoiseSchedule.make("linear", 1000)
    x_t, eps = torch.randn(2, 3, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    zero = torch.zeros_like(x_t)
    got = S.your_step_or_none(S.ddpm_step, x_t, eps, 500, schedule, zero)
    assert torch.allclose(got, S.posterior_mean_via_x0(x_t, eps, 500, schedule), rtol=0, atol=1e-12)

    def unwritten(*args):
        raise NotImplementedError

    assert S.your_step_or_none(unwritten, x_t, eps, 500, schedule, zero) is None
    assert "not written yet" in capsys.readouterr().out
    assert S.your_step_or_none(lambda *a: 1 / 0, x_t, eps, 500, schedule, zero) is None
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert S.your_step_or_none(lambda *a: None, x_t, eps, 500, schedule, zero) is None
    assert "not a tensor shaped like x_t" in capsys.readouterr().out
    # a wrong step is compared, not rejected: the notebook prints False for it
    wrong = S.your_step_or_none(ddpm_variant(swap=True), x_t, eps, 500, schedule, zero)
    assert not torch.allclose(wrong, S.posterior_mean_via_x0(x_t, eps, 500, schedule), rtol=0, atol=1e-10)


def test_check_saturated_prints_shares_and_a_verdict(capsys):
    from course_lib.samplers import Trajectory

    x0 = [torch.ones(2, 1, 8, 8), torch.zeros(2, 1, 8, 8)]
    trajectory = Trajectory(timesteps=[900, 100], x_t=[torch.zeros(2, 1, 8, 8)] * 3, x0_pred=x0)
    assert S.x0_white(trajectory, (0, 1)) == {900: 1.0, 100: 0.0}
    assert S.check_saturated(trajectory, (0, 1)) is None
    out = capsys.readouterr().out
    assert "t = 900: 100% of the pixels" in out and "real training digits:" in out and "✓" in out


def test_plot_cloud_steps_shows_one_panel_per_step():
    from course_lib.samplers import Trajectory

    path = [torch.randn(50, 2) for _ in range(5)]
    fig = S.plot_cloud_steps(Trajectory(timesteps=[800, 600, 400, 200], x_t=path, x0_pred=path[:4]), torch.randn(80, 2))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["step 0 of 4\nt = 800", "step 1 of 4\nt = 600", "step 2 of 4\nt = 400", "step 3 of 4\nt = 200",
                      "step 4 of 4\nthe samples"]


def test_a_smoke_test_caps_the_notebooks_own_ddim_loops(monkeypatch):
    """COURSE_MAX_STEPS=N stops ``ddim_from`` and ``sample_both_spacings`` after N network calls, as it stops
    every sampler (the GPU configuration's and the student copy's smoke runs); unset, they visit every step."""
    schedule = NoiseSchedule.make("linear", 1000)
    calls = []

    def model(x, t):
        calls.append(int(t[0]))
        return torch.zeros_like(x)

    x_T = torch.randn(2, 1, 8, 8)
    for run, full in ((lambda: S.ddim_from(model, schedule, x_T, 10), 10),
                      (lambda: S.sample_both_spacings(model, schedule, 10, n=2), 10)):
        calls.clear()
        run()
        assert len(calls) == full
        monkeypatch.setenv("COURSE_MAX_STEPS", "3")
        calls.clear()
        run()
        assert len(calls) == 3
        monkeypatch.delenv("COURSE_MAX_STEPS")
