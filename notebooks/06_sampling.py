# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: kernelspec,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Sampling: DDPM and DDIM
#
# A trained noise predictor $\varepsilon_\theta$ is all a sampler needs. DDPM (Ho et al. 2020) walks back through
# every one of the $T$ diffusion steps, adding fresh noise at each; DDIM (Song et al. 2021) jumps over most of them,
# deterministically. The article *Architecture of Diffusion Models* names the cost: "Slow Sampling: Generating
# samples can be slow because of the many steps needed for the reverse diffusion process." This notebook builds both samplers and lets you trade steps for time. The optional notebook **06b**
# scores that trade with the course's sample-quality score, over several seeds.
#
# **Learning objectives**
# 1. Write one DDPM step from the posterior $q(x_{t-1} \mid x_t, x_0)$, the sampling loop, and one DDIM step.
# 2. Explain why one trained model serves both samplers, and see what the number of steps, $\eta$ and the spacing of the steps change.
# 3. Watch the reverse process: $x_t$ and the predicted $\hat x_0$ side by side, and a 2-D point cloud in transport.

# %%
# On Colab only: install course_lib and turn on widgets. Anywhere else this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "course_lib @ git+https://github.com/course-lib/residual-to-diffusion"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()

# %%
import torch
from ipywidgets import FloatSlider, IntSlider, SelectionSlider, ToggleButtons

from course_lib import DDIMSampler, DDPMSampler
from course_lib.checkpoints import load_denoiser
from course_lib.lessons import sampling as lesson
from course_lib.lessons import setup_notebook
from course_lib.widgets import LiveFigure

device = setup_notebook(seed=0)

# %% [markdown]
# ## The model
#
# We use the digits checkpoint shipped inside `course_lib`: the default U-Net, trained on the 1,000 digits of the
# training split only, like notebook 05's run. To use the one you trained in notebook 05, set
# `MY_CHECKPOINT = "runs/digits_unet.pt"`.

# %%
MY_CHECKPOINT = None
model, schedule, ckpt = load_denoiser(MY_CHECKPOINT, device=device)
print(f"{ckpt['model']['kind']} trained {ckpt['step']} steps, schedule {schedule}")

# %% [markdown]
# ## DDPM: one step through the posterior
#
# The forward process has a closed form (notebook 04): $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon$.
# If we knew $x_0$, the step back would be easy: given $x_t$ and $x_0$, $x_{t-1}$ is Gaussian (Ho et al. 2020, Eq. 6-7),
#
# $$q(x_{t-1} \mid x_t, x_0) = \mathcal{N}\big(\tilde\mu_t(x_t, x_0),\ \tilde\beta_t I\big), \qquad
# \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\, \beta_t}{1 - \bar\alpha_t}\, x_0 + \frac{\sqrt{\alpha_t}\,(1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t}\, x_t,
# \qquad \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\, \beta_t.$$
#
# We do not know $x_0$. But the network predicts the noise $\hat\varepsilon$ in $x_t$, and the closed form says
# what that noise implies about $x_0$. Two choices hide in such a step.
#
# - **The variance.** We draw with the posterior's own variance $\sigma_t^2 = \tilde\beta_t$ (`diffusers` calls it
#   `fixed_small`); it is 0 at $t = 0$, so the last step adds no noise. Ho et al. (§3.2) found that
#   $\sigma_t^2 = \beta_t$ gave similar results with all $T$ steps; the two differ only at small $t$ (printed below).
#   With *few* steps the choice matters (Nichol and Dhariwal 2021, §3.1).
# - **The clipping.** Ho et al.'s released code clamps the estimate of $x_0$ to the data range $[-1, 1]$; their
#   Algorithm 2 does not. It helps images, whose pixels lie in $[-1, 1]$, and would be wrong for unbounded data. The
#   exercise leaves it out; the samplers do it with `clip_x0=True`.

# %%
T = schedule.T  # the checkpoint's number of diffusion steps
for t in sorted({1, 10, T // 10, T // 2, T - 1}):
    print(f"t = {t:>3}: beta_t = {schedule.betas[t]:.5f}, beta_tilde_t = {schedule.posterior_variance[t]:.5f}, "
          f"ratio {schedule.posterior_variance[t] / schedule.betas[t]:.3f}")

# %% [markdown]
# **Exercise 1.** Write `ddpm_step(x_t, eps, t, schedule, z)`: one step from $x_t$ to $x_{t-1}$ for an integer $t$.
# Estimate $x_0$ from $x_t$ and the predicted noise `eps` (solve the closed form for $x_0$), then draw $x_{t-1}$ from
# the posterior above with that estimate in place of $x_0$, using the given standard normal noise `z`. The
# schedule's tensors are indexed by $t$: `schedule.alpha_bar[t]`, `schedule.alpha_bar_prev[t]` ($\bar\alpha_{t-1}$,
# and 1 at $t = 0$), `schedule.alphas[t]`, `schedule.betas[t]`. It must work on images `[B, 1, 8, 8]` and on 2-D
# points `[B, 2]`.

# %%
def ddpm_step(x_t, eps, t, schedule, z):
    ### BEGIN SOLUTION
    ab, ab_prev = schedule.alpha_bar[t], schedule.alpha_bar_prev[t]
    alpha, beta = schedule.alphas[t], schedule.betas[t]
    x0_hat = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
    mean = ab_prev.sqrt() * beta / (1 - ab) * x0_hat + alpha.sqrt() * (1 - ab_prev) / (1 - ab) * x_t
    variance = (1 - ab_prev) / (1 - ab) * beta
    return mean + variance.sqrt() * z
    ### END SOLUTION


# %%
lesson.check_ddpm_step(ddpm_step)

# %% [markdown]
# **Exercise 2.** The sampling loop. Every sampler in `course_lib` follows the API of `diffusers`' schedulers: a list
# `sampler.timesteps` (from large $t$ to small) and `sampler.step(eps, t, x_t, generator=...)`, which returns
# `(x_prev, x0_hat)`. Write `sample_loop(model, sampler, shape, generator)`: draw $x_T \sim \mathcal{N}(0, I)$ with
# `generator`, then at every timestep ask the model for $\hat\varepsilon$ (it takes a tensor of $B$ timesteps) and step.

# %%
def sample_loop(model, sampler, shape, generator):
    ### BEGIN SOLUTION
    x = torch.randn(shape, generator=generator)
    for t in sampler.timesteps:
        eps = model(x, torch.full((shape[0],), t))
        x, _ = sampler.step(eps, t, x, generator=generator)
    return x
    ### END SOLUTION


# %%
lesson.check_sample_loop(sample_loop)

# %% [markdown]
# That loop is `Sampler.sample` in `course_lib/samplers.py`. Sixty-four digits with DDPM (one network call for each
# of the $T$ steps) and with DDIM at 50 steps (the next section), from the same starting noise, timed:

# %%
ddpm, seconds_ddpm = lesson.timed_sample(DDPMSampler(schedule, clip_x0=True), model, n=64, seed=0)
ddim, seconds_ddim = lesson.timed_sample(DDIMSampler(schedule, num_steps=50, clip_x0=True), model, n=64, seed=0)
lesson.plot_sample_grids({f"DDPM, {schedule.T} steps": ddpm, "DDIM, 50 steps": ddim}, score=False)

# %% tags=["nbval-ignore-output"]
# Wall-clock times change from run to run and machine to machine.
print(f"DDPM: {seconds_ddpm:.1f} s for 64 digits; DDIM-50: {seconds_ddim:.2f} s ({seconds_ddpm / seconds_ddim:.0f}x faster)")

# %% [markdown]
# Almost all of the time is spent in the network, once per step, so the speed-up is of the order of the ratio of
# network calls, $T / 50$ (the printout measures it on this machine).
#
# ## DDIM: fewer, deterministic steps, and the same trained model
#
# DDIM visits only $S$ of the $T$ timesteps. Between two visited steps $t > t'$ it first does what the DDPM step
# does, estimate $\hat x_0$; then, with $\eta = 0$, it moves that estimate to the noise level $\bar\alpha_{t'}$ along
# the *same* predicted noise direction $\hat\varepsilon$, adding no fresh noise. The whole run is then a
# deterministic function of the starting noise $x_T$.
#
# **Exercise 3.** Write `ddim_step(x_t, eps, alpha_bar_t, alpha_bar_prev)` for $\eta = 0$: one jump from level
# $\bar\alpha_t$ to level $\bar\alpha_{t'}$, both given as numbers.

# %%
def ddim_step(x_t, eps, alpha_bar_t, alpha_bar_prev):
    ### BEGIN SOLUTION
    x0 = (x_t - (1 - alpha_bar_t) ** 0.5 * eps) / alpha_bar_t ** 0.5
    return alpha_bar_prev ** 0.5 * x0 + (1 - alpha_bar_prev) ** 0.5 * eps
    ### END SOLUTION


# %%
lesson.check_ddim_step(ddim_step)

# %% [markdown]
# Song et al.'s general step (2021, Eq. 12) also adds fresh noise $\sigma z$, with $\sigma$ set by a knob
# $\eta$: $\eta = 0$ is your step, and $\eta = 1$ with every timestep visited is DDPM's step.
#
# **Why may DDIM use a model trained for DDPM?** The training loss of notebook 05 only ever sees $x_t$ drawn from the
# marginals $q(x_t \mid x_0)$, never the step-by-step chain. Song et al. (2021, §3.1, Lemma 1) build a family of
# non-Markovian forward processes, one for each choice of $\sigma$, that all have exactly these marginals; their
# Theorem 1 (§3.2) shows the training objective of each is the DDPM loss up to weights and a constant. So one
# $\varepsilon_\theta$ trained with the DDPM loss serves them all: only the sampler changes, nothing is retrained.
#
# Because DDIM with $\eta = 0$ is deterministic, the *same* starting noise gives recognisably the same digits at any
# number of steps: more steps refine one map from $x_T$ to $x_0$. Sixteen digits from one $x_T$:

# %%
lesson.plot_sample_grids({f"DDIM, {s} steps": DDIMSampler(schedule, s, clip_x0=True).sample(
    model, (16, 1, 8, 8), generator=torch.Generator().manual_seed(0), device=device).cpu() for s in (5, 10, 20, 50)},
    n=16, nrow=4, score=False)

# %% [markdown]
# ## Steps, eta and spacing, live
#
# Which timesteps should $S$ steps visit? `diffusers`' default, **leading** spacing, takes $t = k \lfloor T/S \rfloor$:
# with $S = 2$ the run starts by treating pure noise as if it were $x_{T/2}$, which still holds part of the signal.
# **Trailing** spacing counts back from $T - 1$. Lin et al. (2024, §3.3) show that leading spacing hurts at few
# steps; with many steps both start near $T - 1$.
#
# Below, 16 digits from one fixed starting noise (the same for every setting). Each value of the steps slider is
# one sampling run (200 steps take a few seconds on a CPU), so it samples only when you release it; $\eta$ samples
# again; the spacing switch only looks up, because each run computes both spacings. The title lists the timesteps
# visited.

# %% tags=["nbval-ignore-output"]
# A live figure that samples on release (cached per value); its title prints a time, which changes from run to run.
LiveFigure(lesson.SamplesView(model, schedule),
           steps=SelectionSlider(options=lesson.step_options(schedule), value=10, continuous_update=False),
           eta=FloatSlider(value=0.0, min=0.0, max=1.0, step=0.1, continuous_update=False),
           spacing=ToggleButtons(options=["leading", "trailing"], value="leading"))

# %% [markdown]
# The two spacings at $S = 2$, from the same starting noise:

# %%
two = lesson.sample_both_spacings(model, schedule, steps=2)
visited = lesson.spacing_timesteps(schedule, steps=2)
print("signal left at the first visited step: " + ", ".join(
    f"sqrt(alpha_bar_{ts[0]}) = {schedule.alpha_bar[ts[0]].sqrt():.3f}" for ts in visited.values()))
lesson.plot_sample_grids({f"{sp}, 2 steps: t = {ts[0]}, {ts[1]}": two[sp] for sp, ts in visited.items()},
                         n=16, nrow=4, score=False)

# %% [markdown]
# On these 8x8 digits the two spacings look much alike at two steps: both give blurry, average-looking digits, the
# $\hat x_0$ of one long jump from noise, even though leading spacing starts with much more signal (the printout). We
# do not claim a difference between them at this scale. Lin et al. (2024) see it on large images; move the
# slider above to see both spacings agree as the number of steps grows. How much quality each setting buys, measured
# with a score over several seeds, is the subject of the optional notebook 06b.

# %% [markdown]
# ## Inside the reverse process
#
# A 50-step DDIM run, recorded: at each step, the current $x_t$ and the model's estimate $\hat x_0$ (clipped to $[-1, 1]$).

# %%
_, trajectory = DDIMSampler(schedule, num_steps=50, clip_x0=True).sample(
    model, (8, 1, 8, 8), generator=torch.Generator().manual_seed(1), device=device, return_trajectory=True)

# %% tags=["nbval-ignore-output"]
# A live figure: every frame precomputed, only the images swapped on a move. Not compared in tests.
LiveFigure(lesson.TrajectoryView(trajectory), i=IntSlider(value=0, min=0, max=len(trajectory.timesteps) - 1))

# %%
n_steps = len(trajectory.timesteps)
shown = (n_steps // 10, n_steps // 2, 4 * n_steps // 5)  # early, half-way, late
lesson.show_trajectory_steps(trajectory, shown)

# %%
ab = schedule.alpha_bar
for t in (trajectory.timesteps[i] for i in shown):
    print(f"t = {t}: x0_hat = (x_t - {(1 - ab[t]).sqrt():.3f} eps_hat) / {ab[t].sqrt():.3f}; "
          f"an error in eps_hat is multiplied by {((1 - ab[t]) / ab[t]).sqrt():.1f}")

# %% [markdown]
# Early on, $\hat x_0$ is *not* a blurry average digit: at $t = 880$ the figure shows black-and-white blotches. The
# printout says why: $\hat x_0$ divides by $\sqrt{\bar\alpha_t}$, so at $t = 880$ any error in $\hat\varepsilon$ is
# multiplied by about 50, and the clipping to $[-1, 1]$ turns the result into saturated pixels. (The best possible
# estimate of $x_0$ from almost pure noise *is* a blurry average, the mean of the data; the network is not that
# accurate.) By $t = 480$, where the error is amplified about three times, $\hat x_0$ is a blurry grey shape; by
# $t = 180$ the digits are legible: coarse shape first, details last.

# %% [markdown]
# ## Sampling in 2-D: transporting a cloud
#
# A small MLP trained for a few seconds on the Gaussian mixture (eight small clusters on a circle); then 1,000
# points start as $\mathcal{N}(0, I)$ and follow their 50-step DDIM trajectories. On the left, a few of the paths
# (grey; drawing all would hide the data), with their points at step $k$; on the right, the whole cloud at step $k$.
# Move $k$ from 0 (pure noise) to the end (the samples).

# %%
TOY_STEPS = 3000 if lesson.use_large_config(device) else 1500  # a few seconds on a CPU; longer on a GPU
toy, mixture = lesson.train_toy_2d(steps=TOY_STEPS, device=device)
_, path = DDIMSampler(toy.schedule, num_steps=50).sample(toy.ema_model.eval(), (1000, 2), device=device,
                                                         generator=torch.Generator().manual_seed(0), return_trajectory=True)

# %% tags=["nbval-ignore-output"]
# A live figure: the paths are precomputed, a move only sets point positions. Not compared in tests.
LiveFigure(lesson.CloudView(path, mixture), k=IntSlider(value=0, min=0, max=len(path.timesteps)))

# %%
lesson.plot_2d_trajectories(path, mixture, k=len(path.timesteps))

# %% [markdown]
# The cloud contracts from a wide Gaussian onto the circle of the mixture; scrubbing $k$ shows that it stays a blob for
# most of the steps and takes its shape late, as the digits did. In the last frame (above) the points gather on the
# circle and mostly in the eight clusters, but some lie between them: that is what an undertrained diffusion model
# produces. Train it for longer (`steps=6000`, about a
# minute) and score the samples with `course_lib.metrics.toy_quality(samples, "gaussian_mixture")` before and after:
# does the MMD approach its floor?
#
# ## Summary
# - DDPM: every one of the $T$ steps, each a draw from the Gaussian posterior around $\tilde\mu_t(x_t, \hat x_0)$;
#   DDIM: a few deterministic jumps through $\hat x_0$, along the predicted noise.
# - One loop over `sampler.timesteps` serves both, and so does one trained model: DDIM's processes share DDPM's
#   marginals $q(x_t \mid x_0)$ (Song et al. 2021, §3-4).
# - Time grows linearly with the number of steps; $\eta$ moves DDIM from deterministic ($\eta = 0$) to DDPM's noise
#   ($\eta = 1$).
# - The predicted $\hat x_0$ sharpens as $t$ falls: coarse shape first, details last; at large $t$ it is dominated
#   by amplified errors.
#
# ## Going further
# - Optional: **06b · Sample quality**, which scores the samplers over seeds: the score's floor, how many steps are
#   enough, $\eta = 0$ against $\eta = 1$, and DDPM against DDIM.
# - Song, Meng, Ermon (2021), *Denoising Diffusion Implicit Models*, §3-4 (Lemma 1, Theorem 1), Eq. 12.
# - Nichol and Dhariwal (2021), *Improved Denoising Diffusion Probabilistic Models*, §3.1 (learned variances, few steps).
# - Lu et al. (2022), *DPM-Solver* (even fewer steps); Lin et al. (2024), *Common Diffusion Noise Schedules and Sample Steps are Flawed*, §3.3 (leading vs trailing spacing; `ddim_timesteps(..., spacing="trailing")`).
# - Next: **07 · Residual connections inside diffusion models**.
