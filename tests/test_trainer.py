import pytest
import torch

from course_lib import NoiseSchedule, UNet
from course_lib.checkpoints import load_checkpoint, load_denoiser
from course_lib.data import make_toy_2d
from course_lib.mlp_denoiser import MLPDenoiser
from course_lib.trainer import TrainConfig, Trainer


def toy_trainer(steps=40, **kw):
    torch.manual_seed(0)
    cfg = TrainConfig(steps=steps, batch_size=64, lr=3e-3, log_every=5, seed=3)
    return Trainer(MLPDenoiser(hidden=32, depth=2), NoiseSchedule.make("linear", 100), make_toy_2d("moons", 512),
                   cfg, device="cpu", progress=False, **kw)


def test_loss_falls_on_toy_data():
    trainer = toy_trainer(steps=300)
    h = trainer.train()
    assert len(h.loss) == 300 and h.step[-1] == 300
    assert sum(h.loss[-30:]) / 30 < 0.8 * sum(h.loss[:30]) / 30
    by_t = h.mean_loss_by_t()
    assert by_t[0] > by_t[-1], "predicting eps is hardest at small t"


def test_resume_equals_uninterrupted_run(tmp_path):
    full = toy_trainer(steps=30)
    full.train()
    half = toy_trainer(steps=30)
    half.train(steps=15)
    half.save(tmp_path / "half.pt")
    resumed = Trainer.from_checkpoint(tmp_path / "half.pt", make_toy_2d("moons", 512), device="cpu", progress=False)
    assert resumed.step == 15
    resumed.train()
    assert resumed.history.loss == full.history.loss
    for p, q in zip(resumed.ema_model.parameters(), full.ema_model.parameters()):
        assert torch.equal(p, q)


def test_keyboard_interrupt_keeps_model_ema_history_and_checkpoint(tmp_path):
    def stop_at_10(trainer):
        if trainer.step == 10:
            raise KeyboardInterrupt

    path = tmp_path / "run.pt"
    trainer = toy_trainer(steps=100, callback=stop_at_10, checkpoint_path=path)
    h = trainer.train()
    assert h.interrupted and trainer.step == 10 and len(h.loss) == 10
    ckpt = load_checkpoint(path)  # weights_only=True
    assert ckpt["step"] == 10 and ckpt["history"]["interrupted"]
    model, schedule, _ = load_denoiser(path)
    assert isinstance(model, MLPDenoiser) and schedule.T == 100
    for p, q in zip(model.parameters(), trainer.ema_model.parameters()):
        assert torch.equal(p, q)


def test_nan_loss_stops_with_the_step(tmp_path):
    trainer = toy_trainer(steps=50)
    trainer.train(steps=7)
    with torch.no_grad():
        trainer.model.out.bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="the loss is nan at step 7"):
        trainer.train()
    assert trainer.step == 7


def test_time_budget_stops_early():
    trainer = toy_trainer(steps=10**6)
    trainer.config.time_budget_s = 0.5
    trainer.train()
    assert 0 < trainer.step < 10**6
    assert trainer.history.time_s[-1] < 5


def test_checkpoint_is_atomic_and_weights_only(tmp_path, monkeypatch):
    trainer = toy_trainer(steps=5)
    trainer.train()
    path = tmp_path / "a.pt"
    trainer.save(path)
    good = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        trainer.save(path)
    assert path.read_bytes() == good, "a failed save must leave the previous checkpoint intact"
    assert list(tmp_path.iterdir()) == [path], "no temporary file left behind"


def test_unet_trainer_records_config_and_rebuilds(tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(UNet(base_channels=8, skip="add", residual=False), NoiseSchedule.make("cosine", 50),
                      torch.rand(20, 1, 8, 8) * 2 - 1, TrainConfig(steps=2, batch_size=4), device="cpu",
                      progress=False)
    trainer.train()
    trainer.save(tmp_path / "u.pt")
    model, schedule, _ = load_denoiser(tmp_path / "u.pt", ema=False)
    assert model.config.skip == "add" and model.config.residual is False and schedule.name == "cosine"
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([0, 49])
    assert torch.equal(model(x, t), trainer.model.eval()(x, t))


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="steps=0 is not allowed"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match=r"ema_decay=1\.0 is not allowed"):
        TrainConfig(ema_decay=1.0)
    with pytest.raises(ValueError, match="data must be a non-empty tensor"):
        Trainer(MLPDenoiser(), NoiseSchedule.make(), torch.zeros(0, 2), device="cpu")


def test_live_loss_plot_callback_redraws_during_training(capsys):
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.plotting import LiveLossPlot

    plot = LiveLossPlot(window=5)
    trainer = toy_trainer(steps=20, callback=plot)
    trainer.train()
    assert plot.fig is not None and plot.shown
    assert plot.ax.get_title().startswith("step 20, loss")
    assert len(plot.ax.lines) == 2  # batch loss and its moving average
    assert plot.ax.get_yscale() == "linear"


def test_live_loss_plot_draws_a_log_axis_on_request():
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.plotting import LiveLossPlot

    plot = LiveLossPlot(window=5, logy=True)
    toy_trainer(steps=10, callback=plot).train()
    assert plot.ax.get_yscale() == "log" and "log" in plot.ax.get_ylabel()


def test_history_repr_is_one_line_summary():
    trainer = toy_trainer(steps=60)
    assert repr(trainer.history) == "History(no steps yet)"
    h = trainer.train()
    text = repr(h)
    assert "\n" not in text and len(text) < 120, "a cell ending in trainer.train() must not print every loss"
    assert text == f"History(60 steps up to step 60, mean loss of the last 50: {sum(h.loss[-50:]) / 50:.4f})"


# ----------------------------------------------------------------------------- issue 12


def test_integer_or_nan_data_is_refused_at_once():
    from course_lib.data import load_digits

    digits = ((load_digits() + 1) * 127.5).round().to(torch.uint8)
    with pytest.raises(TypeError, match=r"data has dtype torch.uint8; allowed: a floating-point tensor"):
        Trainer(UNet(base_channels=8), NoiseSchedule.make("linear", 50), digits, device="cpu")
    points = make_toy_2d("moons", 64)
    points[5, 1] = float("nan")
    with pytest.raises(ValueError, match=r"data holds 1 NaN or infinite value\(s\), the first at index \(5, 1\)"):
        Trainer(MLPDenoiser(), NoiseSchedule.make("linear", 50), points, device="cpu")


@pytest.mark.parametrize("where", ["folder", "under a file", "under /proc"])
def test_unusable_checkpoint_path_fails_before_training(where, tmp_path):
    path = {"folder": tmp_path, "under a file": tmp_path / "f.txt" / "x.pt",
            "under /proc": "/proc/course_lib_no/x.pt"}[where]
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(OSError, match=r"cannot write the checkpoint to"):
        toy_trainer(checkpoint_path=path)


def test_nan_loss_saves_the_last_good_state_and_names_the_cause(tmp_path):
    path = tmp_path / "run.pt"
    trainer = toy_trainer(steps=50, checkpoint_path=path)
    trainer.train(steps=7)
    with torch.no_grad():
        trainer.model.out.bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"at step 7.*already hold NaN.*training diverged.*lower lr.*"
                                                 rf"the last good state \(step 7\) is saved to {path}"):
        trainer.train()
    assert torch.load(path, weights_only=True)["step"] == 7


def test_nan_in_data_changed_after_the_check_blames_the_data_and_saves(tmp_path, capsys):
    path = tmp_path / "run.pt"
    trainer = toy_trainer(steps=50, checkpoint_path=path)
    trainer.train(steps=3)
    trainer.data[:] = float("nan")  # changed after the check in __init__
    with pytest.raises(FloatingPointError, match=r"at step 3.*The batch holds NaN or infinite values: the training "
                                                 rf"data changed since it was checked; the last good state \(step 3\) "
                                                 rf"is saved to {path}"):
        trainer.train()
    assert torch.load(path, weights_only=True)["step"] == 3


def test_an_error_in_the_callback_saves_then_reraises(tmp_path, capsys):
    def fail(trainer):
        raise ZeroDivisionError("plot broke")

    path = tmp_path / "run.pt"
    trainer = toy_trainer(steps=40, callback=fail, checkpoint_path=path)
    with pytest.raises(ZeroDivisionError):
        trainer.train()
    assert torch.load(path, weights_only=True)["step"] == 5 == trainer.step
    assert f"training stopped by ZeroDivisionError at step 5; the last good state (step 5) is saved to {path}" \
        in capsys.readouterr().err


def test_periodic_checkpoints(tmp_path, monkeypatch):
    import course_lib.trainer as trainer_module

    saved_steps = []
    real = trainer_module.save_checkpoint
    monkeypatch.setattr(trainer_module, "save_checkpoint",
                        lambda obj, p: (saved_steps.append(obj["step"]), real(obj, p))[1])
    trainer = toy_trainer(steps=12, checkpoint_path=tmp_path / "r.pt")
    trainer.config.checkpoint_every = 5
    trainer.train()
    assert saved_steps == [5, 10, 12]


def test_train_step_works_before_train_and_config_refuses_bools():
    trainer = toy_trainer(steps=5)
    loss = trainer.train_step()
    assert trainer.step == 1 and trainer.history.loss == [loss] and trainer.history.time_s[0] >= 0
    for name in ("steps", "batch_size", "log_every", "checkpoint_every"):
        with pytest.raises(ValueError, match=rf"{name}=True is not allowed"):
            TrainConfig(**{name: True})
    for name in ("lr", "grad_clip", "time_budget_s"):
        with pytest.raises(ValueError, match=rf"{name}=0 is not allowed"):
            TrainConfig(**{name: 0})
    with pytest.raises(ValueError, match=r"amp='float16' is not supported; allowed: True \(CUDA only\), False, 'bf16'"):
        TrainConfig(amp="float16")


def test_device_that_is_not_there_is_refused():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match=r"device='cuda' is not available: this PyTorch .* sees no CUDA GPU"):
        Trainer(MLPDenoiser(), NoiseSchedule.make("linear", 50), make_toy_2d("moons", 64), device="cuda")


def test_progress_bar_is_quiet_in_a_log(capsys):
    trainer = toy_trainer(steps=60)
    trainer.progress = True
    trainer.train()
    err = capsys.readouterr().err
    assert err.count("\r") <= 3, "a log that is not a terminal gets a few bar updates, not 10 a second"
    assert "60/60" in err


def test_from_checkpoint_refuses_other_data_and_foreign_files(tmp_path):
    from course_lib.checkpoints import CheckpointError

    trainer = toy_trainer(steps=2)
    trainer.train()
    trainer.save(tmp_path / "run.pt")
    with pytest.raises(ValueError, match=r"data has examples of shape \[3\], but the run in .* was trained on \[2\]"):
        Trainer.from_checkpoint(tmp_path / "run.pt", torch.zeros(10, 3), device="cpu")
    torch.save({"model": trainer.model.state_dict()}, tmp_path / "weights.pt")
    with pytest.raises(CheckpointError, match=r"weights.pt is not a course_lib checkpoint: it lacks model_state"):
        Trainer.from_checkpoint(tmp_path / "weights.pt", make_toy_2d("moons", 64), device="cpu")


# ----------------------------------------------------------------------------- the GPU path, on the CPU (item 8)


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_path_runs_under_cpu_autocast(amp, tmp_path):
    """The branch CUDA takes (autocast; fp16 with a GradScaler) run through torch.autocast("cpu")."""
    from course_lib.data import load_digits

    seen = []
    trainer = Trainer(UNet(base_channels=8), NoiseSchedule.make("linear", 50), load_digits(),
                      TrainConfig(steps=3, batch_size=8, amp=amp), device="cpu", progress=False,
                      checkpoint_path=tmp_path / "amp.pt")
    forward = trainer.model.forward
    trainer.model.forward = lambda x, t: (seen.append((torch.is_autocast_enabled("cpu"),
                                                        torch.get_autocast_dtype("cpu"))), forward(x, t))[1]
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    assert trainer.use_amp and trainer.amp_dtype == dtype and trainer.scaler.is_enabled() == (amp == "fp16")
    h = trainer.train()
    assert seen == [(True, dtype)] * 3 and all(torch.isfinite(torch.tensor(h.loss)))
    resumed = Trainer.from_checkpoint(tmp_path / "amp.pt", load_digits(), device="cpu", progress=False)
    assert resumed.scaler.state_dict() == trainer.scaler.state_dict() and resumed.amp_dtype == dtype
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters()), "weights stay float32"


def test_amp_true_is_off_on_the_cpu():
    trainer = toy_trainer()
    assert trainer.config.amp is True and not trainer.use_amp and not trainer.scaler.is_enabled()


def test_large_configuration_can_be_forced_on_the_cpu(monkeypatch):
    """COURSE_CONFIG=large picks the GPU configuration on the CPU; COURSE_MAX_STEPS keeps it to a few steps."""
    from course_lib.data import load_digits
    from course_lib.utils import use_large_config

    assert use_large_config("cpu") is False and use_large_config("cuda") is True
    monkeypatch.setenv("COURSE_CONFIG", "small")
    assert use_large_config("cuda") is False
    monkeypatch.setenv("COURSE_CONFIG", "gpu")
    with pytest.raises(ValueError, match=r"COURSE_CONFIG='gpu' is not supported; allowed: 'large', 'small'"):
        use_large_config("cpu")
    monkeypatch.setenv("COURSE_CONFIG", "large")
    monkeypatch.setenv("COURSE_MAX_STEPS", "2")
    assert use_large_config("cpu") is True
    width, steps = (64, 5000) if use_large_config("cpu") else (16, 500)  # notebook 05's two configurations
    trainer = Trainer(UNet(base_channels=width), NoiseSchedule.make("linear", 1000), load_digits(),
                      TrainConfig(steps=steps, batch_size=16, amp="bf16"), device="cpu", progress=False)
    trainer.train()
    assert trainer.step == 2 and trainer.stop_reason == "steps"
    monkeypatch.setenv("COURSE_MAX_STEPS", "two")
    with pytest.raises(ValueError, match=r"COURSE_MAX_STEPS='two' is not allowed"):
        trainer.train()


def test_in_a_notebook_the_bar_is_drawn_again_at_its_last_state(monkeypatch):
    """A saved notebook keeps the text copy of the bar's widget as last drawn: it must read 100% (or the step of a
    stop), not the 0% of its first drawing."""
    import IPython.display
    from tqdm.notebook import tqdm as notebook_bar

    import course_lib.trainer as trainer_module

    drawn = []

    class Handle:
        def update(self, obj):
            drawn.append((obj, bar_state()))

    def display(obj, display_id=False):
        drawn.append((obj, bar_state()))
        return Handle()

    monkeypatch.setattr(trainer_module, "tqdm", notebook_bar)
    monkeypatch.setattr(IPython.display, "display", display)
    trainer = Trainer(MLPDenoiser(hidden=16, depth=1), NoiseSchedule.make("linear", 50), make_toy_2d("moons", 64),
                      TrainConfig(steps=30, batch_size=16, log_every=10), device="cpu")
    bars = []
    original = trainer._bar

    def bar_state():
        return bars[-1].n if bars else None

    def spy(target):
        bars.append(original(target))
        return bars[-1]

    trainer._bar = spy
    trainer.train()
    assert len(drawn) == 2 and drawn[0][0] is drawn[1][0] is bars[0].container
    assert drawn[1][1] == 30  # redrawn once, at the end, with all 30 steps


def test_the_bar_closes_on_the_loss_of_the_last_step():
    """The bar shows the loss at each log point; a run that ends between two of them (here step 25, logging every
    10) must still close on its last step's loss, the number a notebook prints after it."""
    trainer = Trainer(MLPDenoiser(hidden=16, depth=1), NoiseSchedule.make("linear", 50), make_toy_2d("moons", 64),
                      TrainConfig(steps=25, batch_size=16, log_every=10), device="cpu")
    bars = []
    original = trainer._bar
    trainer._bar = lambda target: bars.append(original(target)) or bars[-1]
    trainer.train()
    assert trainer.step == 25 and bars[-1].postfix == f"loss={trainer.history.loss[-1]:.4f}"
