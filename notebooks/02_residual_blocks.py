# %% [markdown]
# # 02 · Residual blocks
#
# Notebook 01 used the simplest residual connection, $h + s f(h)$. Real networks wrap a few layers into
# a **block** with a shortcut around them: $y = F(x) + \text{shortcut}(x)$. This notebook builds the
# blocks of the ResNet papers, checks what the shortcut does to the Jacobian, and takes trained networks
# apart to test the "ensemble of paths" view of Veit et al. (2016), over several seeds.
#
# **Learning objectives**
# 1. Write $y = F(x) + x$ and explain $\partial y / \partial x = I + \partial F / \partial x$.
# 2. Know the basic, bottleneck and pre-activation blocks, and when a projection shortcut is needed.
# 3. Verify numerically that a block with a zero-initialised last layer starts as the exact identity.
# 4. Know what the "unraveled view" of a residual network is, and when its expansion into paths is exact.
# 5. Measure, over seeds, what deleting one block, then several at once, costs a trained residual network and its plain twin, and where "it costs little" fails.

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

from course_lib import BasicBlock, BottleneckBlock, PreActBlock, count_parameters
from course_lib.lessons import residual_blocks as lesson
from course_lib.lessons import setup_notebook

device = setup_notebook(seed=0)
SEEDS, STEPS = (0, 1, 2), 150  # the lesion experiment: its seeds, and the Adam steps per network

# %% [markdown]
# ## The residual block
#
# A residual block computes a *residual* $F(x)$ and adds its input back. If the best thing a block can do
# is nothing, it only has to learn $F = 0$, which is much easier than learning the identity through a stack
# of convolutions and nonlinearities.
#
# - **Basic** (ResNet-18/34): two 3x3 convolutions, each followed by BatchNorm, ReLU after the sum.
# - **Bottleneck** (ResNet-50 and deeper): 1x1 down to `channels`, 3x3, 1x1 up to `4 * channels`; cheaper at large widths.
# - **Pre-activation** (He et al. 2016b): BN-ReLU-conv twice, *nothing* after the sum, so the identity path runs clean from the first block to the last.
#
# When a block changes the number of channels or the resolution, $x$ and $F(x)$ no longer have the same
# shape, and the shortcut becomes a **projection**: a 1x1 convolution with stride (plus BN).

# %%
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
# The bottleneck's point: at 256 channels it has about 17 times fewer parameters than a basic block.
#
# **Exercise 1.** Write the forward pass of these blocks from their parts: `block.branch` (the residual $F$),
# `block.shortcut` (the identity, or the projection) and `block.post` (what comes after the sum: a ReLU in the
# basic and bottleneck blocks, nothing in the pre-activation block). `block_forward(block, x)` returns the
# block's output; with `residual=False`, the output of its **plain twin**, the same layers without the shortcut.
# The check runs yours on blocks and twins of `course_lib`, a projection shortcut included.

# %%
def block_forward(block, x, residual=True):
    ### BEGIN SOLUTION
    out = block.branch(x)
    if residual:
        out = out + block.shortcut(x)
    return block.post(out)
    ### END SOLUTION


# %%
lesson.check_block_forward(block_forward)

# %% [markdown]
# ## A zero-initialised block is the identity
#
# If the last layer of $F$ starts at zero (the last BatchNorm's scale $\gamma = 0$, or the last convolution
# of the pre-activation block), then $F(x) = 0$: the block should be exactly $y = x$ at initialisation, with
# Jacobian $I$. A deep network of such blocks would start as a shallow one and grow into its depth (Goyal et al.
# 2017 use this to train ResNets with large batches).
#
# **Exercise 2.** Show it numerically. Write `block_jacobian(block, x)`: the Jacobian
# $J_{ij} = \partial y_i / \partial x_j$ of a block at one input `x` `[1, C, H, W]`, with $y$ and $x$ read as
# vectors of $n = CHW$ numbers, for the block as it runs at test time. The check builds its own blocks, one
# zero-initialised and two not, hands each to your function, and says how far each $J$ is from $I$.

# %%
def block_jacobian(block, x):
    ### BEGIN SOLUTION
    block.eval()  # BatchNorm with its running statistics, as at test time
    n = x.numel()
    J = torch.autograd.functional.jacobian(lambda v: block(v.view_as(x)).flatten(), x.flatten())
    return J.reshape(n, n)
    ### END SOLUTION


# %%
lesson.check_block_jacobian(block_jacobian)

# %% [markdown]
# The same measurement with `course_lib`'s Jacobian, on both kinds of block, with and without the zero
# initialisation, and the output's distance from the input. Positive inputs, because in a ResNet a basic block's
# input comes out of a ReLU:

# %%
x = torch.rand(4, 16, 8, 8) + 0.1
for cls in (BasicBlock, PreActBlock):
    for zero_init in (False, True):
        out_err, jac_err = lesson.identity_error(cls(16, 16, zero_init=zero_init), x)
        print(f"{cls.__name__:>12} zero_init={zero_init!s:>5}: max|y - x| = {out_err:.1e}, max|J - I| = {jac_err:.1e}")

# %% [markdown]
# ## Residual networks as ensembles of paths
#
# Unroll three residual blocks: $h_1 = x + F_1(x)$, $h_2 = h_1 + F_2(h_1)$, $y = h_2 + F_3(h_2)$. If every
# $F_i$ were *linear*, $y = (I + F_3)(I + F_2)(I + F_1)\,x$ would multiply out into $2^3 = 8$ terms, one per
# subset of blocks: the identity path $x$, the one-block paths $F_1 x$, $F_2 x$, $F_3 x$, and so on up to
# $F_3 F_2 F_1 x$. Veit, Wilber and Belongie (2016, Section 3) call this the **unraveled view**: $2^n$ paths
# from input to output. With nonlinear blocks it is a picture, not an identity:
# $F_3(h_1 + F_2(h_1)) \neq F_3(h_1) + F_3(F_2(h_1))$. What does expand exactly is the **gradient**: at a given
# input, $\partial y / \partial x = (I + J_3)(I + J_2)(I + J_1)$ with $J_i = \partial F_i / \partial h$ where
# the chain passes, a product of linear maps that splits into one term per path. Check both on three blocks
# with random $6 \times 6$ matrices $W_i$, in float64:

# %%
for nonlinear in (False, True):
    gaps = lesson.unraveled_view(nonlinear=nonlinear)
    verdicts = {k: "exact (< 1e-12)" if g < 1e-12 else f"off by {g:.0%}" for k, g in gaps.items()}
    print(f"F(h) = {'tanh(W h)' if nonlinear else 'W h      '}: y vs sum of 8 paths: {verdicts['forward']:>15}; "
          f"dy/dx vs sum of 8 path products: {verdicts['jacobian']}")

# %% [markdown]
# Additive identity paths are older than ResNet. The LSTM's memory cell (Hochreiter and Schmidhuber 1997)
# adds to its state, $c_t = c_{t-1} + i_t \odot g_t$: a "constant error carousel" along which the error
# flows back through time unchanged (the forget gate came later, Gers et al. 2000). Highway Networks
# (Srivastava, Greff and Schmidhuber 2015) trained feed-forward nets of 100 layers with a *gated* shortcut,
# $y = H(x)\,T(x) + x\,(1 - T(x))$. ResNet's step was to drop the gate: the shortcut is always open.
#
# ## A lesion study
#
# Veit et al. (2016, Section 4) tested the ensemble view with a **lesion**: delete one block from a trained
# network at test time and measure its accuracy. Deleting block $i$ of a residual network replaces
# $h + F_i(h)$ by $h$: every path through $F_i$ is gone, the others remain. In the plain twin, deleting block $i$
# replaces $F_i(h)$ by $h$. A block whose shortcut is a projection cannot be deleted: $h$ would reach the next
# block with the wrong shape.
#
# We train a small 8-block ResNet and its plain twin (same blocks, no shortcuts) on the digits' train split,
# once per seed in `SEEDS`, then delete each block in turn and measure the accuracy on the held-out test digits.
# This is Veit et al.'s experiment at toy scale: they deleted one of the 54 blocks of a ResNet-110 trained to
# convergence on CIFAR-10; here one deletion removes a far larger share of a network trained briefly. What
# carries over is the comparison between the residual net and its plain twin.
#
# **Exercise 3 (predict, then run).** Before you run the experiment: when one block other than block 0 is
# deleted, which network loses more test accuracy on average, `"residual"` or `"plain"`? A check after the
# experiment compares your prediction with what the networks did.

# %%
### BEGIN SOLUTION
prediction = "plain"
### END SOLUTION

# %% tags=["nbval-ignore-output"]
lesions = lesson.lesion_experiment(seeds=SEEDS, steps=STEPS)
lesson.print_lesion_report(lesions)

# %%
lesson.plot_lesion_seeds(lesions)

# %%
lesson.check_lesion_prediction(prediction, lesions)

# %% [markdown]
# Why the two differ: in the plain net every path goes through every block, so a deletion feeds block $i + 1$ with
# an input it never saw in training; in the residual net the paths that skip block $i$ carry on as they were trained.
# The claims the prose draws from these numbers, checked seed by seed:

# %%
lesson.check_lesion_claims(lesions)

# %% [markdown]
# So "deleting a block costs little" holds for most of the residual net's blocks, not for all of them:
# block 0, the first block after the one-convolution stem, is the exception, and on some seeds deleting
# block 1 costs the residual net tens of points as well (its column in the table and the figure). Block 0 is not the most costly
# block on every seed, so the claim compares it with the *average* other block. The plain net loses most of its
# accuracy whichever block goes. Why block 0 matters more, the experiment does not say; a guess: the first block
# does most of the feature extraction, and every later block was trained on its output.
#
# ## Deleting several blocks at once
#
# If a residual network behaves like an ensemble of many paths, deleting $k$ blocks removes the paths through
# any of them and leaves the rest, so the accuracy should fall gradually as $k$ grows; Veit et al. (2016,
# Section 4.2, Fig. 5a) report just that for ResNets on CIFAR-10. Here every set of $k$ deletable blocks other
# than block 0 is deleted in turn, for every $k$, and the test accuracy is averaged over the sets of each size.

# %%
several = lesson.multi_lesion_experiment(lesions)
print(f"blocks that can be deleted: {several.pool}; sets of k blocks tried, k = 0 to {several.sizes[-1]}: "
      f"{several.n_sets}, {sum(several.n_sets)} sets in all")

# %%
lesson.plot_multi_lesion(several)

# %% [markdown]
# Read the two curves: how fast does each fall, and where does each reach chance? The claim the notebook draws,
# checked seed by seed:

# %%
lesson.check_multi_lesion_claims(several)

# %% [markdown]
# Now pick a seed and one or several blocks to delete (Ctrl or Shift selects several), block 0 included. The
# widget opens on the first seed with a typical block deleted: of the blocks other than block 0, the one whose
# deletion costs the residual net the median drop (its number is in the title). Then try block 0 and block 1.

# %% tags=["nbval-ignore-output"]
lesson.lesion_widget(lesions)

# %% [markdown]
# ## Summary
# - A residual block computes $y = F(x) + \text{shortcut}(x)$; its Jacobian is $I + \partial F/\partial x$.
# - Basic, bottleneck and pre-activation blocks differ in what $F$ is and in what happens after the sum; a projection shortcut handles a change of shape.
# - Zero-initialising the last layer of $F$ makes a block start as the exact identity (we measured $|y - x| = 0$ and $J = I$).
# - Expanding $(I + F_3)(I + F_2)(I + F_1)x$ into $2^3$ paths is exact only for linear $F$; for real blocks the "unraveled view" is a picture of the graph, while the Jacobian's expansion into paths is exact.
# - Deleting one block other than block 0 costs the plain net far more accuracy than the residual net on average; block 0 of the residual net is the exception. With two blocks gone, the residual net keeps more than the plain net with one gone, as the ensemble view predicts. The verdicts above say whether this held on your run.
#
# ## Going further
# - He et al. (2016b), *Identity Mappings in Deep Residual Networks* (pre-activation blocks, ResNet-1001).
# - Veit, Wilber, Belongie (2016), *Residual Networks Behave Like Ensembles of Relatively Shallow Networks* (Section 3: the unraveled view; Section 4: lesion studies; Section 5: short paths carry the gradient).
# - Hochreiter, Schmidhuber (1997), *Long Short-Term Memory* (the constant error carousel); Srivastava, Greff, Schmidhuber (2015), *Training Very Deep Networks* (Highway Networks).
# - Goyal et al. (2017), *Accurate, Large Minibatch SGD* (zero-initialised $\gamma$).
# - Next: **03 · Residual connections vs skip connections**.
