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
# You now have every tool to test them: one U-Net whose residual connections switch on and off, and whose long
# skips are `none`, `add` or `concat`. A comparison only answers a question about models that can do the task, so
# this notebook follows every variant along its **learning curve**, from 125 training steps (nothing looks like a
# digit yet) to 4,000 (the budget of the course's shipped digit model), and asks: do residual connections make the
# U-Net *train faster*, *end better*, or both?
#
# **Learning objectives**
# 1. Design a fair ablation: one change at a time; the same data, seeds, batches, step counts and EMA schedule.
# 2. Read a comparison along a budget axis, next to a floor (real digits) and a ceiling (noise).
# 3. Report a difference with its uncertainty: per-seed paired differences, a t-interval, and how many intervals a
#    table holds.
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
from scipy.stats import t as student_t

from course_lib.lessons import residual_in_diffusion as capstone
from course_lib.lessons import setup_notebook
from course_lib.utils import use_large_config

device = setup_notebook(seed=0)
LIVE_BUDGETS = (125, 250, 500) if use_large_config(device) else (50, 100)  # steps of the live run

# %% [markdown]
# ## The experiment
#
# **Three kinds of block.** Every `ResBlock` computes F(x, t) = conv2(act(norm(conv1(act(norm(x))) + W t_emb))).
#
# | kind | built as | h = | F's last conv (`conv2`) starts at |
# |---|---|---|---|
# | residual | `UNet(residual=True)` | shortcut(x) + F(x, t) | zero |
# | residual, default init | `UNet(residual=True, zero_init=False)` | shortcut(x) + F(x, t) | PyTorch's default init |
# | plain | `UNet(residual=False)` | F(x, t) | PyTorch's default init |
#
# `residual=False` switches off **two things at once**: the shortcut (the identity, or a 1x1 convolution where
# the channel count changes) *and* the zero-init of `conv2`, which makes every residual block start as its
# shortcut (the released code of Ho et al. 2020 and of Dhariwal and Nichol 2021 initialises this layer to zero; the
# same idea is the "zero γ" of each residual block's last BatchNorm in Goyal et al. 2017). A plain block cannot keep
# the zero-init: it would output 0.
# The control *residual, default init* separates the two:
#
# - residual − plain: both switches together (what "residual on − off" means in this notebook);
# - residual, default init − plain: **the shortcut alone**;
# - residual − residual, default init: **the zero-init alone**.
#
# **What is measured**, for models trained on the 1,000 "train" digits only, at 125, 250, 500, 1,000, 2,000 and
# 4,000 training steps of batch 128 (one run per variant and seed, stopped at each budget to be measured):
#
# - **FD**: Fréchet distance of 300 DDIM-20 samples to the 797 **held-out** digits, from the EMA weights and from
#   the raw weights. Two references frame it: the **floor**, 300 real training digits scored the same way (what a
#   perfect generator gets; it varies from draw to draw, so it is a band), and the **ceiling**, 300 noise images;
# - **loss**: training eps-MSE (mean of the last 50 steps);
# - **gap** (overfitting): eps-MSE on 500 held-out digits minus on 500 training digits, with the *same* t and
#   noise on both, averaged over 16 draws; its **null** is the same statistic between two halves of the training
#   digits (both trained on, so any value it takes is noise).
#
# **Equal budgets.** Every variant gets the same step counts at the same batch, learning rate and EMA schedule (the
# EMA's decay warms up with the step count, so equal steps also mean equal averaging). Variants differ in cost per
# step (`concat` has more channels), so each one's time per step on a 2-core CPU is shown beside its curve.

# %% [markdown]
# ## Your prediction, before any result
#
# **Exercise 1 (predict, then look).** Think about which paths from the input to the output a plain U-Net (no
# residual connections) still has with each kind of long skip. After 4,000 steps, under which kind of long skip
# will switching the residual connections off hurt sample quality the *most* (the largest ratio of FDs): `"concat"`,
# `"add"` or `"none"`? The check right after compares your answer with the five shipped seeds; the rest of the
# notebook shows where that answer comes from.

# %%
### BEGIN SOLUTION
prediction = "none"
### END SOLUTION

# %%
capstone.check_cost_prediction(prediction, capstone.load_results()[1])

# %% [markdown]
# ## A reduced live run
#
# The live run trains the six main variants with one seed and measures them at a few small budgets (on a CPU 50
# and 100 steps, about a minute; on a GPU 125 to 500 steps): enough to see the experiment run and the curves start,
# far too little to conclude from. Its numbers are shown, never used for a claim.

# %% tags=["nbval-ignore-output"]
# Trained numbers: their last digits differ between CPUs, so the notebook tests do not compare this output.
live = capstone.run_curves(LIVE_BUDGETS, variants=capstone.MAIN_VARIANTS, device=device)
print(capstone.curve_table(capstone.load_curves()[0], live))

# %% [markdown]
# ## The shipped learning curves: seven variants, five seeds
#
# `scripts/capstone.py` ran the six main variants and the control (at `skip="none"`, where the switch matters most)
# with five seeds up to 4,000 steps each, and stored the results inside `course_lib`
# (`course_lib/results/capstone_curves.json`). The file is fixed, so everything computed from it below is the
# same on every machine.

# %%
meta, curves = capstone.load_curves()
print(capstone.curve_table(meta, curves))

# %%
capstone.plot_curves(meta, curves, title="7 variants x 5 seeds (lines: geometric mean; dots: seeds)")

# %% [markdown]
# Read the figure from left to right. At 125 steps every residual variant is already far below the noise ceiling
# while the plain ones sit near it; by 1,000 to 2,000 steps the plain variants *with* long skips have caught up,
# and at 4,000 steps the four long-skip variants end at about the same FD, within twice the floor's mean. Plain blocks *without* long
# skips are still far above everything else at 4,000 steps. The raw weights (right) score worse than their EMA
# (left) at most budgets: the EMA averages out the noise of the last steps.
#
# ## Train faster, end better, or both?
#
# Each cell below compares two variants at one budget: the ratio of their FDs seed by seed, its geometric mean over
# the five seeds with a 95% t-interval computed on log FD (FD is skewed: a difference of 200 between two bad models
# and of 20 between two good ones mean different things; a ratio treats them alike), and how many seeds agree.

# %%
print(capstone.format_ratio_effects(curves))

# %%
capstone.plot_ratio_effects(curves)

# %% [markdown]
# A table of many intervals holds some that exclude 1 by chance: at 95%, about one in twenty would even if nothing
# differed. Widening each interval so that *all* of them hold together (Bonferroni) keeps only what the data
# resolve jointly; and five seeds that all agree are only a consistent direction, not proof: a sign test cannot go
# below p = 2/32 = 0.0625 with five seeds.

# %%
print(capstone.joint_verdicts(curves))

# %% [markdown]
# ## At 4,000 steps: the fair table, paired by seed
#
# Two variants trained with the same seed share the order of the batches, the t and noise of every step, and the
# noise the sampler starts from. Subtracting them seed by seed removes all of that.

# %%
_, end = capstone.load_results()
print(capstone.format_table(end))

# %% [markdown]
# **Exercise 2.** Write `paired_differences(rows, key, a, b)`: for every seed that both variants `a` and `b`
# (each a `Variant(kind, skip)`, with fields `.kind` and `.skip`) have in `rows`, the difference
# `row_a[key] - row_b[key]` of their two rows with that seed, as a list in increasing order of seed. Each row is a
# dict with keys `"kind"`, `"skip"`, `"seed"` and the measurements (`"fd"`, `"final_loss"`, `"gap"`, ...). The
# check calls your function on the shipped rows *shuffled*, with one seed of one variant removed.

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
# **Exercise 3.** With your function, compute the FD differences *plain − residual* with `skip="add"` at 4,000
# steps (`end`) and their 95% t-interval as a tuple `interval = (mean, low, high)`. Does the interval tell you
# which of the two is better?

# %%
### BEGIN SOLUTION
diffs = np.array(paired_differences(end, "fd", capstone.Variant("plain", "add"), capstone.Variant("residual", "add")))
half_width = student_t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1) / np.sqrt(len(diffs))
interval = (diffs.mean(), diffs.mean() - half_width, diffs.mean() + half_width)
### END SOLUTION

# %%
capstone.check_paired_interval(interval, end, "add")

# %% [markdown]
# The same computation for every comparison gives the table below: paired by seed at 4,000 steps, mean *a − b*
# with its 95% t-interval ("residual on − off" is residual − plain: negative FD means the residual connections
# help). The row "residual on − off" under each skip is what your prediction at the start was about.

# %%
print(capstone.format_effects(end))

# %% [markdown]
# ## Overfitting: the gap next to its null

# %%
print(capstone.gap_report(end, 16))

# %% [markdown]
# Every gap leaves its null, and the paired table above gives the residual − plain gap differences. Read them with
# the FD next to them: a model that fits its training digits better also shows a larger gap, so a variant that
# barely learned (plain, `none`) has a small gap for the wrong reason.
#
# ## Samples at 4,000 steps
#
# Sixteen samples of each variant (seed 0), each pixel drawn as a block. All variants start from the same noise,
# which is why the same digit often appears in the same place across panels.

# %%
capstone.plot_sample_grids(capstone.shipped_samples(end, seed=0), title="4,000 steps, seed 0: 16 DDIM-20 samples per variant")

# %% [markdown]
# The four long-skip variants draw digit-like strokes, several of them readable (zeros, ones, fours, sevens) and
# many of them ambiguous 8x8 scribbles; residual blocks without long skips draw similar shapes with more broken
# strokes; plain blocks without long skips draw mostly saturated white blobs and speckle. To compare two variants
# closely, pick them below: their samples side by side, and on the right the FD of both for every seed, one line per
# seed joining the two runs that shared it.

# %% tags=["nbval-ignore-output"]
# A live figure (widget): built once, only its images, lines and titles redrawn. Not compared in tests.
capstone.samples_widget(end)

# %% [markdown]
# ## The claims, seed by seed
#
# Each claim below is checked on every shipped seed (margins in log units of the FD ratio).

# %%
capstone.check_curve_claims(curves)

# %% [markdown]
# ## What the numbers say
#
# - **Train faster: yes.** At 125 to 500 steps residual blocks beat plain ones under every kind of long skip, on
#   every seed.
# - **End better: only without long skips.** With `concat` or `add`, the plain U-Net catches up by 1,000 to 2,000
#   steps, and at 4,000 steps no interval on the residual-vs-plain ratio excludes 1: at this budget, the long skips
#   give the plain U-Net the short paths the residual connections would. Without long skips, the plain U-Net is
#   still several times worse at 4,000 steps: there the residual connections are the only short path.
# - **Two switches, not one.** The control (residual, default init) shows that the shortcut alone carries almost
#   all of "residual on − off"; the zero-init adds a small early advantage that is gone by 1,000 steps.
#
# About the articles' claims:
#
# - **"residual connections outperform skip connections"** (*Residual connection vs Skip connection*). Taken
#   literally, compare a U-Net with only residual connections (residual, `none`) with one with only long skips
#   (plain, `concat`): the residual-only net is better early and *worse* from 1,000 steps on, on every seed. The
#   article cites no study, and the two are not alternatives: the best variants have both.
# - **"reducing the likelihood of overfitting"** (the untitled article). With long skips, where residual and plain
#   reach the same FD at 4,000 steps, the residual variant's held-out gap is smaller by about a thousandth of the
#   loss (the gap column of the paired table); without long skips it is larger, but there the plain net barely
#   learned. A small difference at one budget on one dataset, in the direction the article claims; nothing like the
#   "robustness" it promises, and the gap cannot tell memorisation from a difference between the two digit splits.
# - **"propagating clean signal pathways across layers"** (the article comparing *Diffusion models and ResNets*).
#   Nothing in the article, or in this notebook, measures that: it is a metaphor, not a finding.
# - **One model, one dataset.** All of this is a U-Net of about 90,000 parameters on 8x8 digits. Dhariwal and Nichol
#   (2021, Section 3) ablate larger residual U-Nets on ImageNet, where every variant keeps residual blocks.
#
# ## Summary
# - A comparison at one budget can answer "which learns faster" when the question was "which ends better": follow
#   the learning curves, next to a floor and a ceiling.
# - A fair ablation changes one switch at a time; `residual=False` changes two, and a control separates them.
# - A difference is reported paired by seed, with its interval, counting how many intervals the table holds.
#
# ## Going further
# - Ho, Jain, Abbeel (2020), *Denoising Diffusion Probabilistic Models*, and Dhariwal and Nichol (2021),
#   *Diffusion Models Beat GANs on Image Synthesis* (the residual U-Net, ablated at scale).
# - Goyal et al. (2017), *Accurate, Large Minibatch SGD* (zero-init of each residual block's last BatchNorm scale);
#   Bachlechner et al. (2020), *ReZero is All You Need* (residual branches gated from zero).
# - Re-run the curves yourself with more seeds or budgets: `python scripts/capstone.py --seeds 5 6 7 --budgets 500
#   8000` (a GPU helps).
