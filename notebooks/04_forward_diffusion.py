# %% [markdown]
# # 04 · Forward diffusion: destroying an image, one step at a time
#
# A diffusion model learns to undo a fixed process that turns data into noise. This notebook is about
# that fixed process: $q(x_t \mid x_{t-1})$ adds a little Gaussian noise at each of $T$ steps, and a
# closed form jumps straight from $x_0$ to any $x_t$.
#
# **Learning objectives**
# 1. Write one forward step $q(x_t \mid x_{t-1}) = \mathcal{N}(\sqrt{\alpha_t}\, x_{t-1}, (1 - \alpha_t) I)$ and the closed form $q(x_t \mid x_0) = \mathcal{N}(\sqrt{\bar\alpha_t}\, x_0, (1 - \bar\alpha_t) I)$.
# 2. Read a noise schedule through $\bar\alpha_t$ and the log signal-to-noise ratio.
# 3. Check numerically that iterating the chain and the closed form agree.
# 4. Implement `q_sample` for images and 2-D points, and $\bar\alpha_t$ from the $\beta_t$.

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
from ipywidgets import Dropdown, IntSlider

from course_lib import NoiseSchedule
from course_lib.data import load_digits
from course_lib.lessons import forward_diffusion as lesson
from course_lib.lessons import setup_notebook
from course_lib.widgets import LiveFigure

device = setup_notebook(seed=0)

# %% [markdown]
# ## One step, and many
#
# With $\beta_t$ the noise variance added at step $t$ and $\alpha_t = 1 - \beta_t$:
#
# $$x_t = \sqrt{\alpha_t}\, x_{t-1} + \sqrt{1 - \alpha_t}\, \varepsilon_t, \qquad \varepsilon_t \sim \mathcal{N}(0, I).$$
#
# The factor $\sqrt{\alpha_t} < 1$ shrinks the signal as the noise is added, so the total variance stays 1
# for data of variance 1. Composing Gaussian steps gives a Gaussian, and with $\bar\alpha_t = \prod_{s \le t} \alpha_s$:
#
# $$x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I).$$
#
# The article *What are Diffusion Models?* (the course's seed reading) states only the one-step form,
# "$q(x_t \mid x_{t-1}) = \mathcal{N}(x_t; \sqrt{\alpha_t}\, x_{t-1}, (1 - \alpha_t) I)$, where $\alpha_t$ controls the
# amount of noise added"; it never gives the closed form above, which is Ho et al. (2020), Eq. 4. It follows because
# a sum of independent Gaussians is Gaussian: after two steps the noise variance is
# $\alpha_t (1 - \alpha_{t-1}) + (1 - \alpha_t) = 1 - \alpha_t \alpha_{t-1}$, and so on by induction.
# Below we check it numerically rather than trust it.
# In `course_lib`, $x_t$ for $t = 0, \dots, T-1$ is $x_0$ after $t + 1$ steps (the indexing of Ho et al. and `diffusers`).
#
# ## Watch an image dissolve
#
# **Exercise 1 (predict, then run).** Before you touch the widget: the linear schedule of Ho et al. (2020) adds a
# noise variance $\beta_t$ that grows linearly from $10^{-4}$ to $0.02$ over $T = 1000$ steps. Half-way, at
# $t = 500$, how much of $x_0$'s variance is left: is $\bar\alpha_{500}$ about `"1/2"`, `"1/10"` or `"1/100"`?
# Write your prediction first; the check right after it compares it with the schedule.

# %%
### BEGIN SOLUTION
prediction = "1/10"
### END SOLUTION

# %%
lesson.check_alpha_bar_prediction(prediction)

# %% [markdown]
# The rest of the notebook uses the schedule and the number of steps $T$ set in the next cell. Change them (try
# `T = 50` or `SCHEDULE = "cosine"`) and run the notebook again from that cell: every figure, table and slider
# follows. The prose describes the settings as shipped, the linear schedule with $T = 1000$.

# %%
T = 1000             # number of diffusion steps
SCHEDULE = "linear"  # "linear", "cosine", "sigmoid" or "quadratic"
schedule = NoiseSchedule.make(SCHEDULE, T)

# %% [markdown]
# Move $t$, change the schedule and $T$ (the $t$ slider always runs from 0 to $T - 1$). The top row shows the
# clean images $x_0$ and, on the right, $\bar\alpha_t$ (blue, how much of $x_0$ is left) and the log-SNR,
# $\log(\bar\alpha_t / (1 - \bar\alpha_t))$ (orange), with the current $t$ marked. The bottom row shows the same
# images noised to step $t$, and compares their pixels with $\mathcal{N}(0, 1)$.

# %% tags=["nbval-ignore-output"]
# A live figure: built once, only its changing parts redrawn (about 30 ms a move).
live = LiveFigure(lesson.ForwardView(), t=IntSlider(value=T // 10, min=0, max=T - 1, step=max(1, T // 100)),
                  schedule=Dropdown(options=["linear", "cosine", "sigmoid", "quadratic"], value=SCHEDULE),
                  T=Dropdown(options=sorted({50, 100, 250, 500, 1000, T}), value=T))
lesson.t_follows_T(live).warm()  # the t slider's range follows the T menu

# %% [markdown]
# The widget above starts at $t = T/10$, where much of the photo is still there. Further along the chain, at
# $t = 3T/5$ (600 with $T = 1000$):

# %%
lesson.show_forward(t=3 * T // 5, schedule=SCHEDULE, T=T)

# %%
ab = schedule.alpha_bar
for t in (T // 10, 3 * T // 5):
    print(f"t = {t}: x_t = {ab[t].sqrt():.3f} x_0 + {(1 - ab[t]).sqrt():.3f} eps  (alpha_bar = {ab[t]:.4f})")

# %% [markdown]
# With the settings as shipped, at $t = 600$ on the linear schedule, the signal is scaled by less than a fifth
# (printed above) while the noise has almost unit variance: next to the clean $x_0$ in the top row, almost nothing
# of the photo is left, and the pixel histogram is close to the standard normal. The schedules differ in *how fast* they get there:

# %%
lesson.show_schedules(T=T)

# %%
steps = [T // 4, T // 2, 3 * T // 4, T - 1]  # a quarter, half and three quarters of the chain, and its end
for name in ("linear", "cosine", "sigmoid", "quadratic"):
    s = NoiseSchedule.make(name, T)
    ab = s.alpha_bar
    print(f"{name:>9}: alpha_bar at t = " + ", ".join(f"{t}: {ab[t]:.3f}" for t in steps[:-1]) + f", {T - 1}: {ab[-1]:.1e};"
          f" log-SNR from {s.log_snr[0]:.1f} to {s.log_snr[-1]:.1f}; beta_0 = {s.betas[0]:.1e}, largest beta {s.betas.max():.3f}")

# %% [markdown]
# The linear schedule of Ho et al. destroys most of the signal by the middle of the chain; the cosine
# schedule of Nichol and Dhariwal (2021, §3.2; the thick red curve) keeps $\bar\alpha_t$ near 1/2 at $t = T/2$, so
# fewer steps are wasted on nearly pure noise. All four end close to 0, so $x_{T-1}$ is practically
# $\mathcal{N}(0, I)$.
#
# The log-SNR, $\log(\bar\alpha_t / (1 - \bar\alpha_t))$, spreads both ends out, and both of its limits are finite
# (the legend and the printout give them). At $t = 0$, $\bar\alpha_0 = 1 - \beta_0$, so the log-SNR is about
# $-\log \beta_0$: $\beta_0 = 10^{-4}$ gives $\log 10^4 \approx 9.2$ for linear and quadratic. It is finite because
# even $x_0$ in `course_lib`'s indexing has had one step of noise. At $t = T-1$ the log-SNR is about
# $\log \bar\alpha_{T-1}$; it would be $-\infty$ only if $\bar\alpha_{T-1}$ were exactly 0, which no schedule here reaches:
# the linear one stops at $-10$ (a trace of $x_0$ is left in $x_{T-1}$, while sampling starts from pure noise: Lin
# et al. (2024), *Common Diffusion Noise Schedules and Sample Steps are Flawed*, discuss that mismatch), and the cosine one, whose $\beta_t$ Nichol and Dhariwal clip at 0.999 to avoid a singularity at
# $t = T$, goes down to about $-20$. Where the curve crosses 0, signal and noise have equal variance.
#
# ## Chain and closed form agree
#
# Take one digit, make 4,000 copies, and noise them to $t = 3T/10$ (300 with $T = 1000$) twice: by $t + 1$
# applications of $q(x_t \mid x_{t-1})$, and in one jump with the closed form. Compare the per-pixel means and
# variances with the exact values $\sqrt{\bar\alpha_t}\, x_0$ and $1 - \bar\alpha_t$.

# %%
digit = load_digits()[0]
stats = lesson.chain_vs_closed_form(digit, t=3 * T // 10, schedule=schedule, n=4000)
exact_mean, exact_var = stats["exact"]
for how in ("chain", "closed"):
    mean, var = stats[how]
    se_mean, se_var = (exact_var[0] / 4000) ** 0.5, exact_var[0] * (2 / 3999) ** 0.5
    print(f"{how:>6}: max |mean - exact| = {(mean - exact_mean).abs().max():.4f} ({(mean - exact_mean).abs().max() / se_mean:.1f} SE), "
          f"max |var - exact| = {(var - exact_var).abs().max():.4f} ({(var - exact_var).abs().max() / se_var:.1f} SE)")
print(f"exact variance {exact_var[0]:.4f}; standard error (SE) over 4000 copies: of a mean {se_mean:.4f}, "
      f"of a variance {se_var:.4f}")

# %% [markdown]
# The largest deviation over the 64 pixels is under three standard errors for both estimates (printed above;
# with 64 pixels, a worst case near 2.5 SE is what pure sampling noise gives). These numbers are exact
# arithmetic on a fixed random seed, so they are the same on every machine. The closed form is right, and
# training can sample any $x_t$ in one step instead of $t$.
#
# **Exercise 2.** Implement `q_sample(x0, t, schedule, noise)` for a batch `x0` and timesteps `t [B]` (integers),
# using `schedule.alpha_bar` (a tensor of length $T$). It must work for images `[B, C, H, W]` *and* for the 2-D
# points `[B, 2]` of notebook 05: the check runs it on both.

# %%
def q_sample(x0, t, schedule, noise):
    ### BEGIN SOLUTION
    alpha_bar = schedule.alpha_bar[t].float().view(-1, *[1] * (x0.dim() - 1))
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
    ### END SOLUTION


# %%
lesson.check_q_sample(q_sample)

# %% [markdown]
# **Exercise 3.** The schedule is given by its $\beta_t$, the noise variance each step adds; the closed form needs
# $\bar\alpha_t$. Write `alpha_bar_from_betas(betas)`: a tensor `[T]` of betas in, $\bar\alpha_t$ for every $t$ out
# (with `course_lib`'s indexing, $\bar\alpha_0$ already includes step 0). One line of PyTorch does it.

# %%
def alpha_bar_from_betas(betas):
    ### BEGIN SOLUTION
    return torch.cumprod(1 - betas, dim=0)
    ### END SOLUTION


# %%
lesson.check_alpha_bar(alpha_bar_from_betas)

# %% [markdown]
# Why a product and not a sum? Each step keeps the fraction $1 - \beta_t$ of the signal's variance, so after
# $t + 1$ steps the fractions multiply. While the betas are tiny the product is close to $1 - \sum_s \beta_s$ (its
# first-order term), and that is how the early steps look; the sum then overshoots, and on the linear schedule it
# even turns negative (where, printed below), while the product only approaches 0:

# %%
betas = schedule.betas.double()
for t in sorted({T // 100, T // 10, T // 4, T - 1}):
    print(f"t = {t:>3}: product alpha_bar_t = {torch.prod(1 - betas[:t + 1]):.4f}, 1 - sum of betas = {1 - betas[:t + 1].sum():.4f}")
negative = torch.nonzero(1 - betas.cumsum(0) < 0).flatten()
print(f"1 - sum of betas is negative from t = {int(negative[0])} on" if len(negative) else
      "1 - sum of betas stays positive on this schedule")

# %% [markdown]
# ## Summary
# - One forward step scales the signal by $\sqrt{\alpha_t}$ and adds noise of variance $1 - \alpha_t$; $t$ steps compose into $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon$ (Ho et al. 2020, Eq. 4; the article *What are Diffusion Models?* gives only the one-step form).
# - A schedule is read through $\bar\alpha_t$ or the log-SNR; cosine keeps more signal in the middle than linear. The log-SNR's limits are finite: about $-\log\beta_0$ at $t = 0$ and $\log\bar\alpha_{T-1}$ at the end.
# - $\bar\alpha_t$ is a product, $\prod_{s \le t} (1 - \beta_s)$, not $1 - \sum_s \beta_s$ (which turns negative).
# - Iterating the chain and the closed form agree in mean and variance (measured above).
#
# ## Going further
# - Ho, Jain, Abbeel (2020), *Denoising Diffusion Probabilistic Models*, Eq. 2-4.
# - Nichol and Dhariwal (2021), *Improved Denoising Diffusion Probabilistic Models* (cosine schedule).
# - Kingma et al. (2021), *Variational Diffusion Models* (the schedule seen through the SNR).
# - Next: **05 · Training a tiny diffusion model**.
