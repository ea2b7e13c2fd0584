"""A study: several variants of a model, each trained with several seeds, measured along its learning curve.

One run (``learning_curve``) trains one model with one seed and stops at each budget of an increasing list of
step counts to measure it (``measure(trainer) -> dict``), so one run of 4,000 steps gives its scores at 250,
500, ..., 4,000 steps. Every variant gets the *same* step counts, batch size, learning rate and EMA schedule,
so a comparison at a budget compares equal amounts of training; wall-clock time per step is measured apart
(``seconds_per_step``) and shown beside it, never used to pick the budgets.

``study_runner.run_study`` runs every (variant, seed) pair on Ray and writes the rows to a JSON file after each
run finishes (``save_study``), so an interrupted study keeps what it has.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ._checks import check_positive_int
from .schedules import NoiseSchedule
from .trainer import TrainConfig, Trainer

SHIPPED_RESULTS = Path(__file__).resolve().parent / "results"  # studies shipped inside the package (Colab has them)


def check_budgets(budgets: Sequence[int]) -> list[int]:
    """``budgets`` as a list of increasing positive step counts, or a clear error."""
    budgets = list(budgets)
    if not budgets:
        raise ValueError("budgets is empty; give increasing step counts, e.g. [250, 500, 1000]")
    for b in budgets:
        check_positive_int("budgets", b)
    if any(b <= a for a, b in itertools.pairwise(budgets)):
        raise ValueError(f"budgets={budgets!r} must increase strictly, e.g. [250, 500, 1000]")
    return budgets


def learning_curve(build: Callable[[], torch.nn.Module], data: torch.Tensor, budgets: Sequence[int],
                   measure: Callable[[Trainer], dict], seed: int = 0, schedule: NoiseSchedule | None = None,
                   config: TrainConfig | None = None, device="cpu", progress: bool = False) -> list[dict]:
    """Train ``build()`` (initialised under ``torch.manual_seed(seed)``) on ``data`` and call ``measure`` at each
    budget; one row ``{"steps", "train_s", **measure(trainer)}`` per budget reached (a run stopped early, e.g. by
    the stop button, keeps the rows of the budgets it reached). ``config`` sets everything but the
    seed and the step count (default: ``TrainConfig()``'s batch, learning rate and EMA decay)."""
    budgets = check_budgets(budgets)
    schedule = schedule or NoiseSchedule.make("linear", 1000)
    base = config or TrainConfig()
    cfg = TrainConfig(**{**base.__dict__, "steps": budgets[-1], "seed": seed})
    torch.manual_seed(seed)
    trainer = Trainer(build(), schedule, data, cfg, device=device, progress=progress)
    rows, train_s = [], 0.0
    for steps in budgets:
        start = time.perf_counter()
        trainer.train(steps=steps)
        train_s += time.perf_counter() - start
        if trainer.stop_reason != "steps":  # interrupted: keep the curve measured so far
            break
        # ``steps``, unless COURSE_MAX_STEPS capped the run (a smoke test of a configuration)
        rows.append({"steps": trainer.step, "train_s": round(train_s, 2), **measure(trainer)})
    return rows


def seconds_per_step(builds: dict[str, Callable[[], torch.nn.Module]], data: torch.Tensor,
                     config: TrainConfig | None = None, rounds: int = 7, steps_per_round: int = 8,
                     device="cpu") -> dict[str, float]:
    """Median seconds per training step of each model, timed *interleaved* (round r times every model once),
    so that a busy spell of the machine slows all of them alike. ``{name: seconds}``."""
    schedule = NoiseSchedule.make("linear", 1000)
    trainers = {}
    for name, build in builds.items():
        torch.manual_seed(0)
        trainers[name] = Trainer(build(), schedule, data, config or TrainConfig(), device=device, progress=False)
        for _ in range(3):  # warm-up
            trainers[name].train_step()
    times = {name: [] for name in trainers}
    for _ in range(rounds):
        for name, tr in trainers.items():
            start = time.perf_counter()
            for _ in range(steps_per_round):
                tr.train_step()
            times[name].append((time.perf_counter() - start) / steps_per_round)
    return {name: float(np.median(t)) for name, t in times.items()}


def save_study(rows: list[dict], path: str | Path, meta: dict) -> None:
    """Write ``{"meta", "rows"}`` to ``path`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(json.dumps({"meta": meta, "rows": rows}, separators=(",", ":")) + "\n")
    tmp.replace(path)


def load_study(path: str | Path) -> tuple[dict, list[dict]]:
    """``(meta, rows)`` written by ``save_study``."""
    data = json.loads(Path(path).read_text())
    return data["meta"], data["rows"]


def load_studies() -> dict:
    """The shipped multi-seed studies of notebooks 05 and 06b (``python -m course_lib study ema`` and
    ``... study ddpm_vs_ddim``): ``{"ema": [rows], "ddpm_vs_ddim": [rows]}``, each row with its ``seed``."""
    return {name: load_study(SHIPPED_RESULTS / f"{file}.json")[1]
            for name, file in (("ema", "ema_study"), ("ddpm_vs_ddim", "ddpm_vs_ddim"))}
