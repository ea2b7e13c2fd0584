# %% [markdown]
# # 05 · Training a tiny diffusion model
#
# Notebook 04 destroyed data with a fixed process. A diffusion model learns to run it backwards, and its training
# objective is a plain regression: **predict the noise**. We train on 2-D points first (seconds), then on digits
# with the U-Net of notebook 03.
#
# **Learning objectives**
# 1. Derive the $\varepsilon$-prediction loss from the closed form $q(x_t \mid x_0)$ and the objective of Ho et al.
# 2. Write the training loop yourself, then train with `course_lib`'s `Trainer`: the same loop plus EMA, gradient
#    clipping and checkpoints.
# 3. Read a diffusion loss curve: why it is noisy, and why it depends on $t$.
# 4. Explain EMA weights and see, over several seeds, how much they matter in a short run.

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
# al. (2020, §3.2, Eq. 12) show that with this parameterisation each term of the variational bound is a weighted
# noise regression, $\lambda_t\, \mathbb{E} \lVert \varepsilon - \varepsilon_\theta(x_t, t) \rVert^2$. Their
# **simplified** objective $L_\text{simple}$ (§3.4, Eq. 14) sets every $\lambda_t$ to 1, with $t$ uniform on
# $\{0, \dots, T-1\}$, so it is *not* the bound. The bound's weights
# $\lambda_t = \beta_t^2 / (2\sigma_t^2 \alpha_t (1-\bar\alpha_t))$ are largest at small $t$, where
# $1-\bar\alpha_t$ is tiny; *relative to them*, $L_\text{simple}$ down-weights small $t$, whose terms "denoise
# data with very small amounts of noise", to "focus on more difficult denoising tasks at larger t" (§3.4). Whether
# the $\varepsilon$ error itself is large at small $t$ is another question (exercise 3). $L_\text{simple}$ gave
# better samples (Table 2: a lower FID, a sample-quality score) and a worse likelihood (Table 1).
#
# **Exercise 1.** Write `eps_loss(model, x0, t, noise, schedule)`, the loss of one batch. The model is shown
# $x_t$, made from `x0` by the forward process at step `t` (one step per example) with this `noise`, and must
# predict the noise that made it; the loss measures how wrong it is, averaged over the batch and every coordinate.
# `x0` may be images `[B, 1, 8, 8]` or points `[B, 2]`. You need notebook 04 for $x_t$.

# %%
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

# %%
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

# %% tags=["nbval-ignore-output"]
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
# `course_lib`'s `Trainer` runs the same loop (`Trainer._train_step`) and adds **EMA weights** (below),
# **gradient clipping** (one bad batch cannot throw the weights far), atomic **checkpoints** (stop and resume
# exactly), a progress bar, a live loss plot, the loss per timestep bucket, and a ■ stop button that keeps
# everything. Here it trains the same MLP longer, with larger batches and a lower learning rate.

# %% tags=["nbval-ignore-output"]
# Progress bars and the live plot print timings, which change from run to run.
toy = lesson.Trainer(MLPDenoiser(hidden=128, depth=3), NoiseSchedule.make("linear", T), moons,
                     TrainConfig(steps=TOY_STEPS, batch_size=512, lr=1e-3, log_every=100), device=device,
                     callback=lesson.LiveLossPlot(logy=True))
toy.train()

# %% tags=["nbval-ignore-output"]
# Losses from training: they differ between CPUs, so the notebook tests do not compare this figure.
lesson.plot_loss_curves({loop_label: loop_losses, "Trainer": toy.history.loss}, logx=True)

# %% [markdown]
# On log axes both curves tell the same story: the loss loses most of its value in the first tens of steps, then
# creeps down, with a batch-to-batch noise (faint) as large as that slow trend.

# %% tags=["nbval-ignore-output"]
# Trained numbers: their last digits differ between CPUs, so the notebook tests do not compare this output.
lesson.toy_result(toy.ema_model, toy.schedule, moons)

# %% [markdown]
# The samples follow both moons, with a sprinkle of points between them that the data do not have. Two scores
# (lower is better) compare them with 2,000 reference points of the moons. The **sliced Wasserstein distance**
# (SWD) projects both sets onto random directions and averages how far apart the sorted projections lie. The
# **maximum mean discrepancy** (MMD) is a kernel two-sample statistic,
# $\text{MMD}^2 = \mathbb{E}\,k(x, x') + \mathbb{E}\,k(y, y') - 2\,\mathbb{E}\,k(x, y)$ with Gaussian kernels $k$;
# its printed unbiased estimate leaves out each point's kernel with itself, so it can be negative. The **floor** is
# what a perfect model scores: 2,000 independent points of the moons, five draws. Its MMD is a little negative
# because scikit-learn's `make_moons` spaces the reference points evenly along the moons. The samples' MMD lies
# above every floor draw: the sprinkle is small but real. Another seed moves both scores.
#
# ## Why the loss curve is so noisy
#
# Each batch mixes timesteps, and the task is not equally hard at every $t$.
#
# **Exercise 3 (predict, then run).** Before you run the next cell: where is the noise hardest to predict, at
# `"small"` $t$ (a little noise on the data), in the `"middle"`, or at `"large"` $t$ (almost pure noise)?

# %%
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
# At large $t$ the input *is* mostly noise, so $\varepsilon \approx x_t$: an easy copy. At small $t$ a little noise
# hides in the data, hard to single out. No contradiction with §3.4: Ho et al. weigh $L_\text{simple}$ against the
# bound, and small $t$ is easy *as denoising*: the estimate of $x_0$ (below) errs by
# $\sqrt{(1-\bar\alpha_t)/\bar\alpha_t}$ times the $\varepsilon$ error, a tiny factor at small $t$.
#
# ## Digits with the U-Net
#
# The same trainer, now with the U-Net on the 1,000 training digits; the other 797 stay held out for the scores
# below. Notebook 06 uses a checkpoint the package ships, trained longer.

# %% tags=["nbval-ignore-output"]
# Progress bars and the live plot print timings, which change from run to run.
digits = load_digits(split="train")  # the 1,000 training digits; the 797 "test" digits stay held out
torch.manual_seed(0)
trainer = lesson.Trainer(UNet(base_channels=WIDTH), NoiseSchedule.make("linear", T), digits,
                         TrainConfig(steps=DIGIT_STEPS, time_budget_s=DIGIT_SECONDS, batch_size=128, lr=2e-3,
                                     ema_decay=0.995, log_every=50),
                         device=device, callback=lesson.LiveLossPlot(logy=True), checkpoint_path="runs/digits_unet.pt")
trainer.train()

# %% [markdown]
# Samples of the EMA weights beside real digits, each pixel drawn as a block. The title gives the *training*
# steps of this run and the *sampling* steps of the sampler (DDIM, notebook 06):

# %% tags=["nbval-ignore-output"]
# Samples of a model trained on this machine: the pixels differ between CPUs, so the tests do not compare them.
lesson.show_digit_samples({f"EMA weights, {trainer.step} training steps": trainer.ema_model}, trainer.schedule,
                          data=digits, steps=50)

# %% [markdown]
# In a CPU's run (500 training steps, printed at the top; a GPU trains a wider U-Net longer) the samples have
# digit-like strokes, and only some read as digits; the button below trains on.
#
# ## What the noise estimate says about $x_0$
#
# Inverting the closed form turns a noise estimate into an estimate of the clean image (`predict_x0`),
# $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon)/\sqrt{\bar\alpha_t}$, whose error is the noise
# estimate's error times $\sqrt{(1-\bar\alpha_t)/\bar\alpha_t}$ (the title's factor). Move $t$: at small $t$,
# $\hat x_0$ is sharp; half-way it is a blur, an average of the digits that could have produced $x_t$ (what a
# squared error rewards under uncertainty); near $T$ the factor explodes and $\hat x_0$ is amplified noise,
# clipped to black and white. Each row is one training digit, noised with the same noise at every $t$.

# %% tags=["nbval-ignore-output"]
# A live figure: every t of the slider is computed once when the cell runs; moving it only swaps images.
lesson.x0_hat_widget(trainer.ema_model, trainer.schedule, digits[:4])

# %% [markdown]
# ## Train N more steps
#
# The button trains the same `trainer` N more steps (only when pressed), then redraws the EMA samples with the
# grid's sampler and starting noise, so what changes is the model. Watch strokes turn into shapes that read as
# digits.

# %% tags=["nbval-ignore-output"]
# A live figure whose button trains the model on this machine; nothing here is the same across CPUs.
lesson.train_more_widget(trainer, n_more=100)

# %% [markdown]
# ## EMA: an average of recent weights
#
# The weights after the last step are one noisy point of a random walk. The **exponential moving average**
# $\bar\theta \leftarrow d_n\, \bar\theta + (1 - d_n)\, \theta$ smooths it, with a decay warmed up as
# $d_n = \min(d, (1 + n)/(10 + n))$, $d = 0.995$, so that early averages do not drag along the random initial
# weights. It spans roughly the last $1 / (1 - d_n)$ steps, its **horizon**. This run's, from the trainer:

# %%
h = lesson.ema_horizon(trainer)
print(f"after {h['updates']} updates: d_n = {h['decay']:.3f}, horizon 1 / (1 - d_n) = {h['horizon']:.0f} steps")
print(f"d_n reaches d = {h['full_decay']} (horizon {1 / (1 - h['full_decay']):.0f} steps) "
      f"only after {h['warmup']:,} updates")

# %% [markdown]
# Raw against EMA weights, same sampler and seed, scored with the **Fréchet distance** (FD, lower is better): fit
# a Gaussian to the features (32 per image, from a small digit classifier) of 300 samples, another to those of the
# 797 held-out digits, and take the distance between the two Gaussians; FID does the same with ImageNet features
# (Heusel et al. 2017). The **floor** is the score of 300 *real* training digits, a perfect model's; it varies
# between draws, so it is printed over several.

# %% tags=["nbval-ignore-output"]
# Trained numbers: their last digits differ between CPUs, so the notebook tests do not compare this output.
lesson.print_raw_vs_ema(trainer)

# %% [markdown]
# That is one run. The package ships the same comparison, made with this notebook's CPU setting, over several
# seeds:

# %%
ema_rows = lesson.load_studies()["ema"]
print(lesson.ema_study_report(ema_rows))
lesson.plot_ema_study(ema_rows)

# %% [markdown]
# In most seeds the EMA weights sample better, but not in every one (the count above): sometimes the raw weights
# stop at a lucky point. The EMA removes that luck: its FD moves much less from seed to seed (the spreads above).
# Both stay far above the floor (grey band): the study's runs are short (the title gives their steps), at a
# **constant** learning rate, and their EMA horizon (printed) is far shorter than $1/(1-d)$, so the average lags
# behind weights that still improve. Decaying the learning rate also removes the noise of the stopping point (not
# measured here); large diffusion models use both.
#
# ## The checkpoint
#
# `Trainer` wrote `runs/digits_unet.pt` atomically: model, EMA weights, optimiser, step, configuration and loss
# history. `load_denoiser` reads it with `torch.load(weights_only=True)`, which builds only tensors, primitive
# types and a few allowed classes, where a plain `torch.load` can run any function the pickle names. That shrinks
# the attack surface but proves nothing: load only checkpoints you trust. `Trainer.from_checkpoint` resumes the
# run.

# %%
model, schedule, ckpt = lesson.load_denoiser("runs/digits_unet.pt")
print(f"checkpoint: step {ckpt['step']}, {ckpt['model']['kind']} {ckpt['model']['config']}, schedule {ckpt['schedule']}")

# %% [markdown]
# How many sampling steps does the toy model need? DDIM (notebook 06) from the same starting noise, scored with SWD
# as above (floor: the mean of five draws of independent points); each step count is sampled once, when the slider
# is released.

# %% tags=["nbval-ignore-output"]
# A live figure that samples at each new step count (a fraction of a second); its numbers come from training.
lesson.toy_samples_widget(toy.ema_model, toy.schedule)

# %% [markdown]
# ## Summary
# - Diffusion training is regression: predict the noise $\varepsilon$ mixed into $x_0$ at a random $t$.
# - The loss depends strongly on $t$: read it per $t$-bucket, not only as one noisy curve.
# - $L_\text{simple}$ drops the bound's weights $\lambda_t$, down-weighting small $t$ relative to the bound (Ho et
#   al. §3.4): better samples, a worse likelihood.
# - EMA weights average the raw weights' random walk: in a short run they sampled better in most seeds and varied
#   much less between seeds; the warm-up sets their horizon.
# - Checkpoints are written atomically and read with `weights_only=True`.
#
# ## Going further
# - Ho, Jain, Abbeel (2020), Sections 3.2-3.4, Algorithm 1 and Tables 1-2.
# - tiny-diffusion (a whole DDPM on 2-D points in one file), and `python -m course_lib train --help`.
# - Karras et al. (2022), *Elucidating the Design Space of Diffusion-Based Generative Models* (loss weighting per
#   noise level).
# - Next: **06 · Sampling**.
