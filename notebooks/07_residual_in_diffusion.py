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
# # 07 · Capstone: residual connections inside diffusion models
#
# Three of the articles the course started from make confident claims about residual connections:
#
# - an untitled article on residual connections in diffusion models: "Furthermore, the use of residual connections can improve the robustness of diffusion models
#   by reducing the likelihood of overfitting to training data.";
# - the article *Residual connection vs Skip connection*: "Empirical studies demonstrate residual connections
#   outperform skip connections in complex architectures such as ResNet, leading to superior performance on image
#   recognition benchmarks.";
# - the article comparing *Diffusion models and ResNets* (for denoising): "ResNets utilize residual connections to
#   enhance feature learning and effectively reduce noise in images by propagating clean signal pathways across
#   layers."
#
# We test them on one U-Net whose residual connections switch on and off, and whose long skips are `none`, `add`
# or `concat`, following every variant along its **learning curve**: do residual connections make the U-Net
# *train faster*, *end better*, or both?
#
# **Learning objectives**
# 1. Design a fair ablation: one change at a time, everything else equal.
# 2. Read a comparison along learning curves, next to a floor (real digits) and a ceiling (noise): "trains faster"
#    at a budget, "ends better" only where the curves have stopped moving, otherwise "not settled by N steps".
# 3. Report one difference with its uncertainty: paired by seed, with an interval you can defend.
# 4. Answer the articles' claims with the numbers, and say which the numbers cannot settle.

# %% [markdown] tags=["instructor"]
# ## Instructor's plan (50 minutes)
#
# The capstone of the course: one question, one experiment, one comparison computed by the class. Everything that
# takes a second lecture (ratios, Bonferroni, sign tests, the gap's null, samplers) is in 07b.
#
# **Timeline**
#
# | minutes | part | cells | what happens |
# |---|---|---|---|
# | 0-5 | the question | title, "The experiment" | read the three claims aloud; ask which ones could be measured at all |
# | 5-10 | a fair ablation | "The experiment" table | `residual=False` switches off two things; the control separates them |
# | 10-15 | predict | exercise 1 and its check | everyone commits to `none`, `add` or `concat` at 4,000 steps, then runs the check |
# | 15-23 | your run, the curves | live run, curves widget, the check in words | start the run first (its last line prints how long it took: under a minute on 2 cores in the stored run), explain the bands while it trains; move the budget slider |
# | 23-34 | pair by seed | exercise 2 | the class tries it alone for 4 minutes; then live-code `paired_differences` and run the check |
# | 34-41 | one interval | exercise 3 | the class builds the 95% interval; discuss what "covers 0" means |
# | 41-50 | the verdicts | verdicts, claims, gap, "What the numbers say" | read the verdicts one comparison at a time (skip the control if short of time): "trains faster: yes; ends better: not settled"; point to 07b as take-home |
#
# **Live-code** (type these; do not just run them):
# - `paired_differences`, after the class has tried it for 4 minutes: build `{seed: value}` for each variant,
#   then subtract over the common seeds in seed order. Say while typing: "two runs with the same seed share batches, t, noise and the sampler's starting
#   noise; subtracting seed by seed removes all of that".
# - The interval of exercise 3: mean, sample sd, standard error, then the multiplier. Say: "five numbers; the sd
#   itself is uncertain, so the multiplier is not 1.96".
#
# **Predict before running**
# - Exercise 1 (where switching residual connections off costs most, at 4,000 steps). Most say `concat` ("the
#   biggest model needs them most") or `add`; the answer is `none`: without long skips the blocks' shortcuts are
#   the decoder's only short path to the input. The check adds that at 125 and 250 steps the answer is another
#   skip: plain / none still sits at the noise ceiling, which caps its ratio. Say: a verdict names its budget.
# - Before the check of the live run: "will one seed at 125 steps land inside the shipped bands?" Most say no;
#   the check counts the points outside (in the stored run, 0 of 6).
#
# **Common mistakes** (the checks name them):
# - pairing rows by their position in the list instead of by seed (the check shuffles the rows and drops a seed);
#   the sign flipped (b minus a); returning one number, the difference of the means; keeping a seed that only one
#   variant has;
# - the interval with the normal 1.96 instead of the t quantile, n instead of n - 1 degrees of freedom, the sd
#   instead of the standard error, the population sd; an unpaired (Welch or pooled) interval that counts the
#   seeds' shared spread against the difference; a percentile bootstrap of five numbers, too narrow.
#
# **Two questions to ask**
# 1. "With skip=add, plain and residual are not resolved at 4,000 steps. Do they end equal?" A good answer: no
#    such claim; the interval covers 0, but both curves are still falling, so the verdict is "not settled by
#    4,000 steps"; no difference resolved is not the same as no difference.
# 2. "`residual=False` turned off the shortcut and the zero-init. Which one made the early difference?" A good
#    answer uses the control (residual, default init): "shortcut alone" carries almost all of it at 125 steps;
#    "zero-init alone" is a ratio near 0.87, and no difference is resolved at 8,000 steps.

# %%
# On Colab only: install course_lib and turn on widgets. Anywhere else this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "course_lib @ git+https://github.com/course-lib/residual-to-diffusion"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()

# %%
import numpy as np

from course_lib.lessons import residual_in_diffusion as capstone
from course_lib.lessons import setup_notebook
from course_lib.utils import use_large_config

device = setup_notebook(seed=0)
LIVE_BUDGETS = (125, 250, 500) if use_large_config(device) else (125,)  # steps of the live run: shipped budgets
live = None  # the live run's rows, once "Your run" has run

# %% [markdown]
# ## The experiment
#
# Every `ResBlock` computes F(x, t) = conv2(act(norm(conv1(act(norm(x))) + W t_emb))).
#
# | kind | built as | h = | F's last conv (`conv2`) starts at |
# |---|---|---|---|
# | residual | `UNet(residual=True)` | shortcut(x) + F(x, t) | zero |
# | residual, default init | `UNet(residual=True, zero_init=False)` | shortcut(x) + F(x, t) | PyTorch's default init |
# | plain | `UNet(residual=False)` | F(x, t) | PyTorch's default init |
#
# `residual=False` switches off **two things**: the shortcut *and* the zero-init of `conv2`, which makes a
# residual block start as its shortcut (as in the code of Ho et al. 2020 and Dhariwal and Nichol 2021; the "zero
# γ" of Goyal et al. 2017). The control *residual, default init* separates them: minus plain, it is **the shortcut
# alone**; residual minus it, **the zero-init alone**.
#
# Every variant trains on the 1,000 "train" digits with the same batch, learning rate, EMA schedule and step
# counts. At each budget we measure the **FD** of 300 DDIM-20 samples to the 797 **held-out** digits, between a
# **floor** (300 real training digits) and a **ceiling** (300 noise images); the training **loss**; and the
# overfitting **gap**, eps-MSE on held-out minus training digits.

# %% [markdown]
# ## Your prediction, before any result
#
# **Exercise 1 (predict, then look).** Which paths from input to output does a plain U-Net (no residual
# connections) still have with each kind of long skip? At **4,000 steps**, the last budget every variant reached,
# under which kind of long skip will switching the residual connections off hurt sample quality the *most* (the
# largest ratio of FDs): `"concat"`, `"add"` or `"none"`? The check compares it with the shipped seeds at that
# budget, and with earlier budgets. Every result below answers it: the student copy shows them once you run them.

# %% answers=["prediction = \"none\"", "largest with skip='none'", "none 3.94", "234.3", "260.4", "= 0.19 (0.09-0.40", "more than twice residual's FD"]
### BEGIN SOLUTION
prediction = "none"
### END SOLUTION

# %%
capstone.check_cost_prediction(prediction, capstone.load_results()[1], capstone.load_curves()[1])

# %% [markdown]
# ## Your run
#
# The six main variants, one seed, trained for `LIVE_BUDGETS` steps (on a CPU, 125; on a GPU, 125, 250 and
# 500): the first budget(s) of the shipped curves below, so your run can be set against them. It checks the start
# of the curves; "ends better" is read on the shipped curves alone.

# %% tags=["spoiler", "nbval-ignore-output"]
# Trained numbers: their last digits differ between CPUs, so the notebook tests do not compare this output.
import time

start = time.perf_counter()
live = capstone.run_curves(LIVE_BUDGETS, variants=capstone.MAIN_VARIANTS, device=device)
print(capstone.live_table(live))
print(f"trained and scored in {time.perf_counter() - start:.0f} s ({device})")

# %% [markdown]
# ## The shipped learning curves
#
# The same experiment, run further: the six main variants and the control, five seeds each, to 4,000 steps; the
# two residual variants without long skips, still falling there, to 8,000 (`python -m course_lib study capstone`).
# Each line is the geometric mean over seeds; its band is where a *new* seed lands 95% of the time; your run is
# drawn as crosses. A band that leaves the plot (plain / `none`'s) is clipped. Move the budget to read every
# curve's value and band.

# %% tags=["spoiler", "nbval-ignore-output"]
# A live figure (widget): built once, only the marker and the values redrawn. Not compared in tests.
meta, curves = capstone.load_curves()
capstone.capstone_curves_widget(meta, curves, live)

# %% tags=["spoiler", "nbval-ignore-output"]
# Compares your trained numbers with the shipped bands: not compared in tests.
capstone.check_live_run(curves, live)

# %% [markdown]
# The shipped numbers (the same on every machine), with each variant's time per training step:

# %% tags=["spoiler"]
print(capstone.curve_table(meta, curves))

# %% [markdown]
# ## Is a difference real? Paired by seed
#
# At 4,000 steps with `skip="add"`, is the plain U-Net worse than the residual one, or is what you see the luck of
# the seeds? Two variants trained with the same seed share the order of the
# batches, the t and noise of every step, and the sampler's starting noise. Subtracting them seed by seed removes
# all of that. Here are the variants at 4,000 steps (the header names the columns):

# %% tags=["spoiler"]
_, end = capstone.load_results()
print(capstone.format_table(end))

# %% [markdown]
# Every verdict reads the EMA weights, as the curves do ("ends better" included); the raw weights can say
# otherwise (with `add`: residual 55.4, plain 41.8).
#
# **Exercise 2.** Write `paired_differences(rows, key, a, b)`: for every seed that both variants `a` and `b` (each
# a `Variant(kind, skip)`, with fields `.kind` and `.skip`) have in `rows`, the difference `row_a[key] - row_b[key]`
# of their rows with that seed, as a list in increasing order of seed. Each row is a dict with keys `"kind"`,
# `"skip"`, `"seed"` and the measurements (`"fd"`, `"final_loss"`, `"gap"`, ...). The check calls your function on
# the shipped rows *shuffled*, with one seed of one variant removed.

# %% answers=["r[\"seed\"]: r[key]", "sorted(value_a)"]
def paired_differences(rows, key, a, b):
    """Per-seed differences key(a) - key(b), over the seeds both variants have, in increasing seed order."""
    ### BEGIN SOLUTION
    value_a = {r["seed"]: r[key] for r in rows if r["kind"] == a.kind and r["skip"] == a.skip}
    value_b = {r["seed"]: r[key] for r in rows if r["kind"] == b.kind and r["skip"] == b.skip}
    return [value_a[seed] - value_b[seed] for seed in sorted(value_a) if seed in value_b]
    ### END SOLUTION


# %%
capstone.check_paired_differences(paired_differences, end)

# %% [markdown]
# **Exercise 3.** Is plain worse than residual with `skip="add"` at this budget? Build a **95% interval for the
# mean FD difference** *plain − residual* (`skip="add"`, rows `end`) over the seeds, as `interval = (mean, low,
# high)`. How to build it is your choice: think about how many seeds you have, and what you know about the
# spread of their mean. Then: does the interval tell you which of the two is better?

# %% answers=["-0.94", "-3.20", "1.32", "covers 0", "student_t.ppf("]
### BEGIN SOLUTION
from scipy.stats import t as student_t


def mean_with_t_interval(d, level=0.95):
    d = np.asarray(d, dtype=float)
    half_width = student_t.ppf((1 + level) / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return d.mean(), d.mean() - half_width, d.mean() + half_width


interval = mean_with_t_interval(paired_differences(end, "fd", capstone.Variant("plain", "add"),
                                                   capstone.Variant("residual", "add")))
### END SOLUTION

# %%
capstone.check_paired_interval(interval, end, "add")

# %% tags=["spoiler"]
print("plain - residual, skip=add, 4,000 steps: mean {:+.2f} FD, 95% interval [{:+.2f}, {:+.2f}]".format(
    *capstone.paired_interval(end, "add")))

# %% [markdown]
# The interval runs from about −3.2 to +1.3 FD around a mean of −0.94: it covers 0, so five seeds cannot say which
# of the two is better at 4,000 steps. That is not "they are equal": both curves are still falling. Such
# differences, a few FD, are also near what 300 samples resolve: the floor alone ranges from 10.4 to 23.1 over
# draws of 300 real digits.
#
# ## What the curves can settle
#
# "Trains faster" is read at one budget, paired by seed, as a ratio of FDs with its interval. "Ends better" needs
# both curves on a **plateau**: their last two budgets agree (the paired interval of the change over the last
# doubling holds zero and stays within 25% either way). Where a curve still moves, the verdict is "not settled by
# N steps".

# %% tags=["spoiler"]
print(capstone.curve_verdicts(curves))

# %% [markdown]
# Each claim of this notebook, checked on every shipped seed (one whose budgets or variants are missing says it
# was not measured):

# %% tags=["spoiler"]
capstone.check_curve_claims(curves)

# %% [markdown]
# And the overfitting gap:

# %%
print(capstone.gap_differences(end))

# %% [markdown]
# ## What the numbers say
#
# - **Train faster: yes.** At 125 steps residual blocks give a lower FD than plain ones under every kind of long
#   skip, on every seed, and your own run can show it.
# - **End better: not settled, and small where the curves flatten.** With long skips the plain U-Net has caught up
#   by 4,000 steps: with `add` no difference is resolved (as your interval found), with `concat` plain is 9%
#   ahead (a ratio of 1.09). Without long skips plain blocks are still several times worse (a ratio of 0.19).
#   Every curve is still falling, so which ends better is not settled by 4,000 steps.
# - **Two switches, not one.** At 125 steps the shortcut alone carries almost all of "residual on − off" (0.39
#   against 0.34); the zero-init alone gives 0.87, a small head start, and no difference is resolved at 8,000 steps.
#
# The articles' claims:
#
# - **"residual connections outperform skip connections".** The article means ResNets on image recognition and
#   cites no study (He et al. 2016 compare residual with plain nets, not with long skips). Here, residual-only
#   (residual, `none`) against skip-only (plain, `concat`): better early (0.44 at 125 steps), *worse* by 4,000
#   steps (1.54) on every seed with DDIM-20 (07b scores DDPM too); `concat` also has more parameters (notebook 03).
#   Early, the best variants have both; by 4,000 steps long skips alone do as well or slightly better.
# - **"reducing the likelihood of overfitting".** With long skips the residual variant's gap is smaller than
#   plain's by about 0.001 in absolute terms (0.0009 with `concat`, 0.0011 with `add`), 1.2-1.4% of a training
#   loss near 0.08; without long skips it is larger, but there the plain net barely learned. A small difference in
#   the claimed direction, not the promised "robustness". Notebook 07b sets it next to its null.
# - **"propagating clean signal pathways".** Nothing here, or in the article, measures that: a metaphor.
# - **One model, one dataset**: a U-Net of under 100,000 parameters on 8x8 digits. Dhariwal and Nichol (2021,
#   Section 3) ablate larger residual U-Nets on ImageNet, where every variant keeps residual blocks.
#
# ## Summary
# - One budget answers "which learns faster", not "which ends better": follow the learning curves, next to a floor
#   and a ceiling, and say "not settled by N steps" where they still fall.
# - A fair ablation changes one switch at a time; `residual=False` changes two, and a control separates them.
# - Report a difference paired by seed, with an interval that fits the number of seeds.
#
# ## Going further
# - **Notebook 07b (optional)**: ratios along the budget axis, many intervals at once, sign tests, the gap
#   against its null, the sampler's share, and the samples side by side.
# - Ho, Jain, Abbeel (2020), *Denoising Diffusion Probabilistic Models*; Dhariwal and Nichol (2021), *Diffusion
#   Models Beat GANs on Image Synthesis* (the residual U-Net, ablated at scale).
# - Goyal et al. (2017), *Accurate, Large Minibatch SGD* (zero-init of each residual block's last BatchNorm scale);
#   Bachlechner et al. (2020), *ReZero is All You Need*.
# - Student (1908), *The Probable Error of a Mean*.
