"""The widgets as they were before live figures (commit 8455e5f): ``interact`` over a function that builds a
whole new figure, which the inline backend then encodes with ``bbox_inches="tight"``.

Kept so that the "before" column of ``benchmarks/results/widgets.json`` can be measured again: it only runs
against a checkout of that commit, whose modules had other names::

    git worktree add /tmp/before 8455e5f
    PYTHONPATH=/tmp/before python benchmarks/bench_widgets_interact.py

Times, per widget and control, the call plus the encoding, over the control's values (2 threads).
"""

from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "widgets_before.json"


def sweep(fn, values) -> dict:
    from IPython.core.pylabtools import print_figure

    times = []
    for v in values:
        start = time.perf_counter()
        print_figure(fn(v), "png", bbox_inches="tight")
        times.append(1000 * (time.perf_counter() - start))
    return {"median_ms": round(float(np.median(times)), 1), "p90_ms": round(float(np.percentile(times, 90)), 1),
            "n": len(times)}


def main() -> int:
    import matplotlib

    matplotlib.use("Agg")
    torch.set_num_threads(2)
    from course_lib.forward import show_forward
    from course_lib.lesion import show_lesion
    from course_lib.notebook import plot_wave, setup_notebook
    from course_lib.sampling import show_samples_at, show_trajectory_step
    from course_lib.skips import show_skip_mode
    from course_lib.training_views import show_toy_samples
    from course_lib.vanishing import show_gradient_profiles

    from course_lib import DDIMSampler, NoiseSchedule, UNet
    from course_lib.blocks import SmallResNet
    from course_lib.checkpoints import load_denoiser
    from course_lib.mlp_denoiser import MLPDenoiser

    setup_notebook(0)
    linear = NoiseSchedule.make("linear", 1000)
    nets = {"residual": SmallResNet(residual=True).eval(), "plain": SmallResNet(residual=False).eval()}
    trainers = {m: types.SimpleNamespace(model=UNet(skip=m), ema_model=UNet(skip=m).eval(), schedule=linear)
                for m in ("concat", "add", "none")}
    digit_model, digit_schedule, _ = load_denoiser()
    _, trajectory = DDIMSampler(digit_schedule, num_steps=50, clip_x0=True).sample(
        digit_model, (8, 1, 8, 8), generator=torch.Generator().manual_seed(1), return_trajectory=True)
    toy = MLPDenoiser(hidden=128, depth=3).eval()
    results = {
        "00 wave": {"frequency": sweep(lambda f: plot_wave(f, 0.0), np.arange(0.5, 5.01, 0.5)),
                    "damping": sweep(lambda d: plot_wave(1.0, d), np.arange(0, 3.01, 0.5))},
        "01 gradient profiles": {"depth": sweep(lambda d: show_gradient_profiles(int(d), "relu", "default"),
                                                range(2, 101, 14)),
                                 "activation": sweep(lambda a: show_gradient_profiles(30, a, "default"),
                                                     ["sigmoid", "tanh", "relu", "gelu"])},
        "02 lesion": {"blocks": sweep(lambda b: show_lesion(nets, b), [(b,) for b in (0, 1, 2, 4, 5)])},
        "03 skip mode": {"t": sweep(lambda t: show_skip_mode(trainers, "concat", t), range(0, 1000, 100)),
                         "mode": sweep(lambda m: show_skip_mode(trainers, m, 300), ["concat", "add", "none"])},
        "04 forward": {"t": sweep(lambda t: show_forward(t), range(0, 1000, 50)),
                       "schedule": sweep(lambda s: show_forward(100, s), ["linear", "cosine", "sigmoid", "quadratic"]),
                       "T": sweep(lambda T: show_forward(100, "linear", T), [50, 100, 250, 500, 1000])},
        "05 toy samples": {"steps": sweep(lambda s: show_toy_samples(toy, linear, "moons", s), range(5, 201, 20))},
        "06 samples at steps": {"steps": sweep(lambda s: show_samples_at(digit_model, digit_schedule, s),
                                               range(2, 201, 22))},
        "06 reverse process": {"i": sweep(lambda i: show_trajectory_step(trajectory, i), range(0, 50, 5))},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"commit": "8455e5f", "path": "interact + inline backend (bbox_inches='tight')",
                               "threads": 2, "widgets": results}, indent=1) + "\n")
    for widget, controls in results.items():
        for control, r in controls.items():
            print(f"{widget:>22} {control:>10}: median {r['median_ms']:7.1f} ms, p90 {r['p90_ms']:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
