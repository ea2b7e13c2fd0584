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


# ----------------------------------------------------------------------------- issue 12: inputs


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64])
def test_integer_images_are_refused_not_turned_into_noise(dtype):
    from course_lib.diffusion import diffusion_loss, q_step

    s = NoiseSchedule.make("linear", 100)
    x = torch.randint(0, 255, (4, 1, 8, 8)).to(dtype)
    t, noise = torch.zeros(4, dtype=torch.long), torch.randn(4, 1, 8, 8)
    with pytest.raises(TypeError, match=rf"x0 has dtype {dtype}; allowed: a floating-point tensor"):
        q_sample(x, t, s, noise=noise)
    with pytest.raises(TypeError, match=rf"x0 has dtype {dtype}"):
        q_sample(x, t, s)
    with pytest.raises(TypeError, match=rf"x_prev has dtype {dtype}"):
        q_step(x, t, s, noise=noise)
    with pytest.raises(TypeError, match=rf"x has dtype {dtype} \(the UNet's input\)"):
        UNet(base_channels=8)(x, t)
    with pytest.raises(TypeError, match=rf"x0 has dtype {dtype}"):
        diffusion_loss(UNet(base_channels=8), x, s)


def test_uint8_hint_names_the_conversion():
    with pytest.raises(TypeError, match=r"x.float\(\) / 127.5 - 1"):
        q_sample(torch.zeros(2, 2, dtype=torch.uint8), torch.tensor([0, 1]), NoiseSchedule.make())


def test_timesteps_must_match_the_batch():
    from course_lib.diffusion import predict_x0

    s = NoiseSchedule.make("linear", 100)
    with pytest.raises(ValueError, match=r"t has shape \[3\] but x has batch size 4"):
        q_sample(torch.zeros(4, 2), torch.tensor([1, 2, 3]), s)
    assert q_sample(torch.zeros(4, 2), torch.tensor(5), s).shape == (4, 2)  # one t for the whole batch
    with pytest.raises(ValueError, match=r"eps has shape \[4, 3\]; it must match x_t's shape \[4, 2\]"):
        predict_x0(torch.zeros(4, 2), torch.tensor([1, 2, 3, 4]), torch.zeros(4, 3), s)


def test_schedule_given_as_a_string():
    from course_lib.diffusion import diffusion_loss, predict_x0

    x, t = torch.zeros(4, 2), torch.tensor([1, 2, 3, 4])
    for call in (lambda: q_sample(x, t, "linear"), lambda: predict_x0(x, t, x, "linear"),
                 lambda: diffusion_loss(lambda a, b: a, x, "linear")):
        with pytest.raises(TypeError, match=r"schedule must be a NoiseSchedule, got str 'linear'; build one with"):
            call()


def test_nan_inputs_are_refused():
    from course_lib.diffusion import diffusion_loss
    from course_lib.mlp_denoiser import MLPDenoiser

    x = torch.randn(2, 1, 8, 8)
    x[1, 0, 2, 3] = float("nan")
    with pytest.raises(ValueError, match=r"x \(the UNet's input\) holds 1 NaN or infinite value\(s\), the first at "
                                         r"index \(1, 0, 2, 3\)"):
        UNet(base_channels=8)(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"x0 \(the training data\) holds 1 NaN"):
        diffusion_loss(UNet(base_channels=8), x, NoiseSchedule.make("linear", 10))
    with pytest.raises(ValueError, match=r"holds 1 NaN or infinite"):
        MLPDenoiser()(torch.tensor([[0.0, float("inf")]]), torch.tensor([0]))


def test_a_one_dimensional_time_embedding_is_refused():
    from course_lib.mlp_denoiser import MLPDenoiser

    with pytest.raises(ValueError, match=r"base_channels=1 is not allowed; base_channels must be >= 2"):
        UNet(base_channels=1)
    with pytest.raises(ValueError, match=r"t_dim=1 is not allowed"):
        MLPDenoiser(t_dim=1)
    net = UNet(base_channels=2, zero_init=False)  # the smallest allowed width does depend on t
    x = torch.randn(2, 1, 8, 8)
    assert not torch.equal(net(x, torch.tensor([0, 0])), net(x, torch.tensor([50, 99])))


def test_leading_spacing_far_from_pure_noise_warns():
    import warnings

    from course_lib import ddim_timesteps

    with pytest.warns(UserWarning, match=r"num_steps=600 and spacing='leading' starts at t=599.*spacing='trailing'"):
        ddim_timesteps(1000, 600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for steps in (10, 20, 50, 100, 250, 500, 1000):
            ddim_timesteps(1000, steps)
        assert ddim_timesteps(1000, 600, "trailing")[0] == 999
