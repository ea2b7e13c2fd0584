"""Re-create the digits checkpoints shipped inside the package (course_lib/checkpoints/).

    python scripts/make_checkpoint.py                          # digits_unet.pt, about 4 minutes on 2 CPU cores
    python scripts/make_checkpoint.py --conditional            # digits_unet_cond.pt (notebook 08), about 5 minutes
    python scripts/make_checkpoint.py --conditional --label-at input   # digits_unet_cond_input.pt (08's control)

Trains the default U-Net (base 16, channel_mults (1, 2), concat skips, residual blocks) on
the 1,000 digits of the "train" split of scikit-learn's 8x8 digits (the other 797 stay held out
for the quality score) with the linear schedule, then keeps only what sampling needs: the
model spec, the EMA weights, the schedule, the data shape and the loss history. ``--conditional`` trains the same
U-Net conditioned on the digit's label (``UNet(num_classes=10)``), each label dropped with probability 0.1 for
classifier-free guidance.
"""

import argparse
from pathlib import Path

import torch

from course_lib import NoiseSchedule, UNet
from course_lib.checkpoints import SHIPPED, save_checkpoint
from course_lib.data import load_digits
from course_lib.trainer import TrainConfig, Trainer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--conditional", action="store_true", help="condition on the digit's label")
    p.add_argument("--label-at", choices=("blocks", "input"), default="blocks")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    name = "digits_unet" + ("_cond" + ("_input" if args.label_at == "input" else "") if args.conditional else "")
    args.out = args.out or SHIPPED / f"{name}.pt"
    x, y = load_digits(split="train", return_labels=True)
    torch.manual_seed(0)
    model = UNet(num_classes=10, label_at=args.label_at) if args.conditional else UNet()
    trainer = Trainer(model, NoiseSchedule.make("linear", 1000), x,
                      TrainConfig(steps=args.steps, lr=2e-3, ema_decay=0.995, seed=0), device="cpu",
                      labels=y if args.conditional else None)
    trainer.train()
    full = trainer.state_dict()
    slim = {k: full[k] for k in ("model", "ema", "schedule", "data_shape", "config", "step")}
    slim["model_state"] = full["ema"]  # no optimiser state: sampling needs the EMA weights only
    slim["history"] = {"loss": full["history"]["loss"]}
    save_checkpoint(slim, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) after {trainer.step} steps")


if __name__ == "__main__":
    main()
