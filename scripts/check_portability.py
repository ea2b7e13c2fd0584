"""Run nbval over the notebooks under several CPU settings: do the committed outputs reproduce everywhere?

    python scripts/check_portability.py [--settings native sse41 ...] [notebooks/01_....ipynb ...]

PyTorch picks its CPU kernels by instruction set at run time, and the thread count changes the order of
reductions, so a trained number differs in its last digits between machines. The notebooks compare only
outputs that must not differ (exact math, counts, shapes, claim verdicts). This script proves it on one
machine by capping the instruction set (``ATEN_CPU_CAPABILITY`` for ATen, ``ONEDNN_MAX_CPU_ISA`` for
oneDNN's convolutions and matmuls: both are needed) and by changing the thread count. PyTorch caps
``OMP_NUM_THREADS`` at the number of cores, so the kernel's thread count is also set by an IPython
start-up file (``torch.set_num_threads``): 4 threads really run 4 threads on a 2-core machine.

Prints a Markdown table and merges one row per (setting, notebook) into ``benchmarks/results/portability.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "portability.json"

SETTINGS = {
    "native": {"OMP_NUM_THREADS": "2"},
    "avx2": {"OMP_NUM_THREADS": "2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "sse41": {"OMP_NUM_THREADS": "2", "ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"},
    "threads1": {"OMP_NUM_THREADS": "1"},
    "threads4": {"OMP_NUM_THREADS": "4"},
}
CPU_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "OMP_NUM_THREADS", "IPYTHONDIR", "MPLBACKEND",
                 "COURSE_NBVAL_CPU")


def setting_environment(name: str, ipython_dir: Path) -> dict[str, str]:
    """The process environment for one setting; the kernel's thread count is set by a start-up file."""
    env = {k: v for k, v in os.environ.items() if k not in CPU_VARIABLES}
    env.update(SETTINGS[name])
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    threads = SETTINGS[name]["OMP_NUM_THREADS"]
    (startup / "00-threads.py").write_text(f"import torch\ntorch.set_num_threads({threads})\n")
    env["IPYTHONDIR"] = str(ipython_dir)
    return env


def nbval_command(notebooks: list[str], cell_timeout: int = 900) -> list[str]:
    """The notebook half of ``./course test``."""
    return [sys.executable, "-m", "pytest", "-p", "no:randomly", "-q", *notebooks, "--nbval", "--nbval-current-env",
            f"--nbval-cell-timeout={cell_timeout}", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg"]


def run_setting(name: str, notebooks: list[str], cell_timeout: int = 900) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = setting_environment(name, Path(tmp))
        start = time.perf_counter()
        proc = subprocess.run(nbval_command(notebooks, cell_timeout), cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
    counts = {key: int(n) for n, key in re.findall(r"(\d+) (passed|failed|error|errors)", summary)}
    failed = re.findall(r"^FAILED (\S+)", proc.stdout, flags=re.M)
    return {"setting": name, "env": SETTINGS[name], "passed": counts.get("passed", 0),
            "failed": counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0),
            "failed_cells": failed, "seconds": round(seconds, 1), "returncode": proc.returncode,
            **({"log_tail": proc.stdout[-4000:]} if proc.returncode else {})}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="*", help="default: every notebooks/NN_*.ipynb")
    p.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    p.add_argument("--cell-timeout", type=int, default=900, help="seconds per cell (SSE4.1 is several times slower)")
    args = p.parse_args(argv)
    notebooks = args.notebooks or sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("notebooks/[0-9][0-9]*_*.ipynb"))
    rows = []
    print("| setting | notebook | cells passed | failed | seconds |\n|---|---|---|---|---|", flush=True)
    for name in args.settings:
        for notebook in notebooks:  # one run per notebook: a partial run still fills part of the table
            row = run_setting(name, [notebook], args.cell_timeout) | {"notebook": Path(notebook).name}
            rows.append(row)
            print(f"| {name} | {row['notebook']} | {row['passed']} | {row['failed']} | {row['seconds']} |", flush=True)
            for cell in row["failed_cells"]:
                print(f"|   | failed: {cell} | | | |", flush=True)
            save(rows)
    return 0 if all(r["returncode"] == 0 for r in rows) else 1


def save(rows: list[dict]) -> None:
    """Merge rows into the results file, one row per (setting, notebook); a newer run replaces an older one."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    key = lambda r: (r["setting"], r.get("notebook", ""))
    merged = {key(r): r for r in previous.get("rows", [])} | {key(r): r for r in rows}
    RESULTS.write_text(json.dumps({"machine": platform.machine(), "processor": platform.processor(),
                                   "torch": torch_version(), "rows": sorted(merged.values(), key=key)},
                                  indent=1) + "\n")


def torch_version() -> str:
    import torch
    return torch.__version__


if __name__ == "__main__":
    sys.exit(main())
