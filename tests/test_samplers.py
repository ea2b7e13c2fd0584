import pytest
import torch

from course_lib import DDIMSampler, DDPMSampler, NoiseSchedule, ddim_timesteps

diffusers = pytest.importorskip("diffusers")


def toy_model(x, t):
    """A fixed, smooth stand-in for a trained eps-network (both libraries call the same one)."""
    return 0.5 * torch.tanh(x) + 0.1 * torch.sin(t.float() / 97.0).reshape(-1, *([1] * (x.dim() - 1)))


def ddpm_reference(clip):
    return diffusers.DDPMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02,
                                   beta_schedule="linear", variance_type="fixed_small",
                                   prediction_type="epsilon", clip_sample=clip)


@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("t", [999, 487, 1, 0])
def test_ddpm_step_equals_diffusers(t, clip):
    ref = ddpm_reference(clip)
    ours = DDPMSampler(NoiseSchedule.make("linear", 1000), clip_x0=clip)
    x_t = 1.5 * torch.randn(4, 1, 8, 8)
    eps = toy_model(x_t, torch.full((4,), t))
    expected = ref.step(eps, t, x_t, generator=torch.Generator().manual_seed(7)).prev_sample
    got, _ = ours.step(eps, t, x_t, generator=torch.Generator().manual_seed(7))
    # diffusers computes 1 - alpha_bar_t in float32: near t = 0 that leaves ~1e-4 relative error on its side
    atol = 1e-5 if t >= 10 else 5e-4
    assert torch.allclose(got, expected, atol=atol)


@pytest.mark.parametrize("steps", [50, 10])
def test_ddim_trajectory_equals_diffusers(steps):
    ref = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear",
                                  clip_sample=False, set_alpha_to_one=True, prediction_type="epsilon")
    ref.set_timesteps(steps)
    ours = DDIMSampler(NoiseSchedule.make("linear", 1000), num_steps=steps, eta=0.0)
    assert ours.timesteps == ref.timesteps.tolist()
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(3))
    for t in ref.timesteps:
        x = ref.step(toy_model(x, torch.full((3,), int(t))), t, x, eta=0.0).prev_sample
    got, traj = ours.sample(toy_model, (3, 2), generator=torch.Generator().manual_seed(3), return_trajectory=True)
    assert torch.allclose(got, x, atol=1e-4)
    assert traj.timesteps == ours.timesteps
    assert len(traj.x_t) == steps + 1 and len(traj.x0_pred) == steps
    assert torch.equal(traj.x_t[-1], got)


def test_ddim_eta_one_every_step_is_ddpm():
    s = NoiseSchedule.make("linear", 1000)
    ddim, ddpm = DDIMSampler(s, num_steps=1000, eta=1.0), DDPMSampler(s)
    x_t = torch.randn(5, 3)
    for t in [999, 500, 3]:
        eps = toy_model(x_t, torch.full((5,), t))
        a, _ = ddim.step(eps, t, x_t, generator=torch.Generator().manual_seed(t))
        b, _ = ddpm.step(eps, t, x_t, generator=torch.Generator().manual_seed(t))
        assert torch.allclose(a, b, atol=1e-5)


def test_ddim_eta_zero_is_deterministic_and_ddpm_is_not():
    s = NoiseSchedule.make("cosine", 100)
    a = DDIMSampler(s, 20).sample(toy_model, (4, 2), generator=torch.Generator().manual_seed(0))
    b = DDIMSampler(s, 20).sample(toy_model, (4, 2), generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    gen = torch.Generator().manual_seed(0)
    x_T = torch.randn(4, 2, generator=gen)
    # same x_T, different ancestral noise: DDPM gives a different sample
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    torch.randn(4, 2, generator=g2)
    c = DDPMSampler(s).sample(toy_model, (4, 2), generator=g1)
    assert not torch.allclose(c, a) and torch.isfinite(c).all() and x_T.shape == c.shape


def test_trailing_spacing_starts_at_last_timestep():
    assert ddim_timesteps(1000, 10, "trailing")[0] == 999
    assert ddim_timesteps(1000, 10, "leading") == list(range(900, -1, -100))
    ref = diffusers.DDIMScheduler(num_train_timesteps=1000, timestep_spacing="trailing")
    ref.set_timesteps(10)
    assert ddim_timesteps(1000, 10, "trailing") == ref.timesteps.tolist()


def test_samplers_recover_a_point_mass():
    """With the exact eps of a point mass at x_0 = c, every sampler must land on c."""
    s = NoiseSchedule.make("linear", 1000)
    c = torch.tensor([0.5, -0.25])

    def exact_eps(x, t):
        ab = s.alpha_bar[t].float().unsqueeze(1)
        return (x - ab.sqrt() * c) / (1 - ab).sqrt()

    for sampler in [DDPMSampler(s), DDIMSampler(s, 20), DDIMSampler(s, 50, eta=1.0)]:
        out = sampler.sample(exact_eps, (8, 2), generator=torch.Generator().manual_seed(0))
        assert torch.allclose(out, c.expand(8, 2), atol=1e-3), type(sampler).__name__



def test_ddpm_set_timesteps_matches_diffusers_and_refuses_skipping():
    s = NoiseSchedule.make("linear", 1000)
    ours = DDPMSampler(s)
    ref = ddpm_reference(False)
    ref.set_timesteps(1000)
    assert ours.timesteps == ref.timesteps.tolist() == list(range(999, -1, -1))
    ours.set_timesteps(1000)
    assert ours.timesteps == ref.timesteps.tolist()
    with pytest.raises(ValueError, match="DDIMSampler"):
        ours.set_timesteps(50)
    with pytest.raises(ValueError, match="t=1000"):
        ours.step(torch.zeros(2, 2), 1000, torch.zeros(2, 2))


@pytest.mark.parametrize("clip", [False, True])
def test_p_mean_variance_from_eps_is_predict_x0_then_the_posterior(clip):
    from course_lib.diffusion import p_mean_variance, p_mean_variance_from_eps, predict_x0, q_posterior_mean_variance

    s = NoiseSchedule.make("cosine", 200)
    x_t, t = 2 * torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 100, 199])
    eps = toy_model(x_t, t)
    mean, variance, x0 = p_mean_variance_from_eps(x_t, t, eps, s, clip_x0=clip)
    want_x0 = predict_x0(x_t, t, eps, s)
    want_x0 = want_x0.clamp(-1, 1) if clip else want_x0
    want_mean, want_var = q_posterior_mean_variance(want_x0, x_t, t, s)
    assert torch.equal(x0, want_x0) and torch.equal(mean, want_mean) and torch.equal(variance, want_var)
    assert variance.shape == (4, 1, 1, 1)
    # the model-calling version is the same function with eps_hat = model(x_t, t)
    m2, v2, x02, eps2 = p_mean_variance(toy_model, x_t, t, s, clip_x0=clip)
    assert torch.equal(m2, mean) and torch.equal(v2, variance) and torch.equal(x02, x0) and torch.equal(eps2, eps)


def test_a_smoke_test_caps_the_sampling_loop(monkeypatch):
    """COURSE_MAX_STEPS=N (a smoke test of a configuration) stops every sampler after N model calls; unset, the
    loop visits every timestep."""
    schedule = NoiseSchedule.make("linear", 40)
    calls = []

    def model(x, t):
        calls.append(int(t[0]))
        return torch.zeros_like(x)

    for sampler, full in ((DDPMSampler(schedule), 40), (DDIMSampler(schedule, num_steps=10), 10)):
        calls.clear()
        sampler.sample(model, (2, 3))
        assert len(calls) == full and calls == list(sampler.timesteps)
        monkeypatch.setenv("COURSE_MAX_STEPS", "3")
        calls.clear()
        sampler.sample(model, (2, 3))
        assert calls == list(sampler.timesteps[:3])
        monkeypatch.delenv("COURSE_MAX_STEPS")
