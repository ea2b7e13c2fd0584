"""Issue 12, item 4: a run stopped anywhere inside a step and resumed equals an uninterrupted run, bit for bit."""

import os
import signal

import pytest
import torch

from course_lib import NoiseSchedule
from course_lib.data import make_toy_2d
from course_lib.mlp_denoiser import MLPDenoiser
from course_lib.trainer import TrainConfig, Trainer

STEPS = 24


def make(**kw):
    torch.manual_seed(0)
    cfg = TrainConfig(steps=STEPS, batch_size=32, lr=3e-3, log_every=4, seed=5)
    return Trainer(MLPDenoiser(hidden=16, depth=1), NoiseSchedule.make("linear", 50), make_toy_2d("moons", 256),
                   cfg, device="cpu", progress=False, **kw)


@pytest.fixture(scope="module")
def uninterrupted():
    trainer = make()
    trainer.train()
    return trainer


def counting(original, at, action):
    """Wrap ``original``: on call number ``at`` (1-based) do ``action()`` first."""
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] in at:
            action()
        return original(*args, **kwargs)

    return wrapper


def raise_interrupt():
    raise KeyboardInterrupt


def send(sig):
    return lambda: os.kill(os.getpid(), sig)


# (name, install(trainer, monkeypatch)): each stops the run somewhere inside step 10 or 11 (1-based)
INJECTIONS = {
    "KeyboardInterrupt drawing the batch indices": lambda tr, mp: mp.setattr(
        torch, "randint", counting(torch.randint, {2 * 10 + 1}, raise_interrupt)),
    "KeyboardInterrupt drawing t": lambda tr, mp: mp.setattr(
        torch, "randint", counting(torch.randint, {2 * 10 + 2}, raise_interrupt)),
    "KeyboardInterrupt drawing the noise": lambda tr, mp: mp.setattr(
        torch, "randn", counting(torch.randn, {11}, raise_interrupt)),
    "KeyboardInterrupt in the forward pass": lambda tr, mp: mp.setattr(
        tr.model, "forward", counting(tr.model.forward, {11}, raise_interrupt)),
    "KeyboardInterrupt in the backward pass": lambda tr, mp: tr.model.out.weight.register_hook(
        counting(lambda g: None, {11}, raise_interrupt)),
    "KeyboardInterrupt clipping the gradient": lambda tr, mp: mp.setattr(
        torch.nn.utils, "clip_grad_norm_", counting(torch.nn.utils.clip_grad_norm_, {11}, raise_interrupt)),
    "SIGINT in the forward pass": lambda tr, mp: mp.setattr(
        tr.model, "forward", counting(tr.model.forward, {11}, send(signal.SIGINT))),
    "SIGINT in the optimiser step": lambda tr, mp: mp.setattr(
        tr.optimizer, "step", counting(tr.optimizer.step, {11}, send(signal.SIGINT))),
    "SIGINT in the EMA update": lambda tr, mp: mp.setattr(
        tr, "_update_ema", counting(tr._update_ema, {11}, send(signal.SIGINT))),
    "SIGTERM in the backward pass": lambda tr, mp: tr.model.out.weight.register_hook(
        counting(lambda g: None, {11}, send(signal.SIGTERM))),
    "two SIGINTs (the second stops at once) in the forward pass": lambda tr, mp: mp.setattr(
        tr.model, "forward", counting(tr.model.forward, {11}, lambda: (send(signal.SIGINT)(), send(signal.SIGINT)()))),
}


def assert_same_run(a: Trainer, b: Trainer):
    assert a.step == b.step == STEPS
    assert a.history.loss == b.history.loss
    for p, q in zip([*a.model.parameters(), *a.ema_model.parameters()],
                    [*b.model.parameters(), *b.ema_model.parameters()]):
        assert torch.equal(p, q)
    sa, sb = a.optimizer.state_dict()["state"], b.optimizer.state_dict()["state"]
    for k in sa:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(sa[k][name], sb[k][name])


@pytest.mark.parametrize("where", list(INJECTIONS))
def test_stopped_anywhere_and_resumed_equals_uninterrupted(where, uninterrupted, tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    trainer = make(checkpoint_path=path)
    with monkeypatch.context() as mp:
        INJECTIONS[where](trainer, mp)
        trainer.train()
    assert trainer.history.interrupted and trainer.step in (10, 11), (trainer.step, trainer.stop_reason)
    assert len(trainer.history.loss) == trainer.step
    saved = torch.load(path, weights_only=True)
    assert saved["step"] == trainer.step
    resumed = Trainer.from_checkpoint(path, make_toy_2d("moons", 256), device="cpu", progress=False)
    resumed.train()
    assert_same_run(resumed, uninterrupted)
    trainer.train()  # continuing in memory (the notebook's case) gives the same run too
    assert_same_run(trainer, uninterrupted)


def test_a_stop_inside_a_step_restores_signal_handlers(monkeypatch):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    trainer = make()
    monkeypatch.setattr(trainer.model, "forward", counting(trainer.model.forward, {3}, raise_interrupt))
    trainer.train()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert trainer.stop_reason == "KeyboardInterrupt" and trainer.step == 2


def test_dropout_runs_resume_exactly_too(tmp_path, monkeypatch):
    from course_lib import UNet

    data = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1

    def unet_run(**kw):
        torch.manual_seed(0)
        return Trainer(UNet(base_channels=4, dropout=0.3), NoiseSchedule.make("linear", 50), data,
                       TrainConfig(steps=8, batch_size=4, seed=2), device="cpu",
                       progress=False, **kw)

    torch.manual_seed(123)
    full = unet_run()
    full.train()
    path = tmp_path / "d.pt"
    stopped = unet_run(checkpoint_path=path)
    monkeypatch.setattr(stopped.model, "forward", counting(stopped.model.forward, {5}, raise_interrupt))
    stopped.train()
    assert stopped.step == 4
    torch.rand(7)  # the global generator moves on between the two calls: dropout must not depend on it
    resumed = Trainer.from_checkpoint(path, data, device="cpu", progress=False)
    resumed.train()
    assert resumed.history.loss == full.history.loss
    assert all(torch.equal(p, q) for p, q in zip(resumed.model.parameters(), full.model.parameters()))
