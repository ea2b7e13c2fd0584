# %% [markdown]
# # 06 · Sampling: DDPM and DDIM
#
# A trained noise predictor $\varepsilon_\theta$ is all a sampler needs. DDPM (Ho et al. 2020) walks back through
# all $T = 1000$ steps, adding fresh noise at each; DDIM (Song et al. 2021) jumps over most of them,
# deterministically. This notebook measures the trade between speed and quality with the course's score.
#
# **Learning objectives**
# 1. Write one DDPM step and one DDIM step in terms of $\hat x_0$ and $\hat\varepsilon$.
# 2. Measure time and sample quality as the number of DDIM steps changes.
# 3. Watch the reverse process: $x_t$ and the predicted $\hat x_0$ side by side.
# 4. See sampling as transport of a point cloud in 2-D.

# %%
# On Colab only: install course_lib from the course's repository and turn on Colab's widget manager.
# Anywhere else (your laptop, Binder, a JupyterHub) the course is already set up and this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "course_lib @ git+https://github.com/course-lib/residual-to-diffusion"], check=True)
    from google.colab import output

    output.enable_custom_widget_manager()
    print("Colab: course_lib installed, widgets enabled.")
else:
    print("Not on Colab: nothing to install.")

# %%
import time

import torch
from ipywidgets import IntSlider, interact

from course_lib import DDIMSampler, DDPMSampler, NoiseSchedule
from course_lib.checkpoints import load_denoiser
from course_lib.data import make_toy_2d
from course_lib.exercises import check_ddim_step, check_speedup
from course_lib.mlp_denoiser import MLPDenoiser
from course_lib.notebook import setup_notebook
from course_lib.sampling import (
    plot_2d_trajectories,
    plot_sample_grids,
    plot_sweep,
    show_samples_at,
    show_trajectory_step,
    steps_sweep,
)
from course_lib.trainer import TrainConfig, Trainer

device = setup_notebook(seed=0)

# %% [markdown]
# ## The model
#
# We use the digits checkpoint shipped inside `course_lib` (the default U-Net trained for 4,000 steps by
# `scripts/make_checkpoint.py`). To use the one you trained in notebook 05, set `MY_CHECKPOINT = "runs/digits_unet.pt"`.

# %%
MY_CHECKPOINT = None
model, schedule, ckpt = load_denoiser(MY_CHECKPOINT)
print(f"{ckpt['model']['kind']} trained {ckpt['step']} steps, schedule {schedule}")

# %% [markdown]
# ## DDPM: all 1000 steps
#
# Each step estimates $\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\, \hat\varepsilon) / \sqrt{\bar\alpha_t}$, clips it to
# $[-1, 1]$, and samples $x_{t-1}$ from the Gaussian posterior $q(x_{t-1} \mid x_t, \hat x_0)$ of Ho et al., Eq. 6-7.

# %%
start = time.perf_counter()
ddpm = DDPMSampler(schedule, clip_x0=True).sample(model, (128, 1, 8, 8), generator=torch.Generator().manual_seed(0))
seconds_ddpm = time.perf_counter() - start
start = time.perf_counter()
ddim = DDIMSampler(schedule, num_steps=50, clip_x0=True).sample(model, (128, 1, 8, 8), generator=torch.Generator().manual_seed(0))
seconds_ddim = time.perf_counter() - start

# %%
plot_sample_grids({"DDPM, 1000 steps": ddpm, "DDIM, 50 steps": ddim})

# %% tags=["nbval-ignore-output"]
# Wall-clock times change from run to run and machine to machine.
print(f"DDPM: {seconds_ddpm:.1f} s for 128 digits; DDIM-50: {seconds_ddim:.2f} s ({seconds_ddpm / seconds_ddim:.0f}x faster)")

# %% [markdown]
# **Exercise 1.** Compute the measured speed-up of DDIM-50 over DDPM (a ratio of `seconds_ddpm` and `seconds_ddim`)
# and store it in `speedup`.

# %%
### BEGIN SOLUTION
speedup = seconds_ddpm / seconds_ddim
### END SOLUTION

# %%
check_speedup(speedup, seconds_ddpm, seconds_ddim)

# %% [markdown]
# ## DDIM: fewer, deterministic steps
#
# DDIM visits only $S$ of the $T$ timesteps. Between two visited steps $t > t'$ (with $\eta = 0$) it estimates $\hat x_0$
# and re-noises it to level $t'$ with the *same* predicted noise:
#
# $$x_{t'} = \sqrt{\bar\alpha_{t'}}\, \hat x_0 + \sqrt{1 - \bar\alpha_{t'}}\, \hat\varepsilon.$$
#
# **Exercise 2.** Write `ddim_step(x_t, eps, alpha_bar_t, alpha_bar_prev)` for $\eta = 0$.

# %%
def ddim_step(x_t, eps, alpha_bar_t, alpha_bar_prev):
    ### BEGIN SOLUTION
    x0 = (x_t - (1 - alpha_bar_t) ** 0.5 * eps) / alpha_bar_t ** 0.5
    return alpha_bar_prev ** 0.5 * x0 + (1 - alpha_bar_prev) ** 0.5 * eps
    ### END SOLUTION


# %%
check_ddim_step(ddim_step)

# %% [markdown]
# ## How many steps are enough?
#
# 300 samples for each number of DDIM steps, scored with the Fréchet distance in the feature space of a small
# digit classifier (lower is better; the floor is the same distance for 300 real held-out digits).

# %%
sweep = steps_sweep(model, schedule, steps=(5, 10, 20, 50, 100), n=300)
for steps, r in sweep.items():
    print(f"DDIM {steps:>3} steps: FD {r['fd']:6.1f}   (floor {r['floor']:.1f}, noise {r['ceiling']:.1f})")

# %% tags=["nbval-ignore-output"]
# Wall-clock times change from run to run and machine to machine.
for steps, r in sweep.items():
    print(f"DDIM {steps:>3} steps: {r['seconds']:.2f} s for 300 digits")
plot_sweep(sweep)

# %% [markdown]
# Quality improves quickly up to a few tens of steps, then flattens, while time grows linearly with the steps.
# The score can even dip below the floor: the model learned the writers of the digits that also define the
# reference statistics, while the floor's held-out digits come from other writers. Compare settings with each
# other and with the floor, not with zero.
# Song et al. report 10-50x fewer steps at similar quality; the table above is our measurement at 8x8.
# Try the slider (time and score are printed in the title):

# %% tags=["nbval-ignore-output"]
# Widget output lives inside the widget, where the notebook tests cannot compare it.
interact(lambda steps: show_samples_at(model, schedule, steps), steps=IntSlider(value=20, min=2, max=200, step=2));

# %% [markdown]
# ## Inside the reverse process
#
# A 50-step DDIM run, recorded: at each step, the current $x_t$ and the model's estimate $\hat x_0$. Early on
# $\hat x_0$ is a blurry average digit; the details appear as $t$ falls.

# %%
_, trajectory = DDIMSampler(schedule, num_steps=50, clip_x0=True).sample(
    model, (8, 1, 8, 8), generator=torch.Generator().manual_seed(1), return_trajectory=True)

# %% tags=["nbval-ignore-output"]
# Widget output lives inside the widget, where the notebook tests cannot compare it.
interact(lambda i: show_trajectory_step(trajectory, i), i=IntSlider(value=0, min=0, max=49));

# %%
show_trajectory_step(trajectory, 5)

# %%
show_trajectory_step(trajectory, 40)

# %% [markdown]
# ## Sampling in 2-D: transporting a cloud
#
# A small MLP trained on the Gaussian mixture (eight small clusters on a circle) for a few seconds; then 1,000
# points start as $\mathcal{N}(0, I)$ and follow their DDIM trajectories. Each grey line is one point's path.

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
plot_2d_trajectories(path, mixture)

# %% [markdown]
# The cloud contracts from a wide Gaussian onto the circle of the mixture, but after 1,500 steps the small
# MLP has not yet separated the eight clusters: its samples form a ring. This is what an undertrained
# diffusion model looks like. Train it for longer (set `steps=6000` above, about a minute) and the ring breaks
# into the eight clusters: in our run the MMD to fresh data fell from 0.077 at 1,500 steps to 0.012 at 6,000.
#
# ## Summary
# - DDPM: 1000 stochastic steps through the Gaussian posterior; DDIM: a few deterministic jumps through $\hat x_0$.
# - Time grows linearly with the number of steps; quality saturates after a few tens of DDIM steps (measured above).
# - The predicted $\hat x_0$ sharpens as $t$ falls: coarse shape first, details last.
#
# ## Going further
# - Song, Meng, Ermon (2021), *Denoising Diffusion Implicit Models*, Eq. 12 and Table 1.
# - Lu et al. (2022), *DPM-Solver* (even fewer steps); Lin et al. (2024), *Common Diffusion Noise Schedules and Sample Steps are Flawed* (leading vs trailing spacing; `ddim_timesteps(..., spacing="trailing")`).
# - Next: **07 · Residual connections inside diffusion models**.
