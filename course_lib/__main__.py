"""Command line: ``python -m course_lib train ...`` and ``python -m course_lib sample ...``.

Instructors use it to prepare checkpoints before class::

    python -m course_lib train --dataset digits --steps 3000 --out runs/digits.pt
    python -m course_lib sample --checkpoint runs/digits.pt --sampler ddim --steps 50 --n 64 --out runs/samples

Exit status: 0 done, 2 bad input (arguments, data, an unusable checkpoint or output path), 1 training
stopped on a non-finite loss (the last good state is saved), 130 Ctrl-C, 143 SIGTERM (the state is
saved in both cases: continue with ``--resume``).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import torch

from .checkpoints import TRAINER_KEYS, check_writable, load_checkpoint, load_denoiser
from .data import TOY_2D, load_digits, load_mnist, make_toy_2d
from .mlp_denoiser import MLPDenoiser
from .samplers import DDIMSampler, DDPMSampler
from .schedules import SCHEDULES, NoiseSchedule
from .study_runner import STUDIES, get_study, run_study
from .trainer import TrainConfig, Trainer
from .unet import SKIP_MODES, UNet
from .utils import check_device

DATASETS = ("digits", "digits16", "mnist", "fashion", *TOY_2D)
DESCRIPTION = ("Train a course_lib denoiser and write a checkpoint ('train'), or sample from one ('sample'). "
               "Run 'python -m course_lib train --help' for the options of each.")
# Options of `train` that define the run; --resume keeps them from the checkpoint and refuses a different value.
ARCH_DEFAULTS = {"dataset": "digits", "base_channels": 16, "channel_mults": [1, 2], "skip": "concat",
                 "no_residual": False, "conditional": False, "schedule": "linear", "T": 1000, "batch_size": 128,
                 "seed": 0}
TRAIN_DEFAULTS = {"steps": 3000, "lr": 2e-3}
RESUME_HELP = ("continue the run saved in --out. Kept from the checkpoint: dataset, architecture, schedule, T, "
               "batch size, seed, model, EMA, optimiser and random state (giving a different value for one of "
               "these is refused). Applied: --steps (the new total, so a finished run can be extended), "
               "--time-budget (for this call) and --lr (from now on).")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def load_labels(name: str, download: bool = False) -> torch.Tensor:
    """The class labels of an image dataset, in the order ``load_dataset`` gives its images."""
    if name in ("digits", "digits16"):
        return load_digits(8, return_labels=True)[1]
    if name in ("mnist", "fashion"):
        return load_mnist(name, size=32, download=download, return_labels=True)[1]
    raise ValueError(f"--conditional needs a dataset with labels (digits, digits16, mnist, fashion); "
                     f"--dataset {name} is 2-D points without classes")


def load_dataset(name: str, download: bool = False) -> torch.Tensor:
    if name == "digits":
        return load_digits(8)
    if name == "digits16":
        return load_digits(16)
    if name in ("mnist", "fashion"):
        return load_mnist(name, size=32, download=download)
    return make_toy_2d(name, 8000)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m course_lib", description=DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True)
    d = {**ARCH_DEFAULTS, **TRAIN_DEFAULTS}

    t = sub.add_parser("train", help="train a denoiser and write a checkpoint",
                       description="Train a denoiser and write a checkpoint (also when stopped early: Ctrl-C, "
                                   "SIGTERM, a non-finite loss). Exit status 0 done, 1 non-finite loss, 2 bad "
                                   "input, 130 Ctrl-C, 143 SIGTERM.")
    t.add_argument("--dataset", choices=DATASETS, default=None, help=f"(default: {d['dataset']})")
    t.add_argument("--download", action="store_true", help="allow downloading MNIST / Fashion-MNIST once")
    t.add_argument("--base-channels", type=positive_int, default=None,
                   help=f"U-Net width, at least 2 (or MLP hidden / 4) (default: {d['base_channels']})")
    t.add_argument("--channel-mults", type=positive_int, nargs="+", default=None,
                   help="U-Net channels per level, as multiples of --base-channels (default: 1 2)")
    t.add_argument("--skip", choices=SKIP_MODES, default=None, help=f"U-Net long skips (default: {d['skip']})")
    t.add_argument("--no-residual", action="store_true", default=None,
                   help="switch off the residual connections (default: on)")
    t.add_argument("--conditional", action="store_true", default=None,
                   help="class-conditional U-Net with classifier-free guidance (notebook 08): sample with --label")
    t.add_argument("--p-uncond", type=float, default=None, metavar="P",
                   help="with --conditional: probability of showing an example without its label (default: 0.1)")
    t.add_argument("--schedule", choices=SCHEDULES, default=None, help=f"(default: {d['schedule']})")
    t.add_argument("--T", type=positive_int, default=None,
                   help=f"number of diffusion steps, at least 2 (default: {d['T']})")
    t.add_argument("--steps", type=positive_int, default=None,
                   help=f"total training steps (with --resume: the new total) (default: {d['steps']})")
    t.add_argument("--time-budget", type=positive_float, default=None,
                   help="stop after this many seconds of this call (default: no limit)")
    t.add_argument("--batch-size", type=positive_int, default=None, help=f"(default: {d['batch_size']})")
    t.add_argument("--lr", type=positive_float, default=None, help=f"AdamW learning rate (default: {d['lr']})")
    t.add_argument("--seed", type=int, default=None, help=f"(default: {d['seed']})")
    t.add_argument("--device", choices=("cpu", "cuda", "mps"), default=None,
                   help="(default: the best available: cuda, mps, cpu)")
    t.add_argument("--save-every", type=positive_int, default=None, metavar="N",
                   help="also save the checkpoint every N steps (default: only at the end or on a stop)")
    t.add_argument("--resume", action="store_true", help=RESUME_HELP)
    t.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out file with a new run (default: refuse)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--out", type=Path, required=True, metavar="FILE.pt",
                   help="checkpoint file to write (required); checked before training starts")

    r = sub.add_parser("study", help="run (or continue) one of the course's shipped studies on Ray",
                       description="Run the (variant, seed) runs of a shipped study that its output file does not "
                                   "hold yet, on a local Ray instance or a cluster; stopped, it keeps every finished "
                                   "run, and the same command continues. Needs Ray: pip install 'course-lib[studies]'.")
    r.add_argument("name", choices=sorted(STUDIES), help="the study")
    r.add_argument("--seeds", type=int, nargs="+", default=None, help="(default: the study's own)")
    r.add_argument("--out", type=Path, default=None,
                   help="(default: the shipped file inside the package, which the notebooks read)")
    r.add_argument("--address", default=None,
                   help="a Ray cluster to run on ('auto', 'ray://HOST:10001'); default: a local instance")
    r.add_argument("--jobs", type=int, default=None, help="CPUs of the local instance (default: all)")
    r.add_argument("--threads", type=int, default=1, help="torch CPU threads per run (default: 1)")
    r.add_argument("--gpus-per-run", type=float, default=None,
                   help="fraction of a GPU each run asks for where there are GPUs (default: 0.25)")

    s = sub.add_parser("sample", help="sample from a checkpoint; writes a tensor file and a PNG grid")
    s.add_argument("--checkpoint", type=Path, default=None,
                   help="(default: the digits checkpoint shipped with the package)")
    s.add_argument("--sampler", choices=("ddpm", "ddim"), default="ddim", help="(default: ddim)")
    s.add_argument("--steps", type=positive_int, default=50, help="DDIM steps; DDPM always uses all T (default: 50)")
    s.add_argument("--eta", type=float, default=0.0, help="DDIM noise, 0 (deterministic) to 1 (default: 0)")
    s.add_argument("--n", type=positive_int, default=64, help="number of samples (default: 64)")
    s.add_argument("--seed", type=int, default=0, help="(default: 0)")
    s.add_argument("--raw", action="store_true", help="use the raw weights instead of the EMA weights")
    s.add_argument("--label", type=int, default=None,
                   help="the class to draw, from a --conditional checkpoint (e.g. 7 for digits)")
    s.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale with --label: 0 ignores the label, 1 is the conditional "
                        "model (default: 3)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--out", type=Path, required=True, metavar="PREFIX",
                   help="output prefix (required): writes PREFIX.pt and PREFIX.png")
    return p


class Interrupted(Exception):
    """Training stopped by a signal after saving; carries the exit status."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _resume(args, data) -> Trainer:
    ckpt = load_checkpoint(args.out, required=TRAINER_KEYS)  # a clear error before anything else
    saved_cfg, spec = ckpt["config"], ckpt["model"]["config"]
    saved = {"dataset": (ckpt.get("meta") or {}).get("dataset"), "schedule": ckpt["schedule"]["name"],
             "T": ckpt["schedule"]["T"], "batch_size": saved_cfg["batch_size"], "seed": saved_cfg["seed"],
             "base_channels": spec.get("base_channels", spec.get("hidden", 0) // 4 or None),
             "channel_mults": list(spec["channel_mults"]) if "channel_mults" in spec else None,
             "skip": spec.get("skip"), "no_residual": not spec.get("residual", True),
             "conditional": bool(spec.get("num_classes"))}
    for name, value in saved.items():
        given = getattr(args, name)
        if given is None or value is None:
            continue
        if given != value:
            raise ValueError(f"--resume: {_option(name)} {given} differs from the saved run's {value} in {args.out}; "
                             f"resume keeps the dataset, architecture, schedule, batch size and seed (leave "
                             f"{_option(name)} out, or start a new run with another --out)")
    if list(data.shape[1:]) != list(ckpt["data_shape"]):
        raise ValueError(f"--resume: dataset {args.dataset} has examples of shape {list(data.shape[1:])}, but the "
                         f"run in {args.out} was trained on {list(ckpt['data_shape'])}")
    labels = load_labels(args.dataset or saved["dataset"], args.download) if saved["conditional"] else None
    trainer = Trainer.from_checkpoint(args.out, data, device=args.device, checkpoint_path=args.out,
                                      progress=not args.quiet, labels=labels)
    if args.steps is not None:
        trainer.config.steps = args.steps
    trainer.config.time_budget_s = args.time_budget
    if args.lr is not None and args.lr != trainer.config.lr:
        print(f"--resume: learning rate {trainer.config.lr} -> {args.lr} from step {trainer.step}")
        trainer.config.lr = args.lr
        for group in trainer.optimizer.param_groups:
            group["lr"] = args.lr
    if args.save_every is not None:
        trainer.config.checkpoint_every = args.save_every
    if trainer.step >= trainer.config.steps:
        print(f"the run in {args.out} has already trained {trainer.step} steps (--steps {trainer.config.steps}); "
              f"give a larger --steps to extend it")
    return trainer


def train(args) -> int:
    if args.device is not None:
        check_device(args.device, "--device")
    if args.out.is_dir():
        check_writable(args.out)  # "it is a folder; give a file name"
    if args.out.exists() and not (args.resume or args.overwrite):
        raise FileExistsError(f"--out {args.out} exists: add --resume to continue that run, --overwrite to replace "
                              f"it, or choose another file")
    if args.resume and not args.out.exists():
        raise FileNotFoundError(f"--resume: {args.out} does not exist; leave --resume out to start a new run")
    check_writable(args.out)
    if args.T is not None and args.T < 2:
        raise ValueError(f"--T {args.T} is not allowed; T must be at least 2 (with T=1 the only noise level keeps "
                         f"most of the data, and sampling would start from pure noise it never saw)")
    dataset = args.dataset or ARCH_DEFAULTS["dataset"]
    if args.resume:
        saved_dataset = (load_checkpoint(args.out, required=TRAINER_KEYS).get("meta") or {}).get("dataset")
        dataset = args.dataset or saved_dataset or ARCH_DEFAULTS["dataset"]
    if args.p_uncond is not None and not args.conditional:
        raise ValueError(f"--p-uncond {args.p_uncond} needs --conditional (it is the share of examples shown "
                         f"without their label)")
    data = load_dataset(dataset, args.download)
    labels = load_labels(dataset, args.download) if args.conditional and not args.resume else None
    args.dataset = args.dataset if args.resume else dataset
    if args.resume:
        trainer = _resume(args, data)
    else:
        a = {k: (getattr(args, k) if getattr(args, k) is not None else v) for k, v in ARCH_DEFAULTS.items()}
        torch.manual_seed(a["seed"])
        if data.dim() == 2:
            model = MLPDenoiser(dim=data.shape[1], hidden=4 * a["base_channels"], residual=not a["no_residual"])
        else:
            model = UNet(in_channels=data.shape[1], base_channels=a["base_channels"],
                         channel_mults=tuple(a["channel_mults"]), skip=a["skip"], residual=not a["no_residual"],
                         num_classes=10 if labels is not None else 0)
            model.check_input(data[:1], torch.zeros(1, dtype=torch.long))
        config = TrainConfig(steps=args.steps or TRAIN_DEFAULTS["steps"], time_budget_s=args.time_budget,
                             batch_size=a["batch_size"], lr=args.lr or TRAIN_DEFAULTS["lr"], seed=a["seed"],
                             checkpoint_every=args.save_every,
                             p_uncond=0.1 if args.p_uncond is None else args.p_uncond)
        trainer = Trainer(model, NoiseSchedule.make(a["schedule"], a["T"]), data, config, device=args.device,
                          checkpoint_path=args.out, progress=not args.quiet, meta={"dataset": dataset},
                          labels=labels)
    history = trainer.train()  # saves to --out however it stops (FloatingPointError after saving)
    tail = history.loss[-50:]
    final = f"final loss {sum(tail) / len(tail):.4f}; " if tail else ""
    if trainer.stop_reason in ("SIGINT", "SIGTERM", "KeyboardInterrupt"):
        print(f"stopped by {trainer.stop_reason} after {trainer.step} steps; {final}checkpoint written to {args.out}; "
              f"continue with --resume", file=sys.stderr)
        return 143 if trainer.stop_reason == "SIGTERM" else 130
    print(f"trained {trainer.step} steps on {trainer.device}; {final}checkpoint written to {args.out}")
    return 0


def output_paths(out: Path) -> tuple[Path, Path]:
    """``PREFIX.pt`` and ``PREFIX.png``: the suffix is appended (``run.v1`` -> ``run.v1.pt``), except that a
    given ``.pt`` / ``.png`` is replaced."""
    stem = out.with_suffix("") if out.suffix in (".pt", ".png") else out
    return stem.with_name(stem.name + ".pt"), stem.with_name(stem.name + ".png")


def sample(args) -> int:
    from .plotting import save_image_grid

    pt, png = output_paths(args.out)
    check_writable(pt)
    model, schedule, ckpt = load_denoiser(args.checkpoint, ema=not args.raw)
    images = ckpt["model"]["kind"] == "unet"
    sampler = (DDPMSampler(schedule, clip_x0=images) if args.sampler == "ddpm"
               else DDIMSampler(schedule, num_steps=min(args.steps, schedule.T), eta=args.eta, clip_x0=images))
    shape = (args.n, *ckpt["data_shape"])
    num_classes = getattr(model, "num_classes", 0)
    if (args.label is not None or args.guidance is not None) and not num_classes:
        raise ValueError(f"--label/--guidance need a class-conditional checkpoint (train --conditional); "
                         f"{args.checkpoint or 'the default checkpoint'} is unconditional")
    if args.guidance is not None and args.label is None:
        raise ValueError(f"--guidance {args.guidance} needs --label (the class to guide towards, 0..{num_classes - 1})")
    if args.label is not None and not 0 <= args.label < num_classes:
        raise ValueError(f"--label {args.label} is not allowed; this checkpoint draws labels 0..{num_classes - 1}")
    guidance = {} if args.label is None else {"label": args.label,
                                              "guidance": 3.0 if args.guidance is None else args.guidance}
    x = sampler.sample(model, shape, generator=torch.Generator().manual_seed(args.seed), progress=not args.quiet,
                       **guidance)
    torch.save(x.clamp(-1, 1) if images else x, pt)
    if images:
        save_image_grid(x, png)
    else:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(x[:, 0], x[:, 1], s=3)
        fig.savefig(png, dpi=100)
    print(f"wrote {pt} ({list(x.shape)}) and {png}")
    return 0


def _sigterm(signum, frame):
    raise Interrupted(143)


def study(args) -> int:
    """``python -m course_lib study NAME``: the study's missing runs on Ray (``study_runner.run_study``)."""
    spec = get_study(args.name)
    out = args.out or spec.out
    rows = run_study(spec, out=out, seeds=args.seeds, address=args.address, jobs=args.jobs, threads=args.threads,
                     gpus_per_run=args.gpus_per_run)
    print(f"{args.name}: {len(rows)} rows in {out}")
    return 0


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    previous = None
    try:  # outside training (loading data, sampling) SIGTERM exits 143 with a message, not a bare -15
        previous = signal.signal(signal.SIGTERM, _sigterm)
    except ValueError:  # not the main thread
        pass
    try:
        return {"train": train, "sample": sample, "study": study}[args.command](args)
    except FloatingPointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError, RuntimeError, ImportError) as err:  # CheckpointError is a ValueError
        text = " ".join(str(err).split()) or type(err).__name__
        print(f"error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except Interrupted as stop:
        print("stopped by SIGTERM", file=sys.stderr)
        return stop.status
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
