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
# # 08 · Draw me a 7: conditioning and classifier-free guidance
#
# Until now the model drew a digit at random. This notebook asks it for one. The label enters the U-Net the way the
# time step does: through the residual blocks. Then one line at sampling time, classifier-free guidance, changes
# what the samples look like, and we measure how.
#
# **Learning objectives**
# 1. Say where a class label enters a diffusion U-Net, and why training drops it now and then.
# 2. Write the guided noise estimate from the conditional and the unconditional ones (Ho & Salimans 2022, Eq. 6).
# 3. Measure how the share of samples read as the asked digit, their diversity and their FD change with the
#    guidance scale, over seeds, beside the unconditional model and real digits.
# 4. Choose a guidance scale for a score you define, and argue for it.

# %% [markdown] tags=["instructor"]
# ## Instructor's plan (50 minutes)
#
# It needs the shipped conditional checkpoints and runs top to bottom in about a minute on 2 CPU cores (the live
# training is 25 seconds of it).
#
# **Timeline**
#
# | minutes | part | cells | what happens |
# |---|---|---|---|
# | 0-6 | Where the label goes | setup to `label_path` | The label joins the time embedding; the null label. |
# | 6-12 | A conditional model, live | `train_conditional` and its samples | It trains while you explain label dropout. |
# | 12-22 | Exercise 1: the guided estimate | `guided_eps`, its check | Derive it at the board from s = 0 and s = 1. |
# | 22-30 | Exercise 2 and the live figure | predictions, the slider | Vote on s = 0 and s = 8 first, then slide. |
# | 30-40 | The trade-off, measured | the table, the figure, the claims, Exercise 2's check | Read each curve against its two baselines. |
# | 40-47 | Exercise 3 and the control | `my_score`, `best_scale`; the input-only model | Pairs argue for their score. |
# | 47-50 | Summary | summary, going further | Where guidance goes next (Karras et al. 2024). |
#
# **Live-code**
# - After the live run: `lesson.guidance_widget(lesson.sample_table(trainer.ema_model, trainer.schedule))` puts
#   the live model on the sliders (about 5 s to draw); say "the label is just an integer: the model learned what 7
#   means from the 99 sevens it saw."
# - At Exercise 1: write `eps_u + s * (eps_c - eps_u)` and evaluate it at s = 0 and s = 1 aloud.
#
# **Predict before running**
# - Guidance 0: most say "the asked digit" (the model is conditional after all). It is eps_uncond: any digit.
# - A large scale: most expect clearer digits; fewer expect them to look alike.
#
# **Common mistakes**
# - Swapping the two estimates; using the paper's $w$ as the scale ($w = s - 1$).
# - Reading accuracy alone: it rewards digits that all look the same; the diversity panel shows the price.
# - Judging a scale from one seed's row.
# - Exercise 3: a score of accuracy alone (every scale from 2 up ties at 100%), or a scale picked by eye from the
#   figure instead of computed.
#
# **Three questions to ask**
# 1. "Why train one network with a null label instead of two networks?" A good answer: one set of weights gives
#    both estimates in one batched pass. Ho & Salimans (Sec. 3.2) add that it is simple to implement, leaves the
#    training pipeline as it is and adds no parameters.
# 2. "Why does guidance help accuracy at all, if s = 1 is already the conditional model?" A good answer: the model's
#    conditional estimate is imperfect; pushing along eps_cond - eps_uncond sharpens the classes, like sampling
#    from p(x|y) p(y|x)^(s-1), at the cost of variety.
# 3. At Exercise 3, "what does your score give up?" A good answer names it: `accuracy - abs(1 - diversity)` wants
#    real digits' variety and lands at s = 1 in the stored run; a score that counts only the asked digit ties from
#    s = 2 up, at scales that all lose variety (0.66 to 0.75).

# %%
# On Colab only: install course_lib and turn on widgets. Anywhere else this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "course_lib @ git+https://github.com/course-lib/residual-to-diffusion"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()

# %%
from course_lib.claims import check_claims
from course_lib.lessons import guidance as lesson
from course_lib.lessons import setup_notebook

device = setup_notebook(seed=0)
SEEDS = (0, 1, 2)  # sampling seeds: every measurement of the trade-off is repeated for each

# %% [markdown]
# ## Where the label goes
#
# A conditional U-Net is the U-Net of notebook 07 with one more input, the label $y$. Like the time step, $y$ is
# turned into a vector by a table of learned rows (an embedding), and that vector is **added to the time
# embedding**. Every residual block already receives the time embedding through its own projection, so every
# block now receives the label too: $h = x + F(x, t, y)$. The U-Nets of improved-diffusion and of Dhariwal &
# Nichol (2021, Sec. 3.1) take a class this way (theirs scale and shift each block's normalised activations with
# it; ours adds a projection). The table has one extra row, the **null label**, meaning "no label": with it the
# same network also gives the unconditional estimate that guidance needs. The shipped conditional model, trained
# like notebook 06's unconditional one (same U-Net, data and steps):

# %%
model, schedule = lesson.load_conditional(device=device)
print(lesson.label_path(model))
print(lesson.shipped_training())

# %% [markdown]
# **Label dropout.** If every training example came with its label, the null row would never be trained. So
# training hides the label of each example with probability $p_\text{uncond} = 0.1$ (Ho & Salimans 2022, Alg. 1):
# `course_lib.guidance.drop_labels`. Nine examples in ten teach $\epsilon_\theta(x_t, t, y)$, one in ten teaches
# $\epsilon_\theta(x_t, t, \varnothing)$.
#
# ## A conditional model, trained live
#
# The same recipe on a short time budget (a larger batch on a GPU; the progress bar's step count is a cap the
# budget never reaches). Ask it for every digit, eight samples each, at guidance scale 1 (the conditional model).
# Every sample here is drawn with DDIM (notebook 06):

# %% tags=["nbval-ignore-output"]
# A live training run: its numbers differ between CPUs and runs, so the notebook tests do not compare them.
trainer = lesson.train_conditional(device)
print(f"trained {trainer.step} steps in {trainer.history.time_s[-1]:.0f} s; last loss {trainer.history.loss[-1]:.3f}")
mine = lesson.sample_table(trainer.ema_model, trainer.schedule, scales=(1.0,), n_per=8)
shipped = lesson.sample_table(model, schedule, scales=(1.0,), n_per=8)
lesson.plot_rows({"your live model": mine[1.0], "shipped, 4,000 steps": shipped[1.0]})

# %% [markdown]
# Each row is one asked digit, 0 at the top. After the live run's steps (printed above) most rows already show
# their digit (left; the shipped model on the right). The label is only an integer: the model learned what "7"
# means from the 99 sevens among its training digits.
#
# ## Classifier-free guidance
#
# At every sampling step the network gives two noise estimates for the same $x_t$: with the label,
# $\epsilon_c = \epsilon_\theta(x_t, t, y)$, and with the null label, $\epsilon_u = \epsilon_\theta(x_t, t,
# \varnothing)$. Their difference $\epsilon_c - \epsilon_u$ is the direction the label adds. Guidance combines the
# two with one number, the scale $s$.
#
# **Exercise 1.** Write the guided estimate. Scale $s = 0$ must give $\epsilon_u$, $s = 1$ must give $\epsilon_c$,
# and larger scales go further in the same direction.

# %% answers=["eps_uncond + scale * (eps_cond - eps_uncond)", "(1 - scale) * eps_uncond + scale * eps_cond"]
def guided_eps(eps_cond, eps_uncond, scale):
    ### BEGIN SOLUTION
    return eps_uncond + scale * (eps_cond - eps_uncond)
    ### END SOLUTION


# %%
lesson.check_guided_eps(guided_eps)

# %% [markdown]
# Ho & Salimans (2022, Eq. 6) write the same estimate as $(1 + w)\,\epsilon_c - w\,\epsilon_u$: their guidance
# strength $w$ is $s - 1$. `diffusers`' pipelines call $s$ `guidance_scale` (at or below 1 they return
# $\epsilon_c$). Check which one a paper means before you compare numbers. `course_lib.guidance.Guided` makes both
# in one pass of a doubled batch.
#
# **Exercise 2 (predict before the slider).** What does the shipped model draw when asked for a digit with
# guidance $s = 0$? And with the largest scale measured below, $s = 8$? Pick one of `lesson.EXTREME_CHOICES`
# for each and copy it as it is; the check comes after the measurement.

# %%
print(lesson.EXTREME_CHOICES)

# %% answers=["guidance 0 ignores the label", "buys the label with variety"]
### BEGIN SOLUTION
at_zero = "any digit, whatever was asked"
at_large = "the asked digit, less varied than real digits"
### END SOLUTION

# %% [markdown]
# **The samples, live.** The next cell draws every sample the measurement below needs. Then pick a digit and move
# the scale. Every scale starts from the same noise, so a sample changes only because of the scale; a move only
# looks the samples up.

# %% tags=["nbval-ignore-output"]
# A live figure of samples from a network: their pixels differ in the last digits between CPUs, not compared.
tradeoff = lesson.measure_tradeoff(model, schedule, seeds=SEEDS)
lesson.guidance_widget(tradeoff["samples"], digit=7, scale=1.0)

# %% [markdown]
# ## The trade-off, measured
#
# Three scores per scale and sampling seed, each over as many samples of every digit (the table says how many):
# - **read as asked** (`accuracy` in the code): the share the digit classifier of notebook 06b reads as the asked
#   digit;
# - **diversity**: the mean distance between two samples of one digit, in the classifier's features, over that
#   between two held-out real digits of that digit (1: as varied as real handwriting);
# - **FD** between the whole set of samples and the held-out digits (notebook 06b). It never sees the asked label:
#   it counts samples that look like no digit, a wrong mix of digits, and missing variety.
#
# Baselines: the unconditional model of notebook 06 (paired with asked digits it never saw: chance), and real
# digits (held-out: the classifier's accuracy, diversity near 1; training digits: the FD floor).

# %% tags=["nbval-ignore-output"]
# Scores of samples from a network: their last digits differ between CPUs, so the notebook tests do not compare them.
baselines = lesson.real_and_unconditional(seeds=SEEDS)
print(lesson.format_tradeoff(tradeoff, baselines))
lesson.plot_tradeoff(tradeoff, baselines)

# %%
check_claims(lesson.tradeoff_claims(tradeoff, baselines), {
    "zero_is_chance": "guidance 0 reads as the asked digit at most 10 points more often than the unconditional model",
    "read_from_one": "from guidance 1 to 8, at least 95% of the samples read as the asked digit at every scale",
    "diversity_falls": "the samples of one digit are less varied at guidance 3 than at guidance 1",
    "fd_lowest_near_one": "the FD is lowest between guidance 1 and 1.5",
    "guidance_helps_fd": "the FD is lower at guidance 1.25 than at guidance 1 (the conditional model, unguided)",
    "fd_rises_from_two": "the FD rises at every measured step from guidance 2 to guidance 8",
})

# %% [markdown]
# Before reading the curves, check your predictions of Exercise 2:

# %% tags=["nbval-ignore-output"]
# Compares scores of samples from a network, whose last digits differ between CPUs: not compared in tests.
lesson.check_extremes_prediction(at_zero, at_large, tradeoff, baselines)

# %% [markdown]
# Read each panel against its baselines (numbers in the table above).
# - **Read as asked.** At $s = 0$: the unconditional model's chance level. At $s = 1$: 0.99; from $s = 2$ up, every
#   sample of every seed, more often than held-out real digits (0.957): guided samples are *typical* of the
#   training digits the classifier also learned from. Up to $s = 8$ the share does not fall.
# - **Diversity.** About 2 at $s = 0$ (samples "of a 7" are any digit). Below real digits' from $s = 1$, lowest
#   between $s = 2$ and $5$ (0.66 to 0.69), a little higher at 8 (look at the strokes there with the slider).
# - **FD** turns: lowest at $s = 1.25$ in every seed (the turning points above), level with the real digits'
#   floor, then rising at every step, to about twice that at $s = 8$.
#
# A little guidance gives the best FD; more adds almost nothing to the share read as asked (0.998 to 1.000) and
# costs variety and FD. Ho & Salimans (2022, Sec. 4.1)
# find the same on ImageNet: FID (this distance in an Inception network's features) is best at $w = 0.1$ at 64×64
# (Table 1) and $w = 0.3$ at 128×128 (Table 2), $s = 1.1$ and $1.3$, while the Inception score (how clearly samples
# show a class) keeps rising. At $s = 0$ the null estimate scores a worse FD than the separately trained
# unconditional model, probably because its null row saw only one training example in ten.
#
# **Exercise 3: your scale.** There is no single best scale: it depends on what you want. Define a score from the
# three measurements (higher is better), for example one that wants the asked digit but also some variety. Then
# find the measured scale where your score, on the means over seeds (`lesson.summarise(tradeoff)`), is highest.
# Argue for your score in the cell below the check.

# %% answers=["accuracy - abs(1 - diversity)"]
def my_score(accuracy, diversity, fd):
    ### BEGIN SOLUTION
    return accuracy - abs(1 - diversity)  # the asked digit, with real digits' variety
    ### END SOLUTION


### BEGIN SOLUTION
means = lesson.summarise(tradeoff)
best_scale = max(tradeoff["scales"], key=lambda s: my_score(means["accuracy"][s], means["diversity"][s], means["fd"][s]))
### END SOLUTION

# %% tags=["nbval-ignore-output"]
# Depends on scores of samples from a network, whose last digits differ between CPUs: not compared in tests.
lesson.check_best_scale(my_score, best_scale, tradeoff)

# %% [markdown]
# *Your argument (which measurement does your score give up, and why that trade?):*

# %% [markdown]
# ## Does it matter that the label goes through the residual blocks?
#
# The course's question, one last time. A control model takes the label only at its input (`label_at="input"`:
# its vector is added once, after the first convolution; the residual blocks see only $t$). Same U-Net, data,
# steps and seed as the shipped model, with a narrower label table (printed below); the same measurement:

# %% tags=["nbval-ignore-output", "spoiler"]
# Scores of samples from a network: their last digits differ between CPUs, so the notebook tests do not compare them.
control, _ = lesson.load_conditional(lesson.CONDITIONAL_INPUT, device=device)
print(lesson.label_path(control))
print(lesson.shipped_training(lesson.CONDITIONAL_INPUT))
at_input = lesson.measure_tradeoff(control, schedule, seeds=SEEDS)
print(lesson.format_tradeoff(at_input, name="label at the input, "))
lesson.plot_tradeoff(tradeoff, baselines, others={"label at the input only": at_input})

# %% tags=["spoiler"]
check_claims(lesson.control_claims(tradeoff, at_input), {
    "input_as_good": "from guidance 1 up, the label at the input only is read as asked within 3 points of the label "
                     "through the blocks, at every scale",
})

# %% [markdown]
# By 4,000 steps, with one trained network each (the seeds are sampling seeds), the label at the input does about as
# well: from $s = 1$ up the shares read as asked stay within 3 points (a test with teeth only at $s = 1$ to $1.5$;
# from 2 both are at 1), though lower at $s = 1$ on average (0.978 against 0.990); at $s = 0.5$ the means differ by
# 0.014. Both FD curves are lowest at $s = 1.25$ or $1.5$. The label needs no door into every block here. A possible
# reason is the course's subject: a residual block adds to what it receives, $h = x + F(x)$, so a label added after
# the first convolution stays in what later blocks read, and the `concat` long skip hands it to the decoder. "Going
# further" tests it. Larger models still put the class on every block (Dhariwal & Nichol 2021, Sec. 3.1).
#
# ## Summary
# - A class label enters the U-Net like the time step: embedded, added to the time embedding, passed to every
#   residual block. A "null" row, trained by hiding 10% of the labels, gives the unconditional estimate.
# - Classifier-free guidance: $\epsilon_u + s\,(\epsilon_c - \epsilon_u)$; $s = 0$ ignores the label, $s = 1$ is
#   the conditional model.
# - Measured over three sampling seeds of one trained network: from $s = 2$ every sample reads as the asked digit,
#   the samples of one digit are less varied than real ones, and the FD is lowest with a little guidance ($s$
#   between 1 and 1.5). The best scale is a choice, made for a score.
# - By 4,000 steps (one trained network each), the label at the input only does about as well as the label on
#   every block.
#
# ## Going further
# - Test the hypothesis: remove both routes and compare the label at the input with the label on every block:
#   `trainer = lesson.train_conditional(device, seconds=120, model=UNet(num_classes=10, label_at="input",
#   residual=False, skip="none"))` (`from course_lib import UNet`), again with `label_at="blocks"`, then
#   `lesson.measure_tradeoff(trainer.ema_model, trainer.schedule)` for each.
# - Ho & Salimans (2022), *Classifier-Free Diffusion Guidance*, arXiv:2207.12598 (first a NeurIPS 2021
#   workshop): Sec. 3.2, Alg. 1-2, Sec. 4.1, Tables 1-2.
# - Dhariwal & Nichol (2021), *Diffusion Models Beat GANs on Image Synthesis*: Sec. 3.1 and 4.
# - Karras et al. (2024), *Guiding a Diffusion Model with a Bad Version of Itself*.
# - The command line: `python -m course_lib train --conditional --out c.pt`, then `python -m course_lib sample
#   --checkpoint c.pt --label 7 --steps 20 --out sevens` (the table's DDIM steps). Its default scale is 3, where
#   the table above reads every sample of the shipped model as the asked digit (1.000).
