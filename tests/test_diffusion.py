import math

import pytest
import torch

from course_lib import NoiseSchedule, diffusion_loss, predict_x0, q_posterior_mean_variance, q_sample, q_step


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("t", [0, 10, 150, 299])
def test_iterated_chain_matches_closed_form(name, t, gen):
    """Run q(x_s | x_{s-1}) for s = 0..t from a fixed x_0 and compare mean and variance with q(x_t | x_0)."""
    s = NoiseSchedule.make(name, 300)
    n = 20_000
    x0 = torch.tensor([[1.5, -0.5, 0.0]], dtype=torch.float64).expand(n, 3)
    x = x0
    for step in range(t + 1):
        x = q_step(x, torch.full((n,), step), s, noise=torch.randn(x.shape, generator=gen, dtype=x.dtype))
    ab = s.alpha_bar[t].item()
    mean, var = math.sqrt(ab) * x0[0], 1 - ab
    # tolerance from the sample size: 5 standard errors of the mean and of the variance
    se_mean = math.sqrt(var / n)
    se_var = var * math.sqrt(2 / (n - 1))
    assert torch.all((x.mean(0) - mean).abs() < 5 * se_mean)
    assert torch.all((x.var(0) - var).abs() < 5 * se_var)
    direct = q_sample(x0, torch.full((n,), t), s, generator=gen)
    assert torch.all((direct.mean(0) - mean).abs() < 5 * se_mean)
    assert torch.all((direct.var(0) - var).abs() < 5 * se_var)


def test_q_sample_equals_diffusers_add_noise():
    diffusers = pytest.importorskip("diffusers")
    ref = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear")
    s = NoiseSchedule.make("linear", 1000)
    x0, eps = torch.randn(6, 1, 8, 8), torch.randn(6, 1, 8, 8)
    t = torch.tensor([0, 1, 250, 500, 998, 999])
    assert torch.allclose(q_sample(x0, t, s, noise=eps), ref.add_noise(x0, eps, t), atol=1e-5)


def test_predict_x0_inverts_q_sample():
    s = NoiseSchedule.make("cosine", 1000)
    x0, eps = torch.randn(4, 2), torch.randn(4, 2)
    t = torch.tensor([0, 100, 500, 900])
    assert torch.allclose(predict_x0(q_sample(x0, t, s, noise=eps), t, eps, s), x0, atol=1e-3)


def test_posterior_is_bayes_rule_of_the_two_gaussians():
    """mu_tilde, beta_tilde equal the product of q(x_t | x_{t-1}) and q(x_{t-1} | x_0), done by hand."""
    s = NoiseSchedule.make("linear", 1000)
    t = torch.tensor([300])
    x0, x_t = torch.tensor([[0.7]], dtype=torch.float64), torch.tensor([[-0.2]], dtype=torch.float64)
    a, b = s.alphas[300].item(), s.alpha_bar[299].item()
    # prior N(sqrt(b) x0, 1 - b), likelihood in x_{t-1}: N(x_t / sqrt(a), (1 - a) / a)
    prec = 1 / (1 - b) + a / (1 - a)
    mean = (math.sqrt(b) * 0.7 / (1 - b) + math.sqrt(a) * -0.2 / (1 - a)) / prec
    mu, var = q_posterior_mean_variance(x0, x_t, t, s)
    assert mu.item() == pytest.approx(mean, rel=1e-9)
    assert var.item() == pytest.approx(1 / prec, rel=1e-9)


def test_loss_of_oracle_denoiser_is_zero_and_of_zero_model_is_one(gen):
    s = NoiseSchedule.make("linear", 1000)
    x0, eps = torch.randn(512, 2, generator=gen), torch.randn(512, 2, generator=gen)
    t = torch.randint(0, 1000, (512,), generator=gen)
    assert diffusion_loss(lambda x, tt: eps, x0, s, t=t, noise=eps).item() == 0.0
    loss = diffusion_loss(lambda x, tt: torch.zeros_like(x), x0, s, generator=gen)
    assert loss.item() == pytest.approx(1.0, abs=0.1)
    assert diffusion_loss(lambda x, tt: torch.zeros_like(x), x0, s, generator=gen, reduction="none").shape == (512,)
