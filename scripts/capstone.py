"""The capstone's learning curves: seven U-Net variants x five seeds, each measured at 125 ... 4,000 steps.

    bash scripts/gpu_studies.sh OUTDIR         # one GPU and 16 CPU cores: 8 minutes (how the shipped file was made)
    nice -n 10 python scripts/capstone.py --device cpu --jobs 2     # 2 CPU cores: about 2 hours
    python scripts/capstone.py --timing only   # re-time the variants' steps on this CPU (a quiet machine)

Every variant trains on the 1,000 "train" digits with the same batch (128), learning rate, EMA schedule and
step counts, and is measured at every budget of ``CURVE_BUDGETS`` (``measure_at_budget``: training loss, FD of
300 DDIM-20 samples from the EMA and from the raw weights against the 797 held-out digits, held-out gap and its
null, held-out x0-MSE at notebook 03's t). Budgets are step counts, never seconds; each variant's seconds per
step on this machine's CPU (``seconds_per_step``, timed interleaved) are stored beside them, together with the
score of real digits (the floor, 10 draws) and of Gaussian noise (the ceiling).

Writes course_lib/results/capstone_curves.json (shipped inside the package), which notebooks 03 and 07 load.
"""

import argparse
import platform

import numpy as np
import torch

from course_lib.data import load_digits
from course_lib.lessons.residual_in_diffusion import (
    CURVE_BATCH,
    CURVE_BUDGETS,
    CURVES,
    PROBE_TS,
    SWEEP_VARIANTS,
    variant_curve,
)
from course_lib.metrics import digit_ceiling, digit_classifier, digit_floor
from course_lib.study import load_study, run_study, save_study, seconds_per_step
from course_lib.trainer import TrainConfig


def reference_scores(n: int = 300, draws: int = 10) -> dict:
    """FD of ``n`` real training digits (the floor) and of ``n`` noise images (the ceiling) against the
    held-out digits, for ``draws`` draws each."""
    return {"floor": [digit_floor(n, s) for s in range(draws)], "ceiling": [digit_ceiling(n, s) for s in range(draws)]}


def cpu_timing() -> dict[str, float]:
    """Seconds per training step of every variant on this machine's CPU with 2 threads (interleaved, median)."""
    torch.set_num_threads(2)
    return seconds_per_step({v.name: v.build for v in SWEEP_VARIANTS}, load_digits(split="train"),
                            TrainConfig(batch_size=CURVE_BATCH), rounds=15, device="cpu")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--budgets", type=int, nargs="+", default=list(CURVE_BUDGETS))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel (results do not depend on it)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    p.add_argument("--timing", choices=["here", "skip", "only"], default="here",
                   help="time each variant's training step on this machine's CPU (2 threads); 'only': add the "
                        "timing to an existing --out file and train nothing")
    p.add_argument("--out", default=str(CURVES))
    args = p.parse_args()
    if args.timing == "only":
        meta, rows = load_study(args.out)
        meta["cpu_s_per_step"] = cpu_timing()
        save_study(rows, args.out, meta)
        print("CPU seconds per step (2 threads):", {k: round(v, 4) for k, v in meta["cpu_s_per_step"].items()})
        return
    digit_classifier()  # train and cache the score's classifier once, before the workers start
    meta = {"variants": [[v.kind, v.skip] for v in SWEEP_VARIANTS], "seeds": args.seeds, "budgets": args.budgets,
            "batch_size": CURVE_BATCH, "lr": TrainConfig().lr, "ema_decay": TrainConfig().ema_decay,
            "probe_ts": list(PROBE_TS), "n_samples": 300, "sampler": "DDIM-20, clipped x0-hat",
            "device": args.device, "torch": torch.__version__, "machine": platform.machine(),
            "reference": reference_scores(), "command": "python scripts/capstone.py " + " ".join(
                f"--{k} {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in vars(args).items()
                if k not in ("out", "timing"))}
    if args.timing == "here":
        meta["cpu_s_per_step"] = cpu_timing()
        print("CPU seconds per step (2 threads):", {k: round(s, 4) for k, s in meta["cpu_s_per_step"].items()})
    keys = [{"kind": v.kind, "skip": v.skip} for v in SWEEP_VARIANTS]
    rows = run_study(variant_curve, keys, args.seeds, args.out, meta, jobs=args.jobs, budgets=args.budgets,
                     device=args.device, threads=args.threads)
    top = max(args.budgets)
    for key in keys:
        fds = [r["fd_ema"] for r in rows if r["steps"] == top and r["kind"] == key["kind"]
               and r["skip"] == key["skip"]]
        print(f"{key['kind']:>22} {key['skip']:>6} at {top} steps: FD {np.mean(fds):.1f} "
              f"({min(fds):.1f}-{max(fds):.1f})")
    print(f"floor {np.mean(meta['reference']['floor']):.1f}, ceiling {np.mean(meta['reference']['ceiling']):.1f}; "
          f"wrote {args.out}")


if __name__ == "__main__":
    main()
