# %% [markdown]
# # 07 · Capstone: residual connections inside diffusion models
#
# The seeds make confident claims: residual connections in diffusion models "reduce the likelihood of
# overfitting" and "improve robustness" (`000`), "residual connections outperform skip connections" (`001`),
# and ResNets "reduce noise in images by propagating clean signal pathways" (`003`). You now have every tool
# to test them: one U-Net whose residual connections switch on and off, and whose long skips are `none`, `add`
# or `concat`. Six variants, one budget, three measurements.
#
# **Learning objectives**
# 1. Design a fair ablation: one change at a time, same data, seed and budget.
# 2. Measure training loss, overfitting (held-out minus training loss) and sample quality for each variant.
# 3. Answer the seeds' claims with your own numbers, and say which claims the numbers cannot settle.

# %%
# On Colab only: install course_lib from the course's repository and turn on Colab's widget manager.
# Anywhere else (your laptop, Binder, a JupyterHub) the course is already set up and this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "course_lib @ git+https://github.com/course-lib/residual-to-diffusion"], check=True)
    from google.colab import output

    output.enable_custom_widget_manager()
    print("Colab: course_lib installed, widgets enabled.")
else:
    print("Not on Colab: nothing to install.")

# %%

from course_lib.capstone import effects, format_table, load_results, mean_by_variant, plot_capstone, run_capstone
from course_lib.exercises import check_best_variant
from course_lib.notebook import setup_notebook

device = setup_notebook(seed=0)
STEPS = 200 if device.type == "cpu" else 3000

# %% [markdown]
# ## The experiment
#
# Each variant trains on the 1,000 "train" digits only, so that the 797 others measure overfitting:
#
# - **loss**: training eps-MSE (mean of the last 50 steps);
# - **gap**: eps-MSE on held-out digits minus on training digits, with the same $t$ and noise (positive = overfitting);
# - **FD**: Fréchet distance of 300 DDIM-20 samples (EMA weights) to real digits, next to its **floor**.
#
# ## A live run, equal steps
#
# On a CPU the live run gives each variant 200 steps (under a minute for all six); on a GPU, 3,000.
# Equal *steps* is not quite equal *compute*: variants without residual connections or with `concat`
# differ a little in cost per step. The repository's script runs the equal-*time* version below.

# %% tags=["nbval-ignore-output"]
# Training prints progress with timings, which change from run to run.
live = run_capstone(steps=STEPS, device=device)

# %%
print(format_table(live))

# %%
plot_capstone(live, title=f"live run: {STEPS} steps per variant")

# %%
fx = effects(live)
print(f"switching residual connections ON changes, on average over the three skip modes:\n"
      f"  FD by {fx['fd']:+.1f}, training loss by {fx['final_loss']:+.4f}, held-out gap by {fx['heldout_gap']:+.4f}")

# %% [markdown]
# ## The budget-heavy version: equal wall-clock time, two seeds
#
# `python scripts/capstone.py` trains every variant for the same number of *seconds* (30 by default) with two
# seeds and stores the results inside `course_lib` (`course_lib/results/capstone.json`); we load them here rather than spend six minutes.

# %%
meta, heavy = load_results()
print(f"budget {meta['budget_s']} s per run, seeds {meta['seeds']}, {meta['threads']} threads\n")
print(format_table(mean_by_variant(heavy), timing=True))

# %%
plot_capstone(heavy, title=f"equal time budget ({meta['budget_s']:.0f} s), mean of {len(meta['seeds'])} seeds")

# %%
fx = effects(heavy)
print(f"equal time: residual ON changes FD by {fx['fd']:+.1f}, training loss by {fx['final_loss']:+.4f}, "
      f"held-out gap by {fx['heldout_gap']:+.4f}")

# %% [markdown]
# **Exercise 1.** Which variant has the lowest FD in the equal-time results? Store it as a tuple
# `(residual, skip)`, e.g. `(True, "concat")`.

# %%
### BEGIN SOLUTION
best = min(mean_by_variant(heavy), key=lambda r: r["fd"])
best_variant = (best["residual"], best["skip"])
### END SOLUTION
print(best_variant)

# %%
check_best_variant(best_variant, heavy)

# %% [markdown]
# ## What the numbers say about the claims
#
# Read the tables above before this paragraph; every statement here should be checkable against them.
#
# - **"Residual connections reduce the likelihood of overfitting"** (`000`). The *gap* column measures exactly
#   that. At this scale the gaps are tiny for every variant (about +0.003 on a loss near 0.1: the models are
#   far too small and trained far too briefly to memorise 1,000 digits), and the smallest gap belongs to the
#   worst model (no residual, no skip), which simply underfits. The data neither supports nor refutes the
#   claim: overfitting is not what residual connections are for here.
# - **"Residual connections improve robustness"** (`000`). Robustness to what? Without a definition there is
#   nothing to measure. One honest proxy is the spread between seeds in the equal-time results; a claim about
#   adversarial or distribution-shift robustness would need its own experiment.
# - **"Residual connections outperform skip connections"** (`001`). The two are not alternatives: the table has
#   all six combinations, and the interesting finding is how they *interact*. In the equal-time results
#   (two seeds, 30 s each), switching the residual connections off cost little when the U-Net kept its
#   concatenated long skips (FD about 40 against 36), more with additive skips (58 against 38), and was a
#   disaster with no long skip at all (FD near 380 against 72, where noise scores about 490). Both kinds of
#   connection give the gradient and the signal a short path through the network; remove *both* and you get
#   the deep plain network of notebook 01. So neither "outperforms" the other: each one covers for the
#   absence of the other, and this two-level U-Net is shallow enough that one of them suffices. The short live
#   run tells a second story: after only a few hundred steps, the variants without residual connections lag
#   far behind *whatever* their long skips (compare the two tables). Residual connections buy speed of
#   training first; with a longer budget the U-Net with concatenated skips catches up.
# - **"ResNets reduce noise by propagating clean signal pathways"** (`003`). Evidence for it would be, for
#   example, that the identity path of the trained blocks carries the denoised signal while the branches carry
#   the noise estimate, or that deleting branches (notebook 02's lesion) increases the residual noise. Nothing
#   in the seed, or in this notebook, measures that; it is a metaphor, not a finding.
#
# ## Summary
# - A fair ablation changes one switch at a time under an equal budget, and reports a floor next to every score.
# - In our runs the two kinds of connection can be switched independently; the tables above, not the seeds' slogans, say what each buys at this scale.
# - Claims about overfitting and robustness need a measurement that matches the words; at toy scale, overfitting is not where residual connections help.
#
# ## Going further
# - Ho, Jain, Abbeel (2020) and Dhariwal and Nichol (2021), *Diffusion Models Beat GANs on Image Synthesis* (the residual U-Net, ablated at scale).
# - Bachlechner et al. (2020), *ReZero is All You Need* (residual branches gated from zero).
# - Run `python scripts/capstone.py --budget 120 --seeds 0 1 2` or train on a GPU with deeper U-Nets (`channel_mults=(1, 2, 2, 2)` on 16x16 digits) and see whether the residual connections matter more with depth.
