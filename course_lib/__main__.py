"""Command line: ``python -m course_lib train ...`` and ``python -m course_lib sample ...``.

Instructors use it to prepare checkpoints before class::

    python -m course_lib train --dataset digits --steps 3000 --out runs/digits.pt
    python -m course_lib sample --checkpoint runs/digits.pt --sampler ddim --steps 50 --n 64 --out runs/samples
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from .checkpoints import load_denoiser
from .data import TOY_2D, load_digits, load_mnist, make_toy_2d
from .mlp_denoiser import MLPDenoiser
from .samplers import DDIMSampler, DDPMSampler
from .schedules import SCHEDULES, NoiseSchedule
from .trainer import TrainConfig, Trainer
from .unet import SKIP_MODES, UNet

DATASETS = ("digits", "digits16", "mnist", "fashion", *TOY_2D)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def load_dataset(name: str, download: bool = False) -> torch.Tensor:
    if name == "digits":
        return load_digits(8)
    if name == "digits16":
        return load_digits(16)
    if name in ("mnist", "fashion"):
        return load_mnist(name, size=32, download=download)
    return make_toy_2d(name, 8000)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m course_lib", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a denoiser and write a checkpoint",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--dataset", choices=DATASETS, default="digits")
    t.add_argument("--download", action="store_true", help="allow downloading MNIST / Fashion-MNIST once")
    t.add_argument("--base-channels", type=positive_int, default=16, help="U-Net width (or MLP hidden / 4)")
    t.add_argument("--channel-mults", type=positive_int, nargs="+", default=[1, 2])
    t.add_argument("--skip", choices=SKIP_MODES, default="concat", help="U-Net long skips")
    t.add_argument("--no-residual", action="store_true", help="switch off the residual connections")
    t.add_argument("--schedule", choices=SCHEDULES, default="linear")
    t.add_argument("--T", type=positive_int, default=1000, help="number of diffusion steps")
    t.add_argument("--steps", type=positive_int, default=3000, help="training steps")
    t.add_argument("--time-budget", type=positive_float, default=None, help="stop after this many seconds")
    t.add_argument("--batch-size", type=positive_int, default=128)
    t.add_argument("--lr", type=positive_float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", choices=("cpu", "cuda", "mps"), default=None, help="default: best available")
    t.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    t.add_argument("--out", type=Path, required=True, help="checkpoint file to write")

    s = sub.add_parser("sample", help="sample from a checkpoint; writes a tensor file and a PNG grid",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    s.add_argument("--checkpoint", type=Path, default=None,
                   help="default: the digits checkpoint shipped with the package")
    s.add_argument("--sampler", choices=("ddpm", "ddim"), default="ddim")
    s.add_argument("--steps", type=positive_int, default=50, help="DDIM steps (DDPM always uses all T)")
    s.add_argument("--eta", type=float, default=0.0, help="DDIM noise, 0 (deterministic) to 1")
    s.add_argument("--n", type=positive_int, default=64, help="number of samples")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--raw", action="store_true", help="use the raw weights instead of the EMA weights")
    s.add_argument("--out", type=Path, required=True, help="output prefix: writes OUT.pt and OUT.png")
    return p


def train(args) -> None:
    data = load_dataset(args.dataset, args.download)
    if args.resume:
        trainer = Trainer.from_checkpoint(args.out, data, device=args.device, checkpoint_path=args.out)
    else:
        torch.manual_seed(args.seed)
        if data.dim() == 2:
            model = MLPDenoiser(dim=data.shape[1], hidden=4 * args.base_channels, residual=not args.no_residual)
        else:
            model = UNet(in_channels=data.shape[1], base_channels=args.base_channels,
                         channel_mults=tuple(args.channel_mults), skip=args.skip, residual=not args.no_residual)
            model.check_input(data[:1], torch.zeros(1, dtype=torch.long))
        config = TrainConfig(steps=args.steps, time_budget_s=args.time_budget, batch_size=args.batch_size,
                             lr=args.lr, seed=args.seed)
        trainer = Trainer(model, NoiseSchedule.make(args.schedule, args.T), data, config, device=args.device,
                          checkpoint_path=args.out)
    history = trainer.train()
    tail = history.loss[-50:]
    print(f"trained {trainer.step} steps on {trainer.device}; final loss {sum(tail) / len(tail):.4f}; "
          f"checkpoint written to {args.out}")


def sample(args) -> None:
    from .plotting import save_image_grid

    model, schedule, ckpt = load_denoiser(args.checkpoint, ema=not args.raw)
    images = ckpt["model"]["kind"] == "unet"
    sampler = (DDPMSampler(schedule, clip_x0=images) if args.sampler == "ddpm"
               else DDIMSampler(schedule, num_steps=min(args.steps, schedule.T), eta=args.eta, clip_x0=images))
    shape = (args.n, *ckpt["data_shape"])
    x = sampler.sample(model, shape, generator=torch.Generator().manual_seed(args.seed), progress=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(x.clamp(-1, 1) if images else x, args.out.with_suffix(".pt"))
    if images:
        save_image_grid(x, args.out.with_suffix(".png"))
    else:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(x[:, 0], x[:, 1], s=3)
        fig.savefig(args.out.with_suffix(".png"), dpi=100)
    print(f"wrote {args.out.with_suffix('.pt')} ({list(x.shape)}) and {args.out.with_suffix('.png')}")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        {"train": train, "sample": sample}[args.command](args)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
