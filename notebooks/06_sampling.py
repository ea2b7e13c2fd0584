# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,answers,-all
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
# all $T$ diffusion steps, adding fresh noise at each; DDIM (Song et al. 2021) jumps over most of them,
# deterministically. The article *Architecture of Diffusion Models* names the cost: "Slow Sampling: Generating
# samples can be slow because of the many steps needed for the reverse diffusion process." This notebook builds both and measures what fewer steps cost.
#
# **Learning objectives**
# 1. Write one DDPM step from the posterior $q(x_{t-1} \mid x_t, x_0)$, the sampling loop, and one DDIM step.
# 2. Explain why one trained model serves both samplers; measure what the number of DDIM steps and their spacing change.
# 3. Watch the reverse process: $x_t$ beside the predicted $\hat x_0$, and a 2-D cloud in transport.

# %% [markdown] tags=["instructor"]
# ## Instructor's plan (50 minutes)
#
# The three exercises are the lesson; the studies after them are read, not typed. The notebook runs in about a
# minute, so run it once before class to warm the caches (digit classifier, checkpoint).
#
# **Timeline**
#
# | minutes | part | cells | what happens |
# |---|---|---|---|
# | 0-4 | The model | setup, checkpoint load | One trained noise predictor; the samplers only differ in how they use it. |
# | 4-16 | DDPM: one step | the variance printout, Exercise 1, its check, the Eq. 11 cell | Students write `ddpm_step` (6 min); live-code it; the Eq. 11 cell runs their step with $z = 0$. |
# | 16-22 | The loop | Exercise 2, its check, the timed grids | Write `sample_loop`; predict the speed-up, then time it. |
# | 22-32 | DDIM | Exercise 3, its check, "why may DDIM use...", the consistency study | Write `ddim_step`; ask question 1; predict whether 5 and 200 steps agree; run; ask question 2. |
# | 32-40 | Steps, eta and spacing | the samples widget, the spacing study | Drag steps and eta; predict where spacing matters. |
# | 40-46 | Inside the reverse process | the trajectory scrubber, the three rows, the printout | Predict what $\hat x_0$ looks like in the first steps. |
# | 46-50 | The 2-D cloud, summary | toy training, the cloud scrubber, the row of clouds | Drag k; read the summary. |
#
# **Live-code** (after the students' attempt; never the `print` cells)
# - `ddpm_step`: first `x0_hat` ("solve the forward closed form for $x_0$, with the model's noise in place of the
#   true one"), then the posterior mean ("two weights, both from the schedule; I copy them from Eq. 7"), then
#   `+ sigma * z` ("the posterior's own variance; it is 0 at $t = 0$, so the last step adds nothing").
# - `sample_loop`: "noise from the generator; at every timestep the model's eps, one $t$ per image; the step's
#   output is the next input. The same loop serves DDPM and DDIM."
# - `ddim_step`: two lines. "Estimate $x_0$; put it back at the new level with the *same* noise direction. No
#   fresh noise."
#
# **Predict before running** (each prompt is in the student copy; the outputs that answer it are cleared there)
# - Before the timed grids: how much faster is DDIM-50 than DDPM? Many say "$T/50$, 20 times"; others expect
#   less, for overheads. The printout's ratio is near $T/50$ on an idle machine (the claim asks for over 10).
# - Before the consistency study: from one $x_T$, do 5 and 200 steps give the same digits? Many say no ("a
#   different function for each S"); they are close, and closer as the steps double.
# - Before the spacing study: at which step counts does leading or trailing spacing matter? Most say everywhere;
#   here only at 2 steps.
# - Before the scrubber: what is $\hat x_0$ in the first steps? Most say "a blurry average digit"; it is
#   saturated blotches (the printout counts the clipped pixels).
#
# **Common mistakes** (the checks' diagnoses)
# - In $\hat x_0$: $\alpha_t$ where $\bar\alpha_t$ belongs, the noise term's sign flipped, dividing by $\bar\alpha_t$
#   instead of its square root.
# - Returning $\hat x_0$ instead of $x_{t-1}$; swapping the two weights of the posterior mean; $\bar\alpha_t$ where
#   $\bar\alpha_{t-1}$ belongs.
# - Noise scaled by the variance, not the standard deviation; $\beta_t$ instead of $\tilde\beta_t$ (noise at
#   $t = 0$); no noise at all.
# - In the loop: returning $x_T$ (the step's result not fed back), timesteps run upwards, the step's noise not drawn
#   from `generator`, a plain integer $t$ where the model needs one per image.
# - In DDIM: $\bar\alpha_t$ and $\bar\alpha_{t'}$ swapped, the predicted noise dropped, the noise kept at the size
#   it had at level $t$.
#
# **Two questions to ask** (the first after Exercise 3's check, the second after the consistency study)
# 1. "Why may DDIM use a model trained with the DDPM loss?" A good answer: the loss only ever sees the marginals
#    $q(x_t \mid x_0)$; DDIM's non-Markovian processes share them (Song et al. 2021, Lemma 1), and their objectives
#    are the DDPM loss up to weights, which do not move the optimum without parameter sharing (Theorem 1).
# 2. "Why do 5 and 200 DDIM steps from one $x_T$ give nearly the same digit?" A good answer: with $\eta = 0$ each
#    step is an Euler step of one ODE; more steps integrate it more finely, and the error halves as the steps double.

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
# We use the digits checkpoint shipped inside `course_lib`: the default U-Net, trained on the training split only,
# like notebook 05's run. To use yours from notebook 05, set `MY_CHECKPOINT = "runs/digits_unet.pt"`.

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
# We do not know $x_0$, but the network predicts the noise $\hat\varepsilon$ in $x_t$, and the closed form turns
# that into an estimate of $x_0$. Two choices hide in such a step.
#
# - **The variance.** We draw with the posterior's own variance $\sigma_t^2 = \tilde\beta_t$; it is 0 at $t = 0$, so the last step adds no noise. Ho et al. (§3.2) found that
#   $\sigma_t^2 = \beta_t$ gave similar results with all $T$ steps; the two differ only at small $t$ (printed below).
#   With few steps the two choices score differently (Nichol and Dhariwal 2021, §4, Fig. 8); we do not measure that.
# - **The clipping.** Ho et al.'s code clamps the estimate of $x_0$ to $[-1, 1]$, the range of image pixels; their
#   Algorithm 2 does not. The exercise leaves it out; the samplers clip with `clip_x0=True`.

# %%
T = schedule.T  # the checkpoint's number of diffusion steps
for t in sorted({1, 10, T // 10, T // 2, T - 1}):
    print(f"t = {t:>3}: beta_t = {schedule.betas[t]:.5f}, beta_tilde_t = {schedule.posterior_variance[t]:.5f}, "
          f"ratio {schedule.posterior_variance[t] / schedule.betas[t]:.3f}")

# %% [markdown]
# **Exercise 1.** Write `ddpm_step(x_t, eps, t, schedule, z)`: one step from $x_t$ to $x_{t-1}$ for an integer $t$.
# Estimate $x_0$ from $x_t$ and the predicted noise `eps` (solve the closed form for $x_0$), then draw $x_{t-1}$ from
# the posterior above with that estimate in place of $x_0$ and the given standard normal noise `z`. The
# schedule's tensors are indexed by $t$: `schedule.alpha_bar[t]`, `schedule.alpha_bar_prev[t]` ($\bar\alpha_{t-1}$,
# and 1 at $t = 0$), `schedule.alphas[t]`, `schedule.betas[t]`. It must work on images `[B, 1, 8, 8]` and on 2-D
# points `[B, 2]`.

# %% answers=["(x_t - (1 - ab).sqrt() * eps) / ab.sqrt()", "(1 - ab_prev) / (1 - ab) * beta", "variance.sqrt() * z"]
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
# **The same mean, written with the noise.** Put $\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\, \hat\varepsilon) / \sqrt{\bar\alpha_t}$
# into $\tilde\mu_t$. Since $\sqrt{\bar\alpha_{t-1}} / \sqrt{\bar\alpha_t} = 1 / \sqrt{\alpha_t}$ and
# $\beta_t + \alpha_t (1 - \bar\alpha_{t-1}) = 1 - \bar\alpha_t$, the weight of $x_t$ becomes $1/\sqrt{\alpha_t}$ and
#
# $$\mu_\theta(x_t, t) = \frac{1}{\sqrt{\alpha_t}} \Big( x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\, \hat\varepsilon \Big),$$
#
# Ho et al.'s Eq. 11 (line 4 of their Algorithm 2). Two routes, one mean: below, Eq. 11 against your `ddpm_step`
# with $z = 0$, on random inputs. Only the route through $\hat x_0$ lets a sampler clip $\hat x_0$.

# %%
def mean_eq11(x_t, eps, t):  # Ho et al. (2020), Eq. 11
    return (x_t - schedule.betas[t] / (1 - schedule.alpha_bar[t]).sqrt() * eps) / schedule.alphas[t].sqrt()


x_t, eps = torch.randn(2, 100, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
for t in (T - 1, T // 2, 10, 1):
    yours = lesson.your_step_or_none(ddpm_step, x_t.clone(), eps.clone(), t, schedule, torch.zeros_like(x_t))
    if yours is None:  # not written yet, or it failed: the line above says which
        break
    same = torch.allclose(mean_eq11(x_t, eps, t), yours, rtol=0, atol=1e-10)
    print(f"t = {t:>3}: Eq. 11 and your ddpm_step with z = 0 agree to 10 decimals: {same}")

# %% [markdown]
# **Exercise 2.** The sampling loop. Every sampler in `course_lib` follows the API of `diffusers`' schedulers: a list
# `sampler.timesteps` (from large $t$ to small) and `sampler.step(eps, t, x_t, generator=...)`, which returns
# `(x_prev, x0_hat)`. Write `sample_loop(model, sampler, shape, generator)`: draw $x_T \sim \mathcal{N}(0, I)$ with
# `generator`, then at every timestep ask the model for $\hat\varepsilon$ (it takes a tensor of $B$ timesteps) and step.

# %% answers=["for t in sampler.timesteps", "sampler.step(eps, t, x, generator=generator)", "torch.full((shape[0],), t)"]
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

# %% [markdown] answers=["near $T/50$", "network calls set the time"]
# That loop is `Sampler.sample` in `course_lib/samplers.py`. Sixty-four digits with DDPM (all $T$ steps) and DDIM
# at 50 steps (next section), from the same $x_T$; DDPM's fresh noise at every step makes its digits differ, so
# compare the grids as wholes. Each is timed three times after a warm-up; the fastest run counts. **Predict:** how
# many times faster is DDIM-50?

# %% tags=["spoiler", "nbval-ignore-output"]
# Wall-clock times change from run to run and machine to machine.
samplers = {"DDPM": DDPMSampler(schedule, clip_x0=True), "DDIM-50": DDIMSampler(schedule, num_steps=50, clip_x0=True)}
grids, seconds = lesson.time_samplers(samplers, model, n=64, seed=0, repeats=3)
ratios = [a / b for a, b in zip(seconds["DDPM"], seconds["DDIM-50"])]
print(f"fastest of 3: DDPM {min(seconds['DDPM']):.2f} s, DDIM-50 {min(seconds['DDIM-50']):.2f} s for 64 digits; "
      f"ratio {min(seconds['DDPM']) / min(seconds['DDIM-50']):.1f}, network calls {T} / 50 = {T / 50:.0f}")
lesson.check_claim("in each timed run DDIM-50 took less than a tenth of DDPM's time", ratios, threshold=10)
lesson.plot_sample_grids({f"DDPM, {T} steps": grids["DDPM"], "DDIM, 50 steps": grids["DDIM-50"]}, score=False)

# %% [markdown]
# The time ratio is near $T/50$ (the printout): network calls set the time, one per step.
#
# ## DDIM: fewer, deterministic steps, and the same trained model
#
# DDIM visits only $S$ of the $T$ timesteps and, with $\eta = 0$, adds no fresh noise. The idea of a jump from $t$
# to an earlier $t'$: keep the model's two beliefs about $x_t$, which clean digit and which noise, and change only
# how much of each the point holds, as the level $t'$ calls for.
#
# **Exercise 3.** Write `ddim_step(x_t, eps, alpha_bar_t, alpha_bar_prev)` for $\eta = 0$: one jump from level
# $\bar\alpha_t$ to level $\bar\alpha_{t'}$, both given as numbers. The result must be a point that the forward
# process could give at level $\bar\alpha_{t'}$ from those two beliefs, with no randomness of its own.

# %% answers=["alpha_bar_prev ** 0.5 * x0", "(1 - alpha_bar_prev) ** 0.5 * eps"]
def ddim_step(x_t, eps, alpha_bar_t, alpha_bar_prev):
    ### BEGIN SOLUTION
    x0 = (x_t - (1 - alpha_bar_t) ** 0.5 * eps) / alpha_bar_t ** 0.5
    return alpha_bar_prev ** 0.5 * x0 + (1 - alpha_bar_prev) ** 0.5 * eps
    ### END SOLUTION


# %%
lesson.check_ddim_step(ddim_step)

# %% [markdown] answers=["nearly the same digits", "closer as the steps double"]
# Song et al.'s general step (2021, Eq. 12) also adds fresh noise $\sigma z$; their Eq. 16 sets $\sigma$ by a knob
# $\eta$: $\eta = 0$ is your step, and $\eta = 1$ with every timestep visited is DDPM's step.
#
# **Why may DDIM use a model trained for DDPM?** The loss of notebook 05 only sees $x_t$ drawn from the marginals
# $q(x_t \mid x_0)$, never the chain. Song et al. (2021, §3.1, Lemma 1) build a family of
# non-Markovian forward processes, one for each choice of $\sigma$, with exactly these marginals; their Theorem 1
# (§3.2) shows each one's objective is the DDPM loss up to weights and a constant. The weights do not move the
# optimum if no parameters are shared across $t$ (their remark after Theorem 1); a shared network is assumed close to
# that. So one $\varepsilon_\theta$ trained with the DDPM loss serves them all.
#
# **Do fewer steps give the same digits?** Each run is a function of $x_T$, a different one for each $S$. We measure
# the distance of the digits at $S$ steps to a 200-step run from
# the same $x_T$ (root-mean-square over pixels, mean of 16 digits), for three seeds, beside that between digits from
# different $x_T$. **Predict:** from one $x_T$, do 5 and 200 steps give the same digits?

# %% tags=["spoiler", "nbval-ignore-output"]
# Distances between samples of a network: their last digits differ between CPUs, so the tests do not compare them.
consistency = lesson.consistency_study(model, schedule, steps=(5, 10, 20, 50), reference=200, seeds=(0, 1, 2))
for s, d in consistency["distance"].items():
    print(f"{s:>2} steps: distance to the 200-step digits from the same x_T {lesson.mean_spread(d, '.3f')}")
print(f"200-step digits from different x_T: {lesson.mean_spread(consistency['between'], '.2f')}")
lesson.plot_consistency(consistency)

# %% tags=["spoiler"]
d = consistency["distance"]
lesson.check_claim("the distance to the 200-step digits shrinks with every step count, 5 to 10 to 20 to 50",
                   [min(d[a][i] - d[b][i] for a, b in [(5, 10), (10, 20), (20, 50)]) for i in range(3)])
lesson.check_claim("doubling the steps, 5 to 10 and 10 to 20, shrinks it by more than a factor 1.5",
                   [min(d[5][i] / d[10][i], d[10][i] / d[20][i]) for i in range(3)], threshold=1.5)
held = lesson.check_claim("at 5 steps the digits are nearer to the 200-step digits from their own x_T than digits "
                          "from different x_T are to each other", [b - a for a, b in zip(d[5], consistency["between"])])

# %% [markdown]
# Nearly the same digits, closer as the steps double: the distance roughly halves, like Euler's method's error, and
# at 5 steps is a small fraction of that between different digits. Why: with $\eta = 0$ a DDIM step is
# an Euler step of one probability-flow ODE (Song et al. 2021, §4.3, Eq. 13-14, Prop. 1), whatever $S$; more steps
# integrate it more finely. Song et al. (§5.2, Fig. 5) call this *consistency*.
#
# ## Steps, eta and spacing, live
#
# Which timesteps should $S$ steps visit? `diffusers`' default, **leading** spacing, takes $t = k \lfloor T/S \rfloor$:
# with $S = 2$ the run starts by treating pure noise as if it were $x_{T/2}$, which still holds part of the signal.
# **Trailing** spacing counts back from $T - 1$, where Lin et al. (2024, §3.3) argue sampling should start.
#
# Below, 16 of 300 digits from one starting noise, the same for every setting. The title lists the timesteps visited
# and scores all 300 with a Fréchet distance (FD) to held-out digits (lower is better; 06b explains it), beside what
# 300 real digits score. A new steps or $\eta$ value samples on release (the title gives the time); settings seen
# before only look up.

# %% tags=["nbval-ignore-output"]
# A live figure that samples on release (cached per value); its title prints a time, which changes from run to run.
LiveFigure(lesson.SamplesView(model, schedule),
           steps=SelectionSlider(options=lesson.step_options(schedule), value=10, continuous_update=False),
           eta=FloatSlider(value=0.0, min=0.0, max=1.0, step=0.1, continuous_update=False),
           spacing=ToggleButtons(options=["leading", "trailing"], value="leading"))

# %% [markdown] answers=["matters only at very few steps"]
# **Does the spacing matter here?** Sixteen digits by eye cannot tell. We score 300 digits per spacing at 2 to 20
# steps, for three seeds; within a seed both spacings start from the same $x_T$. **Predict:** at which numbers of
# steps does the spacing change the FD?

# %% tags=["spoiler", "nbval-ignore-output"]
# Scores of samples from a network: their last digits differ between CPUs, so the tests do not compare them.
spacing = lesson.spacing_study(model, schedule, steps=(2, 5, 10, 20), n=300, seeds=(0, 1, 2))
lead, trail = spacing["fd"]["leading"], spacing["fd"]["trailing"]
for s in lead:
    differences = [a - b for a, b in zip(lead[s], trail[s])]
    print(f"{s:>2} steps: FD leading {lesson.mean_spread(lead[s], '.1f')}, trailing {lesson.mean_spread(trail[s], '.1f')}; "
          f"leading - trailing, same x_T: {lesson.mean_spread(differences, '+.1f')}")
print(f"floor, 300 real digits: {lesson.mean_spread(spacing['floor'], '.1f')}; noise images: {spacing['ceiling']:.0f}")
lesson.plot_spacing_study(spacing)

# %% tags=["spoiler"]
lesson.check_claim("at 2 steps trailing spacing scores a better FD than leading", [a - b for a, b in zip(lead[2], trail[2])])
held = lesson.check_claim("from 5 steps on the two spacings score within 1 FD point of each other",
                          [1 - max(abs(lead[s][i] - trail[s][i]) for s in (5, 10, 20)) for i in range(3)])

# %% [markdown] answers=["blotches"]
# At 2 steps trailing spacing is better in every seed, but both score nearer the noise ceiling than the floor: neither
# draws digits. From 5 steps on they differ by less than a point, less than the seeds differ: here the spacing
# matters only at very few steps.
#
# ## Inside the reverse process
#
# A 50-step DDIM run, recorded: at each step, $x_t$ and the model's estimate $\hat x_0$ (clipped to $[-1, 1]$).
# **Predict:** what does $\hat x_0$ look like in the first steps, when $x_t$ is nearly pure noise?

# %%
_, trajectory = DDIMSampler(schedule, num_steps=50, clip_x0=True).sample(
    model, (8, 1, 8, 8), generator=torch.Generator().manual_seed(1), device=device, return_trajectory=True)

# %% tags=["spoiler", "nbval-ignore-output"]
# A live figure: every frame precomputed, only the images swapped on a move. Not compared in tests.
LiveFigure(lesson.TrajectoryView(trajectory), i=IntSlider(value=0, min=0, max=len(trajectory.timesteps) - 1))

# %% tags=["spoiler"]
n_steps = len(trajectory.timesteps)
shown = (n_steps // 10, n_steps // 2, 4 * n_steps // 5)  # early, half-way, late
lesson.show_trajectory_steps(trajectory, shown)

# %% tags=["spoiler", "nbval-ignore-output"]
# The share of clipped pixels comes from a network: its last digit can differ between CPUs.
ab = schedule.alpha_bar
for t in (trajectory.timesteps[i] for i in shown):
    print(f"t = {t}: x0_hat = (x_t - {(1 - ab[t]).sqrt():.3f} eps_hat) / {ab[t].sqrt():.3f}; "
          f"an error in eps_hat is multiplied by {((1 - ab[t]) / ab[t]).sqrt():.1f}")
lesson.check_saturated(trajectory, shown)

# %% [markdown]
# Early on, $\hat x_0$ is *not* a blurry average digit: at the first $t$ printed, the figure shows black-and-white
# blotches, more pixels clipped to white than real digits have (printed). The printout says why: $\hat x_0$
# divides by $\sqrt{\bar\alpha_t}$, so there an error in $\hat\varepsilon$ is multiplied by the first factor
# printed, and clipping saturates the result. Half-way, with a factor of a few, $\hat x_0$ is a blurry grey shape;
# late, the digits are legible: coarse shape first, details last.
#
# ## Sampling in 2-D: transporting a cloud
#
# A small MLP trained briefly on the Gaussian mixture (eight small clusters on a circle); then 1,000 points start
# as $\mathcal{N}(0, I)$ and follow their 50-step DDIM trajectories. On the left, a few of the paths (grey), with
# their points at step $k$; on the right, the whole cloud at step $k$. Move $k$ from 0 (pure noise) to the end.

# %%
TOY_STEPS = 3000 if lesson.use_large_config(device) else 1500  # more on a GPU
toy, mixture = lesson.train_toy_2d(steps=TOY_STEPS, device=device)
_, path = DDIMSampler(toy.schedule, num_steps=50).sample(toy.ema_model.eval(), (1000, 2), device=device,
                                                         generator=torch.Generator().manual_seed(0), return_trajectory=True)

# %% tags=["nbval-ignore-output"]
# A live figure: the paths are precomputed, a move only sets point positions. Not compared in tests.
LiveFigure(lesson.CloudView(path, mixture), k=IntSlider(value=0, min=0, max=len(path.timesteps)))

# %%
lesson.plot_cloud_steps(path, mixture)

# %% [markdown]
# The cloud stays a blob through half the steps and takes its shape late, as the digits did. At the end the
# points sit on the circle, mostly in the clusters. Train longer (`steps=6000`) and compare
# `course_lib.metrics.toy_quality(samples, "gaussian_mixture")`.
#
# ## Summary
# - DDPM: all $T$ steps, each a draw around $\tilde\mu_t(x_t, \hat x_0)$, Ho et al.'s Eq. 11; DDIM: a few
#   deterministic jumps through $\hat x_0$. One loop and one trained model serve both (Song et al. 2021, §3).
# - With $\eta = 0$ every number of steps discretises one ODE, so the digits converge as the steps grow (§4.3, §5.2).
#   Time follows the network calls. Spacing mattered here only at 2 steps.
# - $\hat x_0$ sharpens as $t$ falls: coarse shape first.
#
# ## Going further
# - Optional: **06b · Sample quality**, which scores the samplers over seeds.
# - Song, Meng, Ermon (2021), *Denoising Diffusion Implicit Models*, §3-5 (Lemma 1, Theorem 1, Eq. 12-16, Fig. 5).
# - Ho, Jain, Abbeel (2020), *Denoising Diffusion Probabilistic Models*, Eq. 6-7 and 11, Algorithm 2.
# - Nichol and Dhariwal (2021), *Improved Denoising Diffusion Probabilistic Models*, §4 and Fig. 8 (fewer sampling steps, fixed and learned variances).
# - Lin et al. (2024), *Common Diffusion Noise Schedules and Sample Steps are Flawed*, §3.3 (`ddim_timesteps(..., spacing="trailing")`).
# - Next: **07 · Residual connections inside diffusion models**.
