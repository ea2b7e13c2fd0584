# %% [markdown]
# # 01b (optional) · Gradient pathologies: tiny, exploding and shattered gradients
#
# *Optional: it extends notebook 01 for students who want to go deeper, and no later notebook needs it.*
#
# Notebook 01 showed a gradient that vanishes with depth. Here: what a gradient of about $10^{-25}$ does to Adam's
# steps, how the first layer's gradient at initialisation changes with depth (vanishing or **exploding**), and
# **shattered** gradients.
#
# **Learning objectives**
# 1. Tell a tiny gradient from a zero one; explain, and write, what Adam's $\epsilon$ does to a tiny gradient's step.
# 2. Read the first layer's gradient at initialisation against depth; tell vanishing from explosion.
# 3. Read how the gradients at neighbouring inputs decorrelate with depth (Balduzzi et al. 2017).

# %% [markdown] tags=["instructor"]
# ## Instructor's plan (50 minutes)
#
# This notebook is optional. Use it as a **second session of 50 minutes** after notebook 01, or as a **take-home**:
# students work through Exercises 1-3 and the two predictions alone, and the checks' diagnoses guide them. Run it
# once before class so that every table is on screen.
#
# **Timeline**
#
# | minutes | part | cells | what happens |
# |---|---|---|---|
# | 0-5 | Recap | title, setup | Recall notebook 01: the first layers of 30 sigmoid layers get a gradient of about $10^{-25}$. Ask: is it zero? |
# | 5-13 | Tiny is not zero | the prompt, `frozen_layers` table, its claims | Predict first (below), then run. Read the columns: float32 norm 0, float64 not; Adam's first step against the smallest weight's gap; layer 1 unchanged. |
# | 13-18 | Adam's eps, not float32 | the prompt, `adam_first_step` table, its claims | Predict first, then run. Stress: moving is not learning; the 4-layer control learns in the same 200 steps. |
# | 18-26 | Exercise 1 | sweep printout, `log10_eps`, its check | Pairs estimate $k$ from the printout (3 minutes), then run the check. |
# | 26-31 | The widget | the widget cell (`lesson.AdamEpsView`) | Slide $\epsilon$ down from $10^{-8}$; then float32 at $10^{-30}$: layer 1 overshoots lr. |
# | 31-41 | Exercise 2 | `adam_changes`, its check | Students try for 4 minutes, then you live-code it. |
# | 41-47 | Gradient at init by depth | Exercise 3, the depth table, its check and claims | Vote vanish / stay / grow, run, read the lines one by one; stress that this is the gradient at initialisation, not training. |
# | 47-50 | Shattered gradients, summary | the shattered figure | Show the figure (width-128 one-input nets, not the width-64 ones); the rest is reading for home. |
#
# **Live-code**
# - `adam_changes` (Exercise 2). Type the loop: the running average of the gradient, of its square, their
#   correction, the change. Say while typing: "m remembers the direction, v the size; dividing makes the step
#   size-free. At step 1 each average holds only $1 - \beta$ of its signal: without the correction the first step is
#   about 3.2 lr. $\epsilon$ matters only where $\sqrt{\hat v}$ is as small as it: $10^{-28}$ against $10^{-8}$ here."
#   Run the check once with the correction left out, to show its diagnosis, then put it back.
# - The widget call: "the sweep did all the work once; the slider only picks a row, so it answers at once."
#
# **Predict before running**
# - Before the `frozen_layers` table: after 200 Adam steps, how many of layer 1's 4096 weights changed? Likely
#   "all of them, Adam rescales"; it is 0.
# - Before the `adam_first_step` table: in float64 with $\epsilon = 10^{-8}$, does layer 1 move? Many say yes
#   ("float64 has the precision"); it does not.
# - Exercise 1: expect $k = -28$ ($\epsilon = |g|$) or $-8$ (the default); the sweep says $-14$.
# - Exercise 3: most say "stay" (BatchNorm normalises), a few "vanish"; it grows.
#
# **Common mistakes** (from the checks' diagnoses)
# - Exercise 1: taking the $\epsilon$ where the step reaches lr ($\epsilon \approx |g|$) for the one where weights
#   start to move (half the gap); comparing with the float32 gap in a float64 question; writing $\epsilon$ itself
#   instead of its exponent; staying at or above $10^{-8}$.
# - Exercise 2: no bias correction (the first change is about 3.2 lr and drifts to lr); correcting one average
#   only (a tenth, or about 30 times, Adam's first change); dividing by $\hat v$ instead of its root (the step then
#   depends on the gradient's size); $\epsilon$ under the root; the latest gradient instead of its average; the
#   gradient's sign instead of its opposite; returning positions instead of changes; float32 arithmetic.
# - Exercise 3: "stay": assuming that a normalised forward signal means a gradient of constant size. The backward
#   pass goes through every BatchNorm too, and a small factor per layer compounds over 64 layers (here it grows).
#
# **Two questions to ask**
# 1. "With $\epsilon = 10^{-30}$ every weight of layer 1 moved by about lr, yet the loss stayed at chance. Why?"
#    A good answer: to first order a step changes the loss by $g \cdot \Delta w$, and $g \approx 10^{-28}$; moving
#    is not learning. The 4-layer control learns in the same 200 steps, so the budget is not the reason. The cure
#    must change the gradient (initialisation, residual connections, normalisation), not the optimiser.
# 2. "BatchNorm cured vanishing here. Why do deep networks still need residual connections?" A good answer: in the
#    width-64 digit nets, the BatchNorm plain net's first-layer gradient grows over 1000x by depth 64; in the
#    width-128 one-input nets, the plain BatchNorm net's dy/dx shatters (neighbour correlation near 0 at depth 32)
#    while the residual BatchNorm net's stays smooth. And a healthy gradient at initialisation is not enough: deep
#    plain nets still train worse (notebook 01; He et al. 2016, Sec. 4.1). We never test BatchNorm with the
#    width-64 residual nets, so do not claim more.

# %%
# On Colab only: install course_lib and turn on widgets. Anywhere else this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "course_lib @ git+https://github.com/course-lib/residual-to-diffusion"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()

# %%
from ipywidgets import IntSlider, ToggleButtons

from course_lib.claims import check_claims, format_margins
from course_lib.lessons import gradient_pathologies as lesson
from course_lib.lessons import setup_notebook
from course_lib.widgets import LiveFigure

device = setup_notebook(seed=0)
SEEDS = (0, 1, 2)  # every experiment below is repeated for these seeds

# %% [markdown] answers=["0 of 4096"]
# ## Tiny is not zero: does it move anything?
#
# Set-up, as in notebook 01: 8x8 digit images (64 pixels, 10 classes), a plain network of 30 sigmoid layers of
# width 64 at PyTorch's default initialisation. Its first layers get a gradient of about $10^{-25}$ (on 256 digits).
# Training: Adam, learning rate $10^{-3}$, batches of 128, 200 steps. The table (seed 0; the claims check three
# seeds) gives per layer: its gradient norm in float32 and in float64 (of the same float32 gradient), its largest
# first Adam step, the gap from its smallest weight to the next float32 number, and how many of its 4096 weights
# changed at all.
#
# **Predict before running:** Adam divides each step by the gradient's running size. After 200 steps, how many of
# layer 1's 4096 weights have changed?

# %% tags=["spoiler", "nbval-ignore-output"]
# Float32 gradients of 1e-26 and the training steps: their last digits differ between CPUs, so the notebook
# tests do not compare this output; the claim check below does the comparing.
frozen = lesson.frozen_layers(depth=30, activation="sigmoid", init="default", seeds=SEEDS, steps=200, loss=True)
print(f"seed {SEEDS[0]}:")
print(lesson.format_frozen_layers(frozen))
margins = lesson.frozen_claims(frozen, frozen=10)
print(format_margins(margins))

# %% tags=["spoiler"]
check_claims(margins, {
    "nonzero": ("in float64, every layer's gradient norm is above 10^{threshold:g}: none is zero", -30),
    "float32_norm_zero": "a float32 .norm() returns 0 for some layers whose gradient is not zero",
    "step_below_spacing": ("layer 1's largest first Adam step is over 10^{threshold:g} times smaller than the "
                           "smallest gap between its float32 weights", 6),
    "frozen": "after 200 Adam steps, not one weight of layers 1 to 10 has changed, bit for bit",
})


# %% [markdown] answers=["0 of 4096"]
# From the top:
#
# - The first layers' gradients are tiny, but **not zero** in float64. A float32 `.norm()` says 0: the square of
#   an entry below $10^{-23}$ is below half the smallest positive float32 (a constant, $1.4 \times 10^{-45}$).
# - Adam's update is $\text{lr} \cdot \hat m / (\sqrt{\hat v} + \epsilon)$ with $\epsilon = 10^{-8}$ (Kingma & Ba
#   2015, *Adam*, Algorithm 1). At the first step $\hat m = g$ and $\hat v = g^2$, so a weight moves by
#   $\text{lr} \cdot |g| / (|g| + \epsilon)$: about lr where $|g| \gg \epsilon$, about $\text{lr} \cdot |g| / \epsilon$
#   where $|g| \ll \epsilon$. For layer 1 that step is far below even the smallest weight's gap, so it rounds
#   back to the very same weight: layers 1 to 10, at least, never change, although no gradient is zero.
#
# Is it float32's gap or Adam's $\epsilon$? Below, layer 1 after one Adam step in float32 and in float64, with
# $\epsilon = 10^{-8}$ (PyTorch's default) and $10^{-30}$, far below its gradient entries. Then 200-step runs: the
# 30-layer net in float64 with $\epsilon = 10^{-30}$, the run above as a control, and a 4-layer twin, to show that
# 200 steps are enough to learn.
#
# **Predict before running:** float64 keeps about 16 digits. With $\epsilon = 10^{-8}$, how many of layer 1's
# weights does one float64 Adam step change?

# %% tags=["spoiler", "nbval-ignore-output"]
# Float32 and float64 gradients of 1e-27 and 200 training steps: their last digits differ between CPUs, so the
# notebook tests do not compare this output; the claim check below does the comparing.
first_step = lesson.adam_first_step(depth=30, seeds=SEEDS)
tiny_eps = lesson.adam_tiny_eps_training(depth=30, seeds=SEEDS, steps=200)
shallow = lesson.adam_tiny_eps_training(depth=4, seeds=SEEDS, steps=200)  # the control that should learn
print(f"seed {SEEDS[0]}:")
print(lesson.format_adam_eps(first_step, tiny_eps, default=frozen, shallow=shallow))
margins = lesson.adam_eps_claims(first_step, tiny_eps, default=frozen, shallow=shallow)
print(format_margins(margins))

# %% tags=["spoiler"]
check_claims(margins, {
    "eps_freezes": "with eps = 1e-8, one Adam step changes no weight of layer 1, in float32 or in float64",
    "tiny_eps_moves_all": "in float64 with eps = 1e-30, one Adam step changes every weight of layer 1",
    "tiny_eps_median_is_lr": "in float64 with eps = 1e-30, layer 1's median step is within 2x of lr",
    "float32_overshoots": "in float32 with eps = 1e-30, layer 1's largest step is over 100 times lr",
    "still_chance": "by 200 float64 steps with eps = 1e-30, the training loss is still within 0.05 of chance (ln 10)",
    "default_chance": "by 200 steps with eps = 1e-8 (the control), the training loss is within 0.05 of chance",
    "shallow_learns": "by 200 steps the 4-layer twin's training loss is over 0.3 below chance: the budget suffices",
})


# %% [markdown]
# - With $\epsilon = 10^{-8}$ not one weight of layer 1 moves in float64 either: the frozen layers are made by
#   $\epsilon$, not by float32.
# - In float64 with $\epsilon = 10^{-30}$ every weight of layer 1 moves, most by about lr: Adam's step does not
#   depend on the gradient's scale (Kingma & Ba 2015, Sec. 2.1). A small $\epsilon$ cures the vanishing *step*.
# - Only that. In float32, $g^2$ underflows to 0, so $\hat v = 0$ and the step is
#   $\text{lr} \cdot g / \epsilon$: over 100 times lr. And moving is not learning: by 200 steps layer 1 has moved
#   hundreds of times lr, yet the loss is still at chance, like the control's, while the 4-layer twin's has
#   fallen. To first order a step $\Delta w$ changes the loss by $g \cdot \Delta w$, tiny when $g$ is.
#
# ## Where $\epsilon$ starts to bite
#
# Below, one real Adam step on every layer of the same network, for $\epsilon = 10^{k}$, $k$ from $-30$ to $-6$, in
# float64 and float32; the table gives layer 1's median gradient entry and weight, and that weight's gap.

# %% tags=["nbval-ignore-output"]
# Float32 gradients of 1e-28: their last digits differ between CPUs, so the notebook tests do not compare this.
sweep = lesson.eps_sweep(depth=30, seed=SEEDS[0])
print(lesson.format_eps_sweep(sweep))

# %% [markdown]
# **Exercise 1 (predict, then slide).** Rounding puts a weight back unless its step is more than half the gap to
# the next number. From the table, what is the largest $\epsilon = 10^k$ at which one float64 Adam step changes at
# least half of layer 1's weights? Write the whole number $k$; the check compares it with the sweep (within one
# decade) and the widget below lets you see it.

# %% answers=["log10_eps = -14", "eps = 1e-14", "10^{-14}"]
### BEGIN SOLUTION
log10_eps = -14
### END SOLUTION

# %%
lesson.check_eps_prediction(log10_eps, sweep)

# %% [markdown]
# The widget: on the left, Adam's first step against $|g|$ (blue), a dot per layer at its median $|g|$ (layer 1
# ringed), lr (dashed), and half the median weight's gap (dash-dotted): a dot below it rounds back. On the right, per layer, the share of its 4096 weights that one real Adam step changes. At PyTorch's
# $\epsilon = 10^{-8}$ in float64 the first layers do not move at all (the right title names them). Slide $\epsilon$
# down: the curve's bend follows it and the dots climb; layer 1 crosses the dash-dotted line at the $\epsilon$ the
# check found, long before its step reaches lr. In float32 the gap is far wider, and at tiny $\epsilon$ the dots left of the jump overshoot lr.

# %% tags=["nbval-ignore-output"]
# A live figure: built once over the sweep above, only its curve, dots and bars redrawn. Not compared in tests.
LiveFigure(lesson.AdamEpsView(sweep),
           log10_eps=IntSlider(value=-8, min=-30, max=-6, step=1, description="log10 eps"),
           dtype=ToggleButtons(options=["float64", "float32"], value="float64"))

# %% [markdown]
# **Exercise 2 (write the mechanism).** For each weight Adam keeps two running averages, of its gradients and of
# their squares: exponential moving averages with coefficients `beta1` and `beta2`, both started at 0. Write
# `adam_changes`: given one weight's gradients at steps 1, 2, ... (a float64 tensor), return the change Adam makes
# to the weight at each step (a list or a tensor). The check compares it with `torch.optim.Adam`: for a
# constant gradient far above $\epsilon$, every change is $-\text{lr}$ **from the first step on**, whatever the
# gradient's size; far below $\epsilon$, it is about $-\text{lr} \cdot g / \epsilon$; a gradient that flips sign
# is smoothed, not followed.

# %% answers=["1 - beta1 ** t", "1 - beta2 ** t", "(1 - beta2) * g * g"]
def adam_changes(grads, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """The change Adam makes to one weight at each step, given that weight's gradients (a 1-D float64 tensor)."""
    ### BEGIN SOLUTION
    m = v = 0.0
    changes = []
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        changes.append(-lr * m_hat / (v_hat.sqrt() + eps))
    return changes
    ### END SOLUTION


# %%
lesson.check_adam_changes(adam_changes)

# %% [markdown]
# ## The first layer's gradient at initialisation, by depth
#
# A source article on residual connections says a traditional deep network is "limited to tens of layers before
# performance drops", a claim about training. We measure only the first layer's gradient at initialisation (256
# digits) against depth, for ReLU networks of width 64: plain at the default and at Kaiming initialisation, plain
# with a BatchNorm before every linear layer, and residual twins, unscaled ($h + f(h)$) and scaled ($h + s f(h)$,
# $s = 1/\sqrt{\text{depth}}$). Dots are seeds; lines, medians.
#
# **Exercise 3 (predict, then run).** BatchNorm rescales every layer's input to zero mean and unit variance. In a
# plain ReLU network at PyTorch's default initialisation with a BatchNorm before every linear layer, does the first
# layer's gradient `"vanish"`, `"stay"` about the same, or `"grow"` from depth 2 to depth 64?

# %% answers=["prediction = \"grow\"", "gradient does grow"]
### BEGIN SOLUTION
prediction = "grow"
### END SOLUTION

# %% tags=["nbval-ignore-output"]
# Float32 products through up to 128 layers: last digits, underflow to 0 and overflow differ between CPUs,
# so the notebook tests do not compare this output; the claim checks below do the comparing.
depths = (2, 8, 16, 32, 64, 128)
table = lesson.depth_table(depths, seeds=SEEDS)
print(lesson.format_depth_table(table, depths))
margins = lesson.depth_claims(table, depths)
print(format_margins(margins))
lesson.plot_depth_table(table, depths)

# %%
lesson.check_batchnorm_prediction(prediction, table, depths)

# %% tags=["spoiler"]
check_claims(margins, {
    "vanishing_default": "default init: the plain net's first-layer gradient is over 1e6 times smaller at depth 32 than at depth 2",
    "kaiming_healthy": "Kaiming init: the plain net's first-layer gradient stays within 100x of its depth-2 value up to depth 64",
    "batchnorm_grows": "with BatchNorm the plain net's first-layer gradient grows over 1000x from depth 2 to depth 64",
    "unscaled_explodes": "the unscaled residual net h + f(h) grows over 1000x from depth 2 to depth 64 (it explodes)",
    "scaled_flat": "the scaled residual net stays within 10x of its depth-2 value up to depth 128",
    "default_128_tiny": "default init: at depth 128 the plain net's first-layer gradient is below 1e-40 (or exactly 0)",
})


# %% [markdown]
# Line by line:
#
# - **Here vanishing is an initialisation effect.** At the default initialisation the plain net's gradient
#   collapses (exact float32 zeros sit on the figure's bottom row); at Kaiming's the *same architecture* keeps its
#   order up to 64 layers.
# - **A residual connection with a scaled branch is a second fix**: at the same bad initialisation, $h + s f(h)$
#   stays within 10x up to 128 layers.
# - **Explosion is its own phenomenon.** In the unscaled $h + f(h)$ every layer adds a branch of similar size, so
#   signal and gradient grow. Real residual networks tame the sum with normalisation, a zero-initialised last
#   layer per block (notebook 02), or a branch scale.
# - **Normalisation removes vanishing but not growth**, as Yang et al. (2019) predicted at initialisation.
#
# So the gradient at initialisation vanishes only at a bad initialisation. But a healthy gradient does not make a
# deep plain net train well: in notebook 01, plain-64 at Kaiming initialisation trails plain-4 (degradation), and
# He et al. (2016, Sec. 4.1) found deeper plain nets with BatchNorm train worse although their gradients "exhibit
# healthy norms", a difficulty "unlikely to be caused by vanishing gradients".

# %% [markdown]
# ## Shattered gradients
#
# Balduzzi et al. (2017, *The Shattered Gradients Problem*, Sec. 2 and Fig. 1) plot $dy/dx$ of a one-input,
# one-output network along a line of inputs: in a deep plain network the gradients at nearby inputs are nearly
# unrelated ("shattered", like white noise). Their Sec. 3 derives how the correlation between the gradients at two
# inputs falls with depth: exponentially in feedforward networks; exponentially too, but more slowly, in residual
# networks without BatchNorm; like $1/\sqrt{\text{depth}}$ in residual networks **with BatchNorm**.
#
# Our two nets: one input, one output, ReLU layers of width 128 at PyTorch's default initialisation, each
# $f(h) = \text{ReLU}(W\,\text{BN}(h) + b)$; plain $h \leftarrow f(h)$, residual $h \leftarrow h + f(h)$ (no
# branch scale). We measure something simpler: the correlation of $dy/dx$ between neighbouring inputs, 256 from
# -2 to 2 (1 = smooth, 0 = noise). The left panels show depth 32,
# each on its **own** y-axis; the right panel repeats the measurement at depths 2 to 32 for three seeds.

# %% tags=["nbval-ignore-output"]
# Float32 rounding through up to 32 BatchNorm layers: the correlations' last digits differ between CPUs,
# so the notebook tests do not compare this output; the claim checks below do the comparing.
shallow_to_deep = (2, 4, 8, 16, 32)
by_depth = lesson.shattered_vs_depth(shallow_to_deep, seeds=SEEDS, width=128)
print(lesson.format_shattered_vs_depth(by_depth, shallow_to_deep))
margins = lesson.shattered_claims(by_depth, shallow_to_deep, at=32, smooth=0.8)
print(format_margins(margins))
lesson.plot_shattered(lesson.shattered_gradient_curves(depth=32, width=128), by_depth, shallow_to_deep)

# %%
check_claims(margins, {
    "smoother": "at depth 32 the residual net's neighbour correlation exceeds the plain net's by over 0.3",
    "larger": "at depth 32 the plain net's dy/dx is over 10x larger than the residual net's",
    "residual_smooth": "at every depth measured the residual net's neighbour correlation is above 0.8",
})


# %% [markdown]
# The residual net's $dy/dx$ wanders smoothly; the plain net's jumps from one input to the next and is much
# larger (BatchNorm's growth again). The right panel cannot show the
# $1/\sqrt{\text{depth}}$ rate: the residual net's median correlation stays near 0.95 up to depth 32 (the table).
# Our neighbours are so close that any curve smooth at that scale scores nearly 1: the proxy shows the
# contrast, not the theorem's rate.

# %% [markdown]
# ## Summary
# - A vanishing gradient is tiny, not zero. With $\epsilon = 10^{-8}$ Adam's step rounds back. A smaller
#   $\epsilon$ moves the weights, yet by 200 steps the loss is still at chance, where a 4-layer twin learns.
# - At initialisation the first layer's gradient vanishes at a bad initialisation, not at Kaiming's; $h + f(h)$
#   **explodes**, a scaled branch stays flat, BatchNorm makes it grow. A healthy gradient still does not make a
#   deep plain net train well.
# - With BatchNorm, neighbouring gradients decorrelate quickly with depth in a plain net and stay near 0.95 up to
#   depth 32, on our measure, in a residual one.
#
# ## Going further
# - Kingma & Ba (2015), *Adam*, Sec. 2.1, 3 and Algorithm 1.
# - He et al. (2016), *Deep Residual Learning for Image Recognition*, Sec. 4.1.
# - Xiao et al. (2018), *Dynamical Isometry and a Mean Field Theory of CNNs*.
# - Yang et al. (2019), *A Mean Field Theory of Batch Normalization*.
# - Balduzzi et al. (2017), *The Shattered Gradients Problem*, Sec. 3.
