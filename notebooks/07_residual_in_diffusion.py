# %% [markdown]
# # 07 · Capstone: residual connections inside diffusion models
#
# Three of the articles the course started from make confident claims about residual connections:
#
# - the untitled article that opens "Residual connections play an important role in diffusion model
#   architectures": "Furthermore, the use of residual connections can improve the robustness of diffusion models
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
# 3. Report a difference with its uncertainty: paired by seed, with an interval you can defend, counting how many
#    intervals a table holds.
# 4. Answer the articles' claims with the numbers, and say which the numbers cannot settle.

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
# **floor** (300 real training digits, a band over draws) and a **ceiling** (300 noise images); the training
# **loss**; and the overfitting **gap**, eps-MSE on held-out minus training digits, next to its **null**, the same
# statistic between two halves of the training digits. The tables show each variant's time per step.

# %% [markdown]
# ## Your prediction, before any result
#
# **Exercise 1 (predict, then look).** Which paths from input to output does a plain U-Net (no residual
# connections) still have with each kind of long skip? At 4,000 steps, under which kind of long skip
# will switching the residual connections off hurt sample quality the *most* (the largest ratio of FDs):
# `"concat"`, `"add"` or `"none"`? The check compares your answer with the shipped seeds.

# %%
### BEGIN SOLUTION
prediction = "none"
### END SOLUTION

# %%
capstone.check_cost_prediction(prediction, capstone.load_results()[1])

# %% [markdown]
# ## Your run
#
# The six main variants, one seed, trained for `LIVE_BUDGETS` steps: the first budget of the shipped curves
# below, so your run can be set against them.

# %% tags=["nbval-ignore-output"]
# Trained numbers: their last digits differ between CPUs, so the notebook tests do not compare this output.
live = capstone.run_curves(LIVE_BUDGETS, variants=capstone.MAIN_VARIANTS, device=device)
print(capstone.live_table(live))

# %% [markdown]
# ## The shipped learning curves
#
# The same experiment, run further: the six main variants and the control, five seeds each, to 4,000 steps; the
# two residual variants without long skips, still falling there, to 8,000 (the plain one, far behind, stops at
# 4,000; `python -m course_lib study capstone`). Each
# line is the geometric mean over seeds; its band is where a *new* seed lands 95% of the time; your run is drawn as
# crosses. Move the budget to read every curve's value and band.

# %% tags=["nbval-ignore-output"]
# A live figure (widget): built once, only the marker and the values redrawn. Not compared in tests.
meta, curves = capstone.load_curves()
capstone.capstone_curves_widget(meta, curves, live)

# %% tags=["nbval-ignore-output"]
# Compares your trained numbers with the shipped bands: not compared in tests.
capstone.check_live_run(curves, live)

# %% [markdown]
# The shipped numbers (the same on every machine), with each variant's time per training step:

# %%
print(capstone.curve_table(meta, curves))

# %% [markdown]
# ## What the curves can settle
#
# "Trains faster" is read at one budget, paired by seed. "Ends better" needs both curves on a **plateau**: their
# last two budgets agree (the paired interval of the change over the last doubling holds zero and stays within
# 25% either way). Where a curve still moves, the verdict is "not settled by N steps", with where the two stand.

# %%
print(capstone.curve_verdicts(curves))

# %% [markdown]
# ## How much of a score is the sampler's?
#
# FD is measured on DDIM-20 samples. A better sampler lowers every model's FD, so a sampler that is far from its
# own floor could hide or fake a difference. For the runs without long skips the shipped study also scored the same
# weights from the same starting noise with DDIM-50 and DDPM (1,000 steps):

# %%
print(capstone.sampler_table(curves, meta))

# %% [markdown]
# DDPM lowers every model's score by about 40%: near the end of the curves a good part of a DDIM-20 FD is the
# sampler's. Only residual variants were rescored, so the verdicts below that compare residual with plain blocks
# are read with DDIM-20 and say so.
#
# ## Is a difference real? Paired by seed
#
# Here are the variants at the largest budget, means over seeds.

# %%
_, end = capstone.load_results()
print(capstone.format_table(end))

# %% [markdown]
# Two variants trained with the same seed share the order of the batches, the t and noise of every step, and the
# sampler's starting noise. Subtracting them seed by seed removes all of that.
#
# **Exercise 2.** Write `paired_differences(rows, key, a, b)`: for every seed that both variants `a` and `b` (each
# a `Variant(kind, skip)`, with fields `.kind` and `.skip`) have in `rows`, the difference `row_a[key] - row_b[key]`
# of their rows with that seed, as a list in increasing order of seed. Each row is a dict with keys `"kind"`,
# `"skip"`, `"seed"` and the measurements (`"fd"`, `"final_loss"`, `"gap"`, ...). The check calls your function on
# the shipped rows *shuffled*, with one seed of one variant removed.

# %%
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

# %%
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

# %% [markdown]
# The same interval for every comparison: mean *a − b* paired by seed with its 95% t-interval ("residual on − off"
# is residual − plain: a negative FD means the residual connections help).

# %%
print(capstone.format_effects(end))

# %% [markdown]
# ## Along the budget axis
#
# FD is skewed (200 between two bad models and 20 between two good ones mean different things), so along the
# budgets we compare **ratios**: per seed FD(a) / FD(b), their geometric mean with a t-interval on log FD, and how
# many seeds agree.

# %%
print(capstone.format_ratio_effects(curves))

# %%
capstone.plot_ratio_effects(curves)

# %% [markdown]
# At 95%, about one interval in twenty excludes 1 by chance even if nothing differed. Widening each so that *all*
# hold together (Bonferroni) keeps what the data resolve jointly. And five seeds that all agree are a consistent
# direction, not proof: a sign test cannot go below p = 2/32 = 0.0625 with five seeds.

# %%
print(capstone.joint_verdicts(curves))

# %% [markdown]
# ## Overfitting: the gap next to its null

# %%
print(capstone.gap_report(end, 16))

# %% [markdown]
# Read the gap with the FD next to it: a model that fits its training digits better also shows a larger gap, so a
# variant that barely learned (plain, `none`) has a small gap for the wrong reason.
#
# ## Samples at the end of each curve
#
# Sixteen samples of each variant (seed 0) at its last budget (4,000 steps; 8,000 for the two residual variants
# without long skips), from the
# same starting noise, which is why the same digit often appears in the same place across panels.

# %%
last = capstone.last_rows(meta, curves)
capstone.plot_sample_grids(capstone.shipped_samples(last, seed=0),
                           title="seed 0, each variant at its last budget: 16 DDIM-20 samples per variant")

# %% [markdown]
# The four long-skip variants draw digit-like strokes, several readable (zeros, ones, fours, sevens), many
# ambiguous 8x8 scribbles; residual blocks without long skips, after twice the steps, draw much the same shapes;
# plain blocks without long skips draw mostly saturated white blobs and speckle. Compare any two variants below (it opens
# on residual-only against skip-only); on the right, one line per seed joins their FDs.

# %% tags=["nbval-ignore-output"]
# A live figure (widget): built once, only its images, lines and titles redrawn. Not compared in tests.
capstone.samples_widget(last, a="residual / skip=none", b="plain / skip=concat")

# %% [markdown]
# ## The claims, seed by seed
#
# Each claim is checked on every shipped seed; one whose budgets or variants are missing says it was not measured.

# %%
capstone.check_curve_claims(curves)

# %% [markdown]
# ## What the numbers say
#
# - **Train faster: yes.** At 125 steps residual blocks give a lower FD than plain ones under every kind of long
#   skip, on every seed (the early verdicts and the first claim), and your own run can show it (the line under the
#   curves).
# - **End better: not settled, and small where the curves flatten.** With long skips the plain U-Net has caught up
#   by 4,000 steps (no difference resolved there), but its curve is still falling, so which ends better is not
#   settled by 4,000 steps. Without long skips plain blocks are still several times worse at 4,000 steps, both
#   curves still falling.
# - **Two switches, not one.** At 125 steps the shortcut alone carries almost all of "residual on − off"; the
#   zero-init alone gives ratios below 1 at 125-500 steps at the 95% level, none of which the joint (Bonferroni)
#   list above keeps, and no difference is resolved at 8,000 steps.
# - **The sampler's share.** DDPM scores the same weights about 40% lower than DDIM-20 (the table above), far
#   more than the gaps between the long-skip variants at 4,000 steps, which the curves do not resolve anyway. The
#   residual U-Net without long skips stays behind the one with them (one seed, the checkpoint) under every
#   sampler; plain variants were not rescored, so the comparisons of plain with residual blocks hold for DDIM-20.
#
# The articles' claims:
#
# - **"residual connections outperform skip connections".** Residual-only (residual, `none`) against skip-only
#   (plain, `concat`): better early, *worse* by 4,000 steps, on every seed (with DDIM-20; `concat` also has more
#   parameters, notebook 03); at 8,000 steps residual-only is still falling (its verdict above). The article cites no
#   study, and the two are not alternatives: the best variants have both.
# - **"reducing the likelihood of overfitting".** With long skips, where both reach the same FD, the residual
#   variant's gap is smaller by about a thousandth of the loss (the paired table); without them it is larger, but
#   there the plain net barely learned. A small difference in the claimed direction, not the promised
#   "robustness"; and the gap cannot tell memorisation from a difference between splits.
# - **"propagating clean signal pathways".** Nothing here, or in the article, measures that: a metaphor.
# - **One model, one dataset**: a U-Net of under 100,000 parameters on 8x8 digits. Dhariwal and Nichol (2021,
#   Section 3) ablate larger residual U-Nets on ImageNet, where every variant keeps residual blocks.
#
# ## Summary
# - One budget can answer "which learns faster" when the question was "which ends better": follow the learning
#   curves, next to a floor and a ceiling, and say "not settled by N steps" where they still fall.
# - A fair ablation changes one switch at a time; `residual=False` changes two, and a control separates them.
# - Report a difference paired by seed, with an interval that fits the number of seeds.
#
# ## Going further
# - Ho, Jain, Abbeel (2020), *Denoising Diffusion Probabilistic Models*; Dhariwal and Nichol (2021), *Diffusion
#   Models Beat GANs on Image Synthesis* (the residual U-Net, ablated at scale).
# - Goyal et al. (2017), *Accurate, Large Minibatch SGD* (zero-init of each residual block's last BatchNorm scale);
#   Bachlechner et al. (2020), *ReZero is All You Need*.
# - Student (1908), *The Probable Error of a Mean*; Efron and Tibshirani (1993), *An Introduction to the Bootstrap*.
# - More seeds: `python -m course_lib study capstone --seeds 5 6 7 --out more.json` (on Ray; `--address` for a
#   cluster, a GPU helps).
