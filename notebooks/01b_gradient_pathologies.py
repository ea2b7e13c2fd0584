# %% [markdown]
# # 01b (optional) · Gradient pathologies: tiny, exploding and shattered gradients
#
# *Optional: it extends notebook 01 for students who want to go deeper, and no later notebook needs it.*
#
# Notebook 01 showed a gradient that vanishes with depth. This notebook looks at three things around it: what
# a gradient of $10^{-26}$ does to float32 weights, how deep each kind of network can go before its gradient
# vanishes or **explodes**, and a subtler symptom of depth, **shattered** gradients.
#
# **Learning objectives**
# 1. Tell a tiny gradient from a zero one, and explain why a step far below a weight's float32 spacing moves nothing.
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
import numpy as np

from course_lib.claims import check_claims, format_margins
from course_lib.lessons import gradient_pathologies as lesson
from course_lib.lessons import setup_notebook

device = setup_notebook(seed=0)
SEEDS = (0, 1, 2)  # every experiment below is repeated for these seeds

# %% [markdown]
# ## Tiny is not zero, but float32 cannot tell the difference
#
# In notebook 01 the first layers of a 30-layer plain sigmoid network at PyTorch's default initialisation got a
# gradient around $10^{-26}$. Below, for that network and three seeds: each layer's gradient norm taken in float32
# and in float64 (the gradient itself is the same float32 tensor), the largest step Adam takes on one of the
# layer's weights at its first update, the smallest gap between one of the layer's float32 weights and the next
# float32 number, and how many of the layer's 4096 weights have changed at all after 200 Adam steps of training
# (learning rate $10^{-3}$).

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
# - What the tiny gradient does to learning is another matter. Adam divides each gradient by its running size
#   plus $\epsilon = 10^{-8}$; for a gradient entry $g \ll 10^{-8}$ the step is about $\text{lr} \cdot g / \epsilon$,
#   here around $10^{-22}$ for layer 1. A float32 weight near 0.1 can only move to a neighbouring float32 number,
#   about $10^{-8}$ away (float32 resolves about $1.2 \times 10^{-7}$ relative to a number's size); even the
#   smallest weights of layer 1 have neighbours about $10^{-12}$ away (the "fp32 spacing" column), ten orders of
#   magnitude more than the step. A step that small rounds back to the very same weight. Plain SGD, whose step is $\text{lr} \cdot g$, moves even less.
# - So after 200 steps the first ten or so layers are bit-for-bit where they started, while the layers near
#   the loss have changed every weight. The first layers are not learning slowly: in float32 they are not
#   learning at all, although their gradient is not zero.

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
# 256 inputs. In a deep plain network the gradient at neighbouring inputs is nearly unrelated ("shattered",
# like white noise): its correlation falls exponentially with depth. Residual networks' gradients decorrelate
# too, but far more slowly: Balduzzi et al. derive a decay like $1/\sqrt{\text{depth}}$ instead. The correlation
# between gradients at neighbouring inputs measures it (1 = smooth, 0 = noise). Depth 32, width 128; each of the
# two left panels has its **own** y-axis (the plain net's $dy/dx$ is much larger, and on a shared axis the
# residual curve would look like a flat line), and the right panel repeats the measurement at every depth from 2
# to 32 for three seeds.

# %% tags=["nbval-ignore-output"]
# Float32 rounding through up to 32 BatchNorm layers: the correlations' last digits differ between CPUs,
# so the notebook tests do not compare this output; the claim checks below do the comparing.
shallow_to_deep = (2, 4, 8, 16, 32)
by_depth = lesson.shattered_vs_depth(shallow_to_deep, seeds=SEEDS)
j = len(shallow_to_deep) - 1  # the deepest net measured
print(f"depth {shallow_to_deep[j]}, median of {len(SEEDS)} seeds: neighbour correlation plain "
      f"{np.median(by_depth['plain'][:, j]):.2f}, "
      f"residual {np.median(by_depth['residual'][:, j]):.2f}; the plain net's dy/dx is "
      f"{np.median(by_depth['plain_std'][:, j] / by_depth['residual_std'][:, j]):.0f}x larger (standard deviations)")
margins = lesson.shattered_claims(by_depth, shallow_to_deep, at=32)
print(format_margins(margins))
lesson.plot_shattered(lesson.shattered_gradient_curves(depth=32), by_depth, shallow_to_deep)

# %%
check_claims(margins, {
    "smoother": "at depth 32 the residual net's neighbour correlation exceeds the plain net's by over 0.3",
    "larger": "at depth 32 the plain net's dy/dx is over 10x larger than the residual net's",
})


# %% [markdown]
# On its own scale the residual net's $dy/dx$ is not flat: it wanders up and down along the line, but smoothly,
# with neighbouring inputs seeing nearly the same gradient, where the plain net's jumps from one input to the
# next. Note the two y-axes: the plain network's gradients are not only rougher, they are much larger (another
# face of the explosion under BatchNorm above). Residual gradients are not immune to shattering; in the right
# panel, up to depth 32, their slow decorrelation is small next to the plain net's fall to about 0; Balduzzi et
# al. follow it over many more layers.

# %% [markdown]
# ## Summary
# - A vanishing gradient is tiny, not zero: compute norms of tiny numbers in float64. But an Adam or SGD step
#   that small is far below the spacing of float32 weights, so those layers do not move at all.
# - At a bad initialisation a plain network's gradient vanishes within tens of layers; at Kaiming's it keeps its
#   size much deeper. An unscaled residual stack $h + f(h)$ **explodes**; a scaled branch stays flat. BatchNorm
#   removes vanishing but makes the gradient grow with depth.
# - Gradients at neighbouring inputs decorrelate quickly with depth in a plain BatchNorm network ("shattered"),
#   slowly in a residual one.
#
# ## Going further
# - He, Zhang, Ren, Sun (2015), *Delving Deep into Rectifiers*, Sec. 2.2 and Fig. 3 (a 30-layer plain net).
# - Xiao et al. (2018), *Dynamical Isometry and a Mean Field Theory of CNNs* (plain CNNs of 10,000 layers).
# - Yang, Pennington, Rao, Sohl-Dickstein, Schoenholz (2019), *A Mean Field Theory of Batch Normalization*.
# - Balduzzi et al. (2017), *The Shattered Gradients Problem: If resnets are the answer, then what is the question?*
