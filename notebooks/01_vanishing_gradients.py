# %% [markdown]
# # 01 · Vanishing gradients, and why `+ x` fixes them
#
# Deep networks are trained by backpropagation: the gradient for layer 1 is a *product* of one factor
# per layer above it. A product of many factors smaller than one shrinks exponentially; larger than
# one, it explodes. This notebook lets you watch both happen, and watch the residual connection of
# He et al. (2016), `h + f(h)`, keep the gradient alive.
#
# **Learning objectives**
# 1. Explain with the chain rule why gradients vanish in a deep *plain* network (and why sigmoid is worst).
# 2. Measure per-layer gradient norms and read them on a log scale.
# 3. See that an *unscaled* residual stack explodes instead, and that real residual networks tame it (branch scaling, normalisation).
# 4. Reproduce the degradation problem: a deeper plain network trains *worse* than a shallow one; a deeper residual one does not.

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
import numpy as np
from ipywidgets import Checkbox, Dropdown, IntSlider, interact

from course_lib.exercises import check_gradient_ratio, check_sigmoid_derivative_max
from course_lib.notebook import setup_notebook
from course_lib.vanishing import (
    degradation_experiment,
    first_layer_table,
    plot_shattered,
    plot_training_losses,
    shattered_gradient_curves,
    show_gradient_profiles,
)

device = setup_notebook(seed=0)

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
# same layers (same weights), computes $h_{l+1} = h_l + s\, f_l(h_l)$ with $s = 1/\sqrt{\text{depth}}$.
# For one batch of 256 digits we plot $\lVert \partial L / \partial W_l \rVert$ for every layer $l$.
# Below: 30 sigmoid layers.

# %%
show_gradient_profiles(depth=30, activation="sigmoid")

# %% [markdown]
# The plain network's gradient (blue) falls by many orders of magnitude from the last layer (right) to
# the first (left): the first layers barely learn. The residual twin's gradient (orange) is nearly flat,
# because its Jacobian is $I + s\, \partial f_l / \partial h_l$: the identity term carries the gradient
# past every layer untouched.
#
# Try it yourself: change the depth, the activation, the initialisation, and switch off the branch
# scaling to see what an *unscaled* residual stack does.

# %% tags=["nbval-ignore-output"]
# Widget output lives inside the widget, where the notebook tests cannot compare it.
interact(show_gradient_profiles,
         depth=IntSlider(value=30, min=2, max=100, step=2),
         activation=Dropdown(options=["sigmoid", "tanh", "relu", "gelu"], value="sigmoid"),
         init=Dropdown(options=["default", "xavier", "kaiming", "orthogonal"], value="default"),
         residual=Checkbox(value=True, description="show residual"),
         scale_branch=Checkbox(value=True, description="scale branch 1/sqrt(depth)"),
         norm=Dropdown(options=["none", "layer", "batch"], value="none"));

# %% [markdown]
# ## How deep can each go? Vanishing, exploding and the fix
#
# The seed article `002` claims plain networks are "limited to tens of layers" while residual networks
# "can train hundreds or thousands". Here is the first layer's gradient norm against depth, ReLU
# activations and PyTorch's default initialisation, for three networks: plain, residual with an
# unscaled branch ($h + f(h)$), and residual with the $1/\sqrt{\text{depth}}$ branch scale.

# %%
depths = (2, 8, 16, 32, 64, 128)
plain_and_scaled = first_layer_table(depths, activation="relu", scale_branch=True)
unscaled = first_layer_table(depths, activation="relu", scale_branch=False)["residual"]
print(f"{'depth':>6} {'plain':>10} {'h + f(h)':>10} {'scaled':>10}")
for d, p, u, s in zip(depths, plain_and_scaled["plain"], unscaled, plain_and_scaled["residual"]):
    print(f"{d:>6} {p:>10.1e} {u:>10.1e} {s:>10.1e}")

# %% [markdown]
# Read the columns: the plain network's first-layer gradient collapses towards zero as it gets deeper
# (it is exactly 0 in float32 long before 128 layers), the unscaled residual network's *explodes*
# (each layer adds a branch of similar size, so the signal and its gradient grow with depth), and the
# scaled residual network's stays of order 0.1 at every depth we tried. So the seed's claim holds in
# trend at CPU scale, with a caveat it leaves out: a bare `+ x` is not enough. Real residual networks
# also control the size of the sum, with normalisation (BatchNorm/LayerNorm in every block), a
# zero-initialised last layer per block (notebook 02), or a branch scale like ours.
#
# ## Shattered gradients
#
# Balduzzi et al. (2017) looked at a second symptom. Take a network with one input and one output (with
# BatchNorm, as in their paper) and plot $dy/dx$ along a line of 256 inputs. In a deep plain network the
# gradient at neighbouring inputs is nearly unrelated ("shattered", like white noise); in a residual
# network it stays smooth. The number in each title is the correlation between gradients at neighbouring
# inputs (1 = smooth, 0 = noise). Depth 32, width 128:

# %%
plot_shattered(shattered_gradient_curves(depth=32))

# %% [markdown]
# ## The degradation problem
#
# Vanishing gradients have a visible consequence: *adding* layers to a plain network makes it train
# worse, although the deeper network could in principle copy the shallow one and set the extra layers
# to the identity (He et al. 2016, Fig. 1: plain-56 trains worse than plain-20 on CIFAR-10). At toy
# scale: plain and residual ReLU MLPs of depth 4 and 32, trained with Adam for the same 300 steps on the
# digits. The legend gives each network's test accuracy.

# %%
runs = degradation_experiment(depths=(4, 32), steps=300)
plot_training_losses(runs, title="training loss, 300 Adam steps")

# %%
for name, run in runs.items():
    print(f"{name:>12}: final loss {np.mean(run['loss'][-20:]):.3f}, test accuracy {run['accuracy']:.1%}")

# %% [markdown]
# The 32-layer plain network stays at chance level (its loss stays at $\ln 10 \approx 2.3$, test accuracy
# about 10%) while its 4-layer sibling learns. The 32-layer residual network reaches a lower training loss
# than the 4-layer one and about the same test accuracy: depth no longer hurts.
#
# **Exercise 2.** Write `gradient_ratio(norms)`, which returns the first layer's gradient norm divided
# by the last layer's (the `norms` array is ordered from the input side to the output side).

# %%
def gradient_ratio(norms):
    ### BEGIN SOLUTION
    return float(norms[0] / norms[-1])
    ### END SOLUTION


# %%
check_gradient_ratio(gradient_ratio)

# %% [markdown]
# ## Summary
# - In a plain network the gradient of layer $l$ is a product of one Jacobian per layer above it; with saturating activations it shrinks exponentially with depth.
# - A residual connection adds the identity to every Jacobian, $I + \partial f / \partial h$, so the gradient reaches the first layer.
# - An unscaled residual stack explodes instead; branch scaling, normalisation or zero-initialised branches keep it in range.
# - Deeper plain networks train worse (degradation); deeper residual networks do not.
#
# ## Going further
# - He, Zhang, Ren, Sun (2016), *Deep Residual Learning for Image Recognition*, Fig. 1 and Table 2.
# - Balduzzi et al. (2017), *The Shattered Gradients Problem: If resnets are the answer, then what is the question?*
# - Glorot and Bengio (2010), *Understanding the difficulty of training deep feedforward neural networks*.
# - Next: **02 · Residual blocks**.
