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
# # 05 · Training a tiny diffusion model
#
# A diffusion model learns to run notebook 04's fixed process backwards, and its training objective is a plain
# regression: **predict the noise**. We train on 2-D points first, then on digits with notebook 03's U-Net.
#
# **Learning objectives**
# 1. Write the $\varepsilon$-prediction loss $L_\text{simple}$ with the closed form $q(x_t \mid x_0)$, and relate it
#    to the variational bound of Ho et al. (which weights it drops).
# 2. Write the training loop yourself, then train with `course_lib`'s `Trainer`: the same loop plus EMA, gradient
#    clipping and checkpoints.
# 3. Read a diffusion loss curve: why it is noisy, and why it depends on $t$.
# 4. Take-home, at the end: explain EMA weights and see, over several seeds, how much they matter in a short run.

# %% [markdown] tags=["instructor"]
# ## Instructor's plan (50 minutes)
#
# **Goal of the class.** Students leave having written the $\varepsilon$-prediction loss and the whole training
# loop themselves, and able to read a diffusion loss curve (noisy, and very different across $t$). The EMA study
# and the checkpoint section at the end are **take-home**: assign them, do not teach them in class. The samplers
# that draw the samples shown here are notebook 06's subject: if asked, say "next class".
#
# **Timeline**
#
# | minutes | part | cells | what happens |
# |---|---|---|---|
# | 0-5 | The objective | "The objective" | From notebook 04's closed form to "predict the noise"; $L_\text{simple}$ drops the bound's weights (Ho et al. Sec. 3.4). |
# | 5-13 | Exercise 1 | `eps_loss`, check | Students write the loss from its properties; one student reads theirs out. |
# | 13-22 | Exercise 2 | `train_loop`, check, 300-step run | Students try 5 minutes, then live-code it; run it on the two moons. |
# | 22-28 | The `Trainer` | toy run, loss curves, toy samples and scores | The same loop plus EMA, clipping and checkpoints; read the log-log loss curve and the sprinkle between the moons. |
# | 28-34 | Exercise 3 | prediction, loss per tenth of $t$, check | Vote small, middle or large $t$; run; check. |
# | 34-41 | Digits | U-Net run (its progress bar gives the time: about 20 s on 2 CPU cores), sample grid | Talk through the trainer's progress bar while it trains; compare samples with real digits. |
# | 41-47 | $\hat x_0$ and training on | $\hat x_0$ widget, "train N more" button | Back to exercise 3: the $x_0$ error is the $\varepsilon$ error times $\sqrt{(1-\bar\alpha_t)/\bar\alpha_t}$; press the button once. |
# | 47-50 | Summary, take-home | summary | Assign the take-home: EMA weights and checkpoints. |
#
# **Live-code**
# - `train_loop` (exercise 2), line by line: draw a batch, then "one $t$ per example, uniform over all $T$ timesteps:
#   a batch covers the whole chain, which is why its loss is so noisy"; fresh noise of the batch's shape; $x_t$ by
#   notebook 04's closed form; the mean squared error against the noise; `zero_grad`, `backward`, `step`. Say that
#   this is Algorithm 1 of Ho et al. (2020), one pass per step.
# - `eps_loss` (exercise 1), if the class is stuck: first ask "what will the network see when it samples?" ($x_t$
#   and $t$, never $x_0$), then type it.
#
# **Predict before running**
# - Exercise 3: most say "large" (almost pure noise looks hardest). The measured loss is largest at small $t$:
#   there $x_t$ is nearly all data, and the little noise in it is hard to single out; at large $t$, $\varepsilon
#   \approx x_t$.
# - Before the loss curves (their outputs, and the 300-step printout, are cleared in the student copy): "will the
#   loss reach 0?" Many say yes; it cannot, because at small $t$ the noise is not recoverable from $x_t$.
# - Before the digit grid (cleared in the student copy, with the "train N more" grid): "will 500 steps give
#   readable digits?" Expect yes; on a CPU only some read as digits.
#
# **Common mistakes** (what the checks diagnose)
# - $x_t$ built with $\alpha_t$ (one step) instead of $\bar\alpha_t$, or without the square roots.
# - The target is $x_0$, or the model is shown $x_0$ instead of $x_t$.
# - A sum of squared errors instead of the mean, or an error that is not squared.
# - One $\bar\alpha$ for the whole batch (the first example's, or an average) instead of one per example.
# - `alpha_bar[t]` reshaped to `[B, 1, 1, 1]`: right on images, wrong on 2-D points.
# - In the loop: one $t$ for the whole batch, noise not drawn from $\mathcal{N}(0, I)$, no `backward()` or
#   `step()`, the model called twice a step, the losses not returned as a list of numbers.
#
# **Two questions to ask**
# 1. "$L_\text{simple}$ is not the variational bound. What does dropping the weights change, and why do it?" A good
#    answer: relative to the bound it down-weights small $t$ and puts the effort on harder denoising at larger $t$;
#    it gave better samples (lower FID, Table 2) and a worse likelihood (Table 1) in Ho et al. (2020).
# 2. "The $\varepsilon$-loss is largest at small $t$. Is small $t$ the hardest part of generating an image?" A good
#    answer: no; the $x_0$ estimate's error is the $\varepsilon$ error times $\sqrt{(1-\bar\alpha_t)/\bar\alpha_t}$, tiny
#    at small $t$; the loss per $t$ measures the noise estimate, not the quality of the image.

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

from course_lib import NoiseSchedule, UNet, q_sample
from course_lib.data import load_digits, make_toy_2d
from course_lib.lessons import setup_notebook
from course_lib.lessons import training as lesson
from course_lib.mlp_denoiser import MLPDenoiser
from course_lib.trainer import TrainConfig

# %%
device = setup_notebook(seed=0)
GPU = lesson.use_large_config(device)  # True on a GPU (COURSE_CONFIG=large forces it on a CPU)
TOY_STEPS = 6000 if GPU else 3000
DIGIT_STEPS = 5000 if GPU else 500
DIGIT_SECONDS = 30 if GPU else None  # a slow GPU stops the digit run at 30 s (the title gives the steps)
WIDTH = 64 if GPU else 16  # a wider U-Net when a GPU is present
T = 1000  # diffusion steps of every schedule below (Ho et al. 2020)
print(f"toy MLP: {TOY_STEPS:,} training steps; digit U-Net: width {WIDTH}, {DIGIT_STEPS:,} training steps"
      + (f" or {DIGIT_SECONDS} s" if DIGIT_SECONDS else ""))

# %% [markdown]
# ## The objective
#
# If a network $\varepsilon_\theta(x_t, t)$ knew the noise $\varepsilon$ in $x_t$, inverting notebook 04's closed
# form would give it $x_0$, and with it the posterior $q(x_{t-1} \mid x_t, x_0)$ that a reverse step needs. Ho et
# al. (2020, §3.2, Eq. 12) show that each term of the variational bound is then a weighted noise regression,
# $\lambda_t\, \mathbb{E} \lVert \varepsilon - \varepsilon_\theta(x_t, t) \rVert^2$. Their **simplified** objective
# $L_\text{simple}$ (§3.4, Eq. 14) sets every $\lambda_t$ to 1, with $t$ uniform on $\{0, \dots, T-1\}$ (course
# indexing; the paper's $\{1, \dots, T\}$), so it is *not* the bound. With $\sigma_t^2$, a reverse step's
# variance, set to $\beta_t$ (§3.2), the bound's weights $\lambda_t = \beta_t^2 / (2\sigma_t^2 \alpha_t
# (1-\bar\alpha_t)) = \beta_t / (2 \alpha_t (1-\bar\alpha_t))$ are largest at small $t$; *relative to them*,
# $L_\text{simple}$ down-weights small $t$, to "focus on more difficult denoising tasks at larger t" (§3.4). It gave
# better samples (Table 2: a lower FID, a sample-quality score) and a worse likelihood (Table 1).
#
# **Exercise 1.** Write `eps_loss(model, x0, t, noise, schedule)`, $L_\text{simple}$ for one batch: `x0` clean
# data, images `[B, 1, 8, 8]` or points `[B, 2]`; `t` one timestep per example; `noise` one draw of $\varepsilon$;
# `model(x, t)` the network. Decide what the network is shown and what it must answer: it may see only what it
# will have when it samples, and sampling never has a clean image. Your loss must be 0 for a network that always
# recovers the noise in its input, about 1 for one that always answers 0, and the same whatever the batch size or
# the number of coordinates of an example.

# %% answers=["q_sample(x0, t, schedule", "model(x_t, t) - noise", "- noise) ** 2).mean()"]
def eps_loss(model, x0, t, noise, schedule):
    ### BEGIN SOLUTION
    alpha_bar = schedule.alpha_bar[t].float().view(-1, *([1] * (x0.dim() - 1)))
    x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
    return ((model(x_t, t) - noise) ** 2).mean()
    ### END SOLUTION


# %%
lesson.check_eps_loss(eps_loss)

# %% [markdown]
# ## The whole training loop, by hand
#
# **Exercise 2.** Write `train_loop`: `steps` AdamW steps that each minimise that loss on a fresh random batch of
# `data` (a fresh `t` and noise too), returning the list of losses. Which $t$ should a batch use, and how many? The
# check runs it on 2-D points `[N, 2]` with a model that records what it is given.

# %% answers=["randint(0, schedule.T", "one t per example"]
def train_loop(model, data, schedule, steps=300, batch_size=256, lr=2e-3, seed=0):
    ### BEGIN SOLUTION
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        x0 = data[torch.randint(0, len(data), (batch_size,), generator=gen)]
        t = torch.randint(0, schedule.T, (batch_size,), generator=gen)
        noise = torch.randn(x0.shape, generator=gen)
        x_t = q_sample(x0, t, schedule, noise=noise)
        loss = ((model(x_t, t) - noise) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
    ### END SOLUTION


# %%
lesson.check_train_loop(train_loop)

# %% [markdown]
# Now run it: a small MLP (`MLPDenoiser`, three residual layers of width 128) on 8,000 points of the two-moons
# distribution, 300 steps.

# %% tags=["spoiler", "nbval-ignore-output"]
# Losses from training: their last digits differ between CPUs, so the notebook tests do not compare them.
moons = make_toy_2d("moons", 8000)
torch.manual_seed(0)
try:
    loop_losses = train_loop(MLPDenoiser(hidden=128, depth=3), moons, NoiseSchedule.make("linear", T), steps=300)
    loop_label = "train_loop of exercise 2"
except NotImplementedError:  # Exercise 2 not written yet: run course_lib's loop so the rest of the notebook works
    loop_label = "course_lib's loop (exercise 2 not solved yet)"
    loop_losses = lesson.train_loop(MLPDenoiser(hidden=128, depth=3), moons, NoiseSchedule.make("linear", T),
                                    steps=300)
print(f"{loop_label}: first step: loss {loop_losses[0]:.3f}; mean of the last 50 steps: "
      f"{sum(loop_losses[-50:]) / 50:.3f}")

# %% [markdown]
# ## The `Trainer`: that loop, plus what a real run needs
#
# `course_lib`'s `Trainer` runs the same loop and adds **EMA weights** (take-home, at the end),
# **gradient clipping** (one bad batch cannot throw the weights far), atomic **checkpoints** (stop and resume
# exactly, on a CPU with a fixed seed), a progress bar, a live loss plot, the loss per timestep bucket, and a ■
# stop button. Here it trains the same MLP longer, with larger batches and a lower learning rate. Its version of
# your `train_loop` is `course_lib.trainer.Trainer._draw`, `_forward_backward` and `_update` (its AdamW has no
# weight decay; your `AdamW`'s default is 0.01).

# %% tags=["spoiler", "nbval-ignore-output"]
# Progress bars and the live plot print timings, which change from run to run.
toy = lesson.Trainer(MLPDenoiser(hidden=128, depth=3), NoiseSchedule.make("linear", T), moons,
                     TrainConfig(steps=TOY_STEPS, batch_size=512, lr=1e-3, log_every=100), device=device,
                     callback=lesson.LiveLossPlot(logy=True))
toy.train()

# %% tags=["spoiler", "nbval-ignore-output"]
# Losses from training: they differ between CPUs, so the notebook tests do not compare this figure.
lesson.plot_loss_curves({loop_label: loop_losses, "Trainer": toy.history.loss}, logx=True)

# %% [markdown]
# On log axes both curves tell the same story: the loss loses most of its value in the first tens of steps, then
# creeps down, with a batch-to-batch noise (faint) as large as that slow trend. Below, samples of the trained
# model (sampling is notebook 06's subject).

# %% tags=["nbval-ignore-output"]
# Trained numbers: their last digits differ between CPUs, so the notebook tests do not compare this output.
lesson.toy_result(toy.ema_model, toy.schedule, moons)

# %% [markdown]
# The samples follow both moons, with a sprinkle of points between them that the data do not have. Two scores
# (lower is better) compare them with 2,000 reference points of the moons. The **sliced Wasserstein distance**
# (SWD) projects both sets onto random directions and averages how far apart the sorted projections lie. The
# **maximum mean discrepancy** (MMD) is a kernel two-sample statistic,
# $\text{MMD}^2 = \mathbb{E}\,k(x, x') + \mathbb{E}\,k(y, y') - 2\,\mathbb{E}\,k(x, y)$ with Gaussian kernels $k$;
# its printed estimate is unbiased, so it can be negative. The **floor** is what a perfect model scores: 2,000
# independent points of the moons, five draws (its MMD is a little negative: `make_moons` spaces the reference
# points evenly). The samples' MMD lies above every floor draw: in this run, the sprinkle is small but real.
#
# ## Why the loss curve is so noisy
#
# Each batch mixes timesteps, and the task is not equally hard at every $t$.
#
# **Exercise 3 (predict, then run).** Before you run the next cell: where is the noise hardest to predict, at
# `"small"` $t$ (a little noise on the data), in the `"middle"`, or at `"large"` $t$ (almost pure noise)?

# %% answers=["loss is largest at small", "hardest at small", "hides in the data"]
### BEGIN SOLUTION
prediction = "small"
### END SOLUTION

# %% tags=["nbval-ignore-output"]
# Trained numbers: their last digits differ between CPUs, so the notebook tests do not compare this output.
by_t = toy.history.mean_loss_by_t()
print(f"mean loss in the first tenth of t: {by_t[0]:.3f}, in the last tenth: {by_t[-1]:.3f}")
lesson.plot_loss_by_t(toy.history, toy.schedule.T)

# %%
lesson.check_hardest_t(prediction, by_t)

# %% [markdown]
# ## Digits with the U-Net
#
# The same trainer, now with the U-Net on the training split of the digits; the test split stays held out for the
# scores below (the first line printed counts both).

# %% tags=["nbval-ignore-output"]
# Progress bars and the live plot print timings, which change from run to run.
digits = load_digits(split="train")  # the training digits; the "test" digits stay held out
print(f"{len(digits):,} training digits; {len(load_digits(split='test')):,} held out")
torch.manual_seed(0)
trainer = lesson.Trainer(UNet(base_channels=WIDTH), NoiseSchedule.make("linear", T), digits,
                         TrainConfig(steps=DIGIT_STEPS, time_budget_s=DIGIT_SECONDS, batch_size=128, lr=2e-3,
                                     ema_decay=0.995, log_every=50),
                         device=device, callback=lesson.LiveLossPlot(logy=True), checkpoint_path="runs/digits_unet.pt")
trainer.train()

# %% [markdown]
# Samples of the EMA weights beside real digits, each pixel drawn as a block. The title gives the *training*
# steps of this run and the *sampling* steps of the sampler (DDIM, notebook 06):

# %% tags=["spoiler", "nbval-ignore-output"]
# Samples of a model trained on this machine: the pixels differ between CPUs, so the tests do not compare them.
lesson.show_digit_samples({f"EMA weights, {trainer.step} training steps": trainer.ema_model}, trainer.schedule,
                          data=digits, steps=50)

# %% [markdown]
# In a CPU's run (500 training steps, printed at the top; wider and longer on a GPU) the samples have
# digit-like strokes; only some read as digits.
#
# ## What the noise estimate says about $x_0$
#
# Back to exercise 3. At large $t$ the input *is* mostly noise, so $\varepsilon \approx x_t$: an easy copy. At
# small $t$ a little noise hides in the data, hard to single out; yet small $t$ is easy *as denoising* (§3.4).
# Inverting the closed form turns a noise
# estimate into an estimate of the clean image (`predict_x0`),
# $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon)/\sqrt{\bar\alpha_t}$, whose error is the noise
# estimate's error times $\sqrt{(1-\bar\alpha_t)/\bar\alpha_t}$ (the title's factor), tiny at small $t$. Move $t$:
# at small $t$, $\hat x_0$ is sharp; half-way it is a blur, an average of the digits that could have produced $x_t$
# (what a squared error rewards under uncertainty); near $T$ the factor explodes and $\hat x_0$ is amplified
# noise, clipped to black and white. Each row is one training digit, noised with the same noise at every $t$:
# first three $t$ side by side, then the slider.

# %% tags=["nbval-ignore-output"]
# Outputs of a model trained on this machine: the pixels differ between CPUs, so the tests do not compare them.
lesson.show_x0_hat_at(trainer.ema_model, trainer.schedule, digits[:4])

# %% tags=["nbval-ignore-output"]
# A live figure: every t of the slider is computed once when the cell runs; moving it only swaps images.
lesson.x0_hat_widget(trainer.ema_model, trainer.schedule, digits[:4])

# %% [markdown]
# ## Train N more steps
#
# The button trains the same `trainer` N more steps when pressed, then redraws the EMA samples with the
# grid's sampler and starting noise, so what changes is the model. Watch strokes turn into shapes that read as
# digits.

# %% tags=["spoiler", "nbval-ignore-output"]
# A live figure whose button trains the model on this machine; nothing here is the same across CPUs.
lesson.train_more_widget(trainer, n_more=100)

# %% [markdown]
# ## Summary
# - Diffusion training is regression: predict the noise $\varepsilon$ mixed into $x_0$ at a random $t$.
# - The loss depends strongly on $t$: read it per $t$-bucket.
# - $L_\text{simple}$ drops the bound's weights $\lambda_t$, down-weighting small $t$ relative to the bound (Ho et
#   al. §3.4): better samples, a worse likelihood.

# %% [markdown]
# ## Take-home: EMA weights and the checkpoint
#
# Read and run this section after the class. The weights after the last step are one noisy point
# of a random walk. The **exponential moving average**
# $\bar\theta \leftarrow d_n\, \bar\theta + (1 - d_n)\, \theta$ smooths it, with a decay warmed up as
# $d_n = \min(d, (1 + n)/(10 + n))$, $d = 0.995$, so that early averages do not drag along the random initial
# weights. It spans roughly the last $1 / (1 - d_n)$ steps, its **horizon**. This run's, from the trainer:

# %%
h = lesson.ema_horizon(trainer)
print(f"after {h['updates']} updates: d_n = {h['decay']:.3f}, horizon 1 / (1 - d_n) = {h['horizon']:.0f} steps")
print(f"d_n reaches d = {h['full_decay']} (horizon {1 / (1 - h['full_decay']):.0f} steps) "
      f"only after {h['warmup']:,} updates")

# %% [markdown]
# Raw against EMA weights, same sampler, scored with the **Fréchet distance** (FD, lower is better): the distance
# between Gaussians fitted to a small digit classifier's features of 300 samples and of the 797 held-out digits;
# FID does the same with ImageNet features (Heusel et al. 2017). The **floor** is the score of 300 *real* training
# digits, a perfect model's. Each score is printed over several draws: how much it moves is its own noise.

# %% tags=["nbval-ignore-output"]
# Trained numbers: their last digits differ between CPUs, so the notebook tests do not compare this output.
live_run = lesson.print_raw_vs_ema(trainer)

# %% [markdown]
# The package ships the same comparison, with this notebook's CPU setting, over several seeds:

# %%
ema_rows = lesson.load_studies()["ema"]
print(lesson.ema_study_report(ema_rows))

# %% tags=["nbval-ignore-output"]
# The study's seeds, and this notebook's run in red: its numbers differ between CPUs, so the tests do not compare it.
lesson.plot_ema_study(ema_rows, live=live_run)

# %% [markdown]
# Read against the score's own noise: 300 real digits score an FD that moves by 4.0 (SD) from draw to draw, and
# the sample draws above move a trained model's FD more, so 4.0 is a low estimate. The EMA's FD is lower by more
# than 4.0 in 3 of 5 seeds, within it in one and higher in one (seed 3). Four of five lower is a sign-test p of
# 0.19: five seeds do not establish that the EMA samples better. Over these five seeds the FD spreads less with
# the EMA weights (SD 4.1 against 16.5), though 4.1 is about the score's own draw-to-draw SD (4.0).
# The red run is this notebook's (seed 0's setting on a CPU), its three draws averaged; each seed above is one
# draw. Raw and EMA weights alike stay far above the floor (grey band): 500 steps at a constant learning rate is a
# short run, and its EMA spans only the last 57 or so steps (the horizon printed above, not yet $1/(1-d) = 200$),
# too few to average away much of the step-to-step noise.
#
# **The checkpoint.** `Trainer` wrote `runs/digits_unet.pt` atomically: model, EMA weights, optimiser, step,
# configuration and loss history. `load_denoiser` reads it with `torch.load(weights_only=True)`, which builds only
# tensors and a few allowed classes, where a plain `torch.load` can run any function the pickle names; still, load
# only checkpoints you trust. `Trainer.from_checkpoint` resumes the run.

# %%
model, schedule, ckpt = lesson.load_denoiser("runs/digits_unet.pt")
print(f"checkpoint: step {ckpt['step']}, {ckpt['model']['kind']} {ckpt['model']['config']}, schedule {ckpt['schedule']}")

# %% [markdown]
# ## Going further
# - Ho, Jain, Abbeel (2020), Sections 3.2-3.4, Algorithm 1 and Tables 1-2.
# - tiny-diffusion (a whole DDPM on 2-D points in one file), and `python -m course_lib train --help`.
# - Karras et al. (2022), *Elucidating the Design Space of Diffusion-Based Generative Models* (loss weighting per
#   noise level).
# - Next: **06 · Sampling**.
