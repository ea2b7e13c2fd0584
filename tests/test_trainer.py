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
    assert model.config["skip"] == "add" and model.config["residual"] is False and schedule.name == "cosine"
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


def test_history_repr_is_one_line_summary():
    trainer = toy_trainer(steps=60)
    assert repr(trainer.history) == "History(no steps yet)"
    h = trainer.train()
    text = repr(h)
    assert "\n" not in text and len(text) < 120, "a cell ending in trainer.train() must not print every loss"
    assert text == f"History(60 steps up to step 60, mean loss of the last 50: {sum(h.loss[-50:]) / 50:.4f})"
