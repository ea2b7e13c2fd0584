# %% [markdown]
# # 01b (optional) · Gradient pathologies: tiny, exploding and shattered gradients
#
# *Optional: it extends notebook 01 for students who want to go deeper, and no later notebook needs it.*
#
# Notebook 01 showed a gradient that vanishes with depth. This notebook looks at three things around it: what
# a gradient of $10^{-26}$ does to Adam's steps, how deep each kind of network can go before its gradient
# vanishes or **explodes**, and a subtler symptom of depth, **shattered** gradients.
#
# **Learning objectives**
# 1. Tell a tiny gradient from a zero one, and explain how Adam's $\epsilon$ freezes layers whose gradient is tiny.
# 2. Read the first layer's gradient against depth for plain, normalised and residual networks, and tell vanishing from explosion.
# 3. Measure how the gradients at neighbouring inputs decorrelate with depth (Balduzzi et al. 2017).

# %%
# On Colab only: install course_lib and turn on widgets. Anywhere else this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "course_lib @ git+https://github.com/course-lib/residual-to-diffusion"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()

# %%
from course_lib.claims import check_claims, format_margins
from course_lib.lessons import gradient_pathologies as lesson
from course_lib.lessons import setup_notebook

device = setup_notebook(seed=0)
SEEDS = (0, 1, 2)  # every experiment below is repeated for these seeds

# %% [markdown]
# ## Tiny is not zero, but it can move nothing
#
# In notebook 01 the first layers of a 30-layer plain sigmoid network at PyTorch's default initialisation got a
# gradient around $10^{-26}$. Below, for that network and three seeds: each layer's gradient norm in float32 and
# in float64 (of the same float32 gradient), the largest first Adam step on one of its weights, the smallest gap
# between one of its float32 weights and the next float32 number, and how many of its 4096 weights changed at all
# in 200 Adam steps (learning rate $10^{-3}$).

# %% tags=["nbval-ignore-output"]
# Float32 gradients of 1e-26 and the training steps: their last digits differ between CPUs, so the notebook
# tests do not compare this output; the claim check below does the comparing.
frozen = lesson.frozen_layers(depth=30, activation="sigmoid", init="default", seeds=SEEDS, steps=200)
print(f"seed {SEEDS[0]}:")
print(lesson.format_frozen_layers(frozen))
margins = lesson.frozen_claims(frozen, frozen=10)
print(format_margins(margins))

# %%
check_claims(margins, {
    "nonzero": ("in float64, every layer's gradient norm is above 10^{threshold:g}: none is zero", -30),
    "float32_norm_zero": "a float32 .norm() returns 0 for some layers whose gradient is not zero",
    "step_below_spacing": ("layer 1's largest first Adam step is over 10^{threshold:g} times smaller than the "
                           "smallest gap between its float32 weights", 6),
    "frozen": "after 200 Adam steps, not one weight of layers 1 to 10 has changed, bit for bit",
})


# %% [markdown]
# Read the table from the top:
#
# - The first layers' gradients are around $10^{-26}$: tiny, but **not zero**; every layer's norm is positive in
#   float64. A float32 `.norm()` of the same gradient says 0 for the first layers: it sums the squares of entries
#   near $10^{-28}$, and $10^{-56}$ is far below the smallest positive float32 number, about $1.4 \times 10^{-45}$.
#   That 0 is an artifact of how the norm was computed, not a property of the network.
# - Adam's update is $\text{lr} \cdot \hat m / (\sqrt{\hat v} + \epsilon)$ with $\epsilon = 10^{-8}$ (Kingma & Ba
#   2015, *Adam*, Algorithm 1). At the first step $\hat m = g$ and $\hat v = g^2$, so a weight moves by
#   $\text{lr} \cdot |g| / (|g| + \epsilon)$: about lr where $|g| \gg \epsilon$, about $\text{lr} \cdot |g| / \epsilon$
#   where $|g| \ll \epsilon$, here around $10^{-22}$ for layer 1. Even the smallest weights of layer 1 have float32
#   neighbours about $10^{-12}$ away (the "fp32 spacing" column), so the step rounds back to the very same weight.
#   Plain SGD, whose step is $\text{lr} \cdot g$, moves even less.
# - So after 200 steps the first ten or so layers are bit-for-bit where they started, while the layers near
#   the loss have changed every weight, although no gradient is zero.
#
# Is it float32's spacing or Adam's $\epsilon$? Below, layer 1 after one Adam step in float32 and in float64, with
# $\epsilon = 10^{-8}$ (PyTorch's default) and with $\epsilon = 10^{-30}$, far below its gradient entries; then the
# 200 steps above, in float64 with $\epsilon = 10^{-30}$.

# %% tags=["nbval-ignore-output"]
# Float32 and float64 gradients of 1e-27 and 200 training steps: their last digits differ between CPUs, so the
# notebook tests do not compare this output; the claim check below does the comparing.
first_step = lesson.adam_first_step(depth=30, seeds=SEEDS)
tiny_eps = lesson.adam_tiny_eps_training(depth=30, seeds=SEEDS, steps=200)
print(f"seed {SEEDS[0]}:")
print(lesson.format_adam_eps(first_step, tiny_eps))
margins = lesson.adam_eps_claims(first_step, tiny_eps)
print(format_margins(margins))

# %%
check_claims(margins, {
    "eps_freezes": "with eps = 1e-8, one Adam step changes no weight of layer 1, in float32 or in float64",
    "tiny_eps_moves_all": "in float64 with eps = 1e-30, one Adam step changes every weight of layer 1",
    "tiny_eps_median_is_lr": "in float64 with eps = 1e-30, layer 1's median step is within 2x of lr",
    "float32_overshoots": "in float32 with eps = 1e-30, layer 1's largest step is over 100 times lr",
    "still_chance": "after 200 float64 steps with eps = 1e-30, the training loss is within 0.05 of chance (ln 10)",
})


# %% [markdown]
# - With $\epsilon = 10^{-8}$ not one weight of layer 1 moves in float64 either: the frozen layers are made by
#   $\epsilon$, not by float32.
# - In float64 with $\epsilon = 10^{-30}$ every weight of layer 1 moves, most by about lr: Adam divides each
#   gradient by its own running size, so its step does not depend on the gradient's scale (Kingma & Ba 2015,
#   Sec. 2.1). A small enough $\epsilon$ cures the vanishing *step*.
# - Only that. In float32, $g^2$ underflows to 0, so $\hat v = 0$ and the step is
#   $\text{lr} \cdot g / \epsilon$: up to 2.1 here, for lr = 0.001. And moving is not learning: after 200 float64
#   steps layer 1's largest weight change is 0.24 to 0.28 across seeds, yet the loss is still at chance: to first
#   order a step $\Delta w$ changes the loss by $g \cdot \Delta w$, tiny when $g$ is.

# %% [markdown]
# ## How deep can each go? Vanishing, exploding, and two fixes
#
# The course's source article on residual connections (the one that opens "Residual connections, also known
# as skip connections, are a fundamental neural network architecture component") says in its comparison
# table that a traditional deep network is "limited to tens of layers before performance drops" while a
# residual one "can train hundreds or thousands of layers effectively". Here is the first layer's gradient at
# initialisation against depth, for ReLU networks of width 64: plain at the default and at Kaiming
# initialisation, plain with a BatchNorm before every linear layer, and the residual twins with an unscaled
# ($h + f(h)$) and a scaled ($h + s f(h)$) branch. Dots are seeds; the line goes through their median.
#
# **Exercise 1 (predict, then run).** BatchNorm rescales every layer's input to zero mean and unit variance. In a
# plain ReLU network at PyTorch's default initialisation with a BatchNorm before every linear layer, does the first
# layer's gradient `"vanish"`, `"stay"` about the same, or `"grow"` from depth 2 to depth 64? The check after the
# figure compares your answer with the measurement.

# %%
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
check_claims(margins, {
    "vanishing_default": "default init: the plain net's first-layer gradient is over 1e6 times smaller at depth 32 than at depth 2",
    "kaiming_healthy": "Kaiming init: the plain net's first-layer gradient stays within 100x of its depth-2 value up to depth 64",
    "batchnorm_grows": "with BatchNorm the plain net's first-layer gradient grows over 1000x from depth 2 to depth 64",
    "unscaled_explodes": "the unscaled residual net h + f(h) grows over 1000x from depth 2 to depth 64 (it explodes)",
    "scaled_flat": "the scaled residual net stays within 10x of its depth-2 value up to depth 128",
    "default_128_tiny": "default init: at depth 128 the plain net's first-layer gradient is below 1e-40 (or exactly 0)",
})

# %%
lesson.check_batchnorm_prediction(prediction, table, depths)


# %% [markdown]
# Read the lines one by one:
#
# - **Vanishing is an initialisation effect here.** At the default initialisation the plain network's gradient
#   collapses: around $10^{-26}$ at depth 64, and at depth 128 it falls below the smallest float32 number, so the
#   float32 backward pass itself returns a gradient whose every entry is 0 (the triangles). At Kaiming initialisation the *same architecture*
#   keeps a first-layer gradient of the same order from 2 to 64 layers; at 128 the seeds spread out (with only
#   64 units per layer, the product of 128 random matrices fluctuates from one draw to the next).
# - **A residual connection is a second, independent fix**: at the same bad default initialisation, the scaled
#   residual twin's gradient stays flat up to 128 layers.
# - **Explosion is its own phenomenon.** The unscaled residual net $h + f(h)$ grows: every layer adds a branch of
#   similar size, so the signal and its gradient grow with depth. Real residual networks control the size of the
#   sum with normalisation in every block, a zero-initialised last layer per block (notebook 02), or a branch
#   scale like our $s$.
# - **Normalisation removes vanishing but not explosion.** With BatchNorm the plain net's gradient does not
#   vanish (He et al. 2016, Sec. 4.1, checked the same for their plain nets); it grows with depth, as Yang et al.
#   (2019, *A Mean Field Theory of Batch Normalization*) predicted for deep batch-normalised networks at
#   initialisation.
#
# So the article's "limited to tens of layers" holds for a plain network at a bad initialisation, and this
# experiment shows where: the default-init plain net dies within tens of layers. It is not a law of plain
# networks. He et al. (2015, Sec. 2.2 and Fig. 3) trained a 30-layer plain network from scratch with their
# initialisation where the Xavier-initialised one stalled, and Xiao et al. (2018, *Dynamical Isometry and a
# Mean Field Theory of CNNs*) trained plain convolutional networks of 10,000 layers with an orthogonal
# initialisation. What residual networks gave was depth *plus* ease of optimisation: notebook 01's degradation
# section and notebook 02 take that up.

# %% [markdown]
# ## Shattered gradients
#
# Balduzzi et al. (2017, *The Shattered Gradients Problem*, Sec. 2 and Fig. 1) looked at another symptom. Take a
# network with one input and one output (with BatchNorm, as in their paper) and plot $dy/dx$ along a line of
# 256 inputs: in a deep plain network the gradients at nearby inputs are nearly unrelated ("shattered", like
# white noise). Their Sec. 3 derives the correlation between the gradients at two inputs over random weights:
# it falls exponentially with depth in feedforward networks, like $1/\sqrt{\text{depth}}$ in residual networks
# with BatchNorm. We measure something simpler: the correlation of $dy/dx$ between neighbouring inputs on our
# line (1 = smooth, 0 = noise). Depth 32, width 128; each left panel has its **own** y-axis (on a shared one
# the residual curve would look flat), and the right panel repeats the measurement at depths 2 to 32 for three
# seeds.

# %% tags=["nbval-ignore-output"]
# Float32 rounding through up to 32 BatchNorm layers: the correlations' last digits differ between CPUs,
# so the notebook tests do not compare this output; the claim checks below do the comparing.
shallow_to_deep = (2, 4, 8, 16, 32)
by_depth = lesson.shattered_vs_depth(shallow_to_deep, seeds=SEEDS)
print(lesson.format_shattered_vs_depth(by_depth, shallow_to_deep))
margins = lesson.shattered_claims(by_depth, shallow_to_deep, at=32)
print(format_margins(margins))
lesson.plot_shattered(lesson.shattered_gradient_curves(depth=32), by_depth, shallow_to_deep)

# %%
check_claims(margins, {
    "smoother": "at depth 32 the residual net's neighbour correlation exceeds the plain net's by over 0.3",
    "larger": "at depth 32 the plain net's dy/dx is over 10x larger than the residual net's",
})


# %% [markdown]
# On its own scale the residual net's $dy/dx$ is not flat: it wanders up and down, but smoothly, where the plain
# net's jumps from one input to the next. Note the two y-axes: the plain network's gradients are also much
# larger (another face of the explosion under BatchNorm above).
#
# The right panel cannot show the $1/\sqrt{\text{depth}}$ rate: the residual net's median neighbour correlation
# stays between 0.92 and 0.96 from depth 2 to 32, where $1/\sqrt{\text{depth}}$ would fall fourfold. Our
# neighbours are so close that any curve smooth at that scale scores nearly 1: the proxy measures smoothness at
# the grid's scale, not the theorem's correlation over random weights. It shows the contrast only: the residual
# gradients stay smooth while the plain net's correlation falls to about 0.

# %% [markdown]
# ## Summary
# - A vanishing gradient is tiny, not zero: compute norms of tiny numbers in float64. With Adam's
#   $\epsilon = 10^{-8}$ its step is about $\text{lr} \cdot g / \epsilon$, too small to move a float32 or float64
#   weight. A far smaller $\epsilon$ gives steps of about lr in float64, yet the loss stays at chance.
# - At a bad initialisation a plain network's gradient vanishes within tens of layers; at Kaiming's it keeps its
#   size much deeper. An unscaled residual stack $h + f(h)$ **explodes**; a scaled branch stays flat. BatchNorm
#   removes vanishing but makes the gradient grow with depth.
# - Gradients at neighbouring inputs decorrelate quickly with depth in a plain BatchNorm network ("shattered"),
#   slowly in a residual one; our neighbour correlation shows the contrast, not the rate.
#
# ## Going further
# - Kingma & Ba (2015), *Adam: A Method for Stochastic Optimization*, Sec. 2.1 and Algorithm 1.
# - He, Zhang, Ren, Sun (2015), *Delving Deep into Rectifiers*, Sec. 2.2 and Fig. 3 (a 30-layer plain net).
# - Xiao et al. (2018), *Dynamical Isometry and a Mean Field Theory of CNNs* (plain CNNs of 10,000 layers).
# - Yang, Pennington, Rao, Sohl-Dickstein, Schoenholz (2019), *A Mean Field Theory of Batch Normalization*.
# - Balduzzi et al. (2017), *The Shattered Gradients Problem: If resnets are the answer, then what is the question?*
