"""The capstone's budget-heavy runs: six U-Net variants at an *equal wall-clock budget*, several seeds.

    python scripts/capstone.py [--budget 40] [--seeds 0 1]      (about 6 x 2 x 30 s on 2 CPU cores)

Writes course_lib/results/capstone.json (shipped inside the package), which notebook 07 loads next to its
own reduced live run.
Run it on an otherwise idle machine: the budget is wall-clock time.
"""

import argparse
import platform

import torch

from course_lib.capstone import RESULTS, format_table, run_capstone, save_results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=30.0, help="seconds of training per run")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = run_capstone(time_budget_s=args.budget, seeds=tuple(args.seeds))
    meta = {"budget_s": args.budget, "seeds": args.seeds, "threads": args.threads, "torch": torch.__version__,
            "machine": platform.machine()}
    save_results(rows, RESULTS, meta)
    print(format_table(rows, timing=True))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
