"""Every bad input gets an error that names the argument, the value and what is allowed."""

import pytest
import torch

from course_lib import (
    DDIMSampler,
    DeepMLP,
    NoiseSchedule,
    UNet,
    get_device,
    q_sample,
)


def test_image_size_not_divisible_by_depth():
    with pytest.raises(ValueError, match=r"image size 28x28 is not divisible by 2\*\*depth = 8.*depth = len"):
        UNet(channel_mults=(1, 2, 2, 2))(torch.randn(1, 1, 28, 28), torch.tensor([0]))


def test_unknown_schedule_and_skip_mode():
    with pytest.raises(ValueError, match=r"schedule='cosin' is not supported; allowed: 'linear', 'cosine'"):
        NoiseSchedule.make("cosin")
    with pytest.raises(ValueError, match=r"skip='residual' is not supported; allowed: 'concat', 'add', 'none'"):
        UNet(skip="residual")
    with pytest.raises(ValueError, match=r"activation='softmax'.*'sigmoid'"):
        DeepMLP(activation="softmax")
    with pytest.raises(ValueError, match=r"prefer='tpu'"):
        get_device("tpu")


@pytest.mark.parametrize("bad", [-1, 1000, 5000])
def test_t_out_of_range(bad):
    s = NoiseSchedule.make("linear", 1000)
    with pytest.raises(ValueError, match=rf"t holds values in \[{bad}, {bad}\]; allowed: integers in \[0, 1000\)"):
        q_sample(torch.zeros(1, 2), torch.tensor([bad]), s)


def test_float_timesteps_rejected():
    with pytest.raises(ValueError, match="integer timesteps"):
        q_sample(torch.zeros(1, 2), torch.tensor([0.5]), NoiseSchedule.make())


def test_wrong_rank_and_channels():
    net = UNet(in_channels=1)
    with pytest.raises(ValueError, match=r"x has shape \[8, 8\] \(2 dims\); expected 4 dims \[B, C, H, W\]"):
        net(torch.randn(8, 8), torch.tensor([0]))
    with pytest.raises(ValueError, match="x has 3 channels; this UNet expects in_channels=1"):
        net(torch.randn(1, 3, 8, 8), torch.tensor([0]))
    with pytest.raises(ValueError, match="t has 2 entries but x has batch size 1"):
        net(torch.randn(1, 1, 8, 8), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="x has 10 features; this DeepMLP expects in_features=64"):
        DeepMLP()(torch.randn(2, 10))
    with pytest.raises(ValueError, match="noise has shape"):
        q_sample(torch.zeros(2, 2), torch.tensor([0, 0]), NoiseSchedule.make(), noise=torch.zeros(3))


@pytest.mark.parametrize("steps", [0, -5, 2.5])
def test_non_positive_step_counts(steps):
    with pytest.raises(ValueError, match=rf"num_steps={steps!r} is not allowed; num_steps must be a positive integer"):
        DDIMSampler(NoiseSchedule.make(), num_steps=steps)
    with pytest.raises(ValueError, match=rf"T={steps!r} is not allowed"):
        NoiseSchedule.make("linear", T=steps)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="num_steps=2000 is not allowed; it must be at most T=1000"):
        DDIMSampler(NoiseSchedule.make(), num_steps=2000)
    with pytest.raises(ValueError, match=r"eta=1.5 is not allowed; eta must lie in \[0, 1\]"):
        DDIMSampler(NoiseSchedule.make(), eta=1.5)
    with pytest.raises(ValueError, match=r"channel_mults=\(1, 0\)"):
        UNet(channel_mults=(1, 0))
    with pytest.raises(ValueError, match="depth=0 is not allowed"):
        DeepMLP(depth=0)
