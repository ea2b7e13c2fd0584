"""Refresh the committed notebooks: rebuild each .ipynb from its .py pair and execute it top to bottom.

    python scripts/run_notebooks.py [notebooks/01_vanishing_gradients.py ...]     (or: ./course notebooks)

Uses the settings CI uses for nbval (OMP_NUM_THREADS=2, the CPU), so the stored outputs are what a
fresh run prints there. The .py file is the source of truth; edit it (or the notebook in JupyterLab,
which saves both) and re-run this. The student copy (``student/``) is rewritten afterwards, and each live
figure's frames for the website are written to ``site/frames/<notebook>/`` (``course_lib/frames.py``).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import build_course
import jupytext
import nbformat
from nbexec import notebook_client

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
FRAMES = ROOT / "site" / "frames"  # the live figures' static frames (course_lib/frames.py), for the website
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def ci_environment() -> None:
    """CI's thread count and device, the machine's own CPU kernels (inherited by the kernel).

    What nbval compares must not depend on the kernels: on an AVX-512 machine CI checks these outputs with
    PyTorch capped at AVX2 (.ci/run's COURSE_NBVAL_CPU, tests/conftest.py), and scripts/check_portability.py
    under SSE4.1 and other thread counts.
    """
    os.environ["OMP_NUM_THREADS"] = "2"
    os.environ["COURSE_DEVICE"] = "cpu"
    for name in ("MPLBACKEND", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA"):
        os.environ.pop(name, None)


def execute(py_path: Path, timeout: int = 300) -> float:
    """Run one notebook, store its outputs, and export its live figures' frames for the website."""
    frames = FRAMES / py_path.stem
    shutil.rmtree(frames, ignore_errors=True)
    os.environ["COURSE_FRAMES_DIR"] = str(frames)  # course_lib.frames: read by the kernel when a LiveFigure shows
    nb = jupytext.read(py_path)
    nb.metadata["kernelspec"] = KERNELSPEC
    start = time.perf_counter()
    notebook_client(nb, py_path.parent, timeout=timeout, record_timing=False).execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, py_path.with_suffix(".ipynb"))
    jupytext.write(nb, py_path, fmt="py:percent")  # normalise the pair's header and metadata
    return seconds


def main(argv: list[str]) -> int:
    ci_environment()
    paths = [Path(p).with_suffix(".py") for p in argv] or sorted(NOTEBOOKS.glob("[0-9][0-9]*_*.py"))
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        print(f"  done in {execute(path.resolve()):.1f} s", flush=True)
    build_course.build()
    print(f"student copy rewritten in {build_course.STUDENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
