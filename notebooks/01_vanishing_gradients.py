# %% [markdown]
# # 01 · Vanishing gradients, degradation, and what `+ x` does about them
#
# This notebook measures two phenomena often lumped together, and keeps them apart:
#
# - **vanishing gradients**: some layers' gradients become many orders of magnitude smaller than others';
# - **degradation**: a deeper plain network ends at a *higher training error* than a shallower one (He et al. 2016,
#   Sec. 1 and Fig. 1), even where no signal vanishes (Sec. 4.1).
#
# **Learning objectives**
# 1. Use the chain rule to explain how depth, activation and initialisation set each layer's gradient in a *plain* network.
# 2. Measure per-layer gradient norms and read them on a log scale.
# 3. Write a residual layer and its plain twin; predict, then measure, where a deep plain net's gradient is smallest.
# 4. From learning curves over seeds, tell whether a deep plain net at a good initialisation trains slower or ends
#    worse, and tell either apart from vanishing.

# %% [markdown] tags=["instructor"]
# ## Instructor's plan (50 minutes)
#
# The class separates two things students lump together: vanishing gradients (an initialisation and activation
# problem, fixed by `+ x`) and the slowdown of deep plain nets whose gradients are healthy at step 0 (He et al.'s
# conjectured cause of degradation; whether ours ends worse stays open). Run the notebook once before class: the
# degradation cell takes most of its minute.
#
# **Timeline**
#
# | minutes | part | cells | what happens |
# |---|---|---|---|
# | 0-4 | Objectives | title | The two phenomena, named apart. |
# | 4-8 | The chain rule, exercise 1 | `max_slope`, its check | One factor $\mathrm{diag}(\sigma') W_l$ per layer; the class finds $\max \sigma'$. |
# | 8-16 | Exercise 2 | `residual_layer`, `plain_layer`, their check | Live-code the twins (below). |
# | 16-22 | Exercise 3 | `prediction`, the profile figure, its check | Stop, predict, run, discuss the log axis. |
# | 22-28 | The widget | `GradientProfilesView`, the ReLU Kaiming profile | "Flow directly" corrected; init (define `xavier`), activation, depth, the float32 floor; predict the ReLU Kaiming profile. |
# | 28-34 | Activation or initialisation? | `init_variance`, exercise 4, `backward_split` | The backpropagated signal loses $\sqrt{6}$ per ReLU layer at the default init; students write `orders_per_layer`; why the weight gradient loses less. |
# | 34-38 | The table of nine | `activation_table`, its claims | Sigmoid vanishes under each of the three inits tested (not under orthogonal weights at a critical scale, Pennington et al. 2017); ReLU and tanh only at the default. |
# | 38-46 | Degradation | `degradation_experiment`, learning curves, verdicts | Predict, run (most of the notebook's run time), predict again, read the curves and the verdicts. |
# | 46-50 | Summary (Jacobian as take-home) | summary, `jacobian_spectrum` | The two questions below; if time is short, the Jacobian section is reading for home. |
#
# **Live-code.**
# - Exercise 2: type `plain_layer` first (`return f(h)`), then `residual_layer` as `h + s * f(h)`. Say: "the twins
#   share every weight; the only difference is `+ h`. The scale sits on the branch, so `s = 0` gives the identity, and
#   the Jacobian is $I + s J$." Run the check with `s * (h + f(h))` first to show a diagnosis.
# - Exercise 4: type `np.log10(norms[-1] / norms[0]) / (len(norms) - 1)`. Say: "powers of ten are log10; n layers
#   have n - 1 steps between them; the path runs from the last layer to the first, whatever happens in between."
# - On the board, not in code: $\mathrm{Var}(W) = b^2/3 = 1/(3 \cdot 64)$ for the default init, and the ReLU gain
#   $64 \cdot \mathrm{Var}(W)/2 = 1/6$, before running `init_variance`.
#
# **Predict before running.**
# - Exercise 3 (where is the plain sigmoid net's gradient smallest?): most say "first"; some say "last", reasoning
#   from the forward pass (the signal fades on its way up). Ask them where the loss sits.
# - The 30-layer ReLU profile at Kaiming init (the prompt before it; its figure is cleared in the student copy): many
#   expect ReLU to vanish like sigmoid; it stays flat.
# - The degradation run (the prompt before it; its outputs and claims are cleared in the student copy): "at Kaiming
#   init, will plain-64 reach plain-4's training loss in 200 steps?" Many say it cannot train because of vanishing;
#   `healthy_64` shows its gradients are fine at step 0, yet it lags far behind.
# - The learning curves (the prompt before them; the curves and verdicts are cleared in the student copy): "given 32x
#   the steps, does plain-64 catch up with plain-4?" Expect a split; the verdict is "not settled by 6,400 steps": four
#   of five seeds fit their training digits, the fifth does not.
#
# **Common mistakes** (from the checks' diagnoses):
# - exercise 1: 0.5 (the sigmoid's value at 0, not its slope), 1, or $\sigma'(1) \approx 0.197$;
# - exercise 2: the branch not scaled; `s` on the whole sum or on the shortcut; `s` inside `f`; no shortcut; a plain
#   layer that keeps a shortcut or a branch scale;
# - exercise 3: "last" (the forward pass in mind) or "middle";
# - exercise 4: the sign flipped; the natural log; dividing by n instead of n - 1; the total instead of the per-step
#   loss; the largest over the smallest norm instead of the two ends; a ratio with no logarithm.
#
# **Two questions to ask.**
# 1. "A blog says residual connections let gradients flow directly through layers. What does the chain rule say?"
#    A good answer: the gradient at layer 1 is multiplied by $\prod_l (I + s J_l)$, the identity plus every product
#    of branch Jacobians; the identity keeps it alive, and the branch scale keeps the extra terms from exploding.
# 2. "Plain-64 at Kaiming init has healthy gradient norms at step 0 and still lags. Is that vanishing? Is it He et
#    al.'s degradation?" A good answer: not vanishing; a slowdown, an optimisation difficulty (a norm averages over
#    directions, and the Jacobian's singular values spread with depth). Degradation is a higher training error at
#    the end: to show it you need curves that have stopped moving, compared over seeds, which the shipped 6,400
#    steps do not give for plain-64. He et al. also used BatchNorm; these nets have none.

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

# %% answers=["0.25", "1/4", "1 / 4"]
### BEGIN SOLUTION
max_slope = 0.25
### END SOLUTION

# %%
lesson.check_sigmoid_derivative_max(max_slope)

# %% [markdown]
# ## Gradient norms, layer by layer
#
# `course_lib.DeepMLP` stacks `depth` identical layers $f_l(h) = \mathrm{act}(W_l h + b_l)$, with no BatchNorm or
# other normalisation, on the 8x8 digits. The *plain* network computes $h_{l+1} = f_l(h_l)$; its *residual twin* uses the very same layers
# (same weights) plus a shortcut around each, with a branch scale $s = 1/\sqrt{\text{depth}}$.
#
# **Exercise 2.** Write one layer of each twin, for hidden vectors `h` `[B, width]` and a layer `f` (an `nn.Module`):
# `plain_layer(h, f)`, and `residual_layer(h, f, s)`, which must be the identity when `s = 0` and have the Jacobian
# $I + s\,\partial f/\partial h$. The check compares both with `course_lib`'s twins through 6 layers.

# %% answers=["h + s * f(h)", "s * f(h) + h", "h + s*f(h)"]
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
# initialisation, plain and residual twin, on one batch of digits (the title gives width and batch).
#
# **Exercise 3 (predict, then run).** In the *plain* network, which layers get the smallest gradient: `"first"`
# (next to the input), `"middle"` or `"last"` (next to the loss)? Write it before running the figure.

# %% answers=["shrinks exponentially", "smallest gradient is in the first", "smallest in the first", "first layers' gradient"]
### BEGIN SOLUTION
prediction = "first"
### END SOLUTION

# %% [markdown]
# The y-axis is logarithmic: each faint grid line is a factor of 10 (the labels skip some).

# %%
lesson.show_gradient_profiles(depth=30, activation="sigmoid", init="default")

# %%
lesson.check_smallest_layer(prediction, lesson.layer_profile(depth=30, residual=False, activation="sigmoid", init="default"))

# %% [markdown]
# The plain network's gradient falls by many orders of magnitude from the last layer (right) to the first (left);
# the residual twin's stays within a small factor.
#
# A source article says residual connections let "gradients flow directly through layers". Not quite: the residual
# layer's Jacobian is $I + s\, J_l$ with $J_l = \partial f_l / \partial h_l$, so the gradient reaching layer 1 is
# multiplied by $\prod_l (I + s J_l)$, the identity **plus** every product of the $s J_l$. With
# $s = 1/\sqrt{\text{depth}}$ the extra terms stay moderate; with $s = 1$ ReLU layers make the gradient *explode*
# (notebook 01b).
#
# Initialisations in the widget: `kaiming`, variance $2/\text{fan-in}$ (He et al. 2015); `xavier`,
# $2/(\text{fan-in} + \text{fan-out})$ (Glorot and Bengio 2010) times PyTorch's gain$^2$ for the activation (1 for
# sigmoid, 25/9 for tanh, 2 for ReLU). A plain curve flattening near $10^{-38}$ is float32's smallest normal number,
# not the network: below it gradients underflow to 0 (triangles).

# %% tags=["nbval-ignore-output"]
# A live figure: built once, its lines redrawn in place; profiles are computed once per setting. Not compared in tests.
LiveFigure(lesson.GradientProfilesView(),
           depth=IntSlider(value=30, min=2, max=100, step=2, continuous_update=False),
           activation=Dropdown(options=["sigmoid", "tanh", "relu", "gelu"], value="relu"),
           init=Dropdown(options=["default", "kaiming", "xavier", "orthogonal"], value="default"),
           residual=Checkbox(value=True, description="show residual twin"),
           scale_branch=Checkbox(value=True, description="scale branch by 1/sqrt(depth)"),
           norm=Dropdown(options=["none", "layer", "batch"], value="none"))

# %% [markdown] answers=["stays flat", "does not vanish"]
# At the widget's starting setting the plain ReLU network's gradient vanishes too. **Predict:** at Kaiming
# initialisation, do the same 30 ReLU layers vanish like the sigmoid ones?

# %% tags=["spoiler"]
lesson.show_gradient_profiles(depth=30, activation="relu", init="kaiming")

# %% [markdown]
# ## Is it the activation or the initialisation?
#
# PyTorch's `nn.Linear` draws $W \sim U(-b, b)$ with $b = 1/\sqrt{\text{fan-in}}$, a variance of
# $1/(3\,\text{fan-in})$. A ReLU layer multiplies the mean square of the signal, forward and backward, by
# $\text{fan-in} \cdot \mathrm{Var}(W)/2$; He et al. (2015, Sec. 2.2) chose $\mathrm{Var}(W) = 2/\text{fan-in}$ to
# make it 1. For our nets:

# %%
v = lesson.init_variance(fan_in=64, depth=30)
print(f"fan-in 64. Var(W): default {v['var_default']:.5f}, Kaiming {v['var_kaiming']:.5f} ({v['ratio']:.0f}x larger), "
      f"xavier with ReLU's gain {v['var_xavier_relu']:.5f}")
print(f"per ReLU layer the mean square is multiplied by {v['gain_default']:.3f} (default) or {v['gain_kaiming']:.3f} "
      f"(Kaiming): {v['orders_per_step_default']:.2f} powers of ten per layer for the default's root mean square")
print(f"from layer 30 down to layer 1 (29 steps) the root-mean-square gradient is multiplied by "
      f"{v['rms_factor_default']:.1e} (default) or {v['rms_factor_kaiming']:.1f} (Kaiming)")

# %% [markdown]
# So at PyTorch's default initialisation the plain ReLU network's gradient loses a factor $\sqrt{6}$ per layer: the
# initialisation, not ReLU, kills it. A sigmoid is harder: $\sigma'(z) \le 1/4$, so the weights must make up a
# factor of at least 4 per layer, and larger weights push $z$ into the flat tails, where $\sigma'$ is smaller still
# (saturation, observed by Glorot and Bengio 2010, Sec. 3.1). Orthogonal weights at a critical scale keep tanh-like
# nets alive (Pennington et al. 2017; not tested here).
#
# **Exercise 4.** Write `orders_per_layer(norms)`: the powers of ten the gradient loses, on average, per layer from
# the last layer down to the first, with `norms` ordered input side first like the profiles. A profile falling from
# 1 at the last layer to $10^{-20}$ at the first, over 11 layers, loses 2 per layer.

# %% answers=["log10(norms[-1] / norms[0])", "log10(norms[-1]/norms[0])", "len(norms) - 1"]
def orders_per_layer(norms):
    ### BEGIN SOLUTION
    return float(np.log10(norms[-1] / norms[0]) / (len(norms) - 1))
    ### END SOLUTION


# %%
lesson.check_orders_per_layer(orders_per_layer)

# %% [markdown]
# With the course's version: the 30-layer plain nets above, then the ReLU one at the default init split into the
# two factors of $\partial L / \partial W_l = \delta_l h_{l-1}^\top$:

# %% tags=["nbval-ignore-output"]
# Float32 products of 30 layers: their last digits differ between CPUs, so the tests do not compare this output.
for activation, init in (("sigmoid", "default"), ("relu", "kaiming"), ("relu", "default")):
    norms = lesson.layer_profile(depth=30, residual=False, activation=activation, init=init)
    print(f"{activation}, {init} init: {round(lesson.orders_per_layer(norms), 1) + 0.0:.1f} powers of ten per layer")
print(lesson.format_backward_split(lesson.backward_split(depth=30, activation="relu", init="default")))

# %% [markdown]
# The backpropagated $\delta$ loses the predicted 0.4 per layer; the weight gradient only 0.3: it also carries the
# layer's input, which shrinks over the first layers (69 to 8 by layer 6), then stays level, held by the biases the
# theory leaves out. Hence the widget's flat plain ReLU curve over layers 1-5.
#
# Below: 30-layer *plain* networks, three activations by three initialisations, the first layer's gradient norm over
# the last layer's (median of three seeds). Each seed's *margin* is how far it lies on the claimed side of a claim's
# threshold (in powers of ten; positive: it held).

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


# %% [markdown] answers=["far behind"]
# Sigmoid, the worst of the three, vanishes under each initialisation tested; ReLU and tanh only at PyTorch's
# default, scaled for neither.
#
# ## The degradation problem
#
# He et al. (2016, Sec. 1 and Fig. 1) found that *adding* layers to a plain network raised its **training** error:
# plain-56 above plain-20 on CIFAR-10, although it could copy the shallow one and set its extra layers to the
# identity. With BatchNorm, "neither forward nor backward signals vanish" (Sec. 4.1): deep plain nets are harder to
# optimise. Our nets have no BatchNorm; Kaiming initialisation keeps their gradients healthy at step 0.
#
# At toy scale: plain and residual ReLU MLPs of depth 4, 32 and 64 at **Kaiming** initialisation, plus plain-32 at
# the default; 200 Adam steps, three seeds. Below: training loss, test accuracy and each claim's margin per
# seed (`default_dead` and `kaiming_32_trains` in loss units, the others in powers of ten). **Predict:** at Kaiming
# init, will plain-64 reach plain-4's training loss in 200 steps?

# %% tags=["spoiler", "nbval-ignore-output"]
# Trained numbers: their last digits differ between CPUs, so the notebook tests do not compare this output.
runs = lesson.degradation_experiment(seeds=SEEDS, steps=200)
print(lesson.degradation_summary(runs))
margins = lesson.degradation_claims(runs)
print(format_margins(margins))
lesson.plot_degradation(runs)

# %% tags=["spoiler"]
check_claims(margins, {
    "default_dead": "at the default init, plain-32 ends at chance (train loss within 0.05 of ln 10)",
    "kaiming_32_trains": "at Kaiming init, plain-32 learns (train loss below ln(10)/2)",
    "degrades_64": "at Kaiming init, after 200 steps plain-64's train loss is over 10x plain-4's",
    "healthy_64": "at step 0, plain-64's first-layer gradient is within 10x of its last layer's (no vanishing)",
    "residual_64": "after 200 steps, residual-64's train loss is over 10x lower than plain-64's",
})

# %% [markdown] answers=["not settled"]
# The default-init plain-32 stays at chance: vanishing. At Kaiming initialisation plain-64 is far behind plain-4
# after 200 steps, with healthy gradients at step 0. But He et al. compared networks trained to the end, and our
# losses still fall: is plain-64 only *slower*, or does it *end* worse?
#
# ## Learning curves, to the end
#
# The same nets at depths 4 to 64, five seeds each, trained to 3,200 Adam steps (plain-32 and plain-64 to 6,400),
# shipped with the course (`python -m course_lib study degradation`). Lines: geometric mean over seeds; bands: where a
# *new* seed lands 95% of the time; crosses: your runs; grey: chance and a converged linear classifier. A loss below
# 0.001 is drawn at 0.001: the net fits its training digits. The slider reads every curve at one budget.
# **Predict:** given 32x the steps, does plain-64 catch up with plain-4?

# %% tags=["spoiler", "nbval-ignore-output"]
# A live figure (widget): built once, only the marker and the values redrawn. Not compared in tests.
meta, curves = lesson.load_degradation_curves()
lesson.degradation_curves_widget(meta, curves, runs)

# %% tags=["nbval-ignore-output"]
# Compares your trained numbers with the shipped bands: not compared in tests.
lesson.check_live_degradation(curves, runs)

# %% [markdown]
# The verdicts: "ahead at a budget", paired by seed; "ends better" only where both curves have stopped moving,
# otherwise "not settled by N steps"; curves both below 0.001 are not compared.

# %% tags=["spoiler"]
print(lesson.degradation_verdicts(curves))
check_claims(lesson.shipped_degradation_claims(curves), {
    "slower_64": "plain-64's train loss is over 10x plain-4's at 200 and at 800 steps",
    "residual_64_keeps_up": "residual-64's train loss is within 10x of residual-4's at 200 steps",
})

# %% [markdown]
# Plain-64 is far slower: over 10x plain-4's loss at 200 and 800 steps on every seed. By 6,400 steps four of five seeds fit their training digits, but the fifth is still above the linear
# classifier: where plain-64 ends is *not settled by 6,400 steps*. Plain-32 ends below 0.001 like plain-4: no
# degradation in He et al.'s sense here. The slowdown is what He et al. conjecture ("exponentially low convergence
# rates", Sec. 4.1); on ImageNet their plain-34 still trained worse than plain-18 after 3x more iterations (footnote
# 3), which our small run cannot test. Residual nets keep up at every depth.
#
# ## What the gradient norms do not show
#
# A norm averages over directions. Pennington et al. (2017) look at all of them: the singular values of the
# input-output Jacobian $\partial h_L / \partial h_0$; ReLU networks cannot keep them all near 1 ("dynamical
# isometry"). At initialisation, for the Kaiming ReLU nets above (float64, three seeds, four digits each):

# %%
print(lesson.format_jacobian_spectrum(lesson.jacobian_spectrum(seeds=(0, 1, 2), n_inputs=4)))

# %% [markdown]
# The plain nets keep a mean square of order one while the share of directions kept falls with depth; the residual
# nets keep far more. A candidate cause of the slowdown that norms cannot see, but not the whole story: plain-4
# keeps fewer directions than residual-4 and trains as fast.
#
# ## Summary
# - A plain network's gradient at layer $l$ is a product of one Jacobian per layer above it. It **vanishes** with
#   sigmoid under the three initialisations tested, and with ReLU only at a badly scaled one such as PyTorch's
#   default (variance 6x below Kaiming's).
# - A residual layer multiplies the gradient by $I + s J_l$: the identity keeps it alive; the branch scale keeps it
#   from exploding.
# - At Kaiming init, with gradients healthy at step 0 and no BatchNorm, plain-64 falls far behind plain-4 by 200-800
#   steps; whether it ends worse (He et al.'s **degradation**) is not settled by 6,400 steps. Residual-64 keeps up.
# - "Plain networks are limited to tens of layers" holds at a bad initialisation; at a good one the limit here is
#   speed.
#
# ## Going further
# - He, Zhang, Ren, Sun (2016), *Deep Residual Learning for Image Recognition*, Fig. 1 and Sec. 4.1.
# - He, Zhang, Ren, Sun (2015), *Delving Deep into Rectifiers*, Sec. 2.2 (Kaiming initialisation).
# - Glorot and Bengio (2010), *Understanding the difficulty of training deep feedforward neural networks*, Sec. 3.1
#   (saturation) and 4.2 (`xavier`).
# - Pennington, Schoenholz, Ganguli (2017), *Resurrecting the sigmoid in deep learning through dynamical isometry*.
# - Kingma and Ba (2015), *Adam*, Algorithm 1: why a tiny gradient may not move a float32 weight (01b measures it).
# - Optional: **01b · Gradient pathologies**. Next: **02 · Residual blocks**.
