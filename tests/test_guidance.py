"""Class-conditional U-Net and classifier-free guidance (notebook 08): label dropout, the guided combination, the
batched forward, unconditional behaviour unchanged, the trainer with labels and the command line's errors."""

import pytest
import torch

from course_lib import UNet
from course_lib.__main__ import main
from course_lib.data import load_digits
from course_lib.guidance import Guided, drop_labels, guide
from course_lib.samplers import DDIMSampler, DDPMSampler
from course_lib.schedules import NoiseSchedule
from course_lib.trainer import TrainConfig, Trainer


def conditional(label_at="blocks", seed=0):
    torch.manual_seed(seed)
    # zero_init=False: a fresh model's residual branches are not 0, so the label (which enters them) matters
    return UNet(base_channels=8, num_classes=10, label_at=label_at, zero_init=False).eval()


def noisy_batch(n=6, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 8, 8, generator=gen), torch.randint(0, 1000, (n,), generator=gen)


# ------------------------------------------------------------------ the pieces
def test_drop_labels_drops_at_the_rate_asked():
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (200_000,), generator=gen)
    for p in (0.0, 0.1, 0.5, 1.0):
        u = torch.rand(len(y), generator=gen)
        shown = drop_labels(y, u, p, null_label=10)
        dropped = (shown == 10).float().mean().item()
        assert abs(dropped - p) < 4 * (p * (1 - p) / len(y)) ** 0.5 + 1e-9, (p, dropped)
        kept = shown != 10
        assert torch.equal(shown[kept], y[kept])  # a label is either kept as it was or replaced by the null one


def test_guide_equals_the_hand_computed_combination_and_the_papers_form():
    eps_c, eps_u = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.5, 1.0, 0.5])
    assert torch.equal(guide(eps_c, eps_u, 3.0), torch.tensor([2.0, -8.0, 0.5]))  # 0.5 + 3 * 0.5, 1 + 3 * -3, ...
    assert torch.equal(guide(eps_c, eps_u, 0.0), eps_u)  # scale 0: the unconditional prediction
    assert torch.equal(guide(eps_c, eps_u, 1.0), eps_c)  # scale 1: the conditional prediction
    w = 2.0  # Ho & Salimans, Eq. 6: (1 + w) eps_cond - w eps_uncond, with w = scale - 1
    assert torch.allclose(guide(eps_c, eps_u, w + 1), (1 + w) * eps_c - w * eps_u)


@pytest.mark.parametrize("label_at", ["blocks", "input"])
def test_the_batched_forward_equals_two_forwards(label_at):
    model = conditional(label_at)
    x, t = noisy_batch()
    y = torch.full((6,), 7)
    with torch.no_grad():
        batched = Guided(model, 7, 2.5)(x, t)
        apart = guide(model(x, t, y), model(x, t, torch.full((6,), model.null_label)), 2.5)
    assert torch.allclose(batched, apart, atol=1e-5), (batched - apart).abs().max()
    assert not torch.allclose(model(x, t, y), model(x, t)), "the label changes nothing: conditioning is not wired"


@pytest.mark.parametrize("scale", [0.0, 1.0])
def test_at_scales_0_and_1_one_pass_gives_the_guided_estimate(scale):
    """There the guided estimate is one of the two (the unconditional, the conditional one): one forward pass of
    the batch, equal to what the two passes combine to, for one label and for a label per sample."""
    model = conditional()
    x, t = noisy_batch()
    calls = []
    model.register_forward_hook(lambda m, args, out: calls.append(len(args[0])))
    for label in (7, torch.tensor([0, 1, 2, 3, 4, 5])):
        y = torch.as_tensor(label).expand(6)
        calls.clear()
        with torch.no_grad():
            one_pass = Guided(model, label, scale)(x, t)
            assert calls == [6], calls  # one pass over the batch: not two, not one over the batch twice
            both = guide(model(x, t, y), model(x, t, torch.full((6,), model.null_label)), scale)
        assert torch.allclose(one_pass, both, atol=1e-6), (one_pass - both).abs().max()


def test_no_label_is_the_null_label():
    model = conditional()
    x, t = noisy_batch()
    with torch.no_grad():
        assert torch.equal(model(x, t), model(x, t, torch.full((6,), 10)))


def test_the_label_reaches_every_res_block_only_with_label_at_blocks():
    """``blocks``: each ResBlock's embedding input depends on y; ``input``: it depends on t alone."""
    x, t = noisy_batch(n=2)
    t = torch.tensor([500, 500])
    for label_at, differs in (("blocks", True), ("input", False)):
        model, seen = conditional(label_at), []
        for module in model.modules():
            if type(module).__name__ == "ResBlock":
                module.register_forward_hook(lambda m, args, out, seen=seen: seen.append(args[1].detach().clone()))
        with torch.no_grad():
            model(x, t, torch.tensor([3, 8]))
        assert seen and all(torch.equal(e[0], e[1]) != differs for e in seen), label_at


# ------------------------------------------------------------------ the unconditional model is unchanged
def test_an_unconditional_unet_has_no_label_weights_and_the_same_checkpoint_fields():
    torch.manual_seed(0)
    plain = UNet(base_channels=8)
    torch.manual_seed(0)
    cond = UNet(base_channels=8, num_classes=10)
    assert not any("label" in k for k in plain.state_dict())
    assert "num_classes" not in plain.config.to_dict() and cond.config.to_dict()["num_classes"] == 10
    # the conditional model's label embedding is made last: every other weight is drawn exactly as before
    for name, value in plain.state_dict().items():
        assert torch.equal(value, cond.state_dict()[name]), name


def test_an_unconditional_trainer_draws_what_it_drew_before_labels_existed():
    """Without labels a step draws the batch, t and the noise and nothing else (no label-dropout draw)."""
    x = load_digits(split="train")[:64]
    trainer = Trainer(UNet(base_channels=8), NoiseSchedule.make("linear", 100), x,
                      TrainConfig(batch_size=16, amp=False), device="cpu", progress=False)
    gen = torch.Generator().manual_seed(trainer.config.seed)
    trainer._draw()
    idx = torch.randint(0, 64, (16,), generator=gen)
    t = torch.randint(0, 100, (16,), generator=gen)
    noise = torch.randn(16, 1, 8, 8, generator=gen)
    assert torch.equal(trainer._idx, idx) and torch.equal(trainer._t, t) and torch.equal(trainer._noise, noise)
    assert torch.equal(trainer.generator.get_state(), gen.get_state())


def test_sampling_without_a_label_is_the_plain_loop():
    torch.manual_seed(0)
    model = UNet(base_channels=8).eval()
    sampler = DDIMSampler(NoiseSchedule.make("linear", 100), num_steps=5)
    a = sampler.sample(model, (3, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for t in sampler.timesteps:
            x, _ = sampler.step(model(x, torch.full((3,), t)), t, x)
    assert torch.equal(a, x)


# ------------------------------------------------------------------ training with labels
def digits_trainer(steps=6, p_uncond=0.3, **kwargs):
    x, y = load_digits(split="train", return_labels=True)
    torch.manual_seed(0)
    return Trainer(UNet(base_channels=8, num_classes=10), NoiseSchedule.make("linear", 100), x[:128],
                   TrainConfig(steps=steps, batch_size=32, log_every=2, p_uncond=p_uncond, amp=False), device="cpu",
                   progress=False, labels=y[:128], **kwargs)


def test_the_trainer_shows_labels_dropped_at_p_uncond():
    trainer = digits_trainer(steps=40, p_uncond=0.25)
    shown = []
    forward = trainer.model.forward

    def spy(x, t, y=None):
        shown.append(y.clone())
        return forward(x, t, y)

    trainer._net = spy
    trainer.train()
    shown = torch.cat(shown)
    dropped = (shown == 10).float().mean().item()
    assert len(shown) == 40 * 32 and abs(dropped - 0.25) < 4 * (0.25 * 0.75 / len(shown)) ** 0.5, dropped
    assert set(shown[shown != 10].tolist()) <= set(range(10))


def test_a_conditional_run_resumes_exactly(tmp_path):
    whole = digits_trainer(steps=6)
    whole.train()
    half = digits_trainer(steps=3, checkpoint_path=tmp_path / "c.pt")
    half.train()
    x, y = load_digits(split="train", return_labels=True)
    resumed = Trainer.from_checkpoint(tmp_path / "c.pt", x[:128], device="cpu", progress=False, labels=y[:128])
    resumed.train(steps=6)
    assert resumed.history.loss == whole.history.loss
    for p, q in zip(resumed.ema_model.parameters(), whole.ema_model.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("case, message", [
    ("labels for an unconditional model", "the model is unconditional"),
    ("no labels for a conditional model", "give the labels of the data too"),
    ("a label out of range", "labels run from 0 to 10; this model takes 0..9"),
    ("float labels", "labels must be an integer tensor of shape [128]"),
    ("p_uncond above 1", "p_uncond=1.5 is not allowed"),
])
def test_bad_training_labels_are_refused_clearly(case, message):
    x, y = load_digits(split="train", return_labels=True)
    x, y = x[:128], y[:128]
    schedule = NoiseSchedule.make("linear", 100)
    with pytest.raises(ValueError, match=None) as err:
        if case == "labels for an unconditional model":
            Trainer(UNet(base_channels=8), schedule, x, device="cpu", labels=y)
        elif case == "no labels for a conditional model":
            Trainer(UNet(base_channels=8, num_classes=10), schedule, x, device="cpu")
        elif case == "a label out of range":
            Trainer(UNet(base_channels=8, num_classes=10), schedule, x, device="cpu", labels=y.clamp(max=9) + (y == 9))
        elif case == "float labels":
            Trainer(UNet(base_channels=8, num_classes=10), schedule, x, device="cpu", labels=y.float())
        else:
            TrainConfig(p_uncond=1.5)
    assert message in str(err.value)


@pytest.mark.parametrize("call, message", [
    (lambda s, m, c: s.sample(m, (2, 1, 8, 8), label=7), "need a class-conditional model"),
    (lambda s, m, c: s.sample(c, (2, 1, 8, 8), label=10), "label=10 is not allowed; this model draws labels 0..9"),
    (lambda s, m, c: s.sample(c, (2, 1, 8, 8), label=3, guidance=-1.0), "guidance=-1.0 is not allowed"),
    (lambda s, m, c: s.sample(c, (2, 1, 8, 8), guidance=3.0), "needs a label to guide towards"),
    (lambda s, m, c: s.sample(c, (2, 1, 8, 8), label=torch.tensor([1, 2, 3])), "give one label, or one per sample"),
])
def test_bad_sampling_requests_are_refused_clearly(call, message):
    sampler = DDPMSampler(NoiseSchedule.make("linear", 10))
    with pytest.raises(ValueError) as err:
        call(sampler, UNet(base_channels=8), conditional())
    assert message in str(err.value)


def test_one_label_per_sample_draws_each_its_own():
    model, sampler = conditional(), DDIMSampler(NoiseSchedule.make("linear", 100), num_steps=4)
    def gen():
        return torch.Generator().manual_seed(0)

    mixed = sampler.sample(model, (2, 1, 8, 8), generator=gen(), label=torch.tensor([3, 8]), guidance=2.0)
    threes = sampler.sample(model, (2, 1, 8, 8), generator=gen(), label=3, guidance=2.0)
    eights = sampler.sample(model, (2, 1, 8, 8), generator=gen(), label=8, guidance=2.0)
    assert torch.allclose(mixed[0], threes[0], atol=1e-5) and torch.allclose(mixed[1], eights[1], atol=1e-5)


# ------------------------------------------------------------------ the command line
def test_cli_trains_conditionally_and_samples_a_label(tmp_path, capsys):
    ckpt = tmp_path / "c.pt"
    args = ["train", "--dataset", "digits", "--conditional", "--base-channels", "8", "--T", "20", "--batch-size",
            "8", "--device", "cpu", "--quiet", "--out", str(ckpt)]
    assert main([*args, "--steps", "2"]) == 0
    assert main([*args, "--steps", "3", "--resume"]) == 0
    saved = torch.load(ckpt, weights_only=True)
    assert saved["step"] == 3 and saved["model"]["config"]["num_classes"] == 10
    assert main(["sample", "--checkpoint", str(ckpt), "--label", "7", "--guidance", "3", "--steps", "4", "--n", "5",
                 "--out", str(tmp_path / "s")]) == 0
    assert torch.load(tmp_path / "s.pt", weights_only=True).shape == (5, 1, 8, 8)
    capsys.readouterr()
    for extra, message in ((["--label", "10"], "--label 10 is not allowed; this checkpoint draws labels 0..9"),
                           (["--guidance", "2"], "--guidance 2.0 needs --label")):
        assert main(["sample", "--checkpoint", str(ckpt), *extra, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


def test_cli_refuses_guidance_on_an_unconditional_checkpoint_and_labels_for_points(tmp_path, capsys):
    ckpt = tmp_path / "u.pt"
    assert main(["train", "--dataset", "digits", "--base-channels", "8", "--T", "20", "--batch-size", "8",
                 "--steps", "1", "--device", "cpu", "--quiet", "--out", str(ckpt)]) == 0
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(ckpt), "--label", "7", "--guidance", "3", "--out",
                 str(tmp_path / "x")]) == 2
    assert "need a class-conditional checkpoint (train --conditional)" in capsys.readouterr().err
    assert main(["train", "--dataset", "moons", "--conditional", "--out", str(tmp_path / "m.pt")]) == 2
    assert "--conditional needs a dataset with labels" in capsys.readouterr().err
    assert main(["train", "--p-uncond", "0.2", "--out", str(tmp_path / "p.pt")]) == 2
    assert "--p-uncond 0.2 needs --conditional" in capsys.readouterr().err
