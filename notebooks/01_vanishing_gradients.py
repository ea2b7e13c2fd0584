# %% [markdown]
# # 01 · Vanishing gradients, exploding gradients, degradation, and what `+ x` does about them
#
# Deep networks are trained by backpropagation: the gradient for layer 1 is a *product* of one factor
# per layer above it. A product of many factors smaller than one shrinks exponentially; larger than
# one, it explodes. This notebook measures three phenomena that are often lumped together, and keeps
# them apart:
#
# - **vanishing gradients**: the first layers' gradient shrinks exponentially with depth;
# - **exploding gradients**: it grows exponentially with depth;
# - **degradation**: a deeper plain network reaches a *higher training loss* than a shallower one, even
#   when its gradients are healthy (He et al. 2016, Sec. 4.1, call it an optimisation difficulty). Our toy
#   version can only show its first symptom: at an equal training budget the deeper net is far behind.
#
# Whether a plain network vanishes depends on its activation *and on its initialisation*, so the
# initialisation is a variable here, next to depth and the residual connection `h + f(h)` of He et al. (2016).
#
# **Learning objectives**
# 1. Explain with the chain rule why gradients vanish in a deep *plain* network, why sigmoid vanishes under the usual initialisations, and why ReLU vanishes only under a badly scaled one.
# 2. Measure per-layer gradient norms and read them on a log scale, and see why a tiny gradient is not zero, yet can move no float32 weight at all.
# 3. See that an *unscaled* residual stack explodes, and that real residual networks control the size of the sum.
# 4. Reproduce degradation (a deeper plain net training more slowly) with a good initialisation, over several seeds, and tell it apart from vanishing.
# 5. Write a residual layer $h + s\,f(h)$ and its plain twin $f(h)$, and predict which layer's gradient vanishes first.

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
from ipywidgets import Checkbox, Dropdown, IntSlider

from course_lib.claims import check_claims
from course_lib.lessons import setup_notebook
from course_lib.lessons.vanishing_gradients import (
    GradientProfilesView,
    activation_claims,
    activation_table,
    check_gradient_ratio,
    check_residual_layers,
    check_sigmoid_derivative_max,
    check_smallest_layer,
    degradation_claims,
    degradation_experiment,
    degradation_summary,
    depth_claims,
    depth_table,
    format_activation_table,
    format_depth_table,
    format_frozen_layers,
    format_margins,
    frozen_claims,
    frozen_layers,
    init_variance,
    layer_profile,
    plot_degradation,
    plot_depth_table,
    plot_shattered,
    shattered_claims,
    shattered_gradient_curves,
    shattered_vs_depth,
    show_gradient_profiles,
)
from course_lib.widgets import LiveFigure

device = setup_notebook(seed=0)
SEEDS = (0, 1, 2)  # every experiment below is repeated for these seeds (weights and mini-batches)

# %% [markdown]
# ## The chain rule, one layer at a time
#
# A plain network computes $h_{l+1} = \sigma(W_l h_l + b_l)$. Backpropagation multiplies, for every layer
# above $l$, by the Jacobian $\partial h_{l+1} / \partial h_l = \mathrm{diag}(\sigma'(\cdot))\, W_l$.
# With a sigmoid, $\sigma'(z) = \sigma(z)(1 - \sigma(z))$, which is never larger than some small number.
#
# **Exercise 1.** What is the largest value of $\sigma'(z)$? Assign it to `max_slope`.

# %%
### BEGIN SOLUTION
max_slope = 0.25
### END SOLUTION

# %%
check_sigmoid_derivative_max(max_slope)

# %% [markdown]
# ## Gradient norms, layer by layer
#
# `course_lib.DeepMLP` stacks `depth` identical layers $f_l(h) = \mathrm{act}(W_l h + b_l)$ of width 64 on the
# 8x8 digits. The *plain* network computes $h_{l+1} = f_l(h_l)$; its residual twin, built from the very
# same layers (same weights), computes $h_{l+1} = h_l + s\, f_l(h_l)$ with the branch scale $s = 1/\sqrt{\text{depth}}$.
#
# **Exercise 2.** Write one layer of each twin: `residual_layer(h, f, s)` returns $h + s\, f(h)$ and
# `plain_layer(h, f)` returns $f(h)$, where `h` is a batch of hidden vectors `[B, 64]` and `f` one layer
# (an `nn.Module`). The check runs your two functions through all 6 layers of a `DeepMLP` and of its plain
# twin, with the same weights, and compares the outputs with `course_lib`'s own `DeepNet.hidden`.

# %%
def residual_layer(h, f, s):
    ### BEGIN SOLUTION
    return h + s * f(h)
    ### END SOLUTION


def plain_layer(h, f):
    ### BEGIN SOLUTION
    return f(h)
    ### END SOLUTION


# %%
check_residual_layers(residual_layer, plain_layer)

# %% [markdown]
# For one batch of 256 digits, at initialisation, we now plot $\lVert \partial L / \partial W_l \rVert$ for every
# layer $l$ of 30 sigmoid layers at PyTorch's default initialisation, in the plain network and in its residual twin.
#
# **Exercise 3 (predict, then run).** Before you run the figure's cell: in the *plain* network, which layers get
# the smallest gradient, the `"first"` (next to the input), the `"middle"` or the `"last"` (next to the loss)?
# Write your prediction; the check after the figure compares it with the measurement.

# %%
### BEGIN SOLUTION
prediction = "first"
### END SOLUTION

# %% [markdown]
# The y-axis is logarithmic: each grid line is a factor of 10. The norms are computed in float64 from the network's
# float32 gradients (a float32 norm of numbers this small can itself round to 0, as we will see).

# %%
show_gradient_profiles(depth=30, activation="sigmoid", init="default")

# %%
check_smallest_layer(prediction, layer_profile(depth=30, residual=False, activation="sigmoid", init="default"))

# %% [markdown]
# The plain network's gradient falls by many orders of magnitude from the last layer (right) to the first
# (left). The residual twin's gradient stays within a small factor across the layers.
#
# ### Tiny is not zero, but float32 cannot tell the difference
#
# How small is "vanished"? Below, for the same 30-layer plain sigmoid network and three seeds: each layer's gradient
# norm taken in float32 and in float64 (the gradient itself is the same float32 tensor), the largest step Adam
# takes on one of the layer's weights at its first update, the smallest gap between one of the layer's float32
# weights and the next float32 number, and how many of the layer's 4096 weights have changed at all after 200
# Adam steps of training (learning rate $10^{-3}$).

# %% tags=["nbval-ignore-output"]
# Float32 gradients of 1e-26 and the training steps: their last digits differ between CPUs, so the notebook
# tests do not compare this output; the claim check below does the comparing.
frozen = frozen_layers(depth=30, activation="sigmoid", init="default", seeds=SEEDS, steps=200)
print(f"seed {SEEDS[0]}:")
print(format_frozen_layers(frozen))
margins = frozen_claims(frozen, frozen=10)
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
#
# The article "Residual connection vs Skip connection", one of the course's sources, says that residual
# connections "help mitigate the vanishing gradient problem by allowing gradients to flow directly through
# layers". The first half is what the figure shows; "directly" needs a closer look. The residual twin's Jacobian
# per layer is $I + s\, J_l$ with $J_l = \partial f_l / \partial h_l$, so the gradient reaching layer 1 is
# multiplied by the product $\prod_l (I + s J_l)$. That product is **not** the identity, and the shortcut does not
# carry the gradient "untouched": expanding it gives the identity plus every product of the $s J_l$. With
# $s = 1/\sqrt{\text{depth}}$ the extra terms stay of order one; with $s = 1$ (an unscaled `h + f(h)`) they add up
# and the gradient *explodes* (the table further down shows it).
#
# Try it yourself: change the depth, the activation, the **initialisation** (`kaiming` is He et al. 2015's
# variance $2/\text{fan-in}$ for ReLU), add a normalisation layer, and switch off the branch scaling. Each new
# setting computes two gradient profiles (a second or less; the depth slider computes when you let go of it),
# and a setting you have seen before comes back at once. The widget starts at 30 ReLU layers at PyTorch's
# default initialisation.

# %% tags=["nbval-ignore-output"]
# A live figure: built once, its lines redrawn in place; profiles are computed once per setting. Not compared in tests.
LiveFigure(GradientProfilesView(),
           depth=IntSlider(value=30, min=2, max=100, step=2, continuous_update=False),
           activation=Dropdown(options=["sigmoid", "tanh", "relu", "gelu"], value="relu"),
           init=Dropdown(options=["default", "kaiming", "xavier", "orthogonal"], value="default"),
           residual=Checkbox(value=True, description="show residual twin"),
           scale_branch=Checkbox(value=True, description="scale branch by 1/sqrt(depth)"),
           norm=Dropdown(options=["none", "layer", "batch"], value="none"))

# %% [markdown]
# At the widget's starting setting the plain ReLU network's gradient vanishes too. The same 30 ReLU layers with
# Kaiming initialisation instead of PyTorch's default: the *plain* network's gradient no longer vanishes.

# %%
show_gradient_profiles(depth=30, activation="relu", init="kaiming")

# %% [markdown]
# ## Is it the activation or the initialisation?
#
# PyTorch's `nn.Linear` draws $W \sim U(-b, b)$ with $b = 1/\sqrt{\text{fan-in}}$, a variance of
# $1/(3\,\text{fan-in})$. He et al. (2015, *Delving Deep into Rectifiers*, Sec. 2.2) showed that a ReLU layer
# multiplies the mean square of the signal by $\text{fan-in} \cdot \mathrm{Var}(W)/2$, in the forward and the
# backward pass alike, and chose $\mathrm{Var}(W) = 2/\text{fan-in}$ to make that factor exactly 1. Exact
# arithmetic for our width 64:

# %%
v = init_variance(fan_in=64, depth=32)
print(f"Var(W): default {v['var_default']:.5f}, Kaiming {v['var_kaiming']:.5f} ({v['ratio']:.0f}x larger)")
print(f"per ReLU layer the mean square is multiplied by {v['gain_default']:.3f} (default) or {v['gain_kaiming']:.3f} (Kaiming)")
print(f"after 32 layers the root-mean-square signal and gradient are multiplied by "
      f"{v['rms_factor_default']:.1e} (default) or {v['rms_factor_kaiming']:.1f} (Kaiming)")

# %% [markdown]
# So a plain ReLU network at PyTorch's default initialisation loses a factor $\sqrt{6}$ per layer, and that,
# not ReLU, is what kills it. A sigmoid is harder: $\sigma'(z) \le 1/4$ for every $z$, so the weights must make up
# a factor of at least 4 per layer, and larger weights push $z$ into the sigmoid's flat tails, where $\sigma'$ is
# smaller still (Glorot and Bengio 2010, Sec. 3.1, found deep sigmoid networks the hardest to train). Hard is not
# impossible: Pennington, Schoenholz and Ganguli (2017, *Resurrecting the sigmoid in deep learning through
# dynamical isometry*) showed that sigmoidal networks with **orthogonal** weights at a critical weight scale (and
# small biases) keep the gradient of the same size through very many layers, and train fast. None of the
# initialisations below is of that kind.
#
# **Exercise 4.** The table below compares networks by one number: the first layer's gradient norm divided by
# the last layer's. Write `gradient_ratio(norms)`, which returns it (the `norms` array is ordered from the input
# side to the output side, like the profiles above).

# %%
def gradient_ratio(norms):
    ### BEGIN SOLUTION
    return float(norms[0] / norms[-1])
    ### END SOLUTION


# %%
check_gradient_ratio(gradient_ratio)

# %% [markdown]
# Below: that ratio in 30-layer *plain* networks, for three activations under three common
# initialisations (median of three seeds). Each claim check below prints only whether the claim held for every
# seed; the cell above it prints each seed's *margin* (how far that seed lies on the claimed side of the claim's
# threshold; positive means it held).

# %% tags=["nbval-ignore-output"]
# Float32 products of 30 layers: their last digits (and whether a tiny value underflows to 0) differ between
# CPUs, so the notebook tests do not compare this output; the claim check below does the comparing.
activations = activation_table(("sigmoid", "tanh", "relu"), ("default", "xavier", "kaiming"), depth=30, seeds=SEEDS)
print(format_activation_table(activations))
margins = activation_claims(activations)
print(format_margins(margins))

# %%
check_claims(margins, {
    "sigmoid_vanishes": "a 30-layer plain sigmoid net's first-layer gradient is below 1e-6 of its last layer's under "
                        "each of the three inits tested",
    "relu_kaiming_healthy": "a 30-layer plain ReLU net at Kaiming init keeps it above 1e-2",
})


# %% [markdown]
# Sigmoid vanishes under each of the three initialisations tested here; ReLU and tanh vanish only at PyTorch's
# default, which is scaled for neither. Among the three activations and three initialisations here, sigmoid is
# the worst for deep plain networks; with an orthogonal initialisation at criticality (not tested here) Pennington
# et al. (2017) find that sigmoidal networks train well.
#
# ## How deep can each go? Vanishing, exploding, and two fixes
#
# The course's source article on residual connections (the one that opens "Residual connections, also known
# as skip connections, are a fundamental neural network architecture component") says in its comparison
# table that a traditional deep network is "limited to tens of layers before performance drops" while a
# residual one "can train hundreds or thousands of layers effectively". Here is the first layer's gradient at
# initialisation against depth, for ReLU networks of width 64: plain at the default and at Kaiming
# initialisation, plain with a BatchNorm before every linear layer, and the residual twins with an unscaled
# ($h + f(h)$) and a scaled ($h + s f(h)$) branch. Dots are seeds; the line goes through their median.

# %% tags=["nbval-ignore-output"]
# Float32 products through up to 128 layers: last digits, underflow to 0 and overflow differ between CPUs,
# so the notebook tests do not compare this output; the claim checks below do the comparing.
depths = (2, 8, 16, 32, 64, 128)
table = depth_table(depths, seeds=SEEDS)
print(format_depth_table(table, depths))
margins = depth_claims(table, depths)
print(format_margins(margins))
plot_depth_table(table, depths)

# %%
check_claims(margins, {
    "vanishing_default": "default init: the plain net's first-layer gradient is over 1e6 times smaller at depth 32 than at depth 2",
    "kaiming_healthy": "Kaiming init: the plain net's first-layer gradient stays within 100x of its depth-2 value up to depth 64",
    "batchnorm_grows": "with BatchNorm the plain net's first-layer gradient grows over 1000x from depth 2 to depth 64",
    "unscaled_explodes": "the unscaled residual net h + f(h) grows over 1000x from depth 2 to depth 64 (it explodes)",
    "scaled_flat": "the scaled residual net stays within 10x of its depth-2 value up to depth 128",
    "default_128_tiny": "default init: at depth 128 the plain net's first-layer gradient is below 1e-40 (or exactly 0)",
})


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
# initialisation. What residual networks gave was depth *plus* ease of optimisation, which is the next two
# sections' subject.
#
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
by_depth = shattered_vs_depth(shallow_to_deep, seeds=SEEDS)
j = len(shallow_to_deep) - 1  # the deepest net measured
print(f"depth {shallow_to_deep[j]}, median of {len(SEEDS)} seeds: neighbour correlation plain "
      f"{np.median(by_depth['plain'][:, j]):.2f}, "
      f"residual {np.median(by_depth['residual'][:, j]):.2f}; the plain net's dy/dx is "
      f"{np.median(by_depth['plain_std'][:, j] / by_depth['residual_std'][:, j]):.0f}x larger (standard deviations)")
margins = shattered_claims(by_depth, shallow_to_deep, at=32)
print(format_margins(margins))
plot_shattered(shattered_gradient_curves(depth=32), by_depth, shallow_to_deep)

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
#
# ## The degradation problem
#
# He et al. (2016, Sec. 1 and Fig. 1) found that *adding* layers to a plain network made it train *worse*:
# plain-56 reached a higher **training** error than plain-20 on CIFAR-10, although the deeper network could in
# principle copy the shallow one and set its extra layers to the identity. In Sec. 4.1 they argue that this is
# *not* vanishing gradients: their plain nets used BatchNorm, so "neither forward nor backward signals vanish";
# the deep plain nets are simply harder to optimise.
#
# At toy scale: plain and residual ReLU MLPs of depth 4, 32 and 64, all at **Kaiming** initialisation, plus the
# plain 32-layer net at PyTorch's default initialisation; 200 Adam steps each, three seeds: the same budget for
# every network. We report the loss on the whole training split after those steps (degradation is about
# training, not test, error) and the test accuracy. This cell takes most of the notebook's run time.

# %% tags=["nbval-ignore-output"]
# Trained numbers: their last digits differ between CPUs, so the notebook tests do not compare this output.
runs = degradation_experiment(seeds=SEEDS, steps=200)
print(degradation_summary(runs))
margins = degradation_claims(runs)
print(format_margins(margins))
plot_degradation(runs)

# %%
check_claims(margins, {
    "default_dead": "at the default init, plain-32 ends at chance (train loss within 0.05 of ln 10)",
    "kaiming_32_trains": "at Kaiming init, plain-32 learns (train loss below ln(10)/2)",
    "degrades_64": "at Kaiming init, after 200 steps plain-64's train loss is over 10x plain-4's",
    "healthy_64": "at step 0, plain-64's first-layer gradient is within 10x of its last layer's (no vanishing)",
    "residual_64": "after 200 steps, residual-64's train loss is over 10x lower than plain-64's",
})


# %% [markdown]
# Three different stories sit in this figure:
#
# - The default-init plain-32 never leaves chance level: that is the vanishing of the sections above (its signal
#   and gradient shrink by $\sqrt{6}$ per layer), an initialisation problem.
# - With Kaiming initialisation the same plain-32 learns; whether its training loss after 200 steps is above
#   plain-4's varies from seed to seed (margin `degrades_32` above), so we draw no conclusion from it. Plain-64's
#   is far above plain-4's in every seed, although at step 0 its first-layer gradient is of the same order as its
#   last layer's: this is not vanishing. It is **slower training at an equal budget**: every network got the same
#   200 steps, and plain-64's loss (left panel) is still far above the others' when they stop. The run does not
#   say where plain-64 would end if it were trained until its loss stopped falling. He et al. (2016, Sec. 4.1) compared *converged* networks with BatchNorm, found the deeper plain
#   net's training error higher, and conjectured that deep plain nets "may have exponentially low convergence
#   rates"; our toy run shows the slow part, not the end point.
# - The residual nets of the same depths, at the same initialisation, keep a low training loss at every depth (the
#   printed numbers): the 64-layer one ends with a training loss far below the plain 64-layer one's.
#
# If a "✗" appears above, that claim did not hold for every seed on your machine: read the numbers printed
# above it before trusting the sentence.

# %% [markdown]
# ## Summary
# - In a plain network the gradient of layer $l$ is a product of one Jacobian per layer above it. It **vanishes**
#   when the factors are below one: with sigmoid ($\sigma' \le 1/4$) under every initialisation tested here (an
#   orthogonal one at criticality can rescue it, Pennington et al. 2017), and with ReLU only at a badly scaled
#   initialisation such as PyTorch's default (variance 6x below Kaiming's $2/\text{fan-in}$).
# - A residual connection multiplies the gradient by $\prod_l (I + s J_l)$, not by the identity: with an
#   unscaled branch it **explodes**; branch scaling, normalisation or zero-initialised branches keep it in range.
# - A vanishing gradient is tiny, not zero (around $10^{-26}$ here; compute norms of tiny numbers in float64), but an
#   Adam or SGD step that small is far below the spacing of float32 weights: those layers do not move at all.
# - **Degradation** is a third phenomenon: with healthy gradients a deeper plain net trains more slowly: after the
#   same 200 steps its training loss is far higher; the residual net of the same depth does not lag like that.
# - "Plain networks are limited to tens of layers" is true at a bad initialisation, not in general.
#
# ## Going further
# - He, Zhang, Ren, Sun (2016), *Deep Residual Learning for Image Recognition*, Fig. 1 and Sec. 4.1 (degradation is an optimisation difficulty, not vanishing).
# - He, Zhang, Ren, Sun (2015), *Delving Deep into Rectifiers*, Sec. 2.2 (Kaiming initialisation) and Fig. 3 (a 30-layer plain net).
# - Glorot and Bengio (2010), *Understanding the difficulty of training deep feedforward neural networks*, Sec. 3.1.
# - Pennington, Schoenholz, Ganguli (2017), *Resurrecting the sigmoid in deep learning through dynamical isometry: theory and practice* (orthogonal weights at criticality).
# - Balduzzi et al. (2017), *The Shattered Gradients Problem: If resnets are the answer, then what is the question?*
# - Yang, Pennington, Rao, Sohl-Dickstein, Schoenholz (2019), *A Mean Field Theory of Batch Normalization*.
# - Xiao, Bahri, Sohl-Dickstein, Schoenholz, Pennington (2018), *Dynamical Isometry and a Mean Field Theory of CNNs: How to Train 10,000-Layer Vanilla Convolutional Neural Networks*.
# - Next: **02 · Residual blocks**.
