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
# all $T = 1000$ steps, adding fresh noise at each; DDIM (Song et al. 2021) jumps over most of them,
# deterministically. The article *Architecture of Diffusion Models* lists the cost among the limitations of diffusion
# models: "Slow Sampling: Generating samples can be slow because of the many steps needed for the reverse diffusion
# process." This notebook measures the trade between speed and quality with the course's score.
#
# **Learning objectives**
# 1. Write one DDPM step from the posterior's mean and variance, the sampling loop, and one DDIM step.
# 2. Measure time and sample quality as the number of DDIM steps changes, and see why one trained model serves both samplers.
# 3. Compare DDIM's deterministic steps ($\eta = 0$) with DDPM's noise ($\eta = 1$) at few steps, and two ways to space the steps.
# 4. Watch the reverse process: $x_t$ and the predicted $\hat x_0$ side by side, and a 2-D point cloud in transport.

# %%
# On Colab only: install course_lib and turn on widgets. Anywhere else this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "course_lib @ git+https://github.com/course-lib/residual-to-diffusion"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()

# %%
import time

import torch
from ipywidgets import FloatSlider, IntSlider, SelectionSlider, ToggleButtons

from course_lib import DDIMSampler, DDPMSampler, NoiseSchedule
from course_lib.checkpoints import load_denoiser
from course_lib.claims import check_claim, mean_spread
from course_lib.data import make_toy_2d
from course_lib.lessons import setup_notebook
from course_lib.lessons.sampling import (
    STEP_OPTIONS,
    CloudView,
    SamplesView,
    TrajectoryView,
    check_ddim_step,
    check_ddpm_step,
    check_eta_prediction,
    check_sample_loop,
    eta_study,
    floor_by_n,
    load_studies,
    plot_2d_trajectories,
    plot_sample_grids,
    plot_sweep_seeds,
    sample_both_spacings,
    show_samples_at,
    show_trajectory_step,
    show_trajectory_steps,
    spacing_timesteps,
    sweep_over_seeds,
)
from course_lib.mlp_denoiser import MLPDenoiser
from course_lib.trainer import TrainConfig, Trainer
from course_lib.widgets import LiveFigure

device = setup_notebook(seed=0)

# %% [markdown]
# ## The model
#
# We use the digits checkpoint shipped inside `course_lib` (the default U-Net trained for 4,000 steps by
# `scripts/make_checkpoint.py`, on the 1,000 digits of the training split only, like notebook 05's run). To use the one
# you trained in notebook 05, set `MY_CHECKPOINT = "runs/digits_unet.pt"`.

# %%
MY_CHECKPOINT = None
model, schedule, ckpt = load_denoiser(MY_CHECKPOINT)
print(f"{ckpt['model']['kind']} trained {ckpt['step']} steps, schedule {schedule}")

# %% [markdown]
# ## DDPM: one step through the posterior
#
# Each step estimates $\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\, \hat\varepsilon) / \sqrt{\bar\alpha_t}$ and samples
# $x_{t-1}$ from the Gaussian posterior $q(x_{t-1} \mid x_t, \hat x_0)$ of Ho et al., Eq. 6-7:
#
# $$\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\, \beta_t}{1 - \bar\alpha_t}\, \hat x_0 + \frac{\sqrt{\alpha_t}\,(1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t}\, x_t,
# \qquad \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\, \beta_t, \qquad x_{t-1} = \tilde\mu_t + \sqrt{\tilde\beta_t}\, z,\quad z \sim \mathcal{N}(0, I).$$
#
# Two choices hide in that sentence.
#
# - **The variance.** We use $\sigma_t^2 = \tilde\beta_t$, the variance of the true posterior (what `diffusers` calls
#   `fixed_small`; it is 0 at $t = 0$, so the last step adds no noise). Ho et al. (§3.2) also tried $\sigma_t^2 = \beta_t$
#   and found that both "had similar results" at $T = 1000$: $\tilde\beta_t$ is the optimal choice if the data were a
#   single point, $\beta_t$ if it were $\mathcal{N}(0, I)$. They differ only at small $t$ (printed below). Nichol and
#   Dhariwal (2021, §3.1) show the choice does matter when sampling with *few* steps, and learn $\Sigma_\theta(x_t, t)$
#   between the two.
# - **The clipping.** Clamping $\hat x_0$ to the data range $[-1, 1]$ is in Ho et al.'s released code (the sampler's
#   `clip_denoised=True`), not in their Algorithm 2, which computes the mean straight from $\hat\varepsilon$ (Eq. 11).
#   It helps images, whose pixels are known to lie in $[-1, 1]$; it would be wrong for data without such bounds. The
#   exercise below leaves it out; the samplers do it with `clip_x0=True`.

# %%
T = schedule.T  # the checkpoint's number of diffusion steps
for t in sorted({1, 10, T // 10, T // 2, T - 1}):
    print(f"t = {t:>3}: beta_t = {schedule.betas[t]:.5f}, beta_tilde_t = {schedule.posterior_variance[t]:.5f}, "
          f"ratio {schedule.posterior_variance[t] / schedule.betas[t]:.3f}")

# %% [markdown]
# **Exercise 1.** Write `ddpm_step(x_t, eps, t, schedule, z)`: one step from $x_t$ to $x_{t-1}$ for an integer $t$,
# with the noise `z` given. The schedule's tensors are indexed by $t$: `schedule.alpha_bar[t]`, `schedule.alpha_bar_prev[t]`
# ($\bar\alpha_{t-1}$, and 1 at $t = 0$), `schedule.alphas[t]`, `schedule.betas[t]`. It must work on images
# `[B, 1, 8, 8]` and on 2-D points `[B, 2]`.

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
check_ddpm_step(ddpm_step)

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
check_sample_loop(sample_loop)

# %% [markdown]
# That loop is `Sampler.sample` in `course_lib/samplers.py`. Sixty-four digits with DDPM (1,000 network calls) and
# with DDIM at 50 steps (50 calls, the next section), timed:

# %%
start = time.perf_counter()
ddpm = DDPMSampler(schedule, clip_x0=True).sample(model, (64, 1, 8, 8), generator=torch.Generator().manual_seed(0))
seconds_ddpm = time.perf_counter() - start
start = time.perf_counter()
ddim = DDIMSampler(schedule, num_steps=50, clip_x0=True).sample(model, (64, 1, 8, 8), generator=torch.Generator().manual_seed(0))
seconds_ddim = time.perf_counter() - start

# %%
plot_sample_grids({"DDPM, 1000 steps": ddpm, "DDIM, 50 steps": ddim}, score=False)

# %% tags=["nbval-ignore-output"]
# Wall-clock times change from run to run and machine to machine.
print(f"DDPM: {seconds_ddpm:.1f} s for 64 digits; DDIM-50: {seconds_ddim:.2f} s ({seconds_ddpm / seconds_ddim:.0f}x faster)")

# %% [markdown]
# Almost all of the time is spent in the network, once per step, so the speed-up is close to the ratio of network
# calls, $1000 / 50 = 20$ (the printout above measures it on this machine).
#
# ## DDIM: fewer, deterministic steps, and the same trained model
#
# DDIM visits only $S$ of the $T$ timesteps. Between two visited steps $t > t'$ it estimates $\hat x_0$ and re-noises
# it to level $t'$ (Song et al. 2021, Eq. 12):
#
# $$x_{t'} = \sqrt{\bar\alpha_{t'}}\, \hat x_0 + \sqrt{1 - \bar\alpha_{t'} - \sigma^2}\, \hat\varepsilon + \sigma z, \qquad
# \sigma = \eta \sqrt{\frac{1 - \bar\alpha_{t'}}{1 - \bar\alpha_t}\Big(1 - \frac{\bar\alpha_t}{\bar\alpha_{t'}}\Big)}.$$
#
# With $\eta = 0$ the step re-uses the *predicted* noise and adds none: the whole run is a deterministic function of
# the starting noise $x_T$. With $\eta = 1$ and every timestep visited, $\sigma^2 = \tilde\beta_t$ and the step is DDPM's.
#
# **Why may DDIM use a model trained for DDPM?** The training loss of notebook 05 only ever sees $x_t$ drawn from the
# marginals $q(x_t \mid x_0) = \mathcal{N}(\sqrt{\bar\alpha_t}\, x_0, (1 - \bar\alpha_t) I)$, never the step-by-step chain.
# Song et al. (2021, §3.1, Lemma 1) build a family of forward processes, non-Markovian, one for each choice of $\sigma$,
# that all have exactly these marginals; their Theorem 1 (§3.2) shows the training objective of each is the DDPM
# loss up to weights and a constant, so one $\varepsilon_\theta$ trained with the DDPM loss serves them all, and §4
# samples from the pretrained DDPM models with any $\eta$ and a subsequence of the timesteps. Only the sampler
# changes; nothing is retrained.
#
# **Exercise 3.** Write `ddim_step(x_t, eps, alpha_bar_t, alpha_bar_prev)` for $\eta = 0$ ($\bar\alpha_t$ and
# $\bar\alpha_{t'}$ are given as numbers).

# %%
def ddim_step(x_t, eps, alpha_bar_t, alpha_bar_prev):
    ### BEGIN SOLUTION
    x0 = (x_t - (1 - alpha_bar_t) ** 0.5 * eps) / alpha_bar_t ** 0.5
    return alpha_bar_prev ** 0.5 * x0 + (1 - alpha_bar_prev) ** 0.5 * eps
    ### END SOLUTION


# %%
check_ddim_step(ddim_step)

# %% [markdown]
# Because DDIM is deterministic, the *same* starting noise gives recognisably the same digits at any number of steps:
# more steps refine one map from $x_T$ to $x_0$. Sixteen digits from one $x_T$ (seed 0), at 5, 10, 20 and 50 steps:

# %%
plot_sample_grids({f"DDIM, {s} steps": DDIMSampler(schedule, s, clip_x0=True).sample(
    model, (16, 1, 8, 8), generator=torch.Generator().manual_seed(0)) for s in (5, 10, 20, 50)}, n=16, nrow=4, score=False)

# %% [markdown]
# ## The score, and why its floor moves
#
# Sample quality is scored with a Fréchet distance (FD, as in FID): fit a Gaussian to the features of the samples and
# one to the features of the 797 held-out digits, which the model never saw, in the 32-d feature space of a small
# digit classifier, and measure the distance between the two Gaussians (lower is better). Its **floor** is the score
# of $n$ *real* digits, drawn from the 1,000 training digits, against the same held-out digits: the best a perfect
# model can expect. But the floor is not one number. It depends on how many digits are scored: the mean and
# covariance fitted to $n$ feature vectors carry sampling noise, which the distance counts as a difference, so FD is
# biased upward at small $n$ (roughly like $1/n$; Chong and Forsyth 2020, *Effectively Unbiased FID*). And at a given
# $n$ it moves from one draw of real digits to the next. The floor for $n$ real training digits, three random draws
# each:

# %% tags=["nbval-ignore-output"]
# Numbers through a trained classifier: their last digits differ between CPUs, so the notebook tests do not compare them.
floors = floor_by_n(ns=(100, 128, 300, 1000), seeds=(0, 1, 2))
for n, values in floors.items():
    print(f"floor with n = {n:>3} real digits: {mean_spread(values, '.1f')}")

# %%
check_claim("the FD floor of 100 real digits is higher than that of 300", [a - b for a, b in zip(floors[100], floors[300])])
held = check_claim("the FD floor of 100 real digits is higher than that of all 1,000", [a - b for a, b in zip(floors[100], floors[1000])])

# %% [markdown]
# The floor falls as $n$ grows, but at $n = 300$ it also moves from draw to draw by about as much as separates its mean
# from the floor of all 1,000 digits (the lines above): one draw of 300 real digits can land close to that value or
# well above it. So an FD means something only next to the floor *at the same $n$*, and next to its spread: every
# score below is of 300 digits, beside the floors of 300 real ones drawn with the same seeds as the samples. (All
# 1,000 training digits are one fixed set, so its three draws coincide.)
#
# ## How many steps are enough?
#
# 300 samples for each number of DDIM steps, three sampling seeds (the same trained model, different starting noise).
# Within a seed, every number of steps starts from the *same* noise $x_T$, so the step counts are compared on equal terms.
# Each seed also draws its own floor, 300 real training digits.

# %% tags=["nbval-ignore-output"]
# Scores of samples from a network: their last digits differ between CPUs, so the notebook tests do not compare them.
sweep = sweep_over_seeds(model, schedule, steps=(5, 10, 20, 50), n=300, seeds=(0, 1, 2))
for steps, fds in sweep["fd"].items():
    print(f"DDIM {steps:>2} steps: FD {mean_spread(fds, '.1f')}; {sum(sweep['seconds'][steps]) / 3:.2f} s for 300 digits")
print(f"floor, 300 real training digits, the same seeds: {mean_spread(sweep['floor'], '.1f')}")
for seed, a, f in zip((0, 1, 2), sweep["fd"][50], sweep["floor"]):
    print(f"  seed {seed}: DDIM-50 FD {a:.1f}, floor {f:.1f}, difference {a - f:+.1f}")
plot_sweep_seeds(sweep)

# %%
fd = sweep["fd"]
check_claim("5 DDIM steps score a worse FD than 20 steps", [a - b for a, b in zip(fd[5], fd[20])])
held = check_claim("going from 20 to 50 steps changes the FD less than going from 5 to 20",
                   [(a - b) - abs(b - c) for a, b, c in zip(fd[5], fd[20], fd[50])])
held = check_claim("50 DDIM steps score a worse FD than 300 real training digits drawn with the same seed",
                   [a - f for a, f in zip(fd[50], sweep["floor"])])

# %% [markdown]
# Quality improves quickly up to a few tens of steps, then flattens, while time grows linearly with the steps (the
# verdicts above are over three sampling seeds of *one* trained model; the numbers are in the cell before). Every
# score is against the 797 held-out digits, which the model never saw, so a model that had only memorised its
# training digits would gain nothing from it. Next to the floor, the 50-step samples are still worse than real
# digits, in each seed (the last verdict). How much worse depends on the draw: the differences printed above range
# over several points, and so does the floor itself from one draw of 300 real digits to the next (the grey band
# spans the three floors). One floor draw alone could make the same samples look close to real digits or well above
# them. Compare settings with each other, and with the floor's spread at the same $n$, not with zero or with one draw.
# Song et al. (2021, Table 1) report 10-50x fewer steps at similar quality on CIFAR-10 and CelebA; the numbers above
# are our measurement at 8x8.

# %% [markdown]
# ## DDPM's noise or DDIM's determinism, at few steps
#
# The same formula with $\eta = 1$ adds fresh noise at every jump, as much as DDPM would over the same stretch of
# timesteps. Song et al. (2021, Table 1) compare $\eta = 0, 0.2, 0.5, 1$ on CIFAR-10 and CelebA with one trained
# model: with 10 to 100 steps, $\eta = 0$ scores best and $\eta = 1$ worst, by far at 10 steps. Here is the same
# comparison at toy scale: the same checkpoint, 10 steps, 300 digits, the same three seeds (so the same starting
# noise) as the $\eta = 0$ runs of the study above.
#
# **Predict, then run.** Which scores the better (lower) FD with 10 steps: `"eta=0"` (DDIM) or `"eta=1"` (DDPM's noise)?

# %%
### BEGIN SOLUTION
prediction = "eta=0"
### END SOLUTION

# %% tags=["nbval-ignore-output"]
# Scores of samples from a network: their last digits differ between CPUs, so the notebook tests do not compare them.
fd_eta1 = eta_study(model, schedule, steps=10, etas=(1.0,), n=300, seeds=(0, 1, 2))[1.0]
print(f"DDIM 10 steps, eta = 0: FD {mean_spread(fd[10], '.1f')}")
print(f"DDIM 10 steps, eta = 1: FD {mean_spread(fd_eta1, '.1f')}")
print(f"eta = 1 minus eta = 0, paired by seed: {mean_spread([b - a for a, b in zip(fd[10], fd_eta1)], '+.1f')}")

# %% tags=["nbval-ignore-output"]
# Compares scores of samples from a network, whose last digits differ between CPUs: not compared in tests.
check_eta_prediction(prediction, held=all(b > a for a, b in zip(fd[10], fd_eta1)))

# %% [markdown]
# In these three seeds $\eta = 0$ scored the better FD each time, by a few points (the paired difference printed
# above), in the direction Song et al. (Table 1) find with large models and 50,000 samples. Three seeds of 300 digits
# from one small model are too few to claim it in general, so we do not: the check above only compares your
# prediction with these seeds. The reason Song et al. give is in the step: with $\eta = 1$ each long jump adds fresh
# noise of DDPM's size, which the few jumps left must remove, while $\eta = 0$ only re-uses the model's own estimate
# of the noise. Move $\eta$ in the widget below to see what the added noise
# does to the same digits.
#
# ## Steps, eta and spacing, live
#
# Which timesteps should $S$ steps visit? `diffusers`' default, **leading** spacing, takes $t = k \lfloor T/S \rfloor$:
# with $S = 2$ that is $t = 500, 0$, so the run starts by treating pure noise as if it were $x_{500}$, which still
# holds part of the signal (printed below the figure). **Trailing** spacing counts back from $T - 1$: $t = 999, 499$ for
# $S = 2$. Lin et al. (2024, §3.3) show that leading spacing hurts at few steps; with many steps both start near $T - 1$.
#
# Below, 16 digits from one fixed starting noise (the same for every setting). The steps slider moves on a log grid
# (each value is one sampling run, 200 steps take a few seconds on a CPU, so it samples only when you release it);
# $\eta$ samples again; the spacing switch only looks up, because each run computes both spacings.

# %% tags=["nbval-ignore-output"]
# A live figure that samples on release (cached per value); its timings change from run to run. Not compared in tests.
LiveFigure(SamplesView(model, schedule),
           steps=SelectionSlider(options=STEP_OPTIONS, value=10, continuous_update=False),
           eta=FloatSlider(value=0.0, min=0.0, max=1.0, step=0.1, continuous_update=False),
           spacing=ToggleButtons(options=["leading", "trailing"], value="leading"))

# %% tags=["nbval-ignore-output"]
# The widget's default setting as a static figure; its title prints a time, which changes from run to run.
show_samples_at(model, schedule, steps=10, eta=0.0, spacing="leading")

# %% [markdown]
# The two spacings at $S = 2$, from the same starting noise:

# %%
two = sample_both_spacings(model, schedule, steps=2)
visited = spacing_timesteps(schedule, steps=2)
print("signal left at the first visited step: " + ", ".join(
    f"sqrt(alpha_bar_{ts[0]}) = {schedule.alpha_bar[ts[0]].sqrt():.3f}" for ts in visited.values()))
plot_sample_grids({f"{sp}, 2 steps: t = {ts[0]}, {ts[1]}": two[sp] for sp, ts in visited.items()},
                  n=16, nrow=4, score=False)

# %% [markdown]
# On these 8x8 digits the two spacings look much alike at two steps: both give blurry, average-looking digits, the
# $\hat x_0$ of one long jump from noise. We do not claim a difference between them at this scale. Lin et al. (2024)
# see it on large images, where the signal left at the first visited step matters more; move the slider in the widget
# above to see both spacings agree as the number of steps grows (the title lists the timesteps each one visits).

# %% [markdown]
# ## DDPM-1000 against DDIM-50
#
# Is the 20x slower DDPM sampler at least better? The grids at the top hold 64 digits from one seed each, too few to
# score. DDPM needs about a minute for 300 digits on a CPU, so the package ships the comparison for five sampling
# seeds, 300 digits per sampler and seed, the same checkpoint (`scripts/sampling_studies.py`), each seed with its own
# floor (300 real training digits drawn with that seed):

# %% tags=["nbval-ignore-output"]
# Scores of samples from a network (shipped with the package, re-created by scripts/sampling_studies.py), shown, not compared.
ddpm_rows = load_studies()["ddpm_vs_ddim"]
for r in ddpm_rows:
    print(f"seed {r['seed']}: DDPM-1000 FD {r['ddpm']:5.1f}, DDIM-50 FD {r['ddim']:5.1f}, "
          f"DDPM - DDIM = {r['ddpm'] - r['ddim']:+5.1f}  (floor {r['floor']:.1f})")
print(f"DDPM-1000: {mean_spread([r['ddpm'] for r in ddpm_rows], '.1f')}")
print(f"DDIM-50:   {mean_spread([r['ddim'] for r in ddpm_rows], '.1f')}")
print(f"floor:     {mean_spread([r['floor'] for r in ddpm_rows], '.1f')}")
print(f"DDPM - DDIM, paired by seed: {mean_spread([r['ddpm'] - r['ddim'] for r in ddpm_rows], '+.1f')}")

# %%
# Counts from the shipped results (the same file on every machine).
better = sum(r["ddpm"] < r["ddim"] for r in ddpm_rows)
print(f"DDPM-1000 scored the better FD in {better} of {len(ddpm_rows)} seeds, DDIM-50 in {len(ddpm_rows) - better}.")
for name in ("ddpm", "ddim"):
    above = sum(r[name] > r["floor"] for r in ddpm_rows)
    print(f"{name.upper()} scored above the floor of its seed in {above} of {len(ddpm_rows)} seeds.")

# %% [markdown]
# DDPM-1000 tends to score better here: in most seeds (the count above), by a few points on average (the paired
# difference), but not in every seed, and the paired difference's spread is about as large as its mean. Next to the
# floors drawn with the same seeds (the counts above), DDIM-50 scores above the floor of its seed in every seed;
# DDPM-1000 lies closer to the floors, mostly within their range. The FD of 300 samples moves by several points
# between sampling seeds of the *same* model and sampler, so a single-seed comparison (one grid of each, with its
# score) says little about the samplers. With five seeds of 300 digits we do not claim that DDPM-1000 wins every time.
# With large models and 50,000 samples Song et al. (2021, Table 1) resolve such differences on CIFAR-10, comparing
# samplers at equal numbers of steps: the deterministic sampler ($\eta = 0$) scores better than the stochastic one with
# $\sigma_t^2 = \tilde\beta_t$ ($\eta = 1$, our DDPM) at every number of steps they tried, while DDPM with the larger
# variance $\sigma_t^2 = \beta_t$ is best at 1,000 steps. Here the trade is plain to see: DDIM-50 costs a twentieth
# of the network calls, and in most seeds a few points of FD.

# %% [markdown]
# ## Inside the reverse process
#
# A 50-step DDIM run, recorded: at each step, the current $x_t$ and the model's estimate $\hat x_0$ (clipped to $[-1, 1]$).

# %%
_, trajectory = DDIMSampler(schedule, num_steps=50, clip_x0=True).sample(
    model, (8, 1, 8, 8), generator=torch.Generator().manual_seed(1), return_trajectory=True)

# %% tags=["nbval-ignore-output"]
# A live figure: every frame precomputed, only the images swapped on a move. Not compared in tests.
LiveFigure(TrajectoryView(trajectory), i=IntSlider(value=0, min=0, max=len(trajectory.timesteps) - 1))

# %%
show_trajectory_step(trajectory, 0)

# %%
show_trajectory_steps(trajectory, (5, 25, 40))

# %%
ab = schedule.alpha_bar
for t in (trajectory.timesteps[i] for i in (5, 25, 40)):
    print(f"t = {t}: x0_hat = (x_t - {(1 - ab[t]).sqrt():.3f} eps_hat) / {ab[t].sqrt():.3f}; "
          f"an error in eps_hat is multiplied by {((1 - ab[t]) / ab[t]).sqrt():.1f}")

# %% [markdown]
# Very early, $\hat x_0$ is *not* a blurry average digit: at $t = 880$ the figure shows black-and-white blotches.
# The printout says why: $\hat x_0$ divides by $\sqrt{\bar\alpha_t}$, so at $t = 880$ any error in $\hat\varepsilon$ is
# multiplied by about 50, and the clipping to $[-1, 1]$ turns the result into saturated pixels. (The best possible
# estimate of $x_0$ from almost pure noise *is* a blurry average, the mean of the data; the network's estimate is not
# that accurate.) By $t = 480$, where the error is amplified about three times, $\hat x_0$ is a blurry grey shape, the
# "blurry average digit" picture; by $t = 180$ the digits are legible: coarse shape first, details last.

# %% [markdown]
# ## Sampling in 2-D: transporting a cloud
#
# A small MLP trained on the Gaussian mixture (eight small clusters on a circle) for a few seconds; then 1,000
# points start as $\mathcal{N}(0, I)$ and follow their 50-step DDIM trajectories. On the left, 40 of the 1,000 paths
# (grey; drawing all would hide the data), with their points at step $k$; on the right, the whole cloud at step $k$.
# Move $k$ from 0 (pure noise) to 50 (the samples).

# %% tags=["nbval-ignore-output"]
# Progress bars print timings, which change from run to run.
mixture = make_toy_2d("gaussian_mixture", 8000)
torch.manual_seed(0)
toy = Trainer(MLPDenoiser(hidden=128, depth=3), NoiseSchedule.make("linear", 1000), mixture,
              TrainConfig(steps=1500, batch_size=256, lr=2e-3), device="cpu")
toy.train()

# %%
_, path = DDIMSampler(toy.schedule, num_steps=50).sample(toy.ema_model.eval(), (1000, 2),
                                                         generator=torch.Generator().manual_seed(0), return_trajectory=True)

# %% tags=["nbval-ignore-output"]
# A live figure: the paths are precomputed, a move only sets point positions. Not compared in tests.
LiveFigure(CloudView(path, mixture), k=IntSlider(value=0, min=0, max=len(path.timesteps)))

# %%
plot_2d_trajectories(path, mixture, k=50)

# %% [markdown]
# The cloud contracts from a wide Gaussian onto the circle of the mixture; scrubbing $k$ shows that it stays a blob for
# most of the steps and takes its shape late, as the digits did. Look at the right panel at $k = 50$: after 1,500
# steps the small MLP may not yet separate the eight clusters cleanly, and points between the clusters are what an
# undertrained diffusion model produces. This is one short run; we do not quote a score for it. Train it for longer
# (set `steps=6000` above, about a minute) and score the samples with `course_lib.metrics.toy_quality(samples,
# "gaussian_mixture")` before and after: does the MMD approach its floor?
#
# ## Summary
# - DDPM: 1000 stochastic steps through the Gaussian posterior; DDIM: a few deterministic jumps through $\hat x_0$.
# - One loop over `sampler.timesteps`, each step `x = sampler.step(model(x, t), t, x)`, serves both; the model is the same,
#   because DDIM's processes share DDPM's marginals $q(x_t \mid x_0)$ (Song et al. 2021, §3-4).
# - $\eta$ moves DDIM from deterministic ($\eta = 0$) to DDPM's noise ($\eta = 1$); at ten steps three seeds of 300 digits are
#   too few to claim a winner here (Song et al. resolve one at scale: $\eta = 0$ is better at few steps).
# - DDPM here uses $\sigma_t^2 = \tilde\beta_t$ and clips $\hat x_0$ (Ho et al.'s code, not their Algorithm 2).
# - Time grows linearly with the number of steps; quality saturates after a few tens of DDIM steps (checked over three sampling seeds above).
# - An FD is compared only with the floor at the same sample size, and with its spread: the floor falls as $n$ grows and
#   moves by several points from one draw of 300 real digits to the next.
# - The predicted $\hat x_0$ sharpens as $t$ falls: coarse shape first, details last; at large $t$ it is dominated by amplified errors.
#
# ## Going further
# - Song, Meng, Ermon (2021), *Denoising Diffusion Implicit Models*, §3-4 (Lemma 1, Theorem 1), Eq. 12 and Table 1.
# - Nichol and Dhariwal (2021), *Improved Denoising Diffusion Probabilistic Models*, §3.1 (learned variances, few steps).
# - Chong and Forsyth (2020), *Effectively Unbiased FID and Inception Score and where to find them* (the bias of FD at small $n$).
# - Lu et al. (2022), *DPM-Solver* (even fewer steps); Lin et al. (2024), *Common Diffusion Noise Schedules and Sample Steps are Flawed*, §3.3 (leading vs trailing spacing; `ddim_timesteps(..., spacing="trailing")`).
# - Next: **07 · Residual connections inside diffusion models**.
