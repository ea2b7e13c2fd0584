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
# time step does: through the residual blocks. Then one line at sampling time, classifier-free guidance, trades the
# variety of the samples for how clearly they show the asked digit. We measure that trade instead of describing it.
#
# **Learning objectives**
# 1. Say where a class label enters a diffusion U-Net, and why training drops it now and then.
# 2. Write the guided noise estimate from the conditional and the unconditional ones (Ho & Salimans 2021, Eq. 6).
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
# - After the live run: `lesson.sample_digits(trainer.ema_model, trainer.schedule, [7], 3.0)` for a 7 of your own;
#   say "the label is just an integer: the model learned what 7 means from the 100 sevens it saw."
# - At Exercise 1: write `eps_u + s * (eps_c - eps_u)` and evaluate it at s = 0 and s = 1 aloud.
#
# **Predict before running**
# - Guidance 0: most say "the asked digit" (the model is conditional after all). It is eps_uncond: any digit.
# - A large scale: most expect clearer digits; fewer expect them to look alike.
#
# **Common mistakes** (the checks' diagnoses)
# - Swapping the two estimates; using the paper's $w$ as the scale ($w = s - 1$).
# - Reading accuracy alone: it rewards digits that all look the same; the diversity panel shows the price.
# - Judging a scale from one seed's row.
#
# **Two questions to ask**
# 1. "Why train one network with a null label instead of two networks?" A good answer: one set of weights gives
#    both estimates in one batched pass, and the two share what they learned about digits (Ho & Salimans, Sec. 3.2).
# 2. "Why does guidance help accuracy at all, if s = 1 is already the conditional model?" A good answer: the model's
#    conditional estimate is imperfect; pushing along eps_cond - eps_uncond sharpens the classes, like sampling
#    from p(x|y) p(y|x)^(s-1), at the cost of variety.

# %%
# On Colab only: install course_lib and turn on widgets. Anywhere else this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "course_lib @ git+https://github.com/course-lib/residual-to-diffusion"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()

# %%
from course_lib.claims import check_claim, mean_spread
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
# block now receives the label too: $h = x + F(x, t, y)$. This is how the U-Nets of improved-diffusion and of
# Dhariwal & Nichol (2021, Sec. 4) take a class. The table has one extra row, the **null label**, which means "no
# label": with it the same network also gives an unconditional estimate, which guidance needs. The shipped
# conditional checkpoint, trained for 4,000 steps on the 1,000 training digits as the unconditional one of
# notebook 06:

# %%
model, schedule = lesson.load_conditional(device=device)
print(lesson.label_path(model))

# %% [markdown]
# **Label dropout.** If every training example came with its label, the null row would never be trained. So
# training hides the label of each example with probability $p_\text{uncond} = 0.1$ (Ho & Salimans 2021, Alg. 1):
# `course_lib.guidance.drop_labels`. Nine examples in ten teach $\epsilon_\theta(x_t, t, y)$, one in ten teaches
# $\epsilon_\theta(x_t, t, \varnothing)$.
#
# ## A conditional model, trained live
#
# The same recipe for 25 seconds on the CPU (a minute with a larger batch on a GPU). Ask it for every digit, eight
# samples each, at guidance scale 1 (the plain conditional model; the scale comes next):

# %% tags=["nbval-ignore-output"]
# A live training run: its numbers differ between CPUs and runs, so the notebook tests do not compare them.
trainer = lesson.train_conditional(device)
print(f"trained {trainer.step} steps in {trainer.history.time_s[-1]:.0f} s; last loss {trainer.history.loss[-1]:.3f}")
mine = lesson.sample_table(trainer.ema_model, trainer.schedule, scales=(1.0,), n_per=8)
shipped = lesson.sample_table(model, schedule, scales=(1.0,), n_per=8)
lesson.plot_rows({"your live model": mine[1.0], "shipped, 4,000 steps": shipped[1.0]})

# %% [markdown]
# Each row is one asked digit, 0 at the top. After a few hundred steps most rows already show their digit
# (left); the shipped model's rows (right) are cleaner. The label is only an integer: the model learned what "7"
# means from the hundred sevens among its training digits.
#
# ## Classifier-free guidance
#
# At every sampling step the network gives two noise estimates for the same $x_t$: with the label,
# $\epsilon_c = \epsilon_\theta(x_t, t, y)$, and with the null label, $\epsilon_u = \epsilon_\theta(x_t, t,
# \varnothing)$. Their difference $\epsilon_c - \epsilon_u$ is the direction the label adds. Guidance mixes the two
# estimates with one number, the scale $s$, and may go past $\epsilon_c$ along that direction. Both estimates come
# from one forward pass of a batch twice as large (`course_lib.guidance.Guided`).
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
# Ho & Salimans (2021, Eq. 6) write the same estimate as $(1 + w)\,\epsilon_c - w\,\epsilon_u$, so their $w$ is
# $s - 1$; `diffusers` calls $s$ `guidance_scale`. Read which one a paper uses before you compare numbers.
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
# **The samples, live.** Pick a digit and move the guidance scale. Every scale starts from the same noise, so a
# sample changes only because of the scale. (The samples were drawn once, when the cell ran: a move looks them up.)

# %% tags=["nbval-ignore-output"]
# A live figure of samples from a network: their pixels differ in the last digits between CPUs, not compared.
table = lesson.sample_table(model, schedule, n_per=8)
lesson.guidance_widget(table, digit=7, scale=1.0)

# %% [markdown]
# ## The trade-off, measured
#
# Three scores, each from 30 samples of every digit (300 per scale and seed) and each over the three sampling
# seeds:
# - **read as asked**: the share the course's digit classifier (notebook 06b) reads as the asked digit;
# - **diversity**: the mean distance between two samples of the same digit, in the classifier's features,
#   divided by that between two held-out real digits of that digit (1: as varied as real handwriting);
# - **FD** against the held-out digits (notebook 06b), which counts both wrong digits and missing variety.
#
# Beside them, two baselines at the same sample size: the unconditional model of notebook 06 (its samples paired
# with asked digits it never saw: what "read as asked" scores by chance), and real held-out digits (the classifier's
# own accuracy, diversity 1 by construction, and the FD floor).

# %% tags=["nbval-ignore-output"]
# Scores of samples from a network: their last digits differ between CPUs, so the notebook tests do not compare them.
tradeoff = lesson.measure_tradeoff(model, schedule, seeds=SEEDS)
baselines = lesson.real_and_unconditional(seeds=SEEDS)
for s in tradeoff["scales"]:
    print(f"s = {s:>3g}: read as asked {mean_spread(tradeoff['accuracy'][s], '.2f')}; diversity "
          f"{mean_spread(tradeoff['diversity'][s], '.2f')}; FD {mean_spread(tradeoff['fd'][s], '.1f')}")
for name, row in baselines.items():
    print(f"{name:>13}: read as asked {mean_spread(row['accuracy'], '.2f')}; diversity "
          f"{mean_spread(row['diversity'], '.2f')}; FD {mean_spread(row['fd'], '.1f')}")
turns = lesson.turning_points(tradeoff)
print(f"scale with the highest read-as-asked share, per seed: {turns['best_accuracy']}; with the lowest FD: "
      f"{turns['best_fd']}")
lesson.plot_tradeoff(tradeoff, baselines)

# %%
acc, div, fd = tradeoff["accuracy"], tradeoff["diversity"], tradeoff["fd"]
check_claim("guidance 0 reads as the asked digit no more often than the unconditional model, plus 10 points",
            [u + 0.10 - a for a, u in zip(acc[0.0], baselines["unconditional"]["accuracy"])])
check_claim("guidance 3 reads as the asked digit more often than guidance 1", [b - a for a, b in zip(acc[1.0], acc[3.0])])
check_claim("diversity falls from guidance 1 to guidance 8", [a - b for a, b in zip(div[1.0], div[8.0])])
held = check_claim("the FD at guidance 8 is worse than at guidance 1", [b - a for a, b in zip(fd[1.0], fd[8.0])])

# %% [markdown]
# Before reading the curves, check your predictions of Exercise 2:

# %% tags=["nbval-ignore-output"]
# Compares scores of samples from a network, whose last digits differ between CPUs: not compared in tests.
lesson.check_extremes_prediction(at_zero, at_large, tradeoff, baselines)

# %% [markdown]
# Read each panel against its baselines. At $s = 0$ the label is ignored: "read as asked" is at the unconditional
# model's chance level. It climbs steeply to $s = 1$ and further with guidance, toward the classifier's accuracy on
# real digits. Diversity moves the other way: the larger the scale, the more the samples of one digit look alike.
# The FD, which counts both, turns: it is lowest at a moderate scale (the seeds' turning points above) and worse at
# $s = 8$. Ho & Salimans (2021, Fig. 4 and Table 1) find the same trade on ImageNet: Inception score (class clarity)
# rises with guidance while FID is best at a small guidance strength and worsens after.
#
# **Exercise 3: your scale.** There is no single best scale: it depends on what you want. Define a score from the
# three measurements (higher is better), for example one that wants the asked digit but also some variety, then
# pick the measured scale where your score is highest. Argue for your score in the cell below the check.

# %% answers=["accuracy - fd / 100"]
def my_score(accuracy, diversity, fd):
    ### BEGIN SOLUTION
    return accuracy - fd / 100
    ### END SOLUTION


### BEGIN SOLUTION
best_scale = 2.0
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
# the label's vector is added once, after the first convolution, and the residual blocks see only $t$). Same
# size, data, steps and seed as the shipped model; the same measurement:

# %% tags=["nbval-ignore-output"]
# Scores of samples from a network: their last digits differ between CPUs, so the notebook tests do not compare them.
control, _ = lesson.load_conditional(lesson.CONDITIONAL_INPUT, device=device)
print(lesson.label_path(control))
at_input = lesson.measure_tradeoff(control, schedule, seeds=SEEDS)
for s in at_input["scales"]:
    print(f"label at the input, s = {s:>3g}: read as asked {mean_spread(at_input['accuracy'][s], '.2f')}; "
          f"diversity {mean_spread(at_input['diversity'][s], '.2f')}; FD {mean_spread(at_input['fd'][s], '.1f')}")
lesson.plot_tradeoff(tradeoff, baselines, others={"label at the input only": at_input})

# %%
held = check_claim("at guidance 1, the label through the blocks is read as asked more often than the label at the "
                   "input only", [a - b for a, b in zip(acc[1.0], at_input["accuracy"][1.0])])

# %% [markdown]
# PROSE AFTER MEASUREMENT
#
# ## Summary
# - A class label enters the U-Net like the time step: embedded, added to the time embedding, and so passed to
#   every residual block. One extra "null" row, trained by hiding 10% of the labels, gives the unconditional
#   estimate from the same network.
# - Classifier-free guidance: $\epsilon_u + s\,(\epsilon_c - \epsilon_u)$; $s = 0$ ignores the label, $s = 1$ is
#   the conditional model, and larger scales buy the asked digit with variety.
# - Measured over seeds: the share read as asked rises with the scale, diversity falls, and the FD is best at a
#   moderate scale. The best scale is a choice, made for a score.
#
# ## Going further
# - Ho & Salimans (2021), *Classifier-Free Diffusion Guidance*: Sec. 3.2 and Alg. 1-2 (training with a null label,
#   the guided estimate), Fig. 4 and Table 1 (the FID/IS trade-off against the guidance strength).
# - Dhariwal & Nichol (2021), *Diffusion Models Beat GANs on Image Synthesis*, Sec. 4 (classifier guidance, its
#   trade-off of diversity for fidelity) and App. on the class-conditional U-Net.
# - Karras et al. (2024), *Guiding a Diffusion Model with a Bad Version of Itself* (why guidance narrows the samples,
#   and a guide that does not).
# - Kynkäänniemi et al. (2024), *Applying Guidance in a Limited Interval Improves Sample and Distribution Quality*.
# - On the command line: `python -m course_lib train --conditional --out c.pt`, then `python -m course_lib sample
#   --checkpoint c.pt --label 7 --guidance 3 --out sevens`.
