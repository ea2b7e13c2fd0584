"""Time the capstone's variants on this machine's CPU and store it beside the shipped learning curves.

    python scripts/capstone.py            # a quiet machine: 2 threads, interleaved, median of 15 rounds

The curves themselves are a study run on Ray, resumable, on this machine or on a cluster:

    python -m course_lib study capstone                 # what shipped: 7 variants x 5 seeds (README: studies)
    python -m course_lib study capstone --address auto  # on the Ray cluster this machine belongs to

Budgets are step counts, never seconds; the seconds per step stored here (``cpu_s_per_step``) are shown beside
the curves in notebook 07's table and never pick a budget.
"""

import argparse

import torch

from course_lib.data import load_digits
from course_lib.lessons.residual_in_diffusion import CURVE_BATCH
from course_lib.study import load_study, save_study, seconds_per_step
from course_lib.trainer import TrainConfig
from course_lib.variants import CURVES, SWEEP_VARIANTS


def cpu_timing(rounds: int = 15) -> dict[str, float]:
    """Seconds per training step of every variant on this machine's CPU with 2 threads (interleaved, median)."""
    torch.set_num_threads(2)
    return seconds_per_step({v.name: v.build for v in SWEEP_VARIANTS}, load_digits(split="train"),
                            TrainConfig(batch_size=CURVE_BATCH), rounds=rounds, device="cpu")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(CURVES), help="(default: the shipped curves)")
    args = p.parse_args()
    meta, rows = load_study(args.out)
    meta["cpu_s_per_step"] = cpu_timing()
    save_study(rows, args.out, meta)
    print("CPU seconds per step (2 threads):", {k: round(v, 4) for k, v in meta["cpu_s_per_step"].items()})


if __name__ == "__main__":
    main()
