"""course_lib: the small PyTorch package behind the course "From residual connections to diffusion models".

One module per concept:

* ``deep_nets``, ``gradients``: plain vs residual deep nets and their gradient instrumentation;
* ``blocks``: basic, bottleneck and pre-activation residual blocks;
* ``unet``: the U-Net denoiser with switchable residual connections and long skips;
* ``schedules``, ``diffusion``, ``samplers``: noise schedules, the forward process, DDPM and DDIM;
* ``utils``: seeding and device selection.
"""

from .blocks import BasicBlock, BottleneckBlock, PreActBlock, SmallResNet
from .deep_nets import DeepCNN, DeepMLP
from .diffusion import diffusion_loss, p_mean_variance, predict_x0, q_posterior_mean_variance, q_sample, q_step
from .gradients import layer_gradient_norms, neighbour_gradient_correlation, shattered_gradients
from .samplers import DDIMSampler, DDPMSampler, Trajectory, ddim_timesteps
from .schedules import NoiseSchedule
from .unet import UNet, timestep_embedding
from .utils import count_parameters, environment_report, get_device, seed_everything

__version__ = "0.1.0"

__all__ = [
    "BasicBlock",
    "BottleneckBlock",
    "DDIMSampler",
    "DDPMSampler",
    "DeepCNN",
    "DeepMLP",
    "NoiseSchedule",
    "PreActBlock",
    "SmallResNet",
    "Trajectory",
    "UNet",
    "count_parameters",
    "ddim_timesteps",
    "diffusion_loss",
    "environment_report",
    "get_device",
    "layer_gradient_norms",
    "neighbour_gradient_correlation",
    "p_mean_variance",
    "predict_x0",
    "q_posterior_mean_variance",
    "q_sample",
    "q_step",
    "seed_everything",
    "shattered_gradients",
    "timestep_embedding",
]
