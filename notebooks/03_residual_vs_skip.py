# %% [markdown]
# # 03 · Residual connections vs skip connections
#
# The seed article `001` compares "residual connections" and "skip connections" in a table and concludes
# that "residual connections outperform skip connections". The two are not rivals: they do different
# jobs, and a diffusion model's U-Net uses **both**. This notebook makes the table executable.
#
# **Learning objectives**
# 1. Tell apart a *residual connection* (short, additive, inside a block, same resolution) from a *long skip* (encoder to decoder at the same resolution, by concatenation or addition).
# 2. Count what each costs in parameters.
# 3. Train U-Nets that differ only in their long skips (`concat`, `add`, `none`) as denoisers for the same budget and compare losses and outputs.
# 4. Recognise the naming confusion: many texts call a U-Net's concatenated skips "residual".

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
from ipywidgets import IntSlider, ToggleButtons, interact

from course_lib import UNet, count_parameters
from course_lib.data import load_digits
from course_lib.exercises import check_concat_channels, check_unet_parameters
from course_lib.notebook import setup_notebook
from course_lib.skips import denoising_mse, plot_skip_comparison, show_skip_mode, train_skip_modes

device = setup_notebook(seed=0)
STEPS = 300 if device.type == "cpu" else 2000  # a larger budget on a GPU

# %% [markdown]
# ## Two different connections
#
# | | residual connection | long skip connection |
# |---|---|---|
# | where | around a few layers, inside a `ResBlock` | from an encoder level to the decoder level of the same resolution |
# | operation | $h = x + F(x)$ | `concat([decoder, encoder])` or `decoder + encoder` |
# | job | keeps gradients flowing through depth (notebook 01) | brings back fine spatial detail lost by downsampling |
# | in `course_lib.UNet` | `residual=True/False` | `skip="concat" / "add" / "none"` |
#
# "Outperform" needs a task and a budget, and the two can be switched independently, so the fair
# question is what each one adds to a model that already has the other. Notebook 07 answers it for
# diffusion; here we look at the long skips.
#
# ## What each costs
#
# Concatenation doubles the channels entering the first decoder block of each level; addition keeps them.

# %%
for skip in ("concat", "add", "none"):
    for residual in (True, False):
        print(f"skip={skip!r:>9}, residual={residual!s:>5}: {count_parameters(UNet(skip=skip, residual=residual)):>7,} parameters")

# %% [markdown]
# **Exercise 1.** Write `concat_channels(decoder_channels, skip_channels, mode)`: the number of channels
# entering the decoder block after the long skip, for `mode` in `"concat"`, `"add"`, `"none"`.

# %%
def concat_channels(decoder_channels, skip_channels, mode):
    ### BEGIN SOLUTION
    return decoder_channels + skip_channels if mode == "concat" else decoder_channels
    ### END SOLUTION


# %%
check_concat_channels(concat_channels)

# %% [markdown]
# **Exercise 2.** How many parameters does `UNet(skip="add", residual=False)` have? Store the number in `n_params`.

# %%
### BEGIN SOLUTION
n_params = count_parameters(UNet(skip="add", residual=False))
### END SOLUTION

# %%
check_unet_parameters(n_params)

# %% [markdown]
# ## Same budget, three kinds of long skip
#
# Three U-Nets, identical except for `skip`, are trained with the diffusion objective (predict the noise
# added to a digit; notebook 05 derives it) for the same number of steps, data and seed. The progress bars
# show the training; the figure shows, for six held-out digits noised to $t = 300$, what each model
# recovers, and the three loss curves.

# %% tags=["nbval-ignore-output"]
# Progress bars print timings, which change from run to run.
trainers = train_skip_modes(steps=STEPS, batch_size=64, device=device)

# %%
x_test = load_digits(split="test")
plot_skip_comparison(trainers, x_test, t=300)

# %%
print(f"{'skip':>7} {'params':>8} {'final loss':>11} " + " ".join(f"{'MSE t=' + str(t):>10}" for t in (100, 300, 600)))
for mode, tr in trainers.items():
    model = tr.ema_model.cpu()
    mses = [denoising_mse(model, x_test, t, tr.schedule) for t in (100, 300, 600)]
    final = sum(tr.history.loss[-50:]) / 50
    print(f"{mode:>7} {count_parameters(model):>8,} {final:>11.4f} " + " ".join(f"{m:>10.4f}" for m in mses))

# %% [markdown]
# Read the table before trusting any prose: the column "MSE" is the error of the denoised digit against
# the clean one. With this short budget the differences between the modes are small compared with the
# differences between noise levels. At small $t$ (little noise) the long skips hand the decoder the
# encoder's full-resolution features directly; without them (`none`) every detail has to squeeze through
# the 4x4 bottleneck.
#
# Switch the mode and the noise level to look inside: the top row is the noisy input and the denoised
# output, the rows below are the feature maps the top decoder level receives: the upsampled decoder
# path, and (except for `none`) the encoder's features carried by the long skip.

# %% tags=["nbval-ignore-output"]
# Widget output lives inside the widget, where the notebook tests cannot compare it.
interact(lambda mode, t: show_skip_mode(trainers, mode, t),
         mode=ToggleButtons(options=["concat", "add", "none"], value="concat"),
         t=IntSlider(value=300, min=0, max=999, step=50));

# %%
show_skip_mode(trainers, "concat", t=300)

# %% [markdown]
# ## The naming confusion
#
# Many blog posts (including seed `001`'s neighbours) call the U-Net's concatenated skips "residual
# connections". They are not: nothing is *added* to a block's input, and the skipped features are not a
# residual to be corrected. When you read a claim about "residual connections in U-Nets", first ask which
# of the two it means; the U-Net of DDPM (Ho et al. 2020) has both: residual blocks *and* concatenated
# long skips.
#
# ## Summary
# - Residual connections are short additions inside blocks; long skips carry encoder features to the decoder at the same resolution.
# - Concatenation costs parameters (wider decoder blocks); addition and no skip cost none.
# - At equal budget on 8x8 digits, `none` denoised worst at every noise level in our table, while `concat` and `add` were close; the printed table, not a slogan, is the result.
# - "Residual vs skip" is not a contest: they can be switched independently (notebook 07 does it for diffusion).
#
# ## Going further
# - Ronneberger, Fischer, Brox (2015), *U-Net: Convolutional Networks for Biomedical Image Segmentation*.
# - Ho, Jain, Abbeel (2020), *Denoising Diffusion Probabilistic Models*, Appendix B (the U-Net used).
# - Drozdzal et al. (2016), *The Importance of Skip Connections in Biomedical Image Segmentation* (long and short skips together).
# - Next: **04 · Forward diffusion**.
