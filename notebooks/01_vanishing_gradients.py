# %% [markdown]
# # 01 · Vanishing gradients, degradation, and what `+ x` does about them
#
# Deep networks learn by backpropagation: the gradient for layer 1 is a *product* of one factor per layer
# above it, and a product of many factors below one shrinks exponentially. This notebook measures two
# phenomena that are often lumped together, and keeps them apart:
#
# - **vanishing gradients**: the gradient of some layers becomes many orders of magnitude smaller than that of
#   others;
# - **degradation**: a deeper plain network trains worse than a shallower one even when its gradients are
#   healthy (He et al. 2016, Sec. 4.1, call it an optimisation difficulty).
#
# The initialisation is a variable here, next to depth and the residual connection of He et al. (2016).
#
# **Learning objectives**
# 1. Explain with the chain rule why gradients vanish in a deep *plain* network, and why that depends on the initialisation as much as on the activation.
# 2. Measure per-layer gradient norms and read them on a log scale.
# 3. Write a residual layer and its plain twin, and predict which layer's gradient vanishes first.
# 4. Reproduce degradation at a good initialisation (a deeper plain net reaching a higher training loss at the same budget), read from learning curves over several seeds where they settle, and tell it apart from vanishing.

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

from course_lib.claims import check_claims, format_margins
from course_lib.lessons import setup_notebook
from course_lib.lessons import vanishing_gradients as lesson
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
lesson.check_sigmoid_derivative_max(max_slope)

# %% [markdown]
# ## Gradient norms, layer by layer
#
# `course_lib.DeepMLP` stacks `depth` identical layers $f_l(h) = \mathrm{act}(W_l h + b_l)$ of width 64 on the
# 8x8 digits. The *plain* network computes $h_{l+1} = f_l(h_l)$. Its *residual twin* is built from the very same
# layers (same weights) and differs only in a shortcut around each one, with a branch scale $s = 1/\sqrt{\text{depth}}$.
#
# **Exercise 2.** Write one layer of each twin, for a batch of hidden vectors `h` `[B, 64]` and one layer `f` (an
# `nn.Module`): `plain_layer(h, f)`, and `residual_layer(h, f, s)`, which must have two properties:
# with `s = 0` it is the identity (it returns `h` as it is), and its Jacobian is $I + s\,\partial f/\partial h$
# (the shortcut contributes $I$, the branch is scaled by $s$). The check runs your two functions through all 6 layers
# of a `DeepMLP` and of its plain twin, with the same weights, and compares them with `course_lib`'s own.

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
lesson.check_residual_layers(residual_layer, plain_layer)

# %% [markdown]
# Next: $\lVert \partial L / \partial W_l \rVert$ for every layer $l$ of 30 sigmoid layers at PyTorch's default
# initialisation, plain and residual twin, on one batch of 256 digits.
#
# **Exercise 3 (predict, then run).** Before you run the figure's cell: in the *plain* network, which layers get
# the smallest gradient, the `"first"` (next to the input), the `"middle"` or the `"last"` (next to the loss)?
# Write your prediction; the check after the figure compares it with the measurement.

# %%
### BEGIN SOLUTION
prediction = "first"
### END SOLUTION

# %% [markdown]
# The y-axis is logarithmic: each faint grid line is a factor of 10 (the labels skip some). The norms of the float32
# gradients are taken in float64.

# %%
lesson.show_gradient_profiles(depth=30, activation="sigmoid", init="default")

# %%
lesson.check_smallest_layer(prediction, lesson.layer_profile(depth=30, residual=False, activation="sigmoid", init="default"))

# %% [markdown]
# The plain network's gradient falls by many orders of magnitude from the last layer (right) to the first
# (left); the residual twin's stays within a small factor. Vanished means tiny, not zero. Whether such a layer
# still learns depends on the optimiser: Adam divides by $\sqrt{\hat v} + \epsilon$ with $\epsilon = 10^{-8}$
# (Kingma and Ba 2015, Algorithm 1), so a gradient far below $\epsilon$ gives a step of about
# $\text{lr} \cdot g / \epsilon$. When that is below half the gap between a float32 weight and its neighbour, the
# weight rounds back and does not move; the optional notebook 01b measures it, and what a smaller $\epsilon$ does.
#
# A source article says residual connections let "gradients flow directly through layers". Not quite: the residual layer's Jacobian is $I + s\, J_l$ with $J_l = \partial f_l / \partial h_l$, so the gradient
# reaching layer 1 is multiplied by $\prod_l (I + s J_l)$, the identity **plus** every product of the $s J_l$. With
# $s = 1/\sqrt{\text{depth}}$ the extra terms stay moderate; with $s = 1$ they can add up, and for ReLU layers
# the gradient *explodes* (notebook 01b measures it).
#
# Try it yourself: depth, activation, **initialisation** (`kaiming` is He et al. 2015's variance
# $2/\text{fan-in}$ for ReLU), normalisation and branch scaling. It starts at 30 ReLU layers, default initialisation.
# Where a deep plain curve flattens near $10^{-38}$ in the first layers, you see float32, not the network:
# $1.2 \times 10^{-38}$ is float32's smallest normal number, below which the backward pass loses precision and then
# underflows to exactly 0 (the triangles).

# %% tags=["nbval-ignore-output"]
# A live figure: built once, its lines redrawn in place; profiles are computed once per setting. Not compared in tests.
LiveFigure(lesson.GradientProfilesView(),
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
lesson.show_gradient_profiles(depth=30, activation="relu", init="kaiming")

# %% [markdown]
# ## Is it the activation or the initialisation?
#
# PyTorch's `nn.Linear` draws $W \sim U(-b, b)$ with $b = 1/\sqrt{\text{fan-in}}$, a variance of
# $1/(3\,\text{fan-in})$. A ReLU layer multiplies the mean square of the signal, forward and backward, by
# $\text{fan-in} \cdot \mathrm{Var}(W)/2$; He et al. (2015, Sec. 2.2) chose $\mathrm{Var}(W) = 2/\text{fan-in}$ to
# make it 1. For our width 64:

# %%
v = lesson.init_variance(fan_in=64, depth=32)
print(f"Var(W): default {v['var_default']:.5f}, Kaiming {v['var_kaiming']:.5f} ({v['ratio']:.0f}x larger)")
print(f"per ReLU layer the mean square is multiplied by {v['gain_default']:.3f} (default) or {v['gain_kaiming']:.3f} (Kaiming)")
print(f"after 32 layers the root-mean-square signal and gradient are multiplied by "
      f"{v['rms_factor_default']:.1e} (default) or {v['rms_factor_kaiming']:.1f} (Kaiming)")

# %% [markdown]
# So a plain ReLU network at PyTorch's default initialisation loses a factor $\sqrt{6}$ per layer, and that,
# not ReLU, is what kills it. A sigmoid is harder: $\sigma'(z) \le 1/4$, so the weights must make up a factor of
# at least 4 per layer, and larger weights push $z$ into the flat tails where $\sigma'$ is smaller still (Glorot and
# Bengio 2010, Sec. 3.1, watch sigmoid units saturate during training). Hard is not impossible: Pennington,
# Schoenholz and Ganguli (2017) keep zero-centred sigmoidal (tanh-like) networks' gradients alive through many
# layers with **orthogonal** weights at a critical scale, an initialisation not tested below.
#
# **Exercise 4.** Summarise a gradient profile by one number: how many powers of ten the gradient loses, on
# average, per layer on its way from the last layer down to the first. Write `orders_per_layer(norms)`, where
# `norms` holds one norm per layer, ordered from the input side to the output side like the profiles above. A
# profile that falls from 1 at the last layer to $10^{-20}$ at the first, over 11 layers, loses 2 per layer.

# %%
def orders_per_layer(norms):
    ### BEGIN SOLUTION
    return float(np.log10(norms[-1] / norms[0]) / (len(norms) - 1))
    ### END SOLUTION


# %%
lesson.check_orders_per_layer(orders_per_layer)

# %% [markdown]
# With the course's version of it, the 30-layer plain sigmoid network above loses this many powers of ten per
# layer, and the same network
# at Kaiming initialisation with ReLU:

# %% tags=["nbval-ignore-output"]
# Float32 products of 30 layers: their last digits differ between CPUs, so the tests do not compare this output.
for activation, init in (("sigmoid", "default"), ("relu", "kaiming")):
    norms = lesson.layer_profile(depth=30, residual=False, activation=activation, init=init)
    print(f"{activation}, {init} init: {round(lesson.orders_per_layer(norms), 1) + 0.0:.1f} powers of ten per layer")

# %% [markdown]
# Below, for 30-layer *plain* networks under three activations and three common initialisations (median of three
# seeds), the first layer's gradient norm divided by the last layer's. Each claim check below prints only whether
# the claim held for every seed; the cell above it prints each seed's *margin* (how far that seed lies on the
# claimed side of the claim's threshold; positive means it held). Here both margins are in powers of ten.

# %% tags=["nbval-ignore-output"]
# Float32 products of 30 layers: their last digits (and whether a tiny value underflows to 0) differ between
# CPUs, so the notebook tests do not compare this output; the claim check below does the comparing.
activations = lesson.activation_table(("sigmoid", "tanh", "relu"), ("default", "xavier", "kaiming"), depth=30, seeds=SEEDS)
print(lesson.format_activation_table(activations))
margins = lesson.activation_claims(activations)
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
# et al. (2017) find that tanh-like networks train well. How deep each kind of network can go, and what makes a
# gradient *explode* instead, is the subject of the optional notebook 01b.
#
# ## The degradation problem
#
# He et al. (2016, Sec. 1 and Fig. 1) found that *adding* layers to a plain network made it train *worse*:
# plain-56 reached a higher **training** error than plain-20 on CIFAR-10, although it could in principle copy the
# shallow one and set its extra layers to the identity. Their plain nets used BatchNorm, so "neither forward nor
# backward signals vanish" (Sec. 4.1): the deep plain nets are harder to optimise.
#
# At toy scale: plain and residual ReLU MLPs of depth 4, 32 and 64 at **Kaiming** initialisation, plus plain-32 at
# PyTorch's default; 200 Adam steps each (the same budget for all), three seeds. We report the loss on the whole
# training split (degradation is about training error), the test accuracy, and each claim's margin per seed
# (`default_dead` and `kaiming_32_trains` in units of loss, the others in powers of ten). This cell takes most of
# the notebook's run time.

# %% tags=["nbval-ignore-output"]
# Trained numbers: their last digits differ between CPUs, so the notebook tests do not compare this output.
runs = lesson.degradation_experiment(seeds=SEEDS, steps=200)
print(lesson.degradation_summary(runs))
margins = lesson.degradation_claims(runs)
print(format_margins(margins))
lesson.plot_degradation(runs)

# %%
check_claims(margins, {
    "default_dead": "at the default init, plain-32 ends at chance (train loss within 0.05 of ln 10)",
    "kaiming_32_trains": "at Kaiming init, plain-32 learns (train loss below ln(10)/2)",
    "degrades_64": "at Kaiming init, after 200 steps plain-64's train loss is over 10x plain-4's",
    "healthy_64": "at step 0, plain-64's first-layer gradient is within 10x of its last layer's (no vanishing)",
    "residual_64": "after 200 steps, residual-64's train loss is over 10x lower than plain-64's",
})

# %% [markdown]
# The default-init plain-32 stays at chance: vanishing, an initialisation problem. At Kaiming initialisation
# plain-64 is far behind plain-4 after 200 steps, with healthy gradients at step 0. But He et al. compared
# networks trained to the end, and our losses still fall. Is plain-64 only *slower*, or does it *end* worse?
#
# ## Learning curves, to the end
#
# The same nets at depths 4 to 64, five seeds each, trained to 3,200 Adam steps (plain-32 and plain-64 to 6,400)
# and shipped with the course (`python -m course_lib study degradation`). Lines: geometric mean over seeds; bands:
# where a *new* seed lands 95% of the time; crosses: your runs above. Beside them: chance, and a linear classifier
# fitted to convergence. A loss below 0.001 is drawn at 0.001: the net fits its training digits.

# %% tags=["nbval-ignore-output"]
# A live figure (widget): built once, only the marker and the values redrawn. Not compared in tests.
meta, curves = lesson.load_degradation_curves()
lesson.degradation_curves_widget(meta, curves, runs)

# %% tags=["nbval-ignore-output"]
# Compares your trained numbers with the shipped bands: not compared in tests.
lesson.check_live_degradation(curves, runs)

# %% [markdown]
# The verdicts: "ahead at a budget", paired by seed; "ends better" only where both curves have stopped moving,
# otherwise "not settled by N steps".

# %%
print(lesson.degradation_verdicts(curves))
check_claims(lesson.shipped_degradation_claims(curves), {
    "slower_64": "plain-64's train loss is over 10x plain-4's at 200 and at 800 steps",
    "residual_64_keeps_up": "residual-64's train loss is within 10x of residual-4's at 200 steps",
})

# %% [markdown]
# Plain-64 is far slower: over 10x plain-4's loss at 200 and 800 steps on every seed, its seeds spread over orders
# of magnitude (the wide band). By 6,400 steps four of five seeds fit their training digits, but the fifth is
# still above the linear classifier, so where plain-64 ends is *not settled by 6,400 steps*. The slowdown is
# what He et al. (2016, Sec. 4.1) conjecture ("exponentially low convergence rates"); they also trained 3x longer
# and still saw their plain-56 end higher on CIFAR-10 (footnote 3), which our small run can neither confirm nor
# rule out. The residual nets keep up at every depth.
#
# ## What the gradient norms do not show
#
# A gradient norm averages over directions. Pennington, Schoenholz and Ganguli (2017) look at all of them: the
# singular values of the input-output Jacobian $\partial h_L / \partial h_0$. Kaiming's initialisation keeps their
# *mean square* of order one, but ReLU networks cannot keep them all near 1 ("dynamical isometry"): their spread
# grows with depth. Measured at initialisation for the ReLU nets at Kaiming init above (float64, three seeds,
# four input digits each):

# %%
print(lesson.format_jacobian_spectrum(lesson.jacobian_spectrum(seeds=(0, 1, 2), n_inputs=4)))

# %% [markdown]
# The plain nets keep a mean square of order one while the share of directions their Jacobian keeps falls with
# depth; the residual nets keep far more (their mean square grows with depth: each branch adds to it). This is a
# candidate cause of the slowdown, consistent with Pennington et al., that gradient norms cannot see; it is not
# the whole story (plain-4 keeps fewer directions than residual-4 and still trains as fast).
#
# ## Summary
# - In a plain network the gradient of layer $l$ is a product of one Jacobian per layer above it. It **vanishes**
#   when the factors are below one: with sigmoid under the three initialisations tested here, and with ReLU only at
#   a badly scaled initialisation such as PyTorch's default (variance 6x below Kaiming's $2/\text{fan-in}$).
# - A vanishing gradient is tiny, not zero; whether a weight moves depends on Adam's $\epsilon$ and float32.
# - A residual layer multiplies the gradient by $I + s J_l$: the identity keeps it alive; the branch scale keeps it
#   from exploding.
# - **Degradation** is another phenomenon: with healthy gradient norms, a deeper plain net trains far more slowly;
#   the residual net of the same depth does not lag. Whether plain-64 ends worse is not settled by 6,400 steps here.
# - "Plain networks are limited to tens of layers" is true at a bad initialisation; at a good one the limit seen
#   here is speed, with the spread of the Jacobian's singular values as a candidate cause the norm hides.
#
# ## Going further
# - He, Zhang, Ren, Sun (2016), *Deep Residual Learning for Image Recognition*, Fig. 1 and Sec. 4.1.
# - He, Zhang, Ren, Sun (2015), *Delving Deep into Rectifiers*, Sec. 2.2 (Kaiming initialisation).
# - Glorot and Bengio (2010), *Understanding the difficulty of training deep feedforward neural networks*, Sec. 3.1.
# - Pennington, Schoenholz, Ganguli (2017), *Resurrecting the sigmoid in deep learning through dynamical isometry*,
#   (ReLU networks cannot reach dynamical isometry; tanh-like ones can, with orthogonal weights).
# - Optional: **01b · Gradient pathologies** (tiny, exploding and shattered gradients). Next: **02 · Residual blocks**.
