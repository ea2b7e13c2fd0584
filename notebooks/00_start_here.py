# %% [markdown]
# # 00 · Start here
#
# Welcome to **From residual connections to diffusion models**. In ten short notebooks (00 to 07, with two
# optional ones, 01b and 06b) you will watch gradients vanish in a deep network and come back with one `+ x`,
# take trained residual networks apart, compare the two kinds of "skip" inside a U-Net, and finally train and
# sample a small diffusion model on your own CPU.
#
# **Learning objectives**
# 1. Check that your environment works and see which device (CPU, CUDA GPU or Apple MPS) the course will use.
# 2. Use an interactive widget: every experiment in the course has controls you can move.
# 3. Learn how exercises and their `check_...()` cells work, and how their hints come in tiers.
# 4. Know where to run the course: Binder, Colab or your laptop.

# %%
# On Colab only: install course_lib and turn on widgets. Anywhere else this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "course_lib @ git+https://github.com/course-lib/residual-to-diffusion"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()

# %% [markdown]
# ## Your environment
#
# Everything the course computes comes from `course_lib`, a small PyTorch package that lives next to
# these notebooks. The cell above installs it when you run on Colab; anywhere else it has nothing to do.
# The next cell, like the top of every notebook, calls `setup_notebook()`, which seeds every random
# number generator (so a rerun draws the same random numbers) and picks the fastest device.

# %%
from ipywidgets import FloatSlider

from course_lib import environment_report
from course_lib.lessons import setup_notebook
from course_lib.lessons import start_here as lesson
from course_lib.widgets import LiveFigure

device = setup_notebook(seed=0)

# %% tags=["nbval-ignore-output"]
# Versions and thread counts differ from machine to machine, so your output will differ from the one shown here.
for key, value in environment_report().items():
    print(f"{key:>14}: {value}")

# %% [markdown]
# On a plain CPU every notebook runs top to bottom in about a minute. When a GPU is present
# (`device: cuda`), notebooks that train models pick a larger configuration on their own.
#
# ## A widget
#
# Move the sliders: the curve is $y = e^{-\text{damping}\,x} \sin(2\pi\,\text{frequency}\,x)$, drawn between its
# envelope $\pm e^{-\text{damping}\,x}$. The widget is a `LiveFigure` over a *view*, `WaveView`: the view builds
# its figure once, and each slider move only gives its lines new y values, so the picture follows your hand.
# Every widget in the course works this way, with its logic in `course_lib` where you can read and call it.
# When you read the notebook without running it (on GitHub, say), the widget cell still shows the figure for
# the sliders' starting values. Each view also has a plain function that draws one setting without sliders
# (here `lesson.plot_wave(frequency, damping)`), handy where widgets do not run.

# %% tags=["nbval-ignore-output"]
# A live figure: built once, only its curves redrawn on a move.
LiveFigure(lesson.WaveView(), frequency=FloatSlider(value=2.0, min=0.5, max=5.0, step=0.5),
           damping=FloatSlider(value=0.5, min=0.0, max=3.0, step=0.5))

# %% [markdown]
# ## How exercises work
#
# Each notebook has 2-4 exercises. You write a few lines of code, then run the `check_...()` cell below
# them. It prints a ✅ when your answer is right. When it is not, the hints come in tiers, so that you
# are not handed the answer at once: the first miss says *what* is wrong, the second adds a hint (the idea to
# use, never the code), and from the third on the check names what to read: the course's own version, or the
# figure that holds the answer. An answer computed another way (in float64, say) passes too. Nothing breaks if you get
# it wrong, so experiment freely. Here is what three wrong tries look like, on a small demonstration exercise
# that is none of this notebook's (the number of seconds in an hour):

# %%
lesson.demo_hint_tiers()

# %% [markdown]
# **Exercise 1.** Set `answer` to the value of `2 + 2`.

# %%
### BEGIN SOLUTION
answer = 2 + 2
### END SOLUTION

# %%
lesson.check_hello(answer)

# %% [markdown]
# **Exercise 2.** Write the widget's curve yourself: `wave(x, frequency, damping)` returns
# $e^{-\text{damping}\,x} \sin(2\pi\,\text{frequency}\,x)$ for a tensor `x` (use `torch.exp`, `torch.sin` and
# `math.pi`). The check compares it with `course_lib`'s version on the same inputs; try a wrong version first
# (leave out the $2\pi$, say) to see what it tells you.

# %%
import math

import torch


def wave(x, frequency, damping):
    ### BEGIN SOLUTION
    return torch.exp(-damping * x) * torch.sin(2 * math.pi * frequency * x)
    ### END SOLUTION


# %%
lesson.check_wave(wave)

# %% [markdown]
# ## Where to run the course
#
# - **Locally**: `./course lab` in a clone of the repository sets everything up and opens JupyterLab.
# - **Binder**: the *launch binder* badge in the README builds the course from the repository's `binder/` folder (CPU-only PyTorch) and opens this notebook in JupyterLab; nothing to install. CPU only, 1-2 GB of memory, which every notebook fits.
# - **Colab**: each notebook's *Open in Colab* badge in the README opens it on Colab. Run its first cell: it installs `course_lib` from the repository (Colab keeps its own PyTorch) and turns on Colab's widget manager. With a GPU runtime the training notebooks pick larger configurations, so your numbers will differ from the stored ones.
#
# ## Summary
# - `setup_notebook()` seeds everything and picks the device. On a CPU your printed outputs match the stored ones,
#   except in cells that say they differ between machines (the environment report above, the last digits of
#   trained numbers); on a GPU the training notebooks pick larger configurations.
# - Widgets are live figures over views in `course_lib` (`WaveView` here): built once, redrawn in place.
# - Exercises come with `check_...()` cells whose hints come in tiers: what is wrong, then a hint, then
#   where the reference is.
#
# ## Going further
# - The course's source, `course_lib/` (one concept per file): every check and widget of these notebooks lives there.
# - [ipywidgets documentation](https://ipywidgets.readthedocs.io/) for building your own controls.
# - Next: **01 · Vanishing gradients**.
