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
# 3. Verify numerically when a block with a zero-initialised last layer is the identity.
# 4. State what Veit et al.'s "unraveled view" says, and when a residual net is a sum of separate paths.
# 5. Predict, then measure over seeds, what deleting one block, then several, costs a trained residual net and its plain twin, and compare with Veit et al.'s much deeper nets.

# %% [markdown] tags=["instructor"]
# ## Instructor's plan (50 minutes)
#
# **Timeline**
#
# | minutes | part | cells | what happens |
# |---|---|---|---|
# | 0-5 | the residual block | title, block table | $y = F(x) + \text{shortcut}(x)$; read the parameter counts: why the bottleneck is cheap, where a projection appears |
# | 5-15 | exercise 1 | `block_forward` | students write it and run the check (4 min); then live-code it as the debrief |
# | 15-25 | zero-initialised blocks | exercise 2, identity table | hands up on the identity question; students try `block_jacobian` (4 min), debrief, run the table |
# | 25-30 | unraveled view | the float64 check | the forward splits into paths only for linear $F$; the gradient always does |
# | 30-42 | lesion study | exercise 3, lesion cells | prediction first (show of hands), then run (the longest cell), check, claims, the gap to Veit et al. |
# | 42-48 | several deletions, widget | multi-lesion, widget | read the two curves; delete block 0, then block 1 |
# | 48-50 | summary | summary | the verdicts that held on the run in the room |
#
# **Live-code** (the mechanisms, not the prints), each only after the students' own 4-minute try: `block_forward` (say: "the branch learns a correction; the
# shortcut carries $x$; what happens after the sum decides whether $F = 0$ gives the identity"; type the plain twin
# as the same line with the shortcut term gone); `block_jacobian` (say: "a Jacobian is a matrix: flatten, call
# autograd, and put the block in eval mode, or BatchNorm uses this one input's statistics"). The lesion loop is
# in the lesson module: show `accuracy_without` and say that deleting block $i$ keeps its shortcut.
#
# **Predict before running**: exercise 3, before the lesion cell: which net loses more when one block goes?
# Many will say "residual: it relies on its shortcuts" or "both the same, the nets are the same size". Also ask,
# at the question that ends the zero-initialised section's text (before exercise 2 and the identity table), whether
# a zero-initialised basic block is the identity (most say yes; it is on $x \ge 0$ only).
#
# **Common mistakes** (from the checks): the plain twin's output returned for the residual block (shortcut
# forgotten); the shortcut added after the ReLU, so the output can be negative; `post` left out; `x` added
# instead of `shortcut(x)`, which fails where the shape changes; a Jacobian computed in training mode (BatchNorm
# with the statistics of one input), transposed, or of the branch alone ($J - I$); the identity matrix typed in.
#
# **Two questions to ask**: (1) "Why does deleting a block hurt the plain net more?" A good answer: in the plain
# net every path runs through every block, so block $i + 1$ receives an input it never saw; in the residual net
# the paths that skip block $i$ still carry the input it was trained on (Veit et al. 2016, Sec. 4.1).
# (2) "Veit et al. saw almost no loss from one deletion. Do we?" A good answer: for the late
# blocks, yes (in the stored run blocks 3, 6 and 7 cost at most 4 points); blocks 0 and 1 cost 12 to 68. Why is a
# hypothesis, not tested here: their ResNet-110 has 54 blocks trained to convergence, ours 8 blocks trained 150
# steps, with fewer paths to stand in for an early block. What carries over at every block is the comparison with
# the plain net.

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
# A residual block computes a *residual* $F(x)$ and adds its input back. He et al. (2016, Sec. 3.1)
# *hypothesise* that this is easier to optimise: if the identity were best, the solver would only have to drive
# $F$'s weights to zero. Their evidence is indirect: deep plain nets train worse than shallower ones (Sec. 4.1),
# and the learned residuals are small (Sec. 4.2, Fig. 7).
#
# - **Basic** (ResNet-18/34): 3x3 conv-BN-ReLU-conv-BN, $F(x) = W_2\,\sigma(W_1 x)$ (He et al. 2016, Fig. 2), then ReLU after the sum.
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
# **Exercise 1.** A block of `course_lib` has three parts: `block.branch` (the residual $F$), `block.shortcut`
# (the identity, or a projection) and `block.post` (a ReLU in the basic and bottleneck blocks, nothing in the
# pre-activation block). Write `block_forward(block, x)`, which computes what the block computes, from these parts
# alone; with `residual=False`, its **plain twin** (the same layers, no shortcut). The properties to meet: where
# $F(x) = 0$, a pre-activation block returns $x$ itself; the output has $F(x)$'s shape, also where the block
# changes it. The check tries a projection shortcut too.

# %% answers=["post(branch + shortcut)", "block.post(out)", "out + block.shortcut(x)", "post(F(x) + shortcut(x))"]
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
# ## A zero-initialised block
#
# If the last layer of $F$ starts at zero (the last BatchNorm's scale $\gamma = 0$, or the last convolution
# of the pre-activation block), then $F(x) = 0$. **Predict:** is a zero-initialised basic block then the
# identity, $y = x$ with Jacobian $I$? And a pre-activation block? On every input?
#
# **Exercise 2.** Show it numerically. Write `block_jacobian(block, x)`: the Jacobian
# $J_{ij} = \partial y_i / \partial x_j$ of a block at one input `x` `[1, C, H, W]`, with $y$ and $x$ read as
# vectors of $n = CHW$ numbers, for the block as it runs at test time. The check builds its own blocks, one
# zero-initialised and two not, hands each to your function, and says how far each $J$ is from $I$.

# %% answers=["autograd.functional.jacobian", "jacrev", "block.eval()"]
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
# The same measurement with `course_lib`'s Jacobian, with and without the zero initialisation, on positive
# inputs (as out of a ReLU) and on inputs of both signs. Check your prediction:

# %% tags=["spoiler"]
inputs = {"x > 0": torch.rand(4, 16, 8, 8) + 0.1, "x of both signs": torch.randn(4, 16, 8, 8)}
for cls in (BasicBlock, PreActBlock):
    for zero_init in (False, True):
        block = cls(16, 16, zero_init=zero_init)
        errors = [(name, *lesson.identity_error(block, x)) for name, x in inputs.items()]
        print(f"{cls.__name__:>12} zero_init={zero_init!s:>5} | " + " | ".join(
            f"{name}: max|y - x| = {out:.1e}, max|J - I| = {jac:.1e}" for name, out, jac in errors))

# %% [markdown]
# The pre-activation block, with nothing after the sum, is exactly $y = x$, $J = I$; the basic block computes
# $\mathrm{ReLU}(x)$, the identity only on inputs $x \ge 0$ (as after an earlier ReLU). A deep network of such
# blocks starts as a shallow one (Goyal et al. 2017 use this to train with large batches).
#
# ## Residual networks as ensembles of paths
#
# Unroll three blocks, $h_1 = x + F_1(x)$, $h_2 = h_1 + F_2(h_1)$: $y = x + F_1(x) + F_2(h_1) + F_3(h_2)$, each
# block reading the input plus all earlier blocks' outputs. Veit, Wilber and Belongie (2016, Sec. 3, Eq. 4) write
# this out in full; it is exact for any blocks. Their **unraveled view** reads its graph as $2^n$ paths, one per
# subset of blocks entered: an interpretation, tested in their Section 4. They do not claim that $y$ is a sum of
# $2^n$ separately composed paths such as $F_3(F_1(x))$; that holds when every $F_i$ is linear, where
# $(I + F_3)(I + F_2)(I + F_1)\,x$ multiplies out. For any blocks, what splits exactly into paths is the
# **gradient**, $\partial y / \partial x = (I + J_3)(I + J_2)(I + J_1)$ with $J_i$ the Jacobian of $F_i$ at its
# input (the path terms Veit et al. sample in Sec. 5.2). Our check, with random matrices $W_i$:

# %%
n_blocks, dim = 3, 6
print(f"{n_blocks} blocks, random {dim} x {dim} matrices W_i, float64")
for nonlinear in (False, True):
    gaps = lesson.unraveled_view(nonlinear=nonlinear, n_blocks=n_blocks, dim=dim)
    verdicts = {k: "exact (< 1e-12)" if g < 1e-12 else f"off by {g:.0%}" for k, g in gaps.items()}
    print(f"F(h) = {'tanh(W h)' if nonlinear else 'W h      '}: y vs sum of {2 ** n_blocks} separately composed "
          f"paths: {verdicts['forward']:>15}; dy/dx vs sum of {2 ** n_blocks} path products: {verdicts['jacobian']}")

# %% [markdown]
# Additive identity paths are older than ResNet: the LSTM's cell, $c_t = c_{t-1} + i_t \odot g_t$ (Hochreiter and
# Schmidhuber 1997), and Highway Networks' *gated* shortcut, $y = H(x)\,T(x) + x\,(1 - T(x))$ (Srivastava et al.
# 2015). ResNet dropped the gate.
#
# ## A lesion study
#
# Veit et al. (2016, Sec. 4.1) tested the paths view with a **lesion**: delete one block of a trained network
# at test time, keep its shortcut, and measure the accuracy. Deleting block $i$ replaces $h + F_i(h)$ by $h$:
# the paths through $F_i$ are gone, the others remain. In the plain twin, deleting block $i$ replaces $F_i(h)$
# by $h$; where the shape changes it has no shortcut to keep, so the comparison leaves that block out (the
# report's last line deletes its $F$ from the residual net alone, as Veit et al. do).
#
# We train a small ResNet and its plain twin (no shortcuts) on the digits' train split, once per seed in `SEEDS`,
# then delete each block in turn and measure the accuracy on the held-out test digits. The net:

# %%
lesson.describe_net()

# %% [markdown]
# Block 0 is left out of the prediction and shown apart: the first block after a one-convolution stem, it may
# compute the first features every later block relies on (a guess, not tested here).
#
# **Exercise 3 (predict, then run).** When one block other than block 0 is deleted, which network loses more
# test accuracy on average, `"residual"` or `"plain"`? The check after the experiment compares your prediction
# with what the networks did.

# %% answers=["plain net lost more", "costs the plain net over", "more test accuracy than the plain net"]
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
# The claims drawn from these numbers, seed by seed. Their evidence is `SEEDS` at one budget, `STEPS`, without a
# learning curve: they speak for this budget only.

# %% tags=["spoiler"]
lesson.check_lesion_claims(lesions)

# %% [markdown]
# In the stored run (the report's per-block line), deleting block 3, 6 or 7 costs the residual net at most 4
# points, blocks 6 and 7 about 1 or less: test-set noise. As in Veit et al. (Sec. 4.1, Fig. 3a): deleting one
# block of a 110-layer ResNet (54 blocks) trained to convergence on CIFAR-10 changed little, apart from the
# downsampling blocks. Our first blocks differ: block 0 costs 65 to 68
# points, block 1 12 to 24 (block 5, 14 on one seed); block 4's $F$, projection kept, 20.3 to 36.1. Why is a
# hypothesis, not tested here: 8 blocks trained 150 steps leave fewer paths to stand in for an early one.
# What carries over at every block is the comparison: the plain net loses most of its accuracy whichever block
# goes.
#
# ## Deleting several blocks at once
#
# If a residual network behaves like an ensemble of many paths, deleting $k$ blocks removes the paths through
# any of them and leaves the rest, so the accuracy should fall gradually as $k$ grows; Veit et al. (Sec. 4.2,
# Fig. 5a) report just that on CIFAR-10. Here every set of $k$ deletable blocks other
# than block 0 is deleted in turn, for every $k$, and the test accuracy is averaged over the sets of each size.

# %%
several = lesson.multi_lesion_experiment(lesions)
print(f"blocks that can be deleted: {several.pool}; sets of k blocks tried, k = 0 to {several.sizes[-1]}: "
      f"{several.n_sets}, {sum(several.n_sets)} sets in all")

# %% tags=["spoiler"]
lesson.plot_multi_lesion(several)

# %% [markdown]
# Read the two curves: how fast does each fall, and where does each reach chance? The claim the notebook draws,
# checked seed by seed:

# %% tags=["spoiler"]
lesson.check_multi_lesion_claims(several)

# %% [markdown]
# Now pick a seed and one or several blocks to delete (Ctrl or Shift selects several). The widget opens on the
# first seed with no block deleted: try a middle block, then block 0 and block 1, then several at once.

# %% tags=["nbval-ignore-output"]
lesson.lesion_widget(lesions, blocks=())

# %% [markdown]
# ## Summary
# - A residual block computes $y = F(x) + \text{shortcut}(x)$, then its post-activation; with an identity shortcut and nothing after the sum, $\partial y/\partial x = I + \partial F/\partial x$.
# - Basic, bottleneck and pre-activation blocks differ in $F$ and in what follows the sum; a projection shortcut handles a change of shape.
# - With the last layer of $F$ at zero, a pre-activation block is the identity on every input, a basic block is $\mathrm{ReLU}(x)$: the identity on inputs $\ge 0$.
# - Veit et al.'s unrolling of $y$ is exact; $y$ is a sum of separately composed paths only for linear $F$, while the gradient splits into paths for any $F$.
# - Deleting one block other than block 0 costs the plain net far more than the residual net, and with two blocks gone the residual net keeps more than the plain net with one gone. At this budget our residual net's late blocks cost little, as in Veit et al.; its first blocks cost far more.
#
# ## Going further
# - He et al. (2016), *Deep Residual Learning for Image Recognition* (Sec. 3.1: the residual-learning hypothesis); He et al. (2016b), *Identity Mappings in Deep Residual Networks* (pre-activation blocks, ResNet-1001).
# - Veit, Wilber, Belongie (2016), *Residual Networks Behave Like Ensembles of Relatively Shallow Networks* (Section 3: the unraveled view; Section 4: lesion studies; Section 5: short paths carry the gradient).
# - Hochreiter, Schmidhuber (1997), *Long Short-Term Memory* (the constant error carousel); Srivastava, Greff, Schmidhuber (2015), *Training Very Deep Networks* (Highway Networks).
# - Goyal et al. (2017), *Accurate, Large Minibatch SGD* (zero-initialised $\gamma$).
# - Next: **03 · Residual connections vs skip connections**.
