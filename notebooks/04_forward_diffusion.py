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

# %% [markdown] tags=["instructor"]
# ## Instructor's plan (50 minutes)
#
# **Goal of the class.** Students leave able to write $q(x_t \mid x_0)$ for a batch, read a schedule through
# $\bar\alpha_t$, and explain why $\bar\alpha_t$ compounds what each step keeps. Exercise 3 is the only place the
# class meets the definition of $\bar\alpha_t$ in terms of the $\beta_t$: do not write it on the board before it.
#
# **Timeline**
#
# | minutes | part | cells | what happens |
# |---|---|---|---|
# | 0-5 | One step, and many | "One step, and many" | Write one step on the board; why $\sqrt{\alpha_t}$ keeps the variance at 1; the indexing note. |
# | 5-10 | Exercise 1 | prediction, check | Class votes 1/2, 1/10 or 1/100 for `alpha_bar[500]`; then run the check. |
# | 10-18 | Watch an image dissolve | settings, widget, timestep-600 figure and printout | Move $t$ live; switch to cosine; watch the histogram reach $\mathcal{N}(0, 1)$. |
# | 18-24 | Schedules | schedules figure, table, log-SNR prose | Compare linear and cosine half-way; the log-SNR's finite ends. |
# | 24-31 | Chain and closed form | `chain_vs_closed_form` table | Predict which column is 0, then read the exact and sampled rows. |
# | 31-41 | Exercise 2 | `q_sample` and its check | Students write it (5 min), then live-code it; run the check on both shapes. |
# | 41-48 | Exercise 3 | `alpha_bar_from_betas`, check, table against the sum | Students derive two steps by hand, then code it; read where $1 - \sum \beta$ goes negative. |
# | 48-50 | Summary | summary | The closed form is what lets notebook 05 train on any $t$ in one step. |
#
# **Live-code** (type these; run the prints as they are):
# - One forward step, in a scratch cell after the settings cell (it needs `schedule`):
#
#   ```python
#   x = torch.randn(10_000)  # data of variance 1
#   for t in range(100):
#       a = schedule.alphas[t]
#       x = a.sqrt() * x + (1 - a).sqrt() * torch.randn_like(x)
#   print(x.var())
#   ```
#
#   It prints about 1 (1.01 in one run). Say: "the square root scales a standard deviation; the variances
#   $\alpha$ and $1 - \alpha$ add up to 1, so data of variance 1 stays at variance 1". Optional: swap the first
#   line for `x = load_digits()[0].flatten()` (64 pixels of variance 0.43): it prints about
#   $0.43\,\bar\alpha + (1 - \bar\alpha) \approx 0.49$ with $\bar\alpha \approx 0.9$ after 100 steps, the
#   signal shrunk and the noise variance $1 - \bar\alpha$ whatever $x_0$ is; the course's data do not have variance 1.
# - `q_sample` (exercise 2), after the students tried: type the per-example reshape of `alpha_bar[t]` first and say
#   "one $\bar\alpha$ per example; broadcasting needs a trailing 1 for every dimension after the batch, and images
#   have three but points only one".
# - `alpha_bar_from_betas` (exercise 3), only after a student has said what is left after two steps.
#
# **Predict before running**
# - Exercise 1: most say 1/2 ("half-way, half left"); the linear schedule keeps about a tenth. The cosine schedule
#   is the one that keeps about half.
# - Before the timestep-600 figure: "how much of the photo will you still see?" Many expect a faint photo; it is
#   almost pure noise.
# - Before the chain-versus-closed-form table (its output is cleared in the student copy): "which column is 0: one
#   step early, on time, or late?" Expect votes for "late" (students count $t$ steps to timestep $t$); the course
#   counts from 0, so $t + 1$ steps land on timestep $t$, the middle column.
# - Before the table after exercise 3 (cleared in the student copy): "does $1 - \sum_s \beta_s$ stay positive?"
#   Most say yes; on the linear schedule it turns negative a third of the way along.
#
# **Common mistakes** (what the checks diagnose)
# - Using $\alpha_t$ (one step) where $\bar\alpha_t$ (all steps so far) belongs.
# - Forgetting a square root: $\bar\alpha_t$ and $1 - \bar\alpha_t$ are variances, the formula scales by standard
#   deviations; or swapping $x_0$ and the noise.
# - Reshaping `alpha_bar[t]` to `[B, 1, 1, 1]`: right for images, wrong for the 2-D points of notebook 05.
# - Exercise 3: $1 - \sum \beta$ (right only while the betas are tiny, then negative), a combination of the betas
#   instead of $1 - \beta$, or an off-by-one that makes `alpha_bar[0]` equal 1.
# - Exercise 1: picking 1/2 by confusing the linear schedule with the cosine one.
#
# **Two questions to ask**
# 1. "Why does each step shrink the signal by $\sqrt{\alpha_t}$ instead of only adding noise?" A good answer: so
#    that the variance stays 1 and $x_T$ is close to $\mathcal{N}(0, I)$, the distribution sampling starts from;
#    without it the variance would grow without bound.
# 2. "At 8×8 pixels, why might the cosine schedule train a better model than the linear one?" A good answer, in
#    Nichol and Dhariwal's words (2021, Sec. 3.2): the linear schedule "worked well for high resolution images" but
#    was "sub-optimal for images of resolution 64 × 64 and 32 × 32"; "the end of the forward noising process is too
#    noisy, and so doesn't contribute very much to sample quality". Their argument is about $\bar\alpha_t$ (near 0
#    long before $T$ on the linear schedule), and about low resolutions, which includes ours.

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
# With $\beta_t$ the noise variance added at step $t$ ($t = 1, \dots, T$) and $\alpha_t = 1 - \beta_t$:
#
# $$x_t = \sqrt{\alpha_t}\, x_{t-1} + \sqrt{1 - \alpha_t}\, \varepsilon_t, \qquad \varepsilon_t \sim \mathcal{N}(0, I).$$
#
# The factor $\sqrt{\alpha_t} < 1$ shrinks the signal as the noise is added, so the total variance stays 1
# for data of variance 1. Composing Gaussian steps gives a Gaussian, and with $\bar\alpha_t$ the fraction of $x_0$'s
# variance left after $t$ steps (exercise 3 computes it from the $\beta_t$):
#
# $$x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I).$$
#
# The article *What are Diffusion Models?* (the course's seed reading) states only the one-step form,
# "$q(x_t \mid x_{t-1}) = \mathcal{N}(x_t; \sqrt{\alpha_t}\, x_{t-1}, (1 - \alpha_t) I)$, where $\alpha_t$ controls the
# amount of noise added"; it never gives the closed form above, which is Ho et al. (2020), Eq. 4. It holds for any $x_0$: a sum of
# independent Gaussians is Gaussian, the signal's factors multiply, and the noise variances compose,
# $\alpha_t (1 - \bar\alpha_{t-1}) + (1 - \alpha_t) = 1 - \bar\alpha_t$. Below we check it numerically.
#
# **Indexing.** The formulas above number the steps as Ho et al. (2020, Sec. 2 and Algorithm 1) do:
# $t = 1, \dots, T$, with $x_0$ the clean image, here as everywhere in the course. `course_lib`, like `diffusers`,
# counts timesteps from 0 instead: `schedule.betas[t]` and `schedule.alpha_bar[t]` are $\beta_{t+1}$ and
# $\bar\alpha_{t+1}$, and timestep $t$ (the `t` of `q_sample`, of the sliders and of the printouts below) gives
# $x_{t+1}$. Timestep 0 is one step of noise away from $x_0$; timestep $T - 1$ gives $x_T$.
#
# ## Watch an image dissolve
#
# **Exercise 1 (predict, then run).** Before you touch the widget: the linear schedule of Ho et al. (2020) adds a
# noise variance $\beta_t$ that grows linearly from $10^{-4}$ to $0.02$ over $T = 1000$ steps. Half-way, at
# timestep 500, how much of $x_0$'s variance is left: is `alpha_bar[500]` about `"1/2"`, `"1/10"` or `"1/100"`?
# Write your prediction first; the check right after it compares it with the schedule.

# %% answers=["0.078"]
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
# clean images $x_0$ and, on the right, `alpha_bar[t]` (blue, how much of $x_0$ is left) and the log-SNR,
# $\log(\bar\alpha / (1 - \bar\alpha))$ (orange), traced from timestep 0 up to the current $t$. The bottom row shows the same
# images noised to timestep $t$, and a histogram of the pixel values of both noised images together (the legend
# counts each image's pixels) against the density of $\mathcal{N}(0, 1)$.

# %% tags=["nbval-ignore-output"]
# A live figure: built once, only its changing parts redrawn when a control moves.
live = LiveFigure(lesson.ForwardView(), t=IntSlider(value=T // 10, min=0, max=T - 1, step=max(1, T // 100)),
                  schedule=Dropdown(options=["linear", "cosine", "sigmoid", "quadratic"], value=SCHEDULE),
                  T=Dropdown(options=sorted({50, 100, 250, 500, 1000, T}), value=T))
lesson.t_follows_T(live).warm()  # the t slider's range follows the T menu

# %% [markdown]
# The widget above starts at timestep $T/10$, where much of the photo is still there. Further along the chain,
# at timestep $3T/5$ (600 with $T = 1000$):

# %% tags=["spoiler"]
lesson.show_forward(t=3 * T // 5, schedule=SCHEDULE, T=T)

# %% tags=["spoiler"]
ab = schedule.alpha_bar
print(f"{SCHEDULE} schedule, T = {T}")
for t in (T // 10, 3 * T // 5):
    print(f"timestep {t}: x_{t + 1} = {ab[t].sqrt():.3f} x_0 + {(1 - ab[t]).sqrt():.3f} eps  "
          f"(alpha_bar[{t}] = {ab[t]:.4f})")

# %% [markdown]
# As shipped (linear, $T = 1000$), the signal at timestep 600 is scaled by 0.160 (printed above) while the noise
# has almost unit variance: next to the clean $x_0$ in the top row, almost nothing of the photo is left, and the
# histogram of the two images' noised pixels is close to the standard normal. The
# schedules differ in *how fast* they get there:

# %% tags=["spoiler"]
lesson.show_schedules(T=T)

# %% tags=["spoiler"]
steps = [T // 4, T // 2, 3 * T // 4, T - 1]  # a quarter, half and three quarters of the chain, and its end
for name in ("linear", "cosine", "sigmoid", "quadratic"):
    s = NoiseSchedule.make(name, T)
    ab = s.alpha_bar
    print(f"{name:>9}: alpha_bar at t = " + ", ".join(f"{t}: {ab[t]:.3f}" for t in steps[:-1]) + f", {T - 1}: {ab[-1]:.1e};"
          f" log-SNR from {s.log_snr[0]:.1f} to {s.log_snr[-1]:.1f}; betas[0] = {s.betas[0]:.1e}, largest {s.betas.max():.3f}")

# %% [markdown]
# The linear schedule of Ho et al. destroys most of the signal by the middle of the chain; the cosine
# schedule of Nichol and Dhariwal (2021, §3.2; the thick red curve) keeps `alpha_bar` near 1/2 half-way, so
# fewer steps are wasted on nearly pure noise. All four end close to 0, so the last timestep, $T - 1$, gives an
# $x_T$ that is practically $\mathcal{N}(0, I)$.
#
# The log-SNR, $\log(\bar\alpha / (1 - \bar\alpha))$, spreads both ends out, and both of its limits are finite
# (the legend and the printout give them). Timestep 0 has had one step, `alpha_bar[0]` $= 1 - \beta_1$, so its
# log-SNR is about $-\log \beta_1$ (`betas[0]` above): as shipped, $\beta_1 = 10^{-4}$ gives
# $\log 10^4 \approx 9.2$ for linear and quadratic. It is finite because timestep 0 already holds one step of
# noise; the clean $x_0$, with $\bar\alpha_0 = 1$, would have an infinite SNR. At timestep $T-1$ the log-SNR is
# about $\log \bar\alpha_T$; it would be $-\infty$ only if $\bar\alpha_T$ were exactly 0, which no schedule here
# reaches: as shipped, the linear one stops at $-10$ and the cosine one, whose $\beta_t$ Nichol and Dhariwal clip
# at 0.999 to avoid a singularity at $t = T$, at about $-20$. Where the curve crosses 0, signal and noise have
# equal variance.
#
# ## Chain and closed form agree
#
# Do $t + 1$ steps of $q(x_t \mid x_{t-1})$ (`q_step`) land exactly on the closed form at timestep $t$, or one
# step off? One step more or fewer changes $\bar\alpha$ by only $\bar\alpha\,\beta$, so a check must be finer than
# that. Each column below compares the chain, at $t = T/10$, with the closed form one step early, on time and one
# step late. Before you run it: which column should be 0 if the chain and the closed form agree? Two checks:
#
# - **Exact, in float64.** The chain is linear, $x = c\, x_0 + \sum_s d_s \varepsilon_s$: running `q_step` on
#   $x_0 = 1$ without noise gives $c$, and on $x_0 = 0$ with noise 1 at step $s$ only gives $d_s$. So its mean is
#   $c\, x_0$ (signal variance $c^2$) and its noise variance $\sum_s d_s^2$. This sees any error larger than
#   float64 rounding, but it draws no random numbers, so it says nothing about the noise itself.
# - **Sampled.** Many copies of one digit go through the chain with random noise. Their pixel variances, pooled
#   (all pixels have the same exact value), estimate the noise variance; the table gives its difference from
#   $1 - \bar\alpha$ in standard errors (SE). This also tests the random noise (fresh at each step), but only to
#   within a few SE.

# %% tags=["spoiler"]
digit = load_digits()[0]
t = max(1, T // 10)
check = lesson.chain_vs_closed_form(digit, t=t, schedule=schedule, n=16000)
print(f"chain of {t + 1} steps, {check['copies']:,} copies of {check['pixels']} pixels: "
      f"sampled noise variance {check['sampled variance']:.5f}, SE {check['SE']:.5f}")
print(f"{'chain minus closed form at timestep':>50}: " + "".join(f"{k:>15}" for k in check["timesteps"]))
for row, values in check["rows"].items():
    print(f"{row:>50}: " + "".join(f"{v:>+15.10f}" if row.startswith("exact") else f"{v:>15.1f}" for v in values))

# %% [markdown]
# Only the middle column is at 0 in the exact rows, to every digit printed: $t + 1$ steps of the chain are the
# closed form at timestep $t$, in mean and variance, and one step early or late would be off by the amounts in the
# outer columns. The sampled noise variance is within a few SE of the middle column and many SE from the outer
# ones, so this sample could have seen an off-by-one too. It is still one random draw, hence the SE. The closed form is right, and
# training can sample any $x_t$ in one step instead of $t$.
#
# **Exercise 2.** Implement `q_sample(x0, t, schedule, noise)` for a batch `x0` and timesteps `t [B]` (integers),
# using `schedule.alpha_bar` (a tensor of length $T$). It must work for images `[B, C, H, W]` *and* for the 2-D
# points `[B, 2]` of notebook 05: the check runs it on both.

# %% answers=["x0.dim() - 1", "alpha_bar.sqrt() * x0"]
def q_sample(x0, t, schedule, noise):
    ### BEGIN SOLUTION
    alpha_bar = schedule.alpha_bar[t].float().view(-1, *[1] * (x0.dim() - 1))
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
    ### END SOLUTION


# %%
lesson.check_q_sample(q_sample)

# %% [markdown]
# **Exercise 3.** A schedule is given by its $\beta_t$; the closed form needs $\bar\alpha_t$, the fraction of
# $x_0$'s variance still there. Write `alpha_bar_from_betas(betas)`: `betas [T]` in, `alpha_bar [T]` out, entry $t$
# being what is left after $t + 1$ steps (entry 0 includes the first step). One step keeps the fraction
# $\alpha_t = 1 - \beta_t$ of the signal's variance: what is left after two steps? After three? The answer must be
# exact for any schedule, not only for small betas (the check tries linear and cosine, whose last betas reach
# 0.999), stay between 0 and 1, and never grow with $t$.

# %% answers=["cumprod", "\\prod", "running product"]
def alpha_bar_from_betas(betas):
    ### BEGIN SOLUTION
    return torch.cumprod(1 - betas, dim=0)
    ### END SOLUTION


# %%
lesson.check_alpha_bar(alpha_bar_from_betas)

# %% [markdown]
# Why does the check refuse $1 - \sum_s \beta_s$, a natural first guess? While the betas are tiny it is close to
# $\bar\alpha_t$ (it is its first-order term), and that is how the early steps look. Further along, does it stay
# positive, as a fraction of a variance must? Predict, then run:

# %% tags=["spoiler"]
print(f"{SCHEDULE} schedule, T = {T}")
lesson.alpha_bar_against_the_sum(schedule)

# %% [markdown]
# With the settings as shipped (linear, $T = 1000$) it overshoots, then turns negative at the timestep printed
# above, while $\bar\alpha_t$ only approaches 0.

# %% [markdown]
# ## Summary
# - One forward step scales the signal by $\sqrt{\alpha_t}$ and adds noise of variance $1 - \alpha_t$; $t$ steps compose into $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon$ (Ho et al. 2020, Eq. 4).
# - Ho et al. number the steps $1, \dots, T$; `course_lib` and `diffusers` count timesteps from 0, so timestep $t$ gives $x_{t+1}$ and `alpha_bar[t]` is $\bar\alpha_{t+1}$. $x_0$ is always the clean image.
# - A schedule is read through $\bar\alpha_t$ or the log-SNR; cosine keeps more signal in the middle than linear. The log-SNR's limits are finite: about $-\log\beta_1$ at timestep 0 and $\log\bar\alpha_T$ at timestep $T - 1$.
# - $\bar\alpha_t$ is not $1 - \sum_s \beta_s$: that first-order shortcut turns negative (exercise 3).
# - The chain of $t + 1$ steps equals the closed form at timestep $t$, in a test fine enough to see one step too many or too few.
#
# ## Going further
# - Ho, Jain, Abbeel (2020), *Denoising Diffusion Probabilistic Models*, Eq. 2-4.
# - Nichol and Dhariwal (2021), *Improved Denoising Diffusion Probabilistic Models* (cosine schedule).
# - Kingma et al. (2021), *Variational Diffusion Models* (the schedule seen through the SNR).
# - Next: **05 · Training a tiny diffusion model**.
