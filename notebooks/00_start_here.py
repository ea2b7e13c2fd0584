# %% [markdown]
# # 00 · Start here
#
# Welcome to **From residual connections to diffusion models**. In twelve short notebooks (00 to 08, with three
# optional ones, 01b, 06b and 07b) you will watch gradients vanish in a deep network and come back with one `+ x`,
# take trained residual networks apart, compare the two kinds of "skip" inside a U-Net, train and sample a small
# diffusion model on your own CPU, and finally ask it for the digit you want.
#
# **Learning objectives**
# 1. Check that your environment works and see which device (CPU, CUDA GPU or Apple MPS) the course will use.
# 2. Use an interactive widget: every experiment in the course has controls you can move.
# 3. Learn how exercises and their `check_...()` cells work, and how their hints come in tiers.
# 4. Know where to run the course: Binder, Colab or your laptop.

# %% [markdown] tags=["instructor"]
# ## Instructor's plan (50 minutes)
#
# The first class: everyone leaves with a working environment and knows how a widget and a check behave. No theory.
#
# **Timeline**
#
# | minutes | part | cells | what happens |
# |---|---|---|---|
# | 0-5 | Welcome | title, objectives | The course's arc in one sentence: `+ x` in a deep net, then in a diffusion model's U-Net. |
# | 5-20 | Your environment | Colab cell, `setup_notebook`, environment report | Everyone runs the first cells on Binder, Colab or a laptop. Walk the room; fix installs (see "Where to run the course"). |
# | 20-28 | A widget | the wave's `LiveFigure`, `plot_wave` | Move the sliders together; show that `WaveView` lives in `course_lib/lessons/start_here.py`. |
# | 28-33 | How exercises work | `demo_hint_tiers` | Read the three tiers aloud: what is wrong, then a hint, then what to read. |
# | 33-36 | Exercise 1 | `answer`, `check_hello` | Everyone gets a ✅; someone who types `"4"` sees the text-versus-number diagnosis. |
# | 36-47 | Exercise 2 | `wave`, `check_wave`, the sliders over their own curve | Students build the widget's curve from its properties; encourage a wrong try first; then their curve follows the sliders. |
# | 47-50 | Where to run, summary | last cell | Where to work at home; next class: notebook 01. |
#
# **Live-code.** Type exercise 2's `wave` with the class, one property at a time, and run the check after each step.
# Start with `torch.sin(2 * math.pi * frequency * x)` (the turns, no shrinking) and read the diagnosis aloud ("the
# damping is missing"). Then multiply by the envelope but drop the 2 pi, `torch.exp(-damping * x) *
# torch.sin(frequency * x)`: the check says "off by a factor 2 pi" (a full turn is 2 pi radians). Say "the shrinking
# acts on how far the curve swings, so it sits outside the sine", put the 2 pi back, and run the check: ✅. Do not
# type the environment report or the widget cell: run them.
#
# **Predict before running.**
# - Before moving the damping slider to 3: "what happens to the swings on the right?" Most say they vanish. On the
#   linear axis they look flat, but the title gives the envelope at x = 2, 0.0025: they shrink by the same factor
#   per unit of x, never reaching exactly 0.
# - Before exercise 2's check: "with frequency = 1 and damping = 1, how tall is the second peak compared with the
#   first?" Many say half; the peaks are one unit of x apart, so the second is smaller by a factor e (about 2.7).
#   Set the sliders after the check to see it.
#
# **Common mistakes** (from the checks' diagnoses):
# - exercise 1: `answer = "4"` or `"2" + "2"` (text, not a number; `"2" + "2"` is `"22"`);
# - exercise 2: forgetting the 2 pi (frequency counted in radians, not turns); `exp(+damping x)` (the wave grows);
#   no damping at all; the envelope inside the sine's angle; a cosine instead of a sine (it starts at 1, not 0).
#
# **Two questions to ask.**
# 1. "Why does the check accept a version computed in NumPy or float64?" A good answer: it compares values with a
#    tolerance, not code, so any correct computation passes.
# 2. "Why does the course seed every random generator at the top of a notebook?" A good answer: so a rerun draws the
#    same numbers and the printed outputs match the stored ones on a CPU, except where a cell says they differ
#    between machines.

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
# The README's table of notebooks gives each one's time, top to bottom, on 2 CPU cores. When a GPU is present
# (`device: cuda`), notebooks that train models pick a larger configuration on their own.
#
# ## A widget
#
# Move the sliders: the curve is a sine wave whose swings die out. `frequency` sets how many full turns it makes
# per unit of x, `damping` how fast its envelope (the dashed lines) shrinks; the title gives the envelope's height
# at x = 2. The widget is a `LiveFigure` over a *view*, `WaveView`: the view builds
# its figure once, and each slider move only gives its lines new y values, so the picture follows your hand.
# Every widget in the course works this way, with its logic in `course_lib` where you can read and call it.
# When you read the notebook without running it (on GitHub, say), the widget cell still shows the figure for
# the sliders' starting values.

# %% tags=["nbval-ignore-output"]
# A live figure: built once, only its curves redrawn on a move.
LiveFigure(lesson.WaveView(), frequency=FloatSlider(value=2.0, min=0.5, max=5.0, step=0.5),
           damping=FloatSlider(value=0.5, min=0.0, max=3.0, step=0.5))

# %% [markdown]
# Each view also has a plain function that draws one setting without sliders, handy where widgets do not run.
# Here, `plot_wave` with no damping:

# %%
lesson.plot_wave(frequency=1.0, damping=0.0)

# %% [markdown]
# ## How exercises work
#
# Each notebook has 2-4 exercises. You write a few lines of code, then run the `check_...()` cell below
# them. It prints a ✅ when your answer is right. When it is not, the hints come in tiers, so that you
# are not handed the answer at once: the first miss says *what* is wrong, the second adds a hint (the idea to
# use, never the code), and from the third on the check names what to read: a figure above, or a section of a
# paper or a book. An answer computed another way (in float64, say) passes too. Nothing breaks if you get
# it wrong, so experiment freely. Here is what three wrong tries look like, on a small demonstration exercise
# that is none of this notebook's (the number of seconds in an hour):

# %%
lesson.demo_hint_tiers()

# %% [markdown]
# **Exercise 1.** Set `answer` to the value of `2 + 2`.

# %% answers=["answer = 4", "answer = 2 + 2"]
### BEGIN SOLUTION
answer = 2 + 2
### END SOLUTION

# %%
lesson.check_hello(answer)

# %% [markdown]
# **Exercise 2.** Draw the widget's curve yourself: write `wave(x, frequency, damping)` for a tensor `x` of
# positions. Your curve must
# - be 0 at $x = 0$ and rise from there;
# - make `frequency` full turns per unit of x (with `frequency = 1` it is back at 0, rising, at $x = 1$);
# - swing between -1 and 1 forever when `damping = 0`; with `damping > 0`, shrink its swings by the same factor over
#   every unit of x, faster for a larger `damping`, and by a factor $e$ per unit of x when `damping = 1`.
#
# The check compares your curve with the widget's on the same inputs. Try a version you suspect is wrong first, to
# see what the check tells you.

# %% answers=["2 * math.pi", "exp(-damping", "sin(2 * math.pi"]
import math

import torch


def wave(x, frequency, damping):
    ### BEGIN SOLUTION
    return torch.exp(-damping * x) * torch.sin(2 * math.pi * frequency * x)
    ### END SOLUTION


# %%
lesson.check_wave(wave)

# %% [markdown]
# Your `wave` (dotted) beside the widget's: move the sliders. With `frequency = 1` and `damping = 1`, compare the
# heights of the first two peaks.

# %% tags=["spoiler", "nbval-ignore-output"]
# A live figure over your own function (its stored output is cleared in the student copy). Not compared in tests.
lesson.wave_widget(student=wave)

# %% [markdown]
# ## Where to run the course
#
# - **Locally**: `./course lab` in a clone of the repository sets everything up and opens JupyterLab.
# - **Binder**: the *launch binder* badge in the README builds the course from the repository's `binder/` folder (CPU-only PyTorch) and opens this notebook in JupyterLab; nothing to install. CPU only, with a memory limit that every notebook stays under (`benchmarks/bench_notebooks.py` measures each one's peak).
# - **Colab**: each notebook's *Open in Colab* badge in the README opens it on Colab. Run its first cell: it installs `course_lib` from the repository (Colab keeps its own PyTorch) and turns on Colab's widget manager. With a GPU runtime the training notebooks pick larger configurations, so your numbers will differ from the stored ones.
#
# ## Summary
# - `setup_notebook()` seeds everything and picks the device. On a CPU your printed outputs match the stored ones,
#   except in cells that say they differ between machines (the environment report above, the last digits of
#   trained numbers); on a GPU the training notebooks pick larger configurations.
# - Widgets are live figures over views in `course_lib` (`WaveView` here): built once, redrawn in place.
# - Exercises come with `check_...()` cells whose hints come in tiers: what is wrong, then a hint, then
#   what to read.
#
# ## Going further
# - The course's source, `course_lib/` (one concept per file): every check and widget of these notebooks lives there.
# - [ipywidgets documentation](https://ipywidgets.readthedocs.io/) for building your own controls.
# - Next: **01 · Vanishing gradients**.
