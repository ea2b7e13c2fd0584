"""A training step never reads a value back from the device: counted on the CPU, where a host read is a method
call on a tensor. A non-finite loss found only at the next read still leaves the last good state."""

import contextlib

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from course_lib import NoiseSchedule
from course_lib.data import load_digits, make_toy_2d
from course_lib.mlp_denoiser import MLPDenoiser
from course_lib.trainer import TrainConfig, Trainer
from course_lib.unet import UNet

HOST_READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__")
# every host read inside PyTorch ends in one of these operators, also where no Python method is called (a 0-dim
# tensor passed where a number is expected, for instance)
READING_OPS = ("aten::_local_scalar_dense", "aten::nonzero", "aten::equal", "aten::is_nonzero")


class ReadingOps(TorchDispatchMode):
    def __init__(self, calls: dict[str, int]):
        super().__init__()
        self.calls = calls

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name
        if name in READING_OPS:
            self.calls[name] = self.calls.get(name, 0) + 1
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def counted(monkeypatch):
    """Count host reads inside the block: Python's tensor methods and PyTorch's reading operators."""
    calls = dict.fromkeys(HOST_READS, 0)
    for name in HOST_READS:
        original = getattr(torch.Tensor, name)

        def wrapper(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapper)
    try:
        with ReadingOps(calls):
            yield calls
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("make", [
    lambda: Trainer(UNet(base_channels=8), NoiseSchedule.make("linear", 1000), load_digits(split="train")[:256],
                    TrainConfig(batch_size=16, log_every=1000), device="cpu", progress=False),
    lambda: Trainer(MLPDenoiser(hidden=32, depth=2), NoiseSchedule.make("linear", 100), make_toy_2d("moons", 256),
                    TrainConfig(batch_size=32, log_every=1000, amp="bf16"), device="cpu", progress=False),
    lambda: Trainer(UNet(base_channels=8), NoiseSchedule.make("cosine", 100), load_digits(split="train")[:256],
                    TrainConfig(batch_size=16, log_every=1000, amp="fp16"), device="cpu", progress=False),
], ids=["unet", "mlp-bf16", "unet-fp16-scaler"])
def test_a_training_step_reads_nothing_from_the_device(make, monkeypatch):
    trainer = make()
    trainer._train_step()  # warm-up outside the count
    with counted(monkeypatch) as calls:
        for _ in range(10):
            trainer._train_step()
    assert sum(calls.values()) == 0, calls
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


def state_of(trainer) -> list[torch.Tensor]:
    return [t.detach().clone() for t in trainer._state_tensors()]


@pytest.mark.parametrize("amp", [False, "fp16"])
@pytest.mark.parametrize("before", [0, 5], ids=["fresh", "mid-run"])
def test_steps_run_inside_undone_leave_no_trace(amp, before):
    """The CUDA graph's warm-up runs three real steps and undoes them in place (``_undone``): the run that
    follows is the one a trainer that never warmed up gives, bit for bit (checked here on the CPU)."""
    def make():
        torch.manual_seed(0)
        return Trainer(UNet(base_channels=8), NoiseSchedule.make("linear", 100), load_digits(split="train")[:256],
                       TrainConfig(batch_size=16, log_every=5, amp=amp), device="cpu", progress=False)

    plain, warmed = make(), make()
    if before:
        plain.train(steps=before)
        warmed.train(steps=before)
    rng = warmed.generator.get_state()
    warmed._draw()
    with warmed._undone():
        for _ in range(3):
            warmed.optimizer.zero_grad(set_to_none=True)
            warmed._forward_backward()
            warmed._update()
        assert any(not torch.equal(a, b) for a, b in zip(state_of(warmed), state_of(plain)))
    warmed.generator.set_state(rng)
    for a, b in zip(state_of(warmed), state_of(plain)):
        assert torch.equal(a, b)
    plain.train(steps=before + 10)
    warmed.train(steps=before + 10)
    assert warmed.history.loss == plain.history.loss
    for a, b in zip(state_of(warmed), state_of(plain)):
        assert torch.equal(a, b)


def test_sampling_reads_nothing_from_the_device(monkeypatch):
    """DDPM and DDIM steps (the model included) read no tensor value on the host: on a GPU each would wait."""
    from course_lib.samplers import DDIMSampler, DDPMSampler

    torch.manual_seed(0)
    model = UNet(base_channels=8).eval()
    schedule = NoiseSchedule.make("linear", 20)
    for sampler in (DDPMSampler(schedule), DDIMSampler(schedule, 10, eta=0.5), DDIMSampler(schedule, 10, eta=0.0)):
        sampler.sample(model, (4, 1, 8, 8))  # warm-up outside the count
        with counted(monkeypatch) as calls:
            sampler.sample(model, (4, 1, 8, 8), generator=torch.Generator().manual_seed(0))
        assert sum(calls.values()) == 0, (type(sampler).__name__, calls)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def digits_trainer(**config) -> Trainer:
    torch.manual_seed(0)
    return Trainer(UNet(base_channels=16), NoiseSchedule.make("linear", 1000), load_digits(split="train"),
                   TrainConfig(batch_size=64, log_every=10, **config), device="cuda", progress=False)


@cuda
@pytest.mark.parametrize("amp", [True, False, "fp16"])
def test_the_captured_step_trains_as_the_eager_step_does(amp):
    graphed, eager = digits_trainer(amp=amp), digits_trainer(amp=amp, cuda_graph=False)
    graphed.train(steps=30)
    eager.train(steps=30)
    assert graphed._graph is not None and eager._graph is None
    assert graphed.history.loss == pytest.approx(eager.history.loss, rel=1e-3, abs=1e-4)
    assert graphed.history.count_by_t == eager.history.count_by_t  # the same draws
    for p, q in zip(graphed.ema_model.parameters(), eager.ema_model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-4)


@cuda
@pytest.mark.parametrize("cuda_graph", [True, False])
def test_no_step_synchronises_with_the_gpu(cuda_graph):
    """``set_sync_debug_mode("error")`` raises on any operation that makes the host wait for the GPU."""
    from course_lib.samplers import DDIMSampler, DDPMSampler

    trainer = digits_trainer(cuda_graph=cuda_graph)
    trainer._train_step()  # capture (or warm-up) outside
    samplers = (DDPMSampler(NoiseSchedule.make("linear", 50)), DDIMSampler(trainer.schedule, 10, eta=1.0))

    def sample_all():
        for sampler in samplers:
            sampler.sample(trainer.ema_model.eval(), (8, 1, 8, 8), device="cuda",
                           generator=torch.Generator().manual_seed(0))

    sample_all()  # outside: moving each schedule to the GPU once copies (and waits)
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(5):
            trainer._train_step()
        sample_all()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    trainer._flush()
    assert trainer.step == len(trainer.history.loss) == 6


@cuda
def test_a_nan_on_the_gpu_stops_with_the_state_of_the_last_good_step():
    graphed = digits_trainer()
    graphed.train(steps=12)
    good = [p.detach().clone() for p in graphed.model.parameters()]
    graphed.data[:] = float("nan")
    with pytest.raises(FloatingPointError, match="at step 12"):
        graphed.train(steps=20)
    assert graphed.step == 12
    for p, q in zip(graphed.model.parameters(), good):
        assert torch.equal(p, q)


def test_where_capture_fails_training_goes_on_eagerly_with_a_warning_and_loses_nothing():
    """Forced on the CPU, capturing fails (no CUDA): one warning saying why, then the eager run, bit for bit."""
    def make():
        torch.manual_seed(0)
        return Trainer(UNet(base_channels=8), NoiseSchedule.make("linear", 100), load_digits(split="train")[:256],
                       TrainConfig(batch_size=16, log_every=5), device="cpu", progress=False)

    eager, failed = make(), make()
    failed._use_graph = True
    with pytest.warns(RuntimeWarning, match="without a CUDA graph"):
        failed.train(steps=10)
    eager.train(steps=10)
    assert failed._graph is None and not failed._use_graph
    assert failed.history.loss == eager.history.loss
    for a, b in zip(state_of(failed), state_of(eager)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("capability, dtype, scaler", [((7, 5), torch.float16, True), ((8, 0), torch.bfloat16, False),
                                                       ((9, 0), torch.bfloat16, False)], ids=["T4", "A100", "H100"])
def test_mixed_precision_uses_bfloat16_only_where_the_gpu_has_it(capability, dtype, scaler, monkeypatch):
    """On a T4 (compute capability 7.5) bfloat16 is emulated and slow: float16 with a loss scaler instead."""
    from course_lib.trainer import amp_settings

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert amp_settings(True, torch.device("cuda")) == (True, dtype, scaler)
    assert amp_settings(True, torch.device("cpu")) == (False, torch.float32, False)  # automatic: CUDA only
    assert amp_settings("fp16", torch.device("cpu")) == (True, torch.float16, True)


@pytest.mark.parametrize("amp", [False, "fp16"])
def test_after_a_non_finite_loss_no_update_happens_until_the_read(amp):
    """The flag is sticky: finite batches after the bad one update nothing (float16's scaler included), so the read
    rewinds to the state of the last good step."""
    def make():
        torch.manual_seed(0)
        return Trainer(MLPDenoiser(hidden=32, depth=2), NoiseSchedule.make("linear", 100), make_toy_2d("moons", 256),
                       TrainConfig(batch_size=32, log_every=1000, amp=amp), device="cpu", progress=False)

    stopped, good = make(), make()
    stopped.train(steps=5)
    good.train(steps=5)
    clean = stopped.data.clone()
    stopped.data[:] = float("nan")
    stopped._train_step()  # step 6: non-finite loss, not read yet
    stopped.data.copy_(clean)
    for _ in range(3):
        stopped._train_step()  # finite batches: must change nothing
    with pytest.raises(FloatingPointError, match="at step 5"):
        stopped._flush()
    assert stopped.step == 5
    for p, q in zip([*stopped.model.parameters(), *stopped.ema_model.parameters()],
                    [*good.model.parameters(), *good.ema_model.parameters()]):
        assert torch.equal(p, q)


def test_a_float16_step_stopped_after_unscaling_does_not_block_the_next(monkeypatch):
    """A Ctrl-C between the scaler's ``unscale_`` and ``update`` would leave it refusing every later step."""
    def make():
        torch.manual_seed(0)
        return Trainer(MLPDenoiser(hidden=32, depth=2), NoiseSchedule.make("linear", 100), make_toy_2d("moons", 256),
                       TrainConfig(batch_size=32, log_every=5, amp="fp16"), device="cpu", progress=False)

    stopped, good = make(), make()
    clip = torch.nn.utils.clip_grad_norm_
    calls = {"n": 0}

    def interrupted_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return clip(*args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", interrupted_once)
    stopped.train(steps=10)  # stops at step 3 (the interrupt is kept: history.interrupted)
    assert stopped.step == 3 and stopped.history.interrupted
    stopped.train(steps=10)
    good.train(steps=10)
    assert stopped.history.loss == good.history.loss
