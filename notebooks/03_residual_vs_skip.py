# %% [markdown]
# # 03 · Residual connections vs skip connections
#
# The article "Residual connection vs Skip connection" concludes that "residual connections outperform skip
# connections". The course's source article opens with "Residual connections, also known as skip connections,
# are a fundamental neural network architecture component". Neither is quite right:
# **skip connection** is the umbrella term for any path that lets a signal bypass some layers, and a
# residual connection is one kind of skip. This notebook sorts out the names, counts what each kind costs, and
# trains U-Nets that differ only in their long skips.
#
# **Learning objectives**
# 1. Use the names precisely: a *skip connection* bypasses layers; a *residual* (identity, short) skip adds a block's input to its output, $h = x + F(x)$; a *long* skip carries encoder features to the decoder level of the same resolution, by concatenation or addition.
# 2. Count what each costs in parameters, and what each does to the length of the paths from input to output.
# 3. Train U-Nets that differ only in their long skips (`concat`, `add`, `none`) as denoisers over several seeds, compare them with baselines that need no training, and state only what holds on every seed where the models do the task.
# 4. Recognise that a U-Net with additive long skips contains residual connections around its inner levels.

# %% [markdown] tags=["instructor"]
# ## Instructor's plan (50 minutes)
#
# **Timeline**
#
# | minutes | part | cells | what happens |
# |---|---|---|---|
# | 0-5 | the names | title, table | skip connection is the umbrella; short (residual) and long skips |
# | 5-11 | exercise 1 | prediction, parameter count | hands up: which mode has most parameters; run the count and the check |
# | 11-19 | exercise 2 | `combine` | students write the merge (4 min), then live-code it as the debrief |
# | 19-25 | exercise 3 | `concat_cost` | students count (4 min), then count aloud together |
# | 25-28 | paths | path lengths | read the shortest paths; `add` wraps a residual connection around the inner U-Net |
# | 28-38 | same budget | training, baselines, curves | hands up on the $t = 900$ question, start the training, introduce the two baselines while it runs; read where the models win |
# | 38-44 | the comparison | shipped table, gaps, claims | `none` against `add` (same parameters); concat against add unresolved; why the live ranking differs |
# | 44-48 | images, widget | digits figure, feature-map widget | the models beside the linear denoiser; switch mode and t, compare the skip's features with the decoder's |
# | 48-50 | names resolved | last section | DDPM's U-Net has both kinds |
#
# **Live-code** (the mechanisms, not the prints), each only after the students' own 4-minute try: `combine` (say: "concat keeps every number of both maps as
# channels, so the next block must be wider; add keeps the shape, and with a zero skip it is $h$: that is a
# residual connection"); `concat_cost` as the debrief (print `UNet(skip="add").up[-1][0]` and `UNet().up[-1][0]`,
# and count each layer's parameters aloud with the class). The training loop is in the lesson module: show
# `skip_mode_experiment` and say that all three models see the same batches.
#
# **Predict before running**: exercise 1 (most parameters), before any merge is written: some will say `add`
# ("it does more work") or that all three are equal ("a skip has no weights"). Before the training cell (its text
# asks): "will these models beat predicting the average digit at $t = 900$?" Most say yes; none does.
#
# **Common mistakes** (from the checks): concatenating along the batch or width instead of the channels; the
# skip's channels first; adding in place (`h += skip`) and so changing the encoder's map; returning the skip
# instead of $h$; in the count, forgetting the new 1x1 shortcut (or its bias), the normalisation's scale and
# shift, or the 3x3 kernel's 9 weights per channel pair; counting a shortcut in the plain U-Net.
#
# **Two questions to ask**: (1) "Does `concat` win because of its skips or its size?" A good answer: `concat`
# has about 14,000 more parameters, so its comparison with `add` mixes the two; `none` and `add` have the same
# count, so their gap is the effect of having a long skip. (2) "Why not rank the models at $t = 900$?" A good
# answer: there no model beats even the mean digit, so their order says nothing about long skips; the
# noise-prediction loss gives large t little weight (Salimans and Ho 2022, Sec. 4).

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
STEPS = 1000 if use_large_config(device) else 125  # a budget of the shipped curves (others: bands interpolated)

# %% [markdown]
# ## One umbrella, two kinds of skip
#
# He et al. (2016b, Sec. 3) call ResNet's shortcut an "identity skip connection". Drozdzal et al. (2016) study
# **short** skips (residual connections inside blocks) and **long** skips (U-Net's encoder-to-decoder
# connections) together; from the gradient flow they conclude that a very deep segmentation network benefits
# from both (abstract). In this course:
#
# | | residual connection (short skip) | long skip connection |
# |---|---|---|
# | where | around a few layers, inside a `ResBlock` | from an encoder level to the decoder level of the same resolution |
# | operation | adds the block's input to its output | merges encoder and decoder features (stacked or summed) |
# | what it does | keeps a short path through depth (notebooks 01, 02) | hands the decoder the encoder's full-resolution features; a short path from input to output |
# | in `course_lib.UNet` | `residual=True/False` | `skip="concat" / "add" / "none"` |
#
# "Outperform" needs a task and a budget. The two can be switched independently, so the fair question is what
# each adds to a model that has the other: notebook 07 asks it for diffusion; here, the long skips.
#
# ## What each costs
#
# **Exercise 1 (predict, then run).** Which long-skip mode gives the U-Net the most parameters: `"concat"`,
# `"add"` or `"none"`? Think about what each merge (the table above) hands to the first decoder block of a level;
# then run the count and the check.

# %% answers=["96,257", "93,105", "'concat' has the most"]
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
# **Exercise 2.** Write the long skip's merge, `combine(h, skip, mode)`: `h` is the decoder's map `[B, C_h, H, W]`
# from the level below, `skip` the encoder's `[B, C_s, H, W]` at the same resolution. What each mode must
# preserve: `"concat"` hands the next block every number of both maps, `h`'s channels first; `"add"` returns one
# map of `h`'s shape that is `h` itself when the skip is zero; `"none"` lets nothing of the encoder through.
# Neither input may change. The check compares yours with `course_lib.UNet`'s merge.

# %% answers=["torch.cat([h, skip], dim=1)", "torch.cat((h, skip), 1)", "return h + skip"]
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
# **Exercise 3.** Where does the difference come from? Each decoder level of width `ch` (16, then 32) starts with
# a `ResBlock` that receives `h` and the skip, `ch` channels each, and outputs `ch`; `print(UNet().up[-1][0])`
# lists its layers. Write `concat_cost(ch, residual)`: how many more parameters that block has under `"concat"`
# than under `"add"`, with or without residual connections. Summed over the two levels, it must give the table's
# gap between `concat` and `add`, in both halves. The check tries other widths too.

# %% answers=["14,224", "11,616", "9 * ch * ch", "2 * ch * ch + ch"]
def concat_cost(ch, residual):
    ### BEGIN SOLUTION
    norm = 2 * ch  # GroupNorm before the first conv: a scale and a shift per input channel, ch more
    conv = 9 * ch * ch  # the first 3x3 conv reads ch more channels (its bias is per output channel)
    shortcut = 2 * ch * ch + ch if residual else 0  # identity (add) becomes a 1x1 conv 2ch -> ch (concat)
    return norm + conv + shortcut
    ### END SOLUTION


# %%
lesson.check_concat_cost(concat_cost)

# %% [markdown]
# Residual connections cost almost nothing (the parameter table above): a 1x1 projection only where a block
# changes its channels. Concatenation costs 14,224 parameters here, most of them in the first 3x3 convolutions.
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
# The longest path (14 convolutions) is the same in all six: down to the bottleneck and back. Long skips and
# residual connections each add shorter ones; without either, every path has the full length. With `skip="add"`
# the top level computes $e + G(e)$, $e$ the encoder's full-resolution features and $G$ everything below them: a
# residual connection around the inner U-Net (with residual blocks, a path of 2 convolutions).

# %% [markdown]
# ## Same budget, three kinds of long skip
#
# Three U-Nets, identical except for `skip`, are trained with the diffusion objective (notebook 05) for `STEPS` steps on the same batches, once per seed in `SEEDS`.
# Each is scored on the held-out test digits: noise each to level $t$, let the model estimate the clean digit
# $\hat x_0$, and measure the mean squared error. The modes are ranked only at the t where every model beats the
# linear denoiser (next section). **Predict:** at the largest noise, $t = 900$, will they beat simply predicting
# the average training digit?

# %% tags=["spoiler", "nbval-ignore-output"]
skips = lesson.skip_mode_experiment(seeds=SEEDS, steps=STEPS, batch_size=128, device=device)
baselines = lesson.baseline_mse(skips.ts)
lesson.print_skip_results(skips, baselines)

# %% [markdown]
# ## Are these models any good? Two baselines
#
# Differences between models say something about long skips only if the models do the task. Two denoisers that
# need no training, fitted to the train split, set the bar:
#
# - the **mean digit**: predict the average training digit, whatever the input;
# - the **linear denoiser** (the Wiener filter): the best *linear* estimate of $x_0$ from $x_t$, from the mean
#   $\mu$ and covariance $\Sigma$ of the training digits,
#   $\hat x_0 = \mu + \sqrt{\bar\alpha_t}\,\Sigma(\bar\alpha_t\Sigma + (1-\bar\alpha_t)I)^{-1}(x_t - \sqrt{\bar\alpha_t}\mu)$.

# %% tags=["spoiler", "nbval-ignore-output"]
print(lesson.baseline_table(skips, baselines))

# %% [markdown]
# At this budget the models are not yet useful at large t. With more training? The same three U-Nets were trained with the same batches for 4,000 steps, five seeds, measured at six budgets
# (`python -m course_lib study capstone`; `none` goes on to 8,000). Each line is the geometric mean over seeds,
# its band where a *new* seed lands 95% of the time; your run is drawn as crosses at `STEPS`. Move the budget.

# %% tags=["spoiler", "nbval-ignore-output"]
# A live figure (widget): built once, only the marker and the values redrawn. Not compared in tests.
curves = lesson.shipped_curve_rows()
lesson.denoiser_curves_widget(curves, baselines, live=skips)

# %% tags=["spoiler", "nbval-ignore-output"]
# Compares your trained numbers with the shipped bands: not compared in tests.
lesson.check_live_denoisers(curves, skips)

# %% [markdown]
# Where does each kind of long skip start to beat the two baselines, at every seed?

# %%
print(lesson.where_models_win(curves, baselines))

# %% [markdown]
# At $t \le 100$ the U-Nets pass both baselines within 125-250 steps; at $t = 300$ they pass the linear denoiser
# after 500 steps with long skips and 2,000 without. At $t = 600$ and $900$ none beats even the mean digit by the
# last budget. Units change no ranking: at a fixed t,
# $\lVert \hat x_0 - x_0 \rVert^2 = \frac{1-\bar\alpha_t}{\bar\alpha_t}\lVert \hat\epsilon - \epsilon \rVert^2$
# for *any* estimator. The noise-prediction loss gives large t little weight (Salimans and Ho 2022, Section 4).
# The comparison below keeps to the t where every model beats the linear denoiser on every seed (chosen after
# seeing where they win), at the shipped 4,000 steps:

# %%
shipped = lesson.shipped_skip_results()
print(lesson.baseline_table(shipped, baselines))

# %% [markdown]
# One more confound: `concat` has more parameters (exercises 1 and 3), so a better `concat` model could owe it to
# its size. `add` and `none` have the same count, so "does a long skip help?" is asked of them. Relative gaps per
# t, one dot per seed (their t-intervals are printed below the figure):

# %%
lesson.plot_relative_gaps(shipped, baselines)

# %%
print(lesson.gap_intervals(shipped, baselines))

# %%
lesson.check_shipped_skip_claims(shipped, baselines)

# %% [markdown]
# These verdicts are for 4,000 steps. In the stored 125-step run `concat` led `add` by 2 to 6% at $t = 50$ and
# `none` trailed by 12%; with training the lead vanished and `none`'s gap shrank to 2.7-4.6%. A short run can only
# agree with the shipped bands or not; the verdict is theirs.
#
# The first seed's models on six held-out digits at $t = 300$ (clean, noisy, $\hat x_0$), beside the linear
# denoiser, which they do not yet beat there at 125 steps (first table), and their loss curves:

# %%
first = {mode: trainers[0] for mode, trainers in skips.trainers.items()}
lesson.plot_skip_comparison(first, t=300)

# %% [markdown]
# Switch the mode and the noise level. Top: six digits clean, noised and denoised. Below: what the top decoder level receives for the first digit, the upsampled decoder path and
# (except for `none`) the encoder's features via the long skip (red positive, blue negative).

# %% tags=["nbval-ignore-output"]
lesson.skip_mode_widget(first, mode="concat", t=300)

# %% [markdown]
# ## The naming confusion, resolved
#
# Many texts call a U-Net's concatenated skips "residual connections"; the article quoted above makes the two
# rivals. In fact:
# - every residual connection is a skip connection, but not every skip is residual: a concatenated long skip
#   adds nothing, it hands the decoder extra channels to use as it likes;
# - an *additive* long skip is residual in form: $e + G(e)$ around the inner U-Net;
# - the U-Net of DDPM has both kinds: residual blocks (Ho et al. 2020, Appendix B) *and* long skips that its
#   released code concatenates.
#
# When you read a claim about "skip connections", first ask which connection it means.
#
# ## Summary
# - "Skip connection" is the umbrella; residual connections are short additive skips inside blocks; long skips carry encoder features to the decoder.
# - Concatenation costs parameters (wider decoder blocks); addition and no skip cost none. Both kinds of skip shorten the paths from input to output.
# - A comparison needs models that do the task: the U-Nets beat both baselines at $t \le 100$ within 250 steps, at $t = 300$ within 500-2,000; at large t none beats even the mean digit by 4,000 steps.
# - Where the models work, by 4,000 steps the U-Net without long skips denoised a few percent worse than with additive skips on every shipped seed; concat and add were within about one percent, unresolved. Early in training the ranking differs.
#
# ## Going further
# - Ronneberger, Fischer, Brox (2015), *U-Net: Convolutional Networks for Biomedical Image Segmentation*.
# - He, Zhang, Ren, Sun (2016b), *Identity Mappings in Deep Residual Networks* ("identity skip connections").
# - Drozdzal, Vorontsov, Chartrand, Kadoury, Pal (2016), *The Importance of Skip Connections in Biomedical Image Segmentation* (long and short skips together).
# - Ho, Jain, Abbeel (2020), *Denoising Diffusion Probabilistic Models*, Appendix B (the U-Net used).
# - Next: **04 · Forward diffusion**.
