import math

import pytest
import torch

from course_lib.schedules import SCHEDULES, NoiseSchedule, cosine_alpha_bar


@pytest.mark.parametrize("name", SCHEDULES)
@pytest.mark.parametrize("T", [10, 50, 1000])
def test_alpha_bar_strictly_decreasing_inside_unit_interval(name, T):
    s = NoiseSchedule.make(name, T)
    ab = s.alpha_bar
    assert ab.shape == (T,)
    assert torch.all(ab > 0) and torch.all(ab < 1)
    assert torch.all(ab[1:] < ab[:-1])
    assert torch.allclose(s.alphas, 1 - s.betas)
    assert ab[-1] < 0.01, "x_{T-1} must be close to pure noise whatever T"


def test_linear_matches_ho_et_al_values():
    s = NoiseSchedule.make("linear", 1000)
    assert s.betas[0] == pytest.approx(1e-4) and s.betas[-1] == pytest.approx(0.02)
    # values asserted in diffusers' own test suite
    assert s.alpha_bar[0].item() == pytest.approx(0.9999, rel=1e-6)
    assert s.alpha_bar[499].item() == pytest.approx(0.078587, rel=1e-4)
    assert s.alpha_bar[999].item() == pytest.approx(4.036e-5, rel=1e-3)
    assert s.posterior_variance[487].item() == pytest.approx(0.00979, rel=1e-3)


def test_cosine_matches_its_formula():
    T = 1000
    s = NoiseSchedule.make("cosine", T)
    t = torch.arange(T, dtype=torch.float64)
    expected = cosine_alpha_bar(t + 1, T) / cosine_alpha_bar(torch.zeros(1, dtype=torch.float64), T)
    unclipped = s.betas < 0.999
    assert torch.allclose(s.alpha_bar[unclipped], expected[unclipped], rtol=1e-10)
    assert s.betas[0].item() == pytest.approx(4.128e-5, rel=1e-3)
    assert s.alpha_bar[499].item() == pytest.approx(0.4938, abs=1e-4)


def test_log_snr_is_log_of_signal_to_noise():
    s = NoiseSchedule.make("cosine", 200)
    ab = s.alpha_bar
    assert torch.allclose(s.log_snr, torch.log(ab / (1 - ab)))
    assert torch.all(s.log_snr[1:] < s.log_snr[:-1])


@pytest.mark.parametrize("name", ["linear", "cosine", "quadratic"])
def test_schedules_equal_diffusers(name):
    diffusers = pytest.importorskip("diffusers")
    their = {"linear": "linear", "cosine": "squaredcos_cap_v2", "quadratic": "scaled_linear"}[name]
    ref = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule=their)
    s = NoiseSchedule.make(name, 1000)
    assert torch.allclose(s.betas.float(), ref.betas, rtol=1e-5, atol=1e-8)
    assert torch.allclose(s.alpha_bar.float(), ref.alphas_cumprod, rtol=1e-4, atol=1e-8)


def test_linear_rescales_for_small_T():
    # without rescaling by 1000 / T, T = 50 leaves alpha_bar_{T-1} = 0.60 (tiny-diffusion issue #4)
    raw = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 50, dtype=torch.float64), 0)[-1].item()
    assert raw == pytest.approx(0.60, abs=0.01)
    assert NoiseSchedule.make("linear", 50).alpha_bar[-1].item() < math.exp(-9)


def test_a_schedule_that_ends_far_from_noise_warns():
    import warnings

    with pytest.warns(UserWarning, match=r"NoiseSchedule.make\('linear', T=1\): alpha_bar\[T-1\] = 0.90"):
        NoiseSchedule.make("linear", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("linear", "cosine", "sigmoid", "quadratic"):
            for T in (2, 10, 1000):
                NoiseSchedule.make(name, T)
