# %% [markdown]
# # 03 · Residual connections vs skip connections
#
# The article "Residual connection vs Skip connection" compares the two in a table and concludes that
# "residual connections outperform skip connections". The course's source article on residual connections
# opens with "Residual connections, also known as skip connections, are a fundamental neural network
# architecture component". Both cannot be right, and neither is quite:
# **skip connection** is the umbrella term for any path that lets a signal bypass some layers, and a
# residual connection is one kind of skip. This notebook sorts out the names, counts what each kind costs and
# what it does to the paths through a U-Net, and trains U-Nets that differ only in their long skips for the
# same budget, over several seeds.
#
# **Learning objectives**
# 1. Use the names precisely: a *skip connection* bypasses layers; a *residual* (identity, short) skip adds a block's input to its output, $h = x + F(x)$; a *long* skip carries encoder features to the decoder level of the same resolution, by concatenation or addition.
# 2. Count what each costs in parameters, and what each does to the length of the paths from input to output.
# 3. Train U-Nets that differ only in their long skips (`concat`, `add`, `none`) as denoisers for the same budget over several seeds, compare them with a baseline that needs no training, and state only what holds on every seed where the models do the task.
# 4. Recognise that a U-Net with additive long skips contains residual connections around its inner levels.

# %%
# On Colab only: install course_lib and turn on widgets. Anywhere else this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "course_lib @ git+https://github.com/course-lib/residual-to-diffusion"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()

# %%
import torch

from course_lib import UNet, count_parameters
from course_lib.lessons import residual_vs_skip as lesson
from course_lib.lessons import setup_notebook
from course_lib.utils import use_large_config

device = setup_notebook(seed=0)
SEEDS = (0, 1, 2)
STEPS = 1000 if use_large_config(device) else 125  # a budget of the shipped curves; a larger one on a GPU

# %% [markdown]
# ## One umbrella, two kinds of skip
#
# He et al. (2016b, Section 3, "On the Importance of Identity Skip Connections") call ResNet's shortcut an
# "identity skip connection". Drozdzal et al. (2016) study **short** skips (residual connections inside
# blocks) and **long** skips (U-Net's encoder-to-decoder connections) together, and report that their
# very deep segmentation network benefited from having both (abstract). In this course:
#
# | | residual connection (short skip) | long skip connection |
# |---|---|---|
# | where | around a few layers, inside a `ResBlock` | from an encoder level to the decoder level of the same resolution |
# | operation | $h = x + F(x)$ | `concat([decoder, encoder])` or `decoder + encoder` |
# | what it does | keeps a short path through depth (notebooks 01 and 02) | hands the decoder the encoder's full-resolution features, and also gives a short path from input to output |
# | in `course_lib.UNet` | `residual=True/False` | `skip="concat" / "add" / "none"` |
#
# "Outperform" needs a task and a budget, and the two can be switched independently, so the fair
# question is what each one adds to a model that already has the other. Notebook 07 answers it for
# diffusion; here we look at the long skips, with the residual connections on.
#
# **Exercise 1.** Write the long skip's merge of the table above, `combine(h, skip, mode)`: `h` is the decoder's
# feature map `[B, C_h, H, W]` arriving from the level below, `skip` the encoder's `[B, C_s, H, W]` at the same
# resolution, `mode` one of `"concat"` (`h` first), `"add"`, `"none"`. The check compares yours with the merge
# `course_lib.UNet` uses, on the same inputs.

# %%
def combine(h, skip, mode):
    ### BEGIN SOLUTION
    if mode == "concat":
        return torch.cat([h, skip], dim=1)
    if mode == "add":
        return h + skip
    return h
    ### END SOLUTION


# %%
lesson.check_combine(combine)

# %% [markdown]
# ## What each costs
#
# **Exercise 2 (predict, then run).** Which long-skip mode gives the U-Net the most parameters: `"concat"`,
# `"add"` or `"none"`? Think about what each merge hands to the first decoder block of a level; then run the
# count and the check.

# %%
### BEGIN SOLUTION
most_parameters = "concat"
### END SOLUTION

# %%
for skip in ("concat", "add", "none"):
    for residual in (True, False):
        print(f"skip={skip!r:>9}, residual={residual!s:>5}: {count_parameters(UNet(skip=skip, residual=residual)):>7,} parameters")

# %%
lesson.check_most_parameters(most_parameters)

# %% [markdown]
# **Exercise 3.** The first block of each decoder level must be built for the number of channels it receives.
# Write `channels_after_skip(c_dec, c_skip, mode)`: the channels entering that block when `c_dec` channels
# arrive from the level below and the long skip carries `c_skip`, for each mode. Where a mode cannot merge the
# two, the U-Net cannot be built: raise a `ValueError`. The check tries equal and unequal counts.

# %%
def channels_after_skip(c_dec, c_skip, mode):
    ### BEGIN SOLUTION
    if mode == "concat":
        return c_dec + c_skip
    if mode == "add" and c_dec != c_skip:
        raise ValueError(f"skip='add' needs c_skip == c_dec, got {c_skip} and {c_dec}")
    return c_dec
    ### END SOLUTION


# %%
lesson.check_channels_after_skip(channels_after_skip)

# %% [markdown]
# Residual connections cost almost nothing (the parameter table above): a 1x1 projection only where a block
# changes its channels.
#
# ## Skips shorten the paths
#
# Every skip lets a signal, and on the way back its gradient, pass some layers without going through them.
# Count the convolutions on the shortest and on the longest path from the input image to the output, in
# the autograd graph of one forward pass:

# %%
for skip in ("concat", "add", "none"):
    for residual in (True, False):
        shortest, longest = lesson.conv_path_lengths(UNet(skip=skip, residual=residual))
        print(f"skip={skip!r:>9}, residual={residual!s:>5}: convolutions on a path from input to output: "
              f"shortest {shortest:>2}, longest {longest}")

# %% [markdown]
# The longest path (14 convolutions) is the same in all six: it goes down to the bottleneck and back. Long
# skips and residual connections each add shorter ones; without either (`none`, `residual=False`) every path
# has the full length. With `skip="add"` the top level of the U-Net computes $e + G(e)$: $e$ the encoder's
# full-resolution features and $G$ everything below them (downsample, inner levels, upsample). That is a
# residual connection wrapped around the inner U-Net, and with residual blocks on it leaves a path with only
# the first and the last convolution.

# %% [markdown]
# ## Same budget, three kinds of long skip
#
# Three U-Nets, identical except for `skip`, are trained with the diffusion objective (predict the noise
# added to a digit; notebook 05 derives it) for `STEPS` steps on the same batches of the digits' train split,
# once per seed in `SEEDS`. Each is then scored on the held-out test digits, which no model saw: noise each
# digit to level $t$, let the model estimate the clean digit $\hat x_0$, and measure the mean squared error
# against the true one, at several noise levels (the columns below).

# %% tags=["nbval-ignore-output"]
skips = lesson.skip_mode_experiment(seeds=SEEDS, steps=STEPS, batch_size=128, device=device)
lesson.print_skip_results(skips)

# %% [markdown]
# ## Are these models any good? Two baselines
#
# A difference between three models says something about long skips only if the models do the task. Two
# denoisers that need no training set the bar, both fitted to the train split only:
#
# - the **mean digit**: predict the average training digit, whatever the input;
# - the **linear denoiser** (the Wiener filter): the best *linear* estimate of $x_0$ from $x_t$, from the mean
#   $\mu$ and covariance $\Sigma$ of the training digits,
#   $\hat x_0 = \mu + \sqrt{\bar\alpha_t}\,\Sigma(\bar\alpha_t\Sigma + (1-\bar\alpha_t)I)^{-1}(x_t - \sqrt{\bar\alpha_t}\mu)$.

# %% tags=["nbval-ignore-output"]
baselines = lesson.baseline_mse(skips.ts)
print(lesson.baseline_table(skips, baselines))

# %% [markdown]
# At this budget the models are not yet useful at large t. Do they become useful with more training? The same
# three U-Nets (residual blocks on) were trained with the same batches for 4,000 steps, five seeds, measured at six
# budgets along the way (`python -m course_lib study capstone`; `none` goes on to 8,000). Each line is the
# geometric mean over seeds, its band is where a *new* seed lands 95% of the time, and your run is drawn as
# crosses at `STEPS`. Move the budget to read the values.

# %% tags=["nbval-ignore-output"]
# A live figure (widget): built once, only the marker and the values redrawn. Not compared in tests.
curves = lesson.shipped_curve_rows()
lesson.denoiser_curves_widget(curves, baselines, live=skips)

# %% tags=["nbval-ignore-output"]
# Compares your trained numbers with the shipped bands: not compared in tests.
lesson.check_live_denoisers(curves, skips)

# %% [markdown]
# Where does each kind of long skip start to beat the two baselines, at every seed?

# %%
print(lesson.where_models_win(curves, baselines))

# %% [markdown]
# At $t \le 100$ the U-Nets pass both baselines within 125-250 steps; at $t = 300$ they pass the linear denoiser
# after 500 steps with long skips and 2,000 without. At $t = 600$ and $900$ none of
# them beats even the mean digit by the last budget: at large t these models really are worse than predicting the
# average digit. It is not a matter of units. These models predict the noise, and
# $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\epsilon)/\sqrt{\bar\alpha_t}$, so at a fixed t
# $\lVert \hat x_0 - x_0 \rVert^2 = \frac{1-\bar\alpha_t}{\bar\alpha_t}\lVert \hat\epsilon - \epsilon \rVert^2$ for
# *any* estimator, the baselines included: converting units changes no ranking. What the noise-prediction loss does
# is give large t little weight (Salimans and Ho 2022, Section 4), so within these budgets the models learn little
# there. The comparison below therefore keeps to the t where every model beats the linear denoiser on every seed
# (chosen after seeing where they win), at the shipped 4,000 steps:

# %%
shipped = lesson.shipped_skip_results()
print(lesson.baseline_table(shipped, baselines))

# %% [markdown]
# One more confound: `concat` has more parameters than `add` and `none` (exercise 2), so a better `concat`
# model could owe it to its size. `add` and `none` have the same parameter count, so "does a long skip help?" is
# asked of them. Relative gaps per t, one dot per seed, and their size with a t-interval:

# %%
lesson.plot_relative_gaps(shipped, baselines)

# %%
print(lesson.gap_intervals(shipped, baselines))

# %%
lesson.check_shipped_skip_claims(shipped, baselines)

# %% [markdown]
# What the models of the first seed in `SEEDS` make of six held-out digits noised to $t = 300$ (in each panel: the
# clean digits, their noisy version, and below them the model's estimate $\hat x_0$), and their loss curves:

# %%
first = {mode: trainers[0] for mode, trainers in skips.trainers.items()}
lesson.plot_skip_comparison(first, t=300)

# %% [markdown]
# Switch the mode and the noise level to look inside; the widget opens on `concat` at $t = 300$. Top: the same
# six digits clean, noised and denoised. Below: the feature maps the top decoder level receives for the first
# digit, the upsampled decoder path and (except for `none`) the encoder's features carried by the long skip,
# red positive, blue negative (one colour scale per mode).

# %% tags=["nbval-ignore-output"]
lesson.skip_mode_widget(first, mode="concat", t=300)

# %% [markdown]
# ## The naming confusion, resolved
#
# Many texts call a U-Net's concatenated skips "residual connections", and the article quoted above files
# residual connections and skip connections as rivals. With the names of this notebook:
# - every residual connection is a skip connection, but not every skip is residual: a concatenated long skip
#   adds nothing, it hands the decoder extra channels to use as it likes;
# - an *additive* long skip is residual in form: $e + G(e)$ around the inner U-Net;
# - the U-Net of DDPM has both kinds: residual blocks (Ho et al. 2020, Appendix B) *and* long skips that its
#   released code concatenates.
#
# When you read a claim about "skip connections" or "residual connections in U-Nets", first ask which
# connection it means.
#
# ## Summary
# - "Skip connection" is the umbrella; residual connections are short additive skips inside blocks, long skips carry encoder features to the decoder at the same resolution.
# - Concatenation costs parameters (wider decoder blocks); addition and no skip cost none. Both kinds of skip shorten the paths from input to output.
# - A comparison needs models that do the task, measured against the mean digit and the linear denoiser, along learning curves. The U-Nets beat both at $t \le 100$ within 250 steps and at $t = 300$ within 500-2,000; at large t none beats even the mean digit by 4,000 steps: the noise-prediction loss gives large t little weight.
# - Where the models work, by 4,000 steps the U-Net without long skips denoised held-out digits a few percent worse than the one with additive skips (the same parameter count) on every shipped seed, and concatenation and addition were within about one percent, a difference the intervals do not resolve.
#
# ## Going further
# - Ronneberger, Fischer, Brox (2015), *U-Net: Convolutional Networks for Biomedical Image Segmentation*.
# - He, Zhang, Ren, Sun (2016b), *Identity Mappings in Deep Residual Networks* ("identity skip connections").
# - Drozdzal, Vorontsov, Chartrand, Kadoury, Pal (2016), *The Importance of Skip Connections in Biomedical Image Segmentation* (long and short skips together).
# - Ho, Jain, Abbeel (2020), *Denoising Diffusion Probabilistic Models*, Appendix B (the U-Net used).
# - Next: **04 · Forward diffusion**.
