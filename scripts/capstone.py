"""The capstone's equal-time runs: seven U-Net variants at an *equal wall-clock budget*, several seeds.

    nice -n 10 python scripts/capstone.py [--ref-steps 300] [--seeds 0 1 2 3 4]   (about 12 minutes of CPU)

1. Calibration: every variant's seconds per training step, timed interleaved on this machine
   (``lessons.residual_in_diffusion.calibrate``); the reference variant (residual, concat) gets ``--ref-steps`` steps
   and every other variant the number of steps that takes the same time (``steps_for_budget``).
2. Training and measurement: each (variant, seed) trains for its step count, so the results depend on
   (variant, seed, steps) and not on how busy the machine is while they run.

Writes course_lib/results/capstone.json (shipped inside the package; calibration and step counts in its
"meta", 16 samples of every run for notebook 07's samples widget), which notebook 07 loads next to its own
reduced live run. (The file shipped now was written before samples were kept for every seed: it has them for
seed 0 only.)
"""

import argparse
import multiprocessing
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import torch

from course_lib.lessons.residual_in_diffusion import (
    REFERENCE,
    RESULTS,
    SWEEP_VARIANTS,
    Variant,
    calibrate,
    format_effects,
    format_table,
    run_variant,
    save_results,
    steps_for_budget,
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ref-steps", type=int, default=300, help="steps of the reference variant (residual, concat)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (calibration included)")
    p.add_argument("--jobs", type=int, default=3, help="runs in parallel (results do not depend on it)")
    p.add_argument("--eval-draws", type=int, default=24, help="t/noise draws for the held-out gap")
    p.add_argument("--samples", type=int, default=300, help="DDIM samples per model for the FD")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()
    sec_per_step = calibrate(SWEEP_VARIANTS)
    steps = steps_for_budget(sec_per_step, args.ref_steps)
    print("calibration (s/step):", {v.name: round(s, 4) for v, s in sec_per_step.items()}, flush=True)
    meta = {"reference": [REFERENCE.kind, REFERENCE.skip], "ref_steps": args.ref_steps,
            "budget_s": args.ref_steps * sec_per_step[REFERENCE], "seeds": args.seeds,
            "threads": args.threads, "batch_size": 64,
            "eval_draws": args.eval_draws, "n_samples": args.samples,
            "calibration_s_per_step": {v.name: s for v, s in sec_per_step.items()},
            "steps": {v.name: n for v, n in steps.items()},
            "torch": torch.__version__, "machine": platform.machine(),
            "command": "nice -n 10 python scripts/capstone.py " + " ".join(
                f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                for k, v in vars(args).items() if k != "out")}
    rows = []
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=torch.set_num_threads, initargs=(args.threads,)) as pool:
        futures = [pool.submit(run_variant, v, steps[v], seed=seed, eval_draws=args.eval_draws,
                               n_samples=args.samples, keep_samples=16)
                   for seed in args.seeds for v in SWEEP_VARIANTS]
        for future in as_completed(futures):
            r = future.result()
            rows.append(r)
            print(f"seed {r['seed']} {r['kind']:>22} {r['skip']:>6}: {r['steps']} steps, loss {r['final_loss']:.4f}, "
                  f"gap {r['gap']:+.4f} (null {r['null']:+.4f}), FD {r['fd']:.1f}  [{time.time() - start:.0f} s]",
                  flush=True)
            save_results(rows, args.out, meta)  # partial results survive an interruption
    order = {v: i for i, v in enumerate(SWEEP_VARIANTS)}
    rows.sort(key=lambda r: (r["seed"], order[Variant.of(r)]))
    meta["wall_s"] = round(time.time() - start)
    save_results(rows, args.out, meta)
    print(format_table(rows))
    print(format_effects(rows))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
