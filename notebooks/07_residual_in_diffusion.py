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
# skips are `none`, `add` or `concat`. This notebook is an experiment: you write down what you expect, then
# read five seeds of results at an equal compute budget, each difference with its confidence interval.
#
# **Learning objectives**
# 1. Design a fair ablation: one change at a time, the same data and seeds, an equal wall-clock budget.
# 2. Report a difference with its uncertainty: write the per-seed paired differences and their 95% t-interval.
# 3. Measure overfitting next to its null, and sample quality against digits the model never saw.
# 4. Answer the seeds' claims with the numbers, and say which claims the numbers cannot settle.

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
from ipywidgets import Dropdown, IntSlider
from scipy.stats import t as student_t

from course_lib.claims import check_claim
from course_lib.lessons import residual_in_diffusion as capstone
from course_lib.lessons import setup_notebook
from course_lib.lessons.residual_in_diffusion import (
    SamplesView,
    Variant,
    check_cost_prediction,
    check_paired_differences,
    check_paired_interval,
)
from course_lib.utils import use_large_config
from course_lib.widgets import LiveFigure

device = setup_notebook(seed=0)
STEPS = 2000 if use_large_config(device) else 100

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
# **Three measurements**, all on models trained on the 1,000 "train" digits only:
#
# - **loss**: training eps-MSE (mean of the last 50 steps);
# - **gap** (overfitting): eps-MSE on 500 held-out digits minus on 500 training digits, with the *same* t and
#   noise on both, averaged over many draws of t, noise and digits. Its **null** is the same statistic between two
#   disjoint halves of the training digits: both were trained on, so any value it takes is noise. A gap that does
#   not leave its null is **unresolved**;
# - **FD**: Fréchet distance of 300 DDIM-20 samples (EMA weights) to the 797 **held-out** digits, next to its
#   **floor** (300 real training digits against the same reference). FD against the training digits would reward
#   a model that memorised them, so it is shown only for comparison, as `FD(train)`.
#
# **Equal wall-clock time, without trusting the clock.** Variants differ in cost per step (`concat` has more
# channels; plain blocks skip the shortcut). `scripts/capstone.py` times every variant's steps *interleaved*
# (a busy spell of the machine slows all of them alike), gives the reference variant (residual, concat) 300 steps and
# every other variant the number of steps that take as long. Training is then a fixed number of steps: the
# results depend on (variant, seed, steps), not on how busy the machine was.

# %% [markdown]
# ## Your prediction, before any result
#
# **Exercise 1 (predict, then run).** Switching the residual connections off (residual → plain) will cost some
# sample quality under every kind of long skip. Under which one will it cost the *most* FD: `"concat"`, `"add"`
# or `"none"`? Think about which paths from the input to the output a plain U-Net still has with each kind of
# long skip. A check after the table of paired differences compares your answer with the five seeds.

# %%
### BEGIN SOLUTION
prediction = "none"
### END SOLUTION

# %% [markdown]
# ## A reduced live run
#
# On a CPU the live run gives each of the six main variants 100 steps with one seed (on a GPU, 2,000), and
# evaluates the gap with only 4 draws: enough to see the experiment run, far too little to conclude from.
# Its numbers are shown, never used for a claim.

# %% tags=["nbval-ignore-output"]
# Trained numbers: their last digits differ between CPUs, so the notebook tests do not compare this output.
live = capstone.run_capstone(STEPS, variants=capstone.MAIN_VARIANTS, eval_draws=4, n_samples=200, keep_samples=16,
                             device=device)
print(f"live run: {STEPS} steps per variant, seed 0\n")
print(capstone.format_table(live))

# %% tags=["nbval-ignore-output"]
# Samples of trained models: their pixels differ between CPUs, so the notebook tests do not compare this output.
capstone.plot_sample_grids(capstone.shipped_samples(live), title=f"live run, {STEPS} steps: 16 DDIM-20 samples per variant")

# %% [markdown]
# ## The equal-time experiment: five seeds
#
# `nice -n 10 python scripts/capstone.py` ran the six main variants and the control (at `skip="none"`, where the
# switch matters most) with five seeds, and stored the results inside `course_lib`
# (`course_lib/results/capstone.json`). The file is fixed, so everything computed from it below is the same on
# every machine.

# %%
meta, heavy = capstone.load_results()
print(capstone.describe_budget(meta))

# %%
print(capstone.format_table(heavy))

# %%
capstone.plot_capstone(heavy, title=f"equal time, {len(meta['seeds'])} seeds (dots: one seed each; bars: means)")

# %% [markdown]
# ## Paired differences: you build the fair table
#
# Two variants trained with the same seed share the order of the batches, the t and noise of every step, and the
# noise the sampler starts from. Subtracting them seed by seed removes all of that, leaving the effect of the
# switch plus what differs between the two networks' initial weights.
#
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
check_paired_differences(paired_differences, heavy)

# %% [markdown]
# **Exercise 3.** With your function, compute the FD differences *plain − residual* with `skip="add"` from the
# shipped rows `heavy`, and their 95% t-interval as a tuple `interval = (mean, low, high)`: the mean of the
# differences ± the 97.5% quantile of Student's t with n − 1 degrees of freedom (`student_t.ppf(0.975, n - 1)`)
# times the standard error of their mean. A negative difference would mean *plain* is better.

# %%
### BEGIN SOLUTION
diffs = np.array(paired_differences(heavy, "fd", Variant("plain", "add"), Variant("residual", "add")))
half_width = student_t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1) / np.sqrt(len(diffs))
interval = (diffs.mean(), diffs.mean() - half_width, diffs.mean() + half_width)
### END SOLUTION

# %%
check_paired_interval(interval, heavy, "add")

# %% [markdown]
# The same computation for every comparison and skip mode gives the fair table: equal time, paired by seed,
# mean *a − b* over the seeds with its 95% t-interval (course_lib's `effect_rows`). "residual on − off" is
# residual − plain, so a negative FD difference means the residual connections help.

# %%
print(capstone.format_effects(heavy))

# %% [markdown]
# Each square below is one line of the table (its mean and 95% interval), each dot one seed's difference; the FD
# axis is logarithmic beyond ±10 so that the small "zero-init alone" effect stays visible next to the large ones.

# %%
capstone.plot_effects(heavy, title="paired differences a - b (dots: seeds; squares and bars: mean and 95% t-interval)")

# %% [markdown]
# Now your prediction from the start, against the five seeds:

# %%
check_cost_prediction(prediction, heavy)

# %% [markdown]
# ## Overfitting: the gap next to its null
#
# An earlier version of this notebook measured the gap with a single draw of t and noise; for one fixed model,
# changing only the evaluation seed moved it by more than any difference between the variants. The shipped
# runs average 24 draws per model; here is how much a single draw and the average scatter, and what the null
# (two halves of the training digits, same draws) gives:

# %%
print(capstone.gap_report(heavy, meta["eval_draws"]))

# %% [markdown]
# ## Samples, and FD against digits the model never saw
#
# The `FD(train)` column of the table above scores the same samples against the training digits instead:

# %%
print(capstone.fd_report(heavy))

# %% [markdown]
# A model that copied its training digits would score near 0 against them and no better than the floor against
# the held-out digits; that is why the held-out reference is the fair one.
#
# Below, sixteen samples of each variant (seed 0, the seed whose samples the script stored), each pixel drawn as
# a block. At this budget no variant draws clean digits: the residual variants give blurry strokes of digit
# shape, the plain ones more washed-out grey blobs and speckled, saturated ones, most of all with `skip="none"`,
# the variant with the highest FD in the table.

# %%
capstone.plot_sample_grids(capstone.shipped_samples(heavy), title="equal time, seed 0: 16 DDIM-20 samples per variant")

# %% [markdown]
# To compare two variants closely, pick them below: their samples side by side, and on the right the FD of both
# for every seed, one line per seed joining the two runs that shared it (the pairing of exercise 2). The seed
# slider picks the black line and prints that seed's difference; the samples stay those of seed 0, the only
# seed stored.

# %% tags=["nbval-ignore-output"]
# A live figure (widget): built once, only its images, lines and titles redrawn. Not compared in tests.
names = [v.name for v in capstone.VARIANTS if v.rows(heavy)]
LiveFigure(SamplesView(heavy), a=Dropdown(options=names, value="residual / skip=concat", description="a"),
           b=Dropdown(options=names, value="plain / skip=concat", description="b"),
           seed=IntSlider(value=0, min=0, max=4, description="seed"))

# %% [markdown]
# ## The claims, seed by seed
#
# Each claim below is checked on every shipped seed; a margin is how far one seed lies on the claimed side.

# %%
margins = capstone.capstone_claims(heavy)
for skip in ("concat", "add", "none"):
    check_claim(f"switching residual connections off raises FD with skip='{skip}'", margins[f"plain_worse_fd_{skip}"])
check_claim("with skip='none', the shortcut alone (default init) beats the plain block on FD",
            margins["shortcut_alone_helps_none"])

# %% [markdown]
# ## What the numbers say
#
# Every sentence below is printed from the shipped results, so it cannot contradict the tables above.

# %%
print(capstone.interpretation(heavy))

# %% [markdown]
# About the articles' claims:
#
# - **"the use of residual connections can improve the robustness of diffusion models by reducing the likelihood
#   of overfitting to training data"** (the untitled article on residual connections in diffusion model
#   architectures). The claim predicts a *negative* held-out
#   gap difference for residual − plain. Read it in the lines above: where the interval covers 0 the data cannot
#   tell, and where it is positive the residual variant shows the larger gap. A resolved gap is not only
#   memorisation either: the null (two halves of the training digits) cannot tell memorisation from a
#   difference between the training digits and the held-out ones (other writers, say).
# - **"Empirical studies demonstrate residual connections outperform skip connections"** (*Residual connection vs
#   Skip connection*). The article cites no study, and the two are not alternatives: the table has the
#   combinations, and the paired differences show how much switching the residual connections off costs under
#   each kind of long skip. The long skips do not make the residual connections unnecessary at this budget.
# - **"ResNets utilize residual connections to ... effectively reduce noise in images by propagating clean signal
#   pathways across layers"** (the article comparing *Diffusion models and ResNets*). Evidence would be, for
#   example, that the identity path of the trained blocks carries the denoised signal while the branches carry
#   the noise estimate. Nothing in the article, or in this notebook, measures that: it is a metaphor, not a
#   finding.
# - **Two switches, not one.** The control shows how much of "residual on − off" the shortcut carries without
#   its zero-init, and how much the zero-init adds on top (lines "residual, default init minus plain" and
#   "residual minus residual, default init").
# - **One budget.** All of this holds at about 300 steps of a tiny U-Net on 8x8 digits; the live run above (100
#   steps, one seed) and `--ref-steps` in the script let you see how the picture moves with the budget.
#
# ## Summary
# - A fair ablation changes one switch at a time; `residual=False` changes two, and a control separates them.
# - A difference between variants is reported paired by seed, with its confidence interval; an overfitting gap
#   next to its null; a sample score against held-out data, next to its floor.
# - You wrote the two pieces of the fair table: the per-seed paired differences (by seed, not by position, so
#   shuffled rows and a missing seed do not mislead them) and their 95% t-interval over the seeds.
#
# ## Going further
# - Ho, Jain, Abbeel (2020), *Denoising Diffusion Probabilistic Models*, and Dhariwal and Nichol (2021),
#   *Diffusion Models Beat GANs on Image Synthesis* (the residual U-Net, ablated at scale).
# - Goyal et al. (2017), *Accurate, Large Minibatch SGD* (zero-init of each residual block's last BatchNorm scale);
#   Bachlechner et al. (2020), *ReZero is All You Need* (residual branches gated from zero).
# - Run `nice -n 10 python scripts/capstone.py --ref-steps 1000 --seeds 0 1 2 3 4` and see which conclusions
#   survive a longer budget; or train deeper U-Nets (`channel_mults=(1, 2, 2, 2)` on 16x16 digits) on a GPU.
