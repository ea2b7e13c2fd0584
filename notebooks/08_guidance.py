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
# - Exercise 3: a score of accuracy alone (every scale from 2 up ties at 100%), or a scale picked by eye from the
#   figure instead of computed.
#
# **Three questions to ask**
# 1. "Why train one network with a null label instead of two networks?" A good answer: one set of weights gives
#    both estimates in one batched pass, and the two share what they learned about digits (Ho & Salimans, Sec. 3.2).
# 2. "Why does guidance help accuracy at all, if s = 1 is already the conditional model?" A good answer: the model's
#    conditional estimate is imperfect; pushing along eps_cond - eps_uncond sharpens the classes, like sampling
#    from p(x|y) p(y|x)^(s-1), at the cost of variety.
# 3. At Exercise 3, "what does your score give up?" A good answer names it: `accuracy - abs(1 - diversity)` wants
#    real digits' variety and lands at s = 1; a score that counts only the asked digit climbs to s = 2 and beyond
#    and accepts samples that all look alike.

# %%
# On Colab only: install course_lib and turn on widgets. Anywhere else this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "course_lib @ git+https://github.com/course-lib/residual-to-diffusion"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()

# %%
from course_lib.claims import check_claims, mean_spread
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
# Dhariwal & Nichol (2021, Sec. 3) take a class. The table has one extra row, the **null label**, which means "no
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
# Each row is one asked digit, 0 at the top. After the steps of the live run (printed above) most rows already
# show their digit (left), beside the shipped model trained for 4,000 steps (right). The label is only an integer:
# the model learned what "7" means from the sevens among its training digits, about a hundred of them.
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
# **The samples, live.** The next cell draws every sample the measurement below needs: 20 of each digit at each
# guidance scale, for each of the three sampling seeds. Then pick a digit and move the scale. Every scale starts
# from the same noise, so a sample changes only because of the scale. (A move looks the samples up: nothing is
# drawn again.)

# %% tags=["nbval-ignore-output"]
# A live figure of samples from a network: their pixels differ in the last digits between CPUs, not compared.
tradeoff = lesson.measure_tradeoff(model, schedule, seeds=SEEDS)
lesson.guidance_widget(tradeoff["samples"], digit=7, scale=1.0)

# %% [markdown]
# ## The trade-off, measured
#
# Three scores, each from the 20 samples of every digit drawn above (200 per scale and seed), over the three
# sampling seeds:
# - **read as asked**: the share the course's digit classifier (notebook 06b) reads as the asked digit;
# - **diversity**: the mean distance between two samples of the same digit, in the classifier's features,
#   divided by that between two held-out real digits of that digit (1: as varied as real handwriting);
# - **FD** against the held-out digits (notebook 06b), which counts both wrong digits and missing variety.
#
# Beside them, two baselines with as many samples of each digit: the unconditional model of notebook 06 (its
# samples paired with asked digits it never saw: what "read as asked" scores by chance), and real digits (20
# held-out digits of each digit give the classifier's own accuracy and diversity near 1; 20 training digits of each
# give the FD floor, what a perfect model would score).

# %% tags=["nbval-ignore-output"]
# Scores of samples from a network: their last digits differ between CPUs, so the notebook tests do not compare them.
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
check_claims(lesson.tradeoff_claims(tradeoff, baselines), {
    "zero_is_chance": "guidance 0 reads as the asked digit at most 10 points more often than the unconditional model",
    "read_from_one": "from guidance 1 to 8, at least 95% of the samples read as the asked digit at every scale",
    "diversity_falls": "the samples of one digit are less varied at guidance 3 than at guidance 1",
    "fd_falls_to_one": "the FD falls from guidance 0.5 to guidance 1",
    "fd_rises_from_two": "the FD rises at every measured step from guidance 2 to guidance 8",
})

# %% [markdown]
# Before reading the curves, check your predictions of Exercise 2:

# %% tags=["nbval-ignore-output"]
# Compares scores of samples from a network, whose last digits differ between CPUs: not compared in tests.
lesson.check_extremes_prediction(at_zero, at_large, tradeoff, baselines)

# %% [markdown]
# Read each panel against its baselines (the numbers are in the table above the figure).
# - **Read as asked.** At $s = 0$ the label is ignored, and the share sits at the unconditional model's chance
#   level. By $s = 1$ nearly every sample reads as the asked digit, and from $s = 2$ to $8$ every one does: more
#   often than real held-out digits do. Guided samples are *typical* digits, easier to read than real handwriting.
#   Up to $s = 8$ the share does not fall.
# - **Diversity.** At $s = 0$ it is about 2: the samples "of a 7" are any digit, so they differ more than real
#   sevens do. It falls below real digits' at $s = 1$ and lowest near $s = 3$, where two samples of one digit are
#   about two thirds as far apart as two real ones. It rises a little after that, as the strokes grow thick and
#   bright (move the slider to 8): the samples change, but not towards real digits, as the FD shows.
# - **FD** counts both wrong digits and missing variety, and it turns. High at $s = 0$ and $0.5$, it is lowest at
#   $s = 1$ in every seed (the turning points printed above), close to the real digits' floor, and it rises at
#   every step after, to about twice its lowest value at $s = 8$.
#
# So a little guidance buys the asked digit; more buys nothing the classifier can see and costs the FD. Ho &
# Salimans (2021, Sec. 4.1 and Table 1) find the same shape on ImageNet 64×64: the Inception score (how clearly
# samples show a class) keeps rising with the guidance strength, while the FID is best with a little guidance
# ($w = 0.1$ or $0.3$ in their notation, $s = 1.1$ or $1.3$ here) and worsens after. One more detail in the table:
# at $s = 0$ the conditional network's null estimate scores a worse FD than the separately trained unconditional
# model, perhaps because its null row saw only one training example in ten.
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
# the label's vector is added once, after the first convolution, and the residual blocks see only $t$). The same
# U-Net, data, steps and seed as the shipped model (only its label table is narrower: the width of the first
# convolution instead of that of the time embedding); the same measurement:

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
check_claims(lesson.control_claims(tradeoff, at_input), {
    "input_as_good": "from guidance 1 up, the label at the input only is read as asked within 3 points of the label "
                     "through the blocks, at every scale",
})

# %% [markdown]
# The label added once at the input does about as well: the two models' shares read as asked stay within 3 points
# from $s = 1$ up, and their FD curves have the same shape, lowest near $s = 1$ to $2$ and rising after (the numbers
# above). So in this U-Net the label does not need a door into every residual block. A likely reason is the
# course's own subject: a residual block adds to what it receives, $h = x + F(x)$, so the label's vector, once
# added to the stream after the first convolution, is still in what every later block reads, and the long skip
# (`concat`) hands the same features to the decoder. That reason is a hypothesis, not measured here: the
# experiment that would test it is in "Going further". Larger class-conditional models still put the class on every
# block (Dhariwal & Nichol 2021, Sec. 3: the class embedding scales and shifts each residual block's activations).
#
# ## Summary
# - A class label enters the U-Net like the time step: embedded, added to the time embedding, and so passed to
#   every residual block. One extra "null" row, trained by hiding 10% of the labels, gives the unconditional
#   estimate from the same network.
# - Classifier-free guidance: $\epsilon_u + s\,(\epsilon_c - \epsilon_u)$; $s = 0$ ignores the label, $s = 1$ is
#   the conditional model, and larger scales push past it.
# - Measured over three seeds: the share read as the asked digit climbs to (nearly) all samples by $s = 1$ to $2$
#   and stays there up to 8; the samples of one digit grow less varied than real digits; the FD is lowest at
#   $s = 1$ and rises after. The best scale is a choice, made for a score.
# - Here the label added once at the input does about as well as the label on every block.
#
# ## Going further
# - Test the hypothesis above: train a U-Net *without* residual connections that takes the label at the input
#   only, `lesson.train_conditional(device, model=UNet(num_classes=10, label_at="input", residual=False))` (import
#   `UNet` from `course_lib`), then measure it with `lesson.measure_tradeoff(trainer.ema_model, trainer.schedule)`
#   beside a plain U-Net that takes the label on every block. Train both longer than 25 seconds, or the
#   comparison measures training speed.
# - Ho & Salimans (2021), *Classifier-Free Diffusion Guidance*: Sec. 3.2 and Alg. 1-2 (training with a null label,
#   the guided estimate), Sec. 4.1 and Table 1 (FID and Inception score against the guidance strength).
# - Dhariwal & Nichol (2021), *Diffusion Models Beat GANs on Image Synthesis*: Sec. 4 (classifier guidance and
#   its trade of diversity for fidelity) and Sec. 3 (the class embedding in every residual block, AdaGN).
# - Karras et al. (2024), *Guiding a Diffusion Model with a Bad Version of Itself* (why guidance narrows the
#   samples, and a guide that does not).
# - Kynkäänniemi et al. (2024), *Applying Guidance in a Limited Interval Improves Sample and Distribution Quality*.
# - On the command line: `python -m course_lib train --conditional --out c.pt`, then `python -m course_lib sample
#   --checkpoint c.pt --label 7 --guidance 3 --out sevens`.
