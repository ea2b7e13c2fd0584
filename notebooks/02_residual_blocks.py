# %% [markdown]
# # 02 · Residual blocks
#
# Notebook 01 used the simplest residual connection, $h + s f(h)$. Real networks wrap a few layers into
# a **block** with a shortcut around them: $y = F(x) + \text{shortcut}(x)$. This notebook builds the
# blocks of the ResNet papers, checks what the shortcut does to the Jacobian, and takes trained networks
# apart to see the "ensemble of paths" of Veit et al. (2016).
#
# **Learning objectives**
# 1. Write $y = F(x) + x$ and explain $\partial y / \partial x = I + \partial F / \partial x$.
# 2. Know the basic, bottleneck and pre-activation blocks, and when a projection shortcut is needed.
# 3. Verify numerically that a block with a zero-initialised last layer starts as the exact identity.
# 4. See that deleting one block from a trained residual network costs little, from a plain network a lot.

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
import torch
from ipywidgets import Dropdown, interact

from course_lib import BasicBlock, BottleneckBlock, PreActBlock, count_parameters
from course_lib.exercises import check_identity_jacobian, check_residual_forward
from course_lib.lesion import (
    block_jacobian,
    identity_error,
    lesion_study,
    plot_lesion,
    show_lesion,
    train_small_resnet,
)
from course_lib.notebook import setup_notebook

device = setup_notebook(seed=0)

# %% [markdown]
# ## The residual block
#
# A residual block computes a *residual* $F(x)$ and adds its input back. If the best thing a block can do
# is nothing, it only has to learn $F = 0$, which is much easier than learning the identity through a stack
# of convolutions and nonlinearities.
#
# **Exercise 1.** Write `residual_forward(branch, x)`, which returns $F(x) + x$ for a module `branch` = $F$.

# %%
def residual_forward(branch, x):
    ### BEGIN SOLUTION
    return branch(x) + x
    ### END SOLUTION


# %%
check_residual_forward(residual_forward)

# %% [markdown]
# ## Three blocks and their shortcuts
#
# - **Basic** (ResNet-18/34): two 3x3 convolutions, each followed by BatchNorm, ReLU after the sum.
# - **Bottleneck** (ResNet-50 and deeper): 1x1 down to `channels`, 3x3, 1x1 up to `4 * channels`; cheaper at large widths.
# - **Pre-activation** (He et al. 2016b): BN-ReLU-conv twice, *nothing* after the sum, so the identity path runs clean from the first block to the last.
#
# When a block changes the number of channels or the resolution, $x$ and $F(x)$ no longer have the same
# shape, and the shortcut becomes a **projection**: a 1x1 convolution with stride (plus BN).

# %%
x = torch.randn(2, 64, 8, 8)
blocks = {
    "basic 64->64": BasicBlock(64, 64),
    "basic 64->128, stride 2": BasicBlock(64, 128, stride=2),
    "bottleneck 64->16x4": BottleneckBlock(64, 16),
    "bottleneck 256->64x4": BottleneckBlock(256, 64),
    "basic 256->256": BasicBlock(256, 256),
    "pre-activation 64->64": PreActBlock(64, 64),
}
for name, block in blocks.items():
    inp = torch.randn(2, block.in_channels, 8, 8)
    shortcut = type(block.shortcut).__name__.replace("Sequential", "projection")
    print(f"{name:>24}: out {list(block(inp).shape)}, {count_parameters(block):>7,} params, shortcut {shortcut}")

# %% [markdown]
# Note the bottleneck's point: at 256 channels it has about 17 times fewer parameters than a basic block
# of the same width.
#
# ## A zero-initialised block is the identity
#
# If the last layer of $F$ starts at zero (the last BatchNorm's scale $\gamma = 0$, or the last convolution
# for the pre-activation block), then $F(x) = 0$ and the block is exactly $y = x$ at initialisation, with
# Jacobian $I$. A deep network of such blocks starts as a shallow one and grows into its depth (Goyal et al.
# 2017 use this to train ResNets with large batches). Positive inputs below, because in a ResNet a basic
# block's input comes out of a ReLU.

# %%
x = torch.rand(4, 16, 8, 8) + 0.1
for cls in (BasicBlock, PreActBlock):
    for zero_init in (False, True):
        out_err, jac_err = identity_error(cls(16, 16, zero_init=zero_init), x)
        print(f"{cls.__name__:>12} zero_init={zero_init!s:>5}: max|y - x| = {out_err:.1e}, max|J - I| = {jac_err:.1e}")

# %% [markdown]
# **Exercise 2.** Build a zero-initialised `PreActBlock(2, 2, zero_init=True)` in eval mode, and compute its
# Jacobian at the input `x_small` with `block_jacobian(block, x_small)`. Store it in `J`; the check
# compares it with the identity matrix.

# %%
x_small = torch.randn(1, 2, 3, 3)
### BEGIN SOLUTION
J = block_jacobian(PreActBlock(2, 2, zero_init=True).eval(), x_small)
### END SOLUTION

# %%
check_identity_jacobian(J)

# %% [markdown]
# ## Residual networks as ensembles of paths
#
# Unroll three residual blocks: $y = (1 + F_3)(1 + F_2)(1 + F_1)\,x$ expands into $2^3$ paths, from the
# pure identity to the one through all three blocks. Veit et al. (2016) argued that a ResNet behaves like
# an ensemble of these paths, most of them short, and tested it with a **lesion**: delete one block from
# a trained network and measure its accuracy. Deleting a block of a residual network removes half of the
# paths but leaves the other half intact; in a plain network it cuts the only path.
#
# We train a small 8-block ResNet and its plain twin (same blocks, no shortcuts) on the digits for 300
# Adam steps each, then delete each block in turn (blocks whose input and output shapes match).

# %%
nets, intact = {}, {}
for name, residual in (("residual", True), ("plain", False)):
    nets[name], intact[name] = train_small_resnet(residual=residual, num_blocks=8, steps=300)
    print(f"{name:>8} network, intact: test accuracy {intact[name]:.1%}")

# %%
results = {name: (intact[name], lesion_study(net)) for name, net in nets.items()}
plot_lesion(results)

# %%
for name, (acc, lesions) in results.items():
    drops = [acc - a for a in lesions.values()]
    print(f"{name:>8}: mean accuracy drop when one block is deleted {sum(drops) / len(drops):.1%}, worst {max(drops):.1%}")

# %% [markdown]
# Pick a block and compare the two networks:

# %% tags=["nbval-ignore-output"]
# Widget output lives inside the widget, where the notebook tests cannot compare it.
interact(lambda block: show_lesion(nets, block), block=Dropdown(options=nets["residual"].lesionable_blocks(), value=1));

# %%
show_lesion(nets, block=1)

# %% [markdown]
# ## Summary
# - A residual block computes $y = F(x) + \text{shortcut}(x)$; its Jacobian is $I + \partial F/\partial x$.
# - Basic, bottleneck and pre-activation blocks differ in what $F$ is and in what happens after the sum; a projection shortcut handles a change of shape.
# - Zero-initialising the last layer of $F$ makes a block start as the exact identity (we measured $|y - x| = 0$ and $J = I$).
# - Deleting one block of a trained residual network costs far less accuracy than deleting one from a plain network: the paths of a ResNet share the work.
#
# ## Going further
# - He et al. (2016b), *Identity Mappings in Deep Residual Networks* (pre-activation blocks, ResNet-1001).
# - Veit, Wilber, Belongie (2016), *Residual Networks Behave Like Ensembles of Relatively Shallow Networks*.
# - Goyal et al. (2017), *Accurate, Large Minibatch SGD* (zero-initialised $\gamma$).
# - Next: **03 · Residual connections vs skip connections**.
