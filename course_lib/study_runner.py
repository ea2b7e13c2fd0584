"""Running a study on Ray: every (variant, seed) run is one task, on this machine or on a cluster, resumable.

A ``Study`` names what to run: a function that trains one variant with one seed and returns one row per budget
(``study.learning_curve`` does the training), the variants (the fields that name each one, written into its
rows), the seeds, and the budgets. ``run_study`` hands each (variant, seed) that the output file does not hold
yet to Ray, and rewrites the file (atomically) as each run finishes, so a study that is stopped keeps every
finished run and continues where it stopped::

    python -m course_lib study capstone                        # a local Ray instance on this machine's cores
    python -m course_lib study capstone --address auto         # the Ray cluster this machine belongs to
    python -m course_lib study degradation --seeds 5 6 7 --out /tmp/more.json

On a machine with GPUs each run asks Ray for ``gpus_per_run`` of one (default a quarter): the course's U-Nets are
small, so several share a GPU. Ray is an optional extra (``pip install course-lib[studies]``); the notebooks read
the shipped results and never need it.

The course's shipped studies are listed in ``STUDIES`` by the function that builds each one (a
``"module:function"`` name, imported when the study is asked for).
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ._checks import check_positive_int
from .study import check_budgets, load_study, save_study

STUDIES = {  # name -> the function that returns its ``Study``
    "capstone": "course_lib.lessons.residual_in_diffusion:capstone_study",
    "degradation": "course_lib.lessons.vanishing_gradients:degradation_study",
    "ema": "course_lib.lessons.training:ema_runs",
    "ddpm_vs_ddim": "course_lib.lessons.sample_quality:ddpm_vs_ddim_runs",
}
OWN_FIELDS = ("budgets", "kwargs", "required")  # a variant's fields that are not written into its rows
RAY_MISSING = ("studies run on Ray, which is not installed: pip install 'course-lib[studies]' (or pip install ray). "
               "The notebooks never need it: they read the shipped results.")


@dataclass(frozen=True)
class Study:
    """``run(seed=s, budgets=..., device=..., **variant, **kwargs) -> rows`` for every variant and seed.

    ``variants`` are dicts of the fields that name a variant (written into its rows); a variant may carry its own
    ``"budgets"`` (trained further than the rest), ``"kwargs"`` (further arguments of ``run``) and ``"required"``
    (fields its last row must hold, beside the study's), which are not written. A run counts as finished when
    the output file holds its rows at every budget, its last row with every field of ``required``."""

    name: str
    run: Callable[..., list[dict]]
    variants: Sequence[dict]
    seeds: Sequence[int]
    budgets: Sequence[int]
    out: Path
    meta: dict | Callable[[], dict] = field(default_factory=dict)  # a function: computed only when runs are due
    kwargs: dict = field(default_factory=dict)
    required: Sequence[str] = ()

    def tasks(self, seeds: Sequence[int] | None = None) -> list[tuple[dict, int, list[int]]]:
        """``(tags, seed, budgets)`` of every run, in the order of ``variants``, seeds in order within each."""
        out = []
        for variant in self.variants:
            for seed in self.seeds if seeds is None else seeds:
                tags = {k: v for k, v in variant.items() if k not in OWN_FIELDS}
                out.append((tags, seed, check_budgets(variant.get("budgets", self.budgets))))
        return out

    def variant(self, tags: dict) -> dict:
        """The variant named by ``tags``."""
        return next(v for v in self.variants if all(v.get(k) == x for k, x in tags.items()))

    def run_kwargs(self, tags: dict) -> dict:
        """The arguments of ``run`` for the variant named by ``tags``: the study's, then the variant's own."""
        return {**self.kwargs, **self.variant(tags).get("kwargs", {})}

    def finished(self, rows: list[dict], tags: dict, seed: int, budgets: list[int]) -> bool:
        """Whether ``rows`` hold the run ``(tags, seed)`` at every budget, with every required field."""
        mine = [r for r in rows if r.get("seed") == seed and all(r.get(k) == v for k, v in tags.items())]
        if not set(budgets) <= {r.get("steps") for r in mine}:
            return False
        last = max(mine, key=lambda r: r["steps"])
        return all(k in last for k in (*self.required, *self.variant(tags).get("required", ())))


def get_study(name: str) -> Study:
    """The shipped study ``name`` (one of ``STUDIES``)."""
    if name not in STUDIES:
        raise ValueError(f"study={name!r} is not a shipped study; choose one of {sorted(STUDIES)}")
    module, function = STUDIES[name].split(":")
    return getattr(importlib.import_module(module), function)()


def _one_run(run, tags: dict, seed: int, budgets: list[int], kwargs: dict, threads: int) -> list[dict]:
    """One (variant, seed) inside a Ray worker: on the GPU Ray gave it, if any, with ``threads`` CPU threads."""
    import ray
    import torch

    torch.set_num_threads(threads)
    device = "cuda" if ray.get_gpu_ids() else "cpu"
    rows = run(seed=seed, budgets=budgets, device=device, **tags, **kwargs)
    return [{**tags, "seed": seed, **row} for row in rows]


def _start_ray(address: str | None, jobs: int | None):
    try:
        import ray
    except ImportError as err:
        raise ImportError(RAY_MISSING) from err
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        else:  # a local instance, as small as a laptop or a 2-core CI machine needs
            ray.init(num_cpus=jobs or os.cpu_count(), include_dashboard=False, log_to_driver=False,
                     configure_logging=False, object_store_memory=100 * 2**20)
    return ray


def run_study(study: Study, out: str | Path | None = None, seeds: Sequence[int] | None = None,
              address: str | None = None, jobs: int | None = None, threads: int = 1,
              gpus_per_run: float | None = None, progress: bool = True) -> list[dict]:
    """Run every (variant, seed) of ``study`` that ``out`` (default ``study.out``) does not hold yet, on Ray, and
    return all rows. ``address``: a Ray cluster (``"auto"``, ``"ray://host:10001"``); default a local instance
    with ``jobs`` CPUs (default all). Each run takes ``threads`` CPU threads and, where the cluster has GPUs,
    ``gpus_per_run`` of one (default 0.25). The file is rewritten after every finished run."""
    from tqdm.auto import tqdm

    check_positive_int("threads", threads)
    if jobs is not None:
        check_positive_int("jobs", jobs)
    if gpus_per_run is not None and not 0 <= gpus_per_run <= 1:
        raise ValueError(f"gpus_per_run={gpus_per_run!r} must be a fraction of one GPU, between 0 and 1")
    out = Path(out or study.out)
    meta, rows = load_study(out) if out.exists() else ({}, [])
    tasks = study.tasks(seeds)
    todo = [t for t in tasks if not study.finished(rows, *t)]
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=f"study {study.name}", unit="run",
               disable=not progress)
    if not todo:
        bar.close()
        return rows
    ray = _start_ray(address, jobs)
    gpus = ray.cluster_resources().get("GPU", 0)
    per_gpu = (0.25 if gpus_per_run is None else gpus_per_run) if gpus else 0
    remote = ray.remote(num_cpus=threads, num_gpus=per_gpu)(_one_run)
    pending = {remote.remote(study.run, tags, seed, budgets, study.run_kwargs(tags), threads): (tags, seed)
               for tags, seed, budgets in todo}
    meta = {**meta, **(study.meta() if callable(study.meta) else study.meta), "study": study.name}
    start, wall = time.time(), meta.get("wall_s", 0)
    failed = []
    try:
        while pending:
            (ready,), _ = ray.wait(list(pending), num_returns=1)
            tags, seed = pending.pop(ready)
            try:
                new = ray.get(ready)
            except ray.exceptions.RayTaskError as err:  # keep going: the other runs are independent
                failed.append(f"{json.dumps(tags)} seed {seed}: {err.cause!r}")
                bar.update()
                continue
            rows = [r for r in rows if not (r.get("seed") == seed and all(r.get(k) == v for k, v in tags.items()))]
            rows.extend(new)
            save_study(rows, out, {**meta, "wall_s": round(wall + time.time() - start)})
            bar.set_postfix_str(f"{json.dumps(tags)} seed {seed}")
            bar.update()
    finally:
        for ref in pending:  # stopped (Ctrl-C, an error): finished runs are saved, the rest is cancelled
            ray.cancel(ref, force=True)
        bar.close()
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(todo)} runs failed ({'; '.join(failed)}); every finished run "
                           f"is saved in {out}: run the study again to retry the failed ones")
    return rows
