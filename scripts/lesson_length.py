"""How long each lesson is: prose words, code cells, import lines and run time, against the class limits.

    python scripts/lesson_length.py            (or: ./course lengths)

A notebook is one 50-minute class. The limits (README, "Teaching with the course"): at most about
1,500 words of prose, 25 code cells and 8 lines of imports, and about a minute top to bottom on 2 CPU cores
(the time comes from ``benchmarks/results/notebooks.json``, written by ``benchmarks/bench_notebooks.py``).
Optional notebooks (``NNb_...``) count as lessons of their own.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LIMITS = {"words": 1500, "code_cells": 25, "import_lines": 8, "seconds": 90}
WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
CODE = re.compile(r"`[^`\n]+`")


def prose_words(markdown: str) -> int:
    """Words a student reads: inline maths and code count as one word each, markup as none."""
    text = CODE.sub(" x ", MATH.sub(" x ", markdown))
    return len(WORD.findall(text))


def import_lines(nb) -> int:
    """Lines of the notebook's import cell: the first that imports from ``course_lib`` (not the Colab cell)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "from course_lib" in cell.source and "google.colab" not in cell.source:
            return sum(1 for line in cell.source.splitlines() if line.strip())
    return 0


def measure(path: Path, seconds: dict[str, float] | None = None) -> dict:
    nb = nbformat.read(path, as_version=4)
    return {"notebook": path.name,
            "words": sum(prose_words(c.source) for c in nb.cells if c.cell_type == "markdown"
                         and "instructor" not in c.get("metadata", {}).get("tags", [])),
            "code_cells": sum(c.cell_type == "code" for c in nb.cells),
            "import_lines": import_lines(nb),
            "seconds": (seconds or {}).get(path.name)}


def over(row: dict) -> list[str]:
    """The limits ``row`` exceeds."""
    return [k for k, limit in LIMITS.items() if row.get(k) is not None and row[k] > limit]


def run_times() -> dict[str, float]:
    path = ROOT / "benchmarks" / "results" / "notebooks.json"
    return {r["notebook"]: r["seconds"] for r in json.loads(path.read_text())} if path.exists() else {}


def main() -> int:
    times = run_times()
    rows = [measure(p, times) for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))]
    print("| notebook | prose words | code cells | import lines | seconds (2 CPU cores) | over the limit |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        s = "?" if r["seconds"] is None else f"{r['seconds']:.0f}"
        print(f"| {r['notebook']} | {r['words']} | {r['code_cells']} | {r['import_lines']} | {s} | "
              f"{', '.join(over(r)) or '-'} |")
    print(f"\nlimits: {LIMITS}")
    return 1 if any(over(r) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
