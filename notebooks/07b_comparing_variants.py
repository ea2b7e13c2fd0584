# %% [markdown]
# # 07b (optional) · Comparing variants: ratios, many intervals, sign tests
#
# *Optional: it extends notebook 07 for students who want to go deeper, and no later notebook needs it.*
#
# Notebook 07 compared two U-Nets at one budget with one paired interval. The shipped learning curves hold seven
# variants, five seeds and up to seven budgets: dozens of comparisons. This notebook reads them all without
# claiming more than they show.
#
# **Learning objectives**
# 1. Compare scores that are skewed (FD) as ratios, with an interval built on the log scale.
# 2. Count how many intervals a table holds, and widen each so that all hold together (Bonferroni).
# 3. Say what a sign test can and cannot show with five seeds.
# 4. Read an overfitting gap next to its null, and a score next to the sampler's share of it.

# %% [markdown] tags=["instructor"]
# ## Instructor's plan (50 minutes)
#
# Optional: a **take-home** after notebook 07, or a **second session** for a class that wants the statistics. It
# needs no training (every number comes from the shipped curves), so it runs in seconds.
#
# **Timeline** (as a second session)
#
# | minutes | part | cells | what happens |
# |---|---|---|---|
# | 0-5 | recap | the paired table | find 07's interval in it (sign flipped); read the gap column |
# | 5-17 | ratios | exercise 1, the ratio table and figure | why FD differences mislead; the class builds the interval on logs |
# | 17-27 | many intervals | exercise 2, the joint verdicts | how many "resolved" cells are luck; Bonferroni keeps 18 of 27 |
# | 27-37 | sign tests | exercise 3 | write `sign_test_p`; five seeds never reach p < 0.05 |
# | 37-44 | the gap's null | gap report | a gap is measured against the same statistic between two training halves |
# | 44-50 | sampler, samples | sampler table, widget | DDPM scores the same weights lower; compare any two variants seed by seed |
#
# As a take-home: students do the three exercises and write three sentences on what 07's verdicts become.
#
# **Live-code**
# - Exercise 1: a `{seed: FD}` per variant, the log of each seed's ratio, 07's t-interval on those logs, `exp` of
#   the three numbers. Say while typing: "on the log scale a factor of 2 and a factor of 1/2 are symmetric".
# - Exercise 3: `sign_test_p` from the binomial tail, both sides, capped at 1. Say: "under no difference each
#   seed is a fair coin".
#
# **Predict before running**
# - Before exercise 1: "all five seeds have residual better at 500 steps with concat; will the interval exclude
#   1?" Most say yes; it just reaches 1 (the check prints its upper end, 1.0006, and each seed's ratio: two seeds
#   far below the other three).
# - Before exercise 2: "of 37 intervals at 95%, how many would exclude 1 if nothing differed?" Many say zero.
#
# **Common mistakes** (the checks name them)
# - Exercise 1: logs not turned back into ratios; the ratio upside down (plain over residual); an interval on the
#   ratios themselves; the ratio of the two mean FDs; 1.96 or n degrees of freedom; the sd instead of the standard
#   error.
# - Exercise 2: the level given as a percentage; the chance of a miss given instead of the level; the level that
#   assumes independent intervals (0.95 to the power 1/N), though they share runs; counting the intervals that hold.
# - Exercise 3: a one-sided p; the probability of exactly this split; a p above 1 for an even split; the wrong tail
#   when k < n / 2.
#
# **Two questions to ask**
# 1. "Five of five seeds agree, and the interval still reaches 1. Which do you report?" A good answer: both; the
#    direction is consistent (5/5, sign test p = 0.0625 at best) but the size is uncertain, and with five seeds
#    neither is significant at 5%: more seeds, not another test.
# 2. "Residual U-Nets show a smaller held-out gap with long skips. Is that 'less overfitting'?" A good answer: the
#    gap is resolved from its null but the difference is tiny (about 0.001 in absolute terms, about 1% of a
#    training loss near 0.08), and the gap cannot tell memorisation from a difference between the two sets of
#    digits.

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

from course_lib.lessons import comparing_variants as compare
from course_lib.lessons import setup_notebook

device = setup_notebook(seed=0)
BUDGET = 4000  # steps of the paired table and the gap report: 125 to 4,000 (the prose describes 4,000)
meta, curves = compare.load_curves()  # one row per variant, seed and budget
_, at_budget = compare.load_results(steps=BUDGET)  # the rows at BUDGET, FD as "fd"

# %% [markdown]
# ## Every comparison at one budget
#
# Notebook 07 built one interval: plain minus residual with `skip="add"`. Here is every comparison of the study,
# paired by seed, with the same t-interval, for the FD, the training loss and the held-out gap ("residual on −
# off" is residual − plain, so its signs are the opposite of 07's exercise; "shortcut alone" and "zero-init alone"
# use the control *residual, default init*):

# %%
print(compare.format_effects(at_budget))

# %% [markdown]
# ## Along the budget axis: ratios
#
# FD is skewed: 200 between two bad models and 20 between two good ones are not the same change. Along the budgets
# we compare **ratios**, FD(a) / FD(b) per seed: 0.5 means a scores half of b's FD, at any level.
#
# **Exercise 1.** At 500 steps with `skip="concat"`, every one of the five seeds has the residual U-Net ahead of
# the plain one. Give the typical ratio FD(residual) / FD(plain) over the seeds with a 95% interval, as
# `ratio = (ratio, low, high)`. Pair by seed, as in 07. The typical ratio must treat a ratio of 2 and one of 1/2
# as effects of the same size in opposite directions, and the interval must fit five seeds. `curves` holds one
# row per variant, seed and budget, with keys `"kind"`, `"skip"`, `"seed"`, `"steps"` and `"fd_ema"` (the FD).
# Before you check: does your interval exclude 1?

# %% answers=["0.544", "0.2959", "1.0006", "0.54 [0.30,1.00]"]
### BEGIN SOLUTION
from scipy.stats import t as student_t


def fd_by_seed(kind, skip, steps):
    return {r["seed"]: r["fd_ema"] for r in curves if (r["kind"], r["skip"], r["steps"]) == (kind, skip, steps)}


def geometric_mean_interval(a, b, level=0.95):
    logs = np.log([a[s] / b[s] for s in sorted(a) if s in b])
    half = student_t.ppf((1 + level) / 2, len(logs) - 1) * logs.std(ddof=1) / np.sqrt(len(logs))
    return np.exp(logs.mean()), np.exp(logs.mean() - half), np.exp(logs.mean() + half)


ratio = geometric_mean_interval(fd_by_seed("residual", "concat", 500), fd_by_seed("plain", "concat", 500))
### END SOLUTION

# %%
compare.check_ratio_interval(ratio, curves)

# %% [markdown]
# The same ratio for every comparison and budget: each cell is `ratio [interval] k/n`, with k of the n seeds
# where a scored better.

# %% tags=["spoiler"]
print(compare.format_ratio_effects(curves))

# %% tags=["spoiler"]
compare.plot_ratio_effects(curves)

# %% [markdown]
# Your interval is the third point of the first panel: 0.54 [0.30, 1.00] with 5/5 seeds, its upper end just
# above 1 (1.0006, the check's line). The orange dots, one per seed, show why it is so wide: two seeds sit far
# below the other three (the check lists them), so the seeds agree on the direction and not on the size. Residual blocks are far ahead at 125 and 250 steps under every kind
# of long skip; with long skips the ratio climbs to about 1 by 1,000 steps (and with `concat` to 1.09 at 4,000,
# plain ahead); without them it stays near 0.2.
#
# ## Many intervals at once
#
# The table holds one interval per comparison and budget:

# %%
n_intervals = len(compare.ratio_effects(curves))
print(f"{n_intervals} intervals")

# %% [markdown]
# **Exercise 2.** Suppose no variant differed from any other at all. How many of these 95% intervals would you
# expect to exclude 1 anyway (`expected_by_chance`)? Then choose `joint_level`, the level at which each interval
# must be built so that *all* of them hold together with probability at least 95%, whatever the intervals share
# (they do share: every budget of a seed is one training run).

# %% answers=["1.85", "0.9986", "99.86%", "0.05 / n_intervals"]
### BEGIN SOLUTION
expected_by_chance = n_intervals * 0.05
joint_level = 1 - 0.05 / n_intervals
### END SOLUTION

# %%
compare.check_joint_level(expected_by_chance, joint_level, n_intervals)

# %% tags=["spoiler"]
print(compare.joint_verdicts(curves))

# %% [markdown]
# About 1.85 of 37 intervals would exclude 1 by luck alone, so the 27 that do at 95% are not all discoveries.
# Built at 99.86% each, 18 still exclude 1: residual against plain at 125 and 250 steps under every kind of long
# skip, and at every budget to 2,000 without long skips (and the shortcut alone, the same); residual-only against
# skip-only at 125 steps and from 1,000 on. The zero-init alone, below 1 at 125-500 steps at 95%, is not in the
# joint list: a small head start that these five seeds cannot pin down together with the rest.
#
# ## Five seeds that agree
#
# The table's k/n counts seeds: "5/5" reads like strong evidence. If the switch made no difference, each seed
# would be a fair coin: residual better or plain better, each with probability 1/2.
#
# **Exercise 3.** Write `sign_test_p(k, n)`: the two-sided probability, if each of the n seeds were a fair coin,
# of a split at least as lopsided as k on one side and n − k on the other. It must be exact (n is small), count
# both directions, and stay a probability.

# %% answers=["0.0625", "2/32", "2 / 32", "min(1.0, 2"]
from math import comb


def sign_test_p(k, n):
    """Two-sided exact sign test: P(a split at least as lopsided as k : n - k) when each seed is a fair coin."""
    ### BEGIN SOLUTION
    far = max(k, n - k)
    tail = sum(comb(n, j) for j in range(far, n + 1)) / 2 ** n
    return min(1.0, 2 * tail)
    ### END SOLUTION


# %%
compare.check_sign_test(sign_test_p)

# %% [markdown]
# With five seeds the most lopsided split, 5 to 0, has p = 2/32 = 0.0625: no result of five seeds can pass a sign
# test at 5%. "5/5" in the table is a consistent direction, not proof. What makes the early verdicts firm is the
# size of the effect (intervals far from 1, kept at the joint level), not the count of seeds.
#
# ## Overfitting: the gap next to its null
#
# The **gap** is the eps-MSE on held-out digits minus on training digits, with the same t and noise on both. Its
# **null** is the same statistic between two halves of the *training* digits, whose expectation is exactly 0:
# how far a gap wanders when nothing differs. A gap is resolved when its interval over seeds, minus the null,
# excludes 0.

# %%
print(compare.gap_report(at_budget, 16))

# %% [markdown]
# At 4,000 steps (the shipped `BUDGET`) every variant's gap leaves its null. Paired by seed (the first table), the
# residual U-Net's gap is smaller than plain's with long skips, by about 0.001 in absolute terms (−0.0009 with
# `concat`, −0.0011 with `add`), against training losses from 0.0766 up. Without long skips it is larger
# (+0.0049), but there the plain net barely learned (its loss is 0.0290 higher). The gap does not simply follow
# the fit: with `concat` the residual net fits its training digits better *and* shows the smaller gap. Nor can
# it tell memorisation from a difference between the two sets of digits; notebook 06b looks at nearest neighbours
# for that.
#
# ## How much of a score is the sampler's?
#
# Every FD above comes from DDIM-20 samples. A better sampler lowers every model's FD, so a sampler far from its
# own floor could hide or fake a difference. The shipped study also scored some runs from the same weights and
# the same starting noise with DDIM-50 and DDPM (1,000 steps):

# %%
print(compare.sampler_table(curves, meta))

# %% [markdown]
# The last column is DDPM's FD over DDIM-20's: near the end of the curves a good part of a DDIM-20 score is the
# sampler's. What matters for a comparison is whether that share is the same for both variants: it is not quite
# (from 0.47 for plain / `none` to 0.62 for plain / `concat`), so a ratio between two variants can move when the
# sampler changes. Here is every comparison whose two variants were scored with all three samplers:

# %%
print(compare.format_sampler_ratios(curves))

# %% [markdown]
# Each verdict lands on the same side of 1 with all three samplers: the resolved differences are far larger
# than what the sampler moves, and the zero-init comparison stays unresolved. Residual blocks with `concat` or
# `add`, and plain ones with `add`, were scored with DDIM-20 only, apart from one seed of residual / `concat` (the
# shipped checkpoint, the sampler table's last row). And near the best variants DDPM's FDs approach the
# real-digit floor (18.7 for plain / `concat`, 17.8 for the checkpoint, against a floor of 17.5 that itself
# ranges from 10.4 to 23.1): there DDPM cannot rank the best variants. The differences among the long-skip
# variants at 4,000 steps are of the size the sampler can move, so 07's verdicts between them hold for DDIM-20
# and say so.
#
# ## Samples at the end of each curve
#
# Sixteen samples of two variants at their last budget (each title gives its steps), from the same starting noise
# (which is why the same digit often appears in the same place); on the right, one line per seed joins their FDs:
# 07's pairing, in a picture. It opens on residual-only at 8,000 steps against skip-only at 4,000: with twice the
# steps, residual-only still scores worse on every seed.

# %% tags=["nbval-ignore-output"]
# A live figure (widget): built once, only its images, lines and titles redrawn. Not compared in tests.
last = compare.last_rows(meta, curves)
compare.samples_widget(last, a="residual / skip=none", b="plain / skip=concat")

# %% [markdown]
# ## Summary
# - Compare skewed scores as ratios, with the interval built on logs and mapped back.
# - Count the intervals: at 95% each, about one in twenty excludes its null by luck. Widen each (Bonferroni) to
#   keep what the data resolve together.
# - Five seeds that agree are a direction, not significance: a sign test cannot go below 0.0625 with five.
# - Read a gap next to its null, and a score next to the sampler's share.
#
# ## Going further
# - Dunn (1961), *Multiple Comparisons Among Means* (Bonferroni intervals); Holm (1979), *A Simple Sequentially
#   Rejective Multiple Test Procedure* (a uniformly better step-down version).
# - Bland and Altman (1996), *Transformations, means, and confidence intervals* (intervals on logs).
# - Efron and Tibshirani (1993), *An Introduction to the Bootstrap*, Chapter 13 (why a percentile bootstrap of five
#   numbers is too narrow).
# - More seeds shrink every interval: `python -m course_lib study capstone --seeds 5 6 7 --out more.json`.
