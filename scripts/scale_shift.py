"""Does scale-shift conditioning help at this scale? (improved-diffusion's ``use_scale_shift_norm``, Dhariwal &
Nichol 2021, Sec. 3.1 and their ablation in Table 3, where it helped on ImageNet 128x128).

    python scripts/scale_shift.py [--steps 2000] [--seeds 0 1 2]

Trains the conditional U-Net of notebook 08 (``UNet(num_classes=10)``, the recipe of ``make_checkpoint.py``:
batch 128, lr 2e-3, EMA 0.995, labels dropped with probability 0.1) with the embedding added to each ResBlock's
activations (the default) and with it scaling and shifting them (``scale_shift=True``), each for ``--steps``
steps from each training seed; scores both with notebook 08's measurement (``measure_tradeoff``: the share read as
the asked digit, diversity, FD against the held-out digits, 200 samples) at guidance 1 and 1.25, one sampling
seed; writes course_lib/results/scale_shift.json and prints a table, with the difference paired by training seed.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from course_lib import NoiseSchedule, UNet
from course_lib.data import load_digits
from course_lib.lessons.guidance import measure_tradeoff
from course_lib.trainer import TrainConfig, Trainer

OUT = Path(__file__).resolve().parents[1] / "course_lib" / "results" / "scale_shift.json"
SCALES = (1.0, 1.25)


def run(seed: int, scale_shift: bool, steps: int) -> dict:
    x, y = load_digits(split="train", return_labels=True)
    torch.manual_seed(seed)
    model = UNet(num_classes=10, scale_shift=scale_shift)
    trainer = Trainer(model, NoiseSchedule.make("linear", 1000), x,
                      TrainConfig(steps=steps, lr=2e-3, ema_decay=0.995, seed=seed, p_uncond=0.1), device="cpu",
                      labels=y, progress=False)
    start = time.perf_counter()
    trainer.train()
    table = measure_tradeoff(trainer.ema_model.eval(), trainer.schedule, scales=SCALES, seeds=(0,))
    return {"seed": seed, "scale_shift": scale_shift, "steps": steps, "train_s": round(time.perf_counter() - start),
            "params": sum(p.numel() for p in model.parameters()),
            **{f"{key}@{s:g}": table[key][s][0] for key in ("accuracy", "diversity", "fd") for s in SCALES}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args()
    rows = [run(seed, scale_shift, args.steps) for seed in args.seeds for scale_shift in (False, True)]
    OUT.write_text(json.dumps(rows, indent=1) + "\n")
    keys = [k for k in rows[0] if "@" in k]
    print("| scale_shift | params | " + " | ".join(keys) + " |")
    for flag in (False, True):
        mine = [r for r in rows if r["scale_shift"] == flag]
        print(f"| {flag} | {mine[0]['params']:,} | "
              + " | ".join(f"{np.mean([r[k] for r in mine]):.3f}" for k in keys) + " |")
    for k in keys:
        d = [b[k] - a[k] for a, b in zip(rows[0::2], rows[1::2])]
        print(f"{k}: scale-shift minus add, per training seed {[round(v, 3) for v in d]}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
