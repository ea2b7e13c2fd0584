# %% [markdown]
# # 00 · Start here
#
# Welcome to **From residual connections to diffusion models**. In eight short notebooks you will
# watch gradients vanish in a deep network and come back with one `+ x`, take trained residual
# networks apart, compare the two kinds of "skip" inside a U-Net, and finally train and sample a
# small diffusion model on your own CPU.
#
# **Learning objectives**
# 1. Check that your environment works and see which device (CPU, CUDA GPU or Apple MPS) the course will use.
# 2. Use an interactive widget: every experiment in the course has controls you can move.
# 3. Learn how exercises and their `check_...()` cells work.
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
# number generator (so your numbers match the ones printed here) and picks the fastest device.

# %%
from ipywidgets import FloatSlider, interact

from course_lib import environment_report
from course_lib.lessons import setup_notebook
from course_lib.lessons.start_here import check_hello, plot_wave

device = setup_notebook(seed=0)

# %% tags=["nbval-ignore-output"]
# Versions and thread counts differ from machine to machine, so this output is not compared in tests.
for key, value in environment_report().items():
    print(f"{key:>14}: {value}")

# %% [markdown]
# On a plain CPU every notebook runs top to bottom in about a minute. When a GPU is present
# (`device: cuda`), notebooks that train models pick a larger configuration on their own.
#
# ## A widget
#
# Move the sliders: the plot is redrawn by `plot_wave(frequency, damping)`, an ordinary function in
# `course_lib` that you could also call yourself. Every widget in the course works this way, which is
# why the figure right below the widget (drawn for the default values) still shows something when you
# read the notebook without running it.

# %% tags=["nbval-ignore-output"]
# Widget output lives inside the widget, where the notebook tests cannot compare it.
interact(plot_wave, frequency=FloatSlider(value=1.0, min=0.5, max=5.0, step=0.5),
         damping=FloatSlider(value=0.0, min=0.0, max=3.0, step=0.5));

# %%
plot_wave(frequency=2.0, damping=1.0)

# %% [markdown]
# ## How exercises work
#
# Each notebook has 2-4 exercises. You write a line or two of code, then run the `check_...()` cell
# below it: it prints a hint when the answer is not there yet and a ✅ when it is. Nothing breaks if
# you get it wrong, so experiment freely.
#
# **Exercise 1.** Set `answer` to the value of `2 + 2`.

# %%
### BEGIN SOLUTION
answer = 2 + 2
### END SOLUTION

# %%
check_hello(answer)

# %% [markdown]
# ## Where to run the course
#
# - **Locally**: `./course lab` in a clone of the repository sets everything up and opens JupyterLab.
# - **Binder**: the *launch binder* badge in the README builds the course from the repository's `binder/` folder (CPU-only PyTorch) and opens this notebook in JupyterLab; nothing to install. CPU only, 1-2 GB of memory, which every notebook fits.
# - **Colab**: each notebook's *Open in Colab* badge in the README opens it on Colab. Run its first cell: it installs `course_lib` from the repository (Colab keeps its own PyTorch) and turns on Colab's widget manager. With a GPU runtime the training notebooks pick larger configurations, so your numbers will differ from the stored ones.
#
# ## Summary
# - `setup_notebook()` seeds everything and picks the device; your outputs will match the stored ones on a CPU.
# - Widgets are thin wrappers over plain `course_lib` functions you can call yourself.
# - Exercises come with `check_...()` cells that give hints.
#
# ## Going further
# - The course's source: `course_lib/` (one concept per file) and the tests in `tests/`.
# - [ipywidgets documentation](https://ipywidgets.readthedocs.io/) for building your own controls.
# - Next: **01 · Vanishing gradients**.
