"""Notebook 05's lesson module: the eps-loss and training-loop checks (diagnoses, tiers, stubs), the widgets
(each control changes the figure; training runs only on the button) and the figures."""

import pytest
import torch

from course_lib import NoiseSchedule, UNet, diffusion_loss, q_sample
from course_lib.lessons import training as tr


def per_example(v, x):
    return v.view(-1, *[1] * (x.dim() - 1))


def loss_with(x_t_of, target="noise"):
    def eps_loss(model, x0, t, noise, schedule):
        x_t = x_t_of(x0, t, schedule, noise)
        return ((model(x_t, t) - (noise if target == "noise" else x0)) ** 2).mean()
    return eps_loss


def right(x0, t, s, n):
    ab = per_example(s.alpha_bar[t], x0)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * n


def with_alpha(x0, t, s, n):
    a = per_example(s.alphas[t], x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * n


def no_square_root(x0, t, s, n):
    ab = per_example(s.alpha_bar[t], x0)
    return ab * x0 + (1 - ab) * n


def images_only(x0, t, s, n):
    ab = s.alpha_bar[t].view(-1, 1, 1, 1)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * n


def float64_loss(model, x0, t, noise, schedule):
    ab = per_example(schedule.alpha_bar[t].double(), x0)
    x_t = ab.sqrt() * x0.double() + (1 - ab).sqrt() * noise.double()
    return ((model(x_t, t) - noise.double()) ** 2).mean()


def stub(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("fn", [tr.eps_loss, float64_loss,
                                lambda m, x0, t, n, s: diffusion_loss(m, x0, s, t=t, noise=n)])
def test_eps_loss_check_accepts_correct_answers(fn, capsys):
    tr.check_eps_loss(fn)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("fn, diagnosis", [
    (loss_with(with_alpha), "built with alpha_t (one step)"),
    (loss_with(no_square_root), "a square root is missing"),
    (loss_with(right, target="x0"), "the target is x0"),
    (loss_with(images_only), "works on images but not on 2-D points"),
    (lambda m, x0, t, n, s: ((m(right(x0, t, s, n), t) - n) ** 2).sum(), "a sum of squared errors"),
])
def test_eps_loss_check_names_the_mistake_then_escalates(fn, diagnosis, three_tries):
    first, second, third = three_tries(tr.check_eps_loss, fn)
    assert "Not yet" in first and diagnosis in first and "Hint:" not in first
    assert diagnosis in second and "Hint: what will the network have when it samples?" in second
    assert "Read notebook 04's closed form" in third and "Ho et al. 2020, Section 3.4" in third
    for out in (first, second, third):
        assert_no_solution(out)


def assert_no_solution(out):
    """A check's message shows no solution code and no expected loss."""
    for code in ("sqrt()", ".sqrt", "** 2", ".mean()", "view(", "q_sample(", "diffusion_loss"):
        assert code not in out, code


def one_alpha_bar(pick):
    def eps_loss(model, x0, t, noise, schedule):
        ab = pick(schedule.alpha_bar[t])
        return ((model(ab.sqrt() * x0 + (1 - ab).sqrt() * noise, t) - noise) ** 2).mean()
    return eps_loss


@pytest.mark.parametrize("fn, diagnosis", [
    (loss_with(lambda x0, t, s, n: (lambda ab: (1 - ab).sqrt() * x0 + ab.sqrt() * n)(per_example(s.alpha_bar[t], x0))),
     "the two weights of x_t are swapped"),
    (one_alpha_bar(lambda ab: ab[0]), "the one of the first example's t"),
    (one_alpha_bar(lambda ab: ab.mean()), "an average over the batch's t"),
    (one_alpha_bar(lambda ab: ab), "a shape error"),  # alpha_bar[t] of shape [B], not broadcast per example
    (loss_with(lambda x0, t, s, n: x0 + 0 * n), "the model is given x0"),
])
def test_eps_loss_check_names_more_mistakes(fn, diagnosis, capsys):
    tr.check_eps_loss(fn)
    out = capsys.readouterr().out
    assert "Not yet" in out and diagnosis in out, out
    assert_no_solution(out)


def test_eps_loss_check_says_not_yet_on_stubs(capsys):
    tr.check_eps_loss(stub)
    assert "replace the `raise NotImplementedError`" in capsys.readouterr().out


def make_loop(x_t_of=right, target="noise", step=True, fixed_t=False, use_library=False):
    def train_loop(model, data, schedule, steps=300, batch_size=256, lr=2e-3, seed=0):
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
        losses = []
        for _ in range(steps):
            x0 = data[torch.randint(0, len(data), (batch_size,))]
            if use_library:
                loss = diffusion_loss(model, x0, schedule)
            else:
                t = torch.full((batch_size,), 500) if fixed_t else torch.randint(0, schedule.T, (batch_size,))
                noise = torch.randn_like(x0)
                x_t = x_t_of(x0, t, schedule, noise)
                loss = ((model(x_t, t) - (noise if target == "noise" else x0)) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            if step:
                optimizer.step()
            losses.append(loss.item())
        return losses
    return train_loop


@pytest.mark.parametrize("fn", [tr.train_loop, make_loop(), make_loop(use_library=True),
                                make_loop(lambda x0, t, s, n: q_sample(x0.double(), t, s, noise=n.double()))])
def test_train_loop_check_accepts_correct_loops(fn, capsys):
    tr.check_train_loop(fn)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("fn, diagnosis", [
    (make_loop(with_alpha), "built with alpha_t (one step)"),
    (make_loop(no_square_root), "a square root is missing"),
    (make_loop(target="x0"), "compares the prediction with x0"),
    (make_loop(images_only), "works on images but not on 2-D points"),
    (make_loop(step=False), "the weights never changed"),
    (make_loop(fixed_t=True), "draw a new t for every example"),
])
def test_train_loop_check_names_the_mistake_then_escalates(fn, diagnosis, three_tries):
    first, second, third = three_tries(tr.check_train_loop, fn)
    assert "Not yet" in first and diagnosis in first and "Hint:" not in first
    assert "Hint: what must be fresh at every step" in second
    assert "Read Ho et al. 2020, Algorithm 1" in third and "course_lib/" not in third


def test_train_loop_check_says_not_yet_on_stubs(capsys):
    tr.check_train_loop(stub)
    assert "replace the `raise NotImplementedError`" in capsys.readouterr().out


@pytest.fixture(scope="module")
def widgets():
    return tr.demo_widgets()


@pytest.fixture(scope="module")
def toy_samples():
    """The DDIM step-count widget (no longer in notebook 05) on a 2-D MLP trained 200 steps."""
    from course_lib.data import make_toy_2d
    from course_lib.mlp_denoiser import MLPDenoiser
    from course_lib.trainer import TrainConfig, Trainer

    torch.manual_seed(0)
    toy = Trainer(MLPDenoiser(hidden=128, depth=3), NoiseSchedule.make("linear", 1000), make_toy_2d("moons", 2000),
                  TrainConfig(steps=200, batch_size=256, lr=2e-3, log_every=100), device="cpu", progress=False)
    toy.train()
    return tr.toy_samples_widget(toy.ema_model, toy.schedule)


def test_demo_widgets_are_notebook_05s_and_use_no_ddim_slider(widgets):
    assert set(widgets) == {"x0_hat", "train_more"}


def test_demo_widget_sliders_change_the_figure(widgets, toy_samples):
    for live, name, value in ((toy_samples, "steps", 5), (widgets["x0_hat"], "t", 800)):
        before = live.image.value
        live.controls[name].value = value
        assert live.image.value != before, name
        assert live.status.value == ""
    assert toy_samples.controls["steps"].continuous_update is False


def test_train_more_trains_only_on_the_button(widgets):
    live = widgets["train_more"]
    trainer = live.view.trainer
    assert live.controls == {}  # no slider can start training
    step, before = trainer.step, live.image.value
    live.more.value = 10
    live.button.click()
    assert trainer.step == step + 10
    assert live.image.value != before
    assert not live.button.disabled and trainer.progress is False


def test_x0_hat_view_is_precomputed_over_the_slider_grid(widgets):
    view = widgets["x0_hat"].view
    slider = tr.x0_hat_slider(view)
    assert set(range(slider.min, slider.max + 1, slider.step)) == set(view.frames)
    assert slider.max == view.ts[-1] < 1000 and slider.value == 300
    assert view.errors[0] < view.errors[max(view.ts)]  # x0-hat is best at little noise


@pytest.mark.parametrize("T", [50, 200])
def test_x0_hat_slider_follows_the_schedule(T):
    from course_lib.data import load_digits

    view = tr.X0HatView(UNet(base_channels=8), NoiseSchedule.make("linear", T), load_digits(split="train")[:2])
    slider = tr.x0_hat_slider(view)
    assert slider.max <= T - 1 and set(range(slider.min, slider.max + 1, slider.step)) == set(view.frames)
    view.update(slider.max)  # the last t of the grid exists in the schedule


def test_figures(widgets, toy_samples):
    from course_lib.checkpoints import load_denoiser
    from course_lib.data import load_digits

    model, schedule, _ = load_denoiser()
    digits = load_digits(split="train")
    fig = tr.show_digit_samples({"EMA": model}, schedule, n=12, steps=5, data=digits)
    assert len(fig.axes) == 2 and fig.axes[0].images[0].get_interpolation() == "nearest"
    fig = tr.plot_loss_curves({"a": [1.0, 0.5, 0.2, 0.1], "b": [0.9, 0.4, 0.3, 0.1]}, window=2, logx=True)
    assert fig.axes[0].get_yscale() == "log" and fig.axes[0].get_xscale() == "log"
    assert tr.show_x0_hat(model, schedule, digits[:2], t=300).axes
    toy = toy_samples.view
    assert tr.show_toy_samples(toy.model, toy.schedule, steps=5, n=200).axes


def test_hardest_t_reads_the_thirds_of_the_range():
    assert tr.hardest_t([0.9, 0.5, 0.3, 0.2, 0.1, 0.1, 0.05, 0.03, 0.02, 0.01]) == "small"
    assert tr.hardest_t([0.1, 0.2, 0.3, 0.4, 0.9, 0.4, 0.3, 0.2, 0.1, 0.1]) == "middle"
    assert tr.hardest_t([float("nan"), 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5]) == "large"  # empty bucket


@pytest.mark.parametrize("prediction, verdict", [("small", "✅"), ("Small t", "✅"), ("large", "x_t ~ eps"),
                                                 ("middle", "does not peak"), ("early", "write the prediction")])
def test_hardest_t_check_grades_against_the_measured_losses(prediction, verdict, capsys):
    by_t = [0.85, 0.4, 0.2, 0.1, 0.08, 0.05, 0.03, 0.02, 0.015, 0.01]
    tr.check_hardest_t(prediction, by_t)
    out = capsys.readouterr().out
    assert verdict in out and ("✅" in out) == (verdict == "✅")
    if verdict == "✅":
        assert "over 10 times" in out
    else:  # the formula comes only with the second miss
        assert "alpha_bar_t -> 0" not in out
        tr.check_hardest_t(prediction, by_t)
        assert ("alpha_bar_t -> 0" in capsys.readouterr().out) == (prediction != "early")


@pytest.mark.parametrize("n", [1, 9, 499, 1789, 1790, 5000])
def test_ema_decay_at_is_the_trainers_update_rule(n):
    from course_lib.trainer import ema_avg_fn

    averaged, current = [torch.zeros(3, dtype=torch.float64)], [torch.ones(3, dtype=torch.float64)]
    ema_avg_fn(0.995)(averaged, current, torch.tensor(n))
    assert averaged[0][0].item() == pytest.approx(1 - tr.ema_decay_at(n, 0.995), rel=1e-12)


def test_ema_horizon_reads_the_warm_up_from_the_trainer():
    from types import SimpleNamespace

    assert tr.ema_warmup_updates(0.995) == 1790 and tr.ema_warmup_updates(0.9) == 80
    assert tr.ema_decay_at(1789, 0.995) < 0.995 == tr.ema_decay_at(1790, 0.995)
    fake = SimpleNamespace(ema=SimpleNamespace(n_averaged=torch.tensor(500)), config=SimpleNamespace(ema_decay=0.995))
    h = tr.ema_horizon(fake)  # notebook 05's CPU run: 500 steps, far from the 200-step horizon of d = 0.995
    assert h["updates"] == 500 and round(h["decay"], 3) == 0.982 and 56 < h["horizon"] < 57
    assert h["warmup"] == 1790 and h["full_decay"] == 0.995
    trainer = tr.train_digit_unet(seed=0, steps=3, width=8)
    h = tr.ema_horizon(trainer)
    assert h["updates"] == 3 and h["decay"] == pytest.approx(3 / 12)  # update n = 2 of a fresh average


def test_ema_study_rows_carry_a_floor_drawn_with_their_seed():
    from course_lib.metrics import digit_floor

    rows = tr.ema_study(seeds=(0, 1), steps=2, width=8, n=40)
    assert [r["seed"] for r in rows] == [0, 1]
    assert [r["floor"] for r in rows] == [digit_floor(40, 0), digit_floor(40, 1)]
    assert rows[0]["floor"] != rows[1]["floor"]
    fig = tr.plot_ema_study(rows)
    assert fig.axes[0].patches and "2 draws" in fig.axes[0].get_legend().get_texts()[0].get_text()


@pytest.mark.parametrize("T", [1000, 200, 50, 10])
def test_toy_steps_slider_follows_the_schedule(T):
    slider = tr.toy_steps_slider(T)
    options = list(slider.options)
    assert max(options) == T and slider.value in options and options == sorted(options)


def test_independent_points_are_disjoint_draws_of_the_distribution():
    sets = tr.independent_points("moons", 500, 3, seed=1)
    assert [tuple(x.shape) for x in sets] == [(500, 2)] * 3
    rows = torch.cat(sets).unique(dim=0)
    assert len(rows) == 1500  # no point is in two sets
    with pytest.raises(ValueError, match="n \\* draws"):
        tr.independent_points("moons", 60_000, 2)


def test_toy_scores_floor_is_what_independent_points_score():
    from course_lib.data import make_toy_2d
    from course_lib.metrics import toy_quality

    perfect = tr.independent_points("moons", 1000, 1, seed=7)[0]  # a perfect sampler, outside the floor's draws
    q = tr.toy_scores(perfect, "moons", floor_draws=4)
    assert len(q["swd_floor"]) == len(q["mmd_floor"]) == 4
    assert min(q["swd_floor"]) / 2 < q["swd"] < 2 * max(q["swd_floor"])
    blob = 0.3 * torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    q_blob = tr.toy_scores(blob, "moons")
    assert q_blob["swd"] > 3 * max(q["swd_floor"]) and q_blob["mmd"] > 10 * max(q["mmd_floor"])
    # make_moons spaces its points evenly: a second draw of it (toy_quality's floor) scores below perfect samples
    assert toy_quality(make_toy_2d("moons", 1000), "moons")["swd_floor"] < min(q["swd_floor"])


@pytest.mark.parametrize("alpha_bar, text", [(0.9999, "0.01"), (0.394, "1.2"), (0.026, "6.1"), (5e-5, "141")])
def test_error_factor_is_the_x0_hat_amplification(alpha_bar, text):
    assert tr.error_factor(alpha_bar) == text


def test_x0_hat_error_is_the_eps_error_times_the_factor():
    from course_lib.diffusion import predict_x0

    s = NoiseSchedule.make("linear", 1000)
    gen = torch.Generator().manual_seed(0)
    x0, eps = torch.rand(4, 1, 8, 8, generator=gen) * 2 - 1, torch.randn(4, 1, 8, 8, generator=gen)
    t = torch.tensor([10, 300, 600, 980])
    x_t = q_sample(x0, t, s, noise=eps)
    error = 0.01 * torch.randn(4, 1, 8, 8, generator=gen)
    factor = ((1 - s.alpha_bar[t]) / s.alpha_bar[t]).sqrt().float().view(-1, 1, 1, 1)
    assert torch.allclose(predict_x0(x_t, t, eps + error, s) - x0, -factor * error, rtol=1e-3, atol=1e-3)
    assert [tr.error_factor(float(s.alpha_bar[i])) for i in t] == ["0.047", "1.2", "6.2", "130"]


def test_sample_titles_name_training_and_sampling_steps(widgets):
    from course_lib.checkpoints import load_denoiser

    model, schedule, _ = load_denoiser()
    fig = tr.show_digit_samples({"EMA weights, 7 training steps": model}, schedule, n=4, steps=3)
    assert fig.axes[0].get_title() == "EMA weights, 7 training steps\n(DDIM, 3 sampling steps)"
    view = widgets["train_more"].view
    assert view.steps == 50 and view.grid_title.get_text().endswith("(DDIM, 50 sampling steps)")
    x0_view = widgets["x0_hat"].view
    x0_view.update(300)
    assert "eps error ×" in x0_view.x0_hat_title.get_text()


def test_ema_study_report_prints_the_horizon_at_the_last_step():
    rows = [{"seed": 0, "steps": 500, "raw": 80.0, "ema": 50.0, "floor": 15.0},
            {"seed": 1, "steps": 500, "raw": 60.0, "ema": 55.0, "floor": 18.0}]
    report = tr.ema_study_report(rows)
    assert "2 of 2 seeds" in report and report.endswith("EMA horizon at step 500: 1 / (1 - d_n) = 57 steps "
                                                        "(1 / (1 - d) = 200)")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_mmd_floor_is_a_little_negative_against_the_evenly_spaced_reference(seed):
    """Notebook 05 says so of its floor (2,000 points, five draws): independent points against the evenly spaced
    reference of make_moons (over 20 draws: 19 negative, mean -0.0013; against independent points: mean -0.0002)."""
    _, mmd_floor = tr.toy_floor("moons", 2000, 5, seed=seed)  # toy_scores' floor at these settings
    assert -0.005 < sum(mmd_floor) / len(mmd_floor) < 0, mmd_floor


def test_ema_study_report_reads_the_differences_against_the_scores_own_noise():
    """Notebook 05 reads the shipped study against the floor's draw-to-draw SD: seeds 0, 1, 4 lower by more than
    it, seed 2 within it, seed 3 higher by more; 4 of 5 lower is a one-sided sign-test p of 6/32 = 0.19."""
    from course_lib.study import load_studies

    report = tr.ema_study_report(load_studies()["ema"])
    assert "(SD of the floor over its 5 draws): 4.0" in report
    assert "lower by more than that spread in 3 of 5 seeds, higher by more in 1, within it in 1" in report
    assert "sign test, 4 of 5 seeds lower: one-sided p = 0.19" in report


def test_the_study_plot_marks_the_live_run():
    rows = [{"seed": 0, "steps": 500, "raw": 80.0, "ema": 50.0, "floor": 15.0},
            {"seed": 1, "steps": 500, "raw": 60.0, "ema": 55.0, "floor": 18.0}]
    fig = tr.plot_ema_study(rows, live={"raw": 300.0, "ema": 90.0, "steps": 5000, "width": 64})
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "2 draws" in texts[0] and texts[1] == "this notebook's run: 5000 steps, width 64"
    assert fig.axes[0].get_ylim()[1] >= 300


def test_x0_hat_at_shows_small_half_way_and_near_T():
    from course_lib.checkpoints import load_denoiser
    from course_lib.data import load_digits

    model, schedule, _ = load_denoiser()
    fig = tr.show_x0_hat_at(model, schedule, load_digits(split="train")[:2])
    titles = [ax.get_title() for ax in fig.axes[:7]]
    assert titles[1] == "x_t, t = 20" and titles[3] == "x_t, t = 500" and titles[5] == "x_t, t = 979"
    assert titles[2].startswith("x0-hat") and len(fig.axes) == 2 * 7
