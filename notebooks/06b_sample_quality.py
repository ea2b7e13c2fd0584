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
# # 06b (optional) · Sample quality: the score, its floor, steps and noise
#
# *Optional: it extends notebook 06 for students who want to go deeper, and no later notebook needs it.*
#
# Notebook 06 built DDPM and DDIM. This notebook scores their samples over several seeds with a Fréchet distance,
# and first asks what such a score can and cannot tell.
#
# **Learning objectives**
# 1. Explain the floor of the Fréchet distance and predict how it depends on how many samples are scored.
# 2. Measure quality against the number of DDIM steps over seeds, beside the floor's spread.
# 3. Say what the score cannot see (memorisation), and check it with nearest-neighbour distances.
# 4. Predict, then measure, whether $\eta = 0$ or $\eta = 1$ scores better at few steps.
# 5. Compare DDPM with all its steps and DDIM-50 over five seeds, without claiming more than that shows.

# %% [markdown] tags=["instructor"]
# ## Instructor's plan (50 minutes)
#
# Optional notebook: teach it as a **second session** after 06 (the plan below), or set it as **take-home**
# (students run it alone; the two exercises and their checks carry it). It needs only the shipped checkpoint and
# runs top to bottom in about a minute on 2 CPU cores.
#
# **Timeline**
#
# | minutes | part | cells | what happens |
# |---|---|---|---|
# | 0-5 | The score and its floor | setup to the floor printout and its claim | What FD measures; why real digits do not score 0. |
# | 5-17 | Exercise 1 and the floor figure | `shrink = ...`, its check, the live figure | Predict in pairs (3 min), check, then scrub n on the slider. |
# | 17-25 | How many steps are enough? | the sweep, its claims, the a + b/n fit of DDIM-50 | Read scores beside the grey band, never alone; is the gap to the floor bias? |
# | 25-31 | Memorisation | nearest-neighbour table and figure | Why an FD against held-out digits cannot see copies. |
# | 31-42 | Exercise 2: eta at 10 steps | `prediction = ...`, the eta run, its check | Vote first, run, read the verdict seed by seed. |
# | 42-50 | DDPM against DDIM-50, summary | the shipped study, summary | What five seeds allow us to claim; the two questions below. |
#
# **Live-code** (type these; let the `print` cells run as they are)
# - The floor, from scratch, in a scratch cell: `[lesson.digit_floor(100, seed) for seed in range(5)]`, then the
#   same for 400 (`lesson` is the notebook's `sample_quality` module, which imports `digit_floor`). Say: "real digits against real digits, and still not 0: the fitted mean and covariance
#   miss the true ones by chance, and the FD adds what they miss, squared."
# - After Exercise 1's check, its solution as a measurement: `draws = lesson.floor_draws(seeds=DRAWS)`,
#   `a, b = lesson.inverse_n_fit(draws)`, then `(np.mean(draws[400]) - a) / (np.mean(draws[100]) - a)` (after
#   `import numpy as np`). Say: "the bias falls like the squared error of an average."
# - Exercise 2's run for one seed, before `eta_study`: `sampler = lesson.DDIMSampler(schedule, 10, eta=1.0,
#   clip_x0=True)`, `x = sampler.sample(model, (300, 1, 8, 8), generator=torch.Generator().manual_seed(0))` (after
#   `import torch`), `lesson.digit_fd(x)`. Say: "the same starting noise as the eta = 0 row; only the fresh noise per jump differs."
#
# **Predict before running**
# - Exercise 1 (quadrupling n): most say 1/2, from the standard error of a mean; some say a quarter. Ask for a
#   reason, not a number.
# - Before the sweep: how many DDIM steps until the FD stops improving? Guesses range from 10 to 1,000; here 50 to
#   200 still gains, by less than the seeds differ.
# - Exercise 2: many pick eta = 1 ("DDPM's noise is what the model was trained for"). Take a show of hands.
#
# **Common mistakes** (the checks' diagnoses)
# - A factor of 1/2: the size of an average's error, not its square; the FD adds squared distances.
# - A factor of 0 (a finite sample still misses by chance) or 1 and above (the floor falls as n grows).
# - Reading an FD alone: a score means something only beside the floor at the same n and its spread.
# - Pairing a sample's seed with "its" floor draw: they share nothing but n.
# - Judging eta from one seed; the check says how the seeds split when they disagree.
#
# **Two questions to ask**
# 1. "Why can a model that copies its training digits score the floor against held-out digits?" A good answer:
#    copies are real digits, so they score as real digits do; only distances to the training set (the
#    nearest-neighbour table) reveal copies.
# 2. "A paper compares FID 3.1 with 3.4, each on 5,000 samples. What do you ask?" A good answer: the same n for
#    both (the bias depends on n), the spread over seeds or draws, a paired comparison; at scale Chong and Forsyth
#    (2020) extrapolate to infinitely many samples.

# %%
# On Colab only: install course_lib and turn on widgets. Anywhere else this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "course_lib @ git+https://github.com/course-lib/residual-to-diffusion"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()

# %%
from course_lib.checkpoints import load_denoiser
from course_lib.claims import check_claim, mean_spread
from course_lib.lessons import sample_quality as lesson
from course_lib.lessons import setup_notebook

device = setup_notebook(seed=0)
SEEDS = (0, 1, 2)  # sampling seeds: every measurement below is repeated for each
DRAWS = range(20)  # draws of real digits for the floor: its spread needs more draws than three

# %% [markdown]
# The digits checkpoint shipped inside `course_lib`, as in notebook 06 (set `MY_CHECKPOINT` to the path of your
# own, as there):

# %%
MY_CHECKPOINT = None
model, schedule, ckpt = load_denoiser(MY_CHECKPOINT, device=device)
print(f"{ckpt['model']['kind']} trained {ckpt['step']} steps, schedule {schedule}")

# %% [markdown]
# ## The score, and why its floor moves
#
# Sample quality is scored with a Fréchet distance (FD, as in FID): fit a Gaussian to the features of the samples and
# one to the features of held-out digits, which the model never saw, and measure the distance between the two
# Gaussians (lower is better; the features and counts are printed below). Its **floor** is the score of $n$ *real*
# training digits against the same held-out digits: the best a perfect model can expect. But the floor is not one
# number. The mean and covariance fitted to $n$ feature vectors miss the true ones by chance, and the distance counts
# what they miss as a difference, so FD is biased upward at small $n$. And at a given $n$ it moves from one draw to
# the next. The floor for $n$ real training digits, twenty draws (the 100 of a draw are among its 300), and for all:

# %% tags=["nbval-ignore-output"]
# Numbers through a trained classifier: their last digits differ between CPUs, so the notebook tests do not compare them.
print(lesson.score_setup())
floors = lesson.floor_by_n(ns=(100, 300), seeds=DRAWS)
for n, values in floors.items():
    print(f"floor with n = {n:>4} real digits: {mean_spread(values, '.1f')}")
floor_all = lesson.floor_all_training()
print(f"floor with all the training digits: {floor_all:.1f} (one fixed set: nothing to draw)")

# %%
held = check_claim("the FD floor of 100 real digits is higher than that of all the training digits",
                   [a - floor_all for a in floors[100]])
worse = sum(a > b for a, b in zip(floors[100], floors[300]))
print(f"100 real digits score worse than the 300 of their draw (which contain them) in {worse} of {len(DRAWS)} draws.")

# %% [markdown]
# The floor falls as $n$ grows (the means and the count above), but at $n = 300$ it also moves from draw to draw by
# about as much as separates its mean from the floor of all the training digits. So an FD means something only next
# to the floor *at the same $n$*, and its spread.
#
# **Exercise 1 (predict before the figure).** Split the mean floor into a part that stays however large $n$ grows
# and a part that comes from the sample size. When $n$ is quadrupled, by what factor does the second part shrink?
# Give the part at $4n$ divided by the part at $n$, as a number (1 would be no change). Reason from what the FD
# adds up, not from the printout; the check prints the factor measured on the floor's draws.

# %% answers=["1/4", "quarter", "like 1/n", "like $1/n$"]
### BEGIN SOLUTION
shrink = 1 / 4
### END SOLUTION

# %%
lesson.check_floor_shrink(shrink, DRAWS)

# %% [markdown]
# **The floor against $n$, live.** Twenty draws of $n$ real training digits at each $n$ of the slider, computed
# once, so a move only looks them up:

# %% tags=["nbval-ignore-output"]
# A live figure over FDs computed through a trained classifier: their last digits differ between CPUs, not compared.
lesson.floor_widget(lesson.floor_draws(seeds=DRAWS), n=100)

# %% [markdown]
# Left, the floor against $n$ (log scale): grey dots the draws, black their mean, blue the draws at the slider's
# $n$. It falls steeply, then slowly, and its spread shrinks; at $n = 1{,}000$ every draw is the whole training
# split, one dot. Right, the same against $1/n$: the means lie near a straight line $a + b/n$ (red, dashed), so the
# sample-size part is about $b/n$. The line's value at $1/n = 0$ (the star) is the floor's limit; Chong and Forsyth
# (2020, §3) extrapolate FID to infinitely many samples this way. At $n = 100$ the sample-size part exceeds $a$
# itself (the title). Every score below is of 300 digits.
#
# ## How many steps are enough?
#
# 300 samples for each number of DDIM steps ($\eta = 0$) and each sampling seed. Within a seed, every number of
# steps starts from the *same* noise $x_T$. Time: the fastest of the seeds' runs.

# %% tags=["nbval-ignore-output"]
# Scores of samples from a network: their last digits differ between CPUs, so the notebook tests do not compare them.
sweep = lesson.sweep_over_seeds(model, schedule, steps=(5, 10, 20, 50, 100, 200), n=300, seeds=SEEDS, keep_samples=50)
for steps, fds in sweep["fd"].items():
    print(f"DDIM {steps:>3} steps: FD {mean_spread(fds, '.1f')}; {min(sweep['seconds'][steps]):.2f} s for 300 digits")
for seed, fd50 in zip(SEEDS, sweep["fd"][50]):
    print(f"  seed {seed}: DDIM-50 FD {fd50:.1f}, worse than {lesson.draws_below(fd50, floors[300])} of the "
          f"{len(floors[300])} draws of 300 real digits")
lesson.plot_sweep_seeds(sweep, floors=floors[300])

# %%
fd = sweep["fd"]
check_claim("5 DDIM steps score a worse FD than 20 steps", [a - b for a, b in zip(fd[5], fd[20])])
check_claim("going from 20 to 50 steps changes the FD less than going from 5 to 20",
            [(a - b) - abs(b - c) for a, b, c in zip(fd[5], fd[20], fd[50])])
held = check_claim("going from 50 to 200 steps improves the FD, by less than 2 points",
                   [min(b - c, 2 - (b - c)) for b, c in zip(fd[50], fd[200])])

# %% [markdown]
# Quality improves quickly up to 20 steps; from 50 to 200 it still gains, by less than 2 points in every seed, less
# than the seeds differ (the dots). Time grows in proportion to the steps (right: both axes logarithmic, the dotted
# line has slope 1). The verdicts hold over the seeds of *one* trained model. Beside the floor's spread (grey band),
# the 50-step samples score worse than most draws of 300 real digits (the counts above).
#
# **Is that gap only bias?** Chong and Forsyth (2020, §3) warn that the coefficient $b$ of $a + b/n$ depends on the
# model: comparing at the same $n$ is necessary, not sufficient. So we fit the same line to 1,000 DDIM-50 digits:

# %% tags=["nbval-ignore-output"]
# Scores of samples from a network: their last digits differ between CPUs, so the notebook tests do not compare them.
samples_1000, _ = lesson.timed_sample(lesson.sampler_for("ddim", schedule, 50), model, 1000, seed=0)
a_s, b_s = lesson.inverse_n_fit(lesson.sample_draws(samples_1000, seeds=DRAWS))
a_f, b_f = lesson.inverse_n_fit(lesson.floor_draws(seeds=DRAWS))
print(f"{len(samples_1000)} DDIM-50 digits: a = {a_s:.1f}, b = {b_s:.0f}; real digits: a = {a_f:.1f}, b = {b_f:.0f}")
print(f"at n = 300, DDIM-50 minus floor: {a_s - a_f:+.1f} in a, {(b_s - b_f) / 300:+.1f} in b/n")

# %% [markdown]
# At $n = 300$ the two differ more in $a$ than in $b/n$ (printout; $b$ itself moves with the seeds), so DDIM-50's
# gap is mostly in $a$: quality, not bias. Another model needs its own fit.
#
# ## What the score cannot see: memorisation
#
# A model that had memorised its training digits would output training digits, and those score the floor itself.
# Distances can tell. For each DDIM-50 sample of the sweep, the distance (over the 64 pixels in $[-1, 1]$) to its
# nearest training digit and to its nearest held-out digit, in two equally large sets; for real digits, the same to
# the *other* digits of their split. A copy lies at 0.

# %% tags=["nbval-ignore-output"]
# Distances to samples of a network: their last digits differ between CPUs, so the notebook tests do not compare them.
nearest = lesson.nearest_table(sweep["samples"])
for r in nearest:
    print(f"{r['name']:>20}: nearest training digit {r['train']:.2f}, nearest held-out digit {r['held-out']:.2f} "
          f"(medians); the closest lies {r['closest']:.2f} from a training digit")
lesson.plot_nearest(sweep["samples"][0])

# %%
samples = nearest[:len(SEEDS)]
check_claim("no sample is a copy: each lies farther than 0.5 from its nearest training digit",
            [r["closest"] for r in samples], threshold=0.5)
held = check_claim("the samples lie nearer to the training digits than to the held-out ones (medians)",
                   [r["held-out"] - r["train"] for r in samples])

# %% [markdown]
# No sample is a copy: the closest lies about as far from a training digit as the closest real digits lie from each
# other (the last column); the 8 nearest pairs (right) are alike, not the same image. But
# the samples lie nearer to the training digits than to the held-out ones, as real digits lie nearer to their own
# split (the last two rows): the model learned its training split's handwriting more closely. The FD against
# held-out digits counts that as a difference, never as memorisation.
#
# ## DDPM's noise or DDIM's determinism, at few steps
#
# With $\eta = 1$ the DDIM step adds fresh noise at every jump, as much as DDPM would over the same stretch of
# timesteps. Song et al. (2021, Table 1) compare $\eta = 0, 0.2, 0.5, 1$ with 10 to 1,000 steps. Here: 10 steps,
# 300 digits, the same seeds (the same starting noise) as the $\eta = 0$ runs above.
#
# **Exercise 2 (predict, then run).** Which scores the better (lower) FD with 10 steps: `"eta=0"` (DDIM) or
# `"eta=1"` (DDPM's noise)? Decide before the run, from what each jump does to the noise.

# %% answers=["eta = 0 scored the better", "\\eta = 0$ scored the better", "\\eta = 0$ scores best"]
### BEGIN SOLUTION
prediction = "eta=0"
### END SOLUTION

# %% tags=["nbval-ignore-output"]
# Scores of samples from a network: their last digits differ between CPUs, so the notebook tests do not compare them.
fd_eta0 = fd[10]  # eta = 0, 10 steps: measured above, with the same seeds
fd_eta1 = lesson.eta_study(model, schedule, steps=10, etas=(1.0,), n=300, seeds=SEEDS)[1.0]
print(f"DDIM 10 steps, eta = 0: FD {mean_spread(fd_eta0, '.1f')}")
print(f"DDIM 10 steps, eta = 1: FD {mean_spread(fd_eta1, '.1f')}")
print(f"eta = 1 minus eta = 0, paired by seed: {mean_spread([b - a for a, b in zip(fd_eta0, fd_eta1)], '+.1f')}")

# %% tags=["nbval-ignore-output"]
# Compares scores of samples from a network, whose last digits differ between CPUs: not compared in tests.
lesson.check_eta_prediction(prediction, fd_eta0, fd_eta1)

# %% [markdown]
# The verdict compares the settings seed by seed: one wins only if it scores better in every seed; otherwise the
# verdict says how the seeds split. Song et al. (2021, Table 1), with large models and 50,000 samples, find that with
# 10 to 100 steps $\eta = 0$ scores best and $\eta = 1$ worst, by far at 10 steps. The reason is in the step: with
# $\eta = 1$ each long jump adds fresh noise of DDPM's size, which the few jumps left must remove, while $\eta = 0$
# only re-uses the model's own estimate of the noise. A few seeds of one small model cannot settle it: try other
# `SEEDS`.
#
# ## DDPM with all its steps against DDIM-50
#
# Is the slower DDPM sampler at least better? Its $T$ network calls are too many to repeat over seeds here, so the
# package ships the comparison for five sampling seeds, 300 digits per sampler and seed, with the
# shipped checkpoint (`python -m course_lib study ddpm_vs_ddim`). To add a seed of your own, set `MY_SEED`; it runs
# DDPM's $T$ steps on 300 digits, the slowest cell here.

# %%
# The shipped results: the same file on every machine (your own run, if any, is printed last and not compared).
MY_SEED = None  # e.g. 5
ddpm_rows = lesson.load_studies()["ddpm_vs_ddim"]
for r in ddpm_rows:
    print(f"seed {r['seed']}: DDPM FD {r['ddpm']:5.1f}, DDIM-50 FD {r['ddim']:5.1f}, DDPM - DDIM = {r['ddpm'] - r['ddim']:+5.1f}")
for name in ("ddpm", "ddim"):
    print(f"{name.upper()}: FD {mean_spread([r[name] for r in ddpm_rows], '.1f')}")
print(f"DDPM - DDIM, paired by seed (the same x_T): {mean_spread([r['ddpm'] - r['ddim'] for r in ddpm_rows], '+.1f')}")
better = sum(r["ddpm"] < r["ddim"] for r in ddpm_rows)
print(f"DDPM scored the better FD in {better} of {len(ddpm_rows)} seeds, DDIM-50 in {len(ddpm_rows) - better}.")
if MY_SEED is not None:
    (mine,) = lesson.ddpm_vs_ddim(model, schedule, (MY_SEED,), n=300)
    print(f"your seed {MY_SEED} ({'shipped' if MY_CHECKPOINT is None else 'your'} checkpoint): DDPM FD "
          f"{mine['ddpm']:.1f}, DDIM-50 FD {mine['ddim']:.1f}, DDPM - DDIM = {mine['ddpm'] - mine['ddim']:+.1f}")

# %% [markdown]
# DDPM tends to score better here: in most seeds (the count above), by a few points on average, but not in every
# seed, and the paired difference's spread is about as large as its mean. Against the floor's twenty draws (printed
# at the top), DDPM's scores lie inside their range, DDIM-50's in its upper part or above. These rows are of the
# shipped checkpoint, whatever `MY_CHECKPOINT` says.
#
# **Why does DDPM win here?** In Song et al.'s Table 1 (CIFAR-10), DDIM-50 (FID 4.67) about equals the same
# stochastic sampler with all 1,000 steps (4.73). Here the step size is not the reason: DDIM at 200 steps still
# scores worse than DDPM's mean (the sweep). What is left is the fresh noise, which Karras et al. (2022, §4) find
# corrects errors of earlier steps, errors a small, briefly trained model makes more of. That is a hypothesis, not
# tested here: sampling a better-trained checkpoint both ways would test it.
#
# ## Summary
# - An FD is compared only with the floor at the same sample size, and with its spread: the floor's sample-size part
#   falls like $1/n$ (Chong and Forsyth 2020), and the coefficient of that part depends on the model.
# - Quality gains fast up to 20 DDIM steps and slowly from 50 to 200 (checked over the seeds above), while time grows
#   in proportion to the steps; at 50 steps the samples still score worse than most draws of real digits.
# - An FD against held-out digits cannot see memorisation; nearest-digit distances can: no sample here is a copy.
# - DDPM with all its steps scores a few points better than DDIM-50 in most seeds, at twenty times the network calls.
#
# ## Going further
# - Chong and Forsyth (2020), *Effectively Unbiased FID and Inception Score and where to find them*, §3 (the bias of FD at small $n$, and its extrapolation to infinitely many samples).
# - Song, Meng, Ermon (2021), *Denoising Diffusion Implicit Models*, Table 1 (FID against steps and $\eta$).
# - Karras et al. (2022), *Elucidating the Design Space of Diffusion-Based Generative Models*, §4 (stochastic sampling).
# - Next: **07 · Residual connections inside diffusion models**.
