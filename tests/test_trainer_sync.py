"""A training step never reads a value back from the device: counted on the CPU, where a host read is a method
call on a tensor. A non-finite loss found only at the next read still leaves the last good state."""

import pytest
import torch

from course_lib import NoiseSchedule
from course_lib.data import load_digits, make_toy_2d
from course_lib.mlp_denoiser import MLPDenoiser
from course_lib.trainer import TrainConfig, Trainer
from course_lib.unet import UNet

HOST_READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__")


def counted(monkeypatch) -> dict[str, int]:
    calls = dict.fromkeys(HOST_READS, 0)
    for name in HOST_READS:
        original = getattr(torch.Tensor, name)

        def wrapper(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapper)
    return calls


@pytest.mark.parametrize("make", [
    lambda: Trainer(UNet(base_channels=8), NoiseSchedule.make("linear", 1000), load_digits(split="train")[:256],
                    TrainConfig(batch_size=16, log_every=1000), device="cpu", progress=False),
    lambda: Trainer(MLPDenoiser(hidden=32, depth=2), NoiseSchedule.make("linear", 100), make_toy_2d("moons", 256),
                    TrainConfig(batch_size=32, log_every=1000, amp="bf16"), device="cpu", progress=False),
], ids=["unet", "mlp-bf16"])
def test_a_training_step_reads_nothing_from_the_device(make, monkeypatch):
    trainer = make()
    trainer._train_step()  # warm-up outside the count
    calls = counted(monkeypatch)
    for _ in range(10):
        trainer._train_step()
    assert sum(calls.values()) == 0, calls
    monkeypatch.undo()
    trainer._flush()  # the read happens here, once per log point
    assert trainer.step == len(trainer.history.loss) == 11
    assert sum(trainer.history.count_by_t) == 11 * trainer.config.batch_size


def toy(steps=40):
    torch.manual_seed(0)
    return Trainer(MLPDenoiser(hidden=32, depth=2), NoiseSchedule.make("linear", 100), make_toy_2d("moons", 256),
                   TrainConfig(steps=steps, batch_size=32, log_every=25), device="cpu", progress=False)


def test_a_nan_found_at_the_next_read_leaves_the_state_of_the_last_good_step():
    stopped = toy()
    stopped.train(steps=12)
    stopped.data[:] = float("nan")  # the next batch gives a NaN loss; it is read only at step 25
    with pytest.raises(FloatingPointError, match="at step 12"):
        stopped.train()
    good = toy()
    good.train(steps=12)
    assert stopped.step == good.step == 12 and stopped.history.loss == good.history.loss
    assert len(stopped.history.time_s) == 12 and stopped.history.count_by_t == good.history.count_by_t
    for p, q in zip([*stopped.model.parameters(), *stopped.ema_model.parameters()],
                    [*good.model.parameters(), *good.ema_model.parameters()]):
        assert torch.equal(p, q)
    assert torch.equal(stopped.ema.n_averaged, good.ema.n_averaged)
    assert torch.equal(stopped.generator.get_state(), good.generator.get_state())
    sa, sb = stopped.optimizer.state_dict()["state"], good.optimizer.state_dict()["state"]
    assert all(torch.equal(sa[k][n], sb[k][n]) for k in sa for n in ("exp_avg", "exp_avg_sq", "step"))
    # with the data repaired, the run continues exactly as an uninterrupted one would
    stopped.data.copy_(make_toy_2d("moons", 256))
    stopped.train(steps=20)
    good.train(steps=20)
    assert stopped.history.loss == good.history.loss
