"""Build the student and instructor versions of the course from the same notebooks.

    python scripts/build_course.py [--out build]          (or: ./course build)

* ``build/student/``: every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block replaced by a TODO stub
  (``raise NotImplementedError`` inside a function, ``name = None`` at the top level, so that the notebook
  still runs top to bottom and its ``check_...()`` cells answer "Not yet"), and the outputs of exercise and
  check cells cleared.
* ``build/instructor/``: the notebooks with their solutions and outputs, as committed.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\n(?P<body>.*?)^[ \t]*### END SOLUTION\n?", re.M | re.S)


def stub_for(indent: str, body: str) -> str:
    """The TODO that replaces one solution block."""
    if indent:  # inside a function: the check catches NotImplementedError and gives a hint
        return f"{indent}# TODO: your code here\n{indent}raise NotImplementedError\n"
    names = []
    for node in ast.parse(body).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return "".join(f"{name} = None  # TODO: your code here\n" for name in names) or "# TODO: your code here\n"


def studentize(source: str) -> str:
    return BLOCK.sub(lambda m: stub_for(m["indent"], m["body"]), source)


def is_check_cell(source: str) -> bool:
    return bool(re.search(r"^check_\w+\(", source, re.M))


def student_notebook(nb):
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "### BEGIN SOLUTION" in cell.source or is_check_cell(cell.source):
            cell.source = studentize(cell.source)
            cell.outputs, cell.execution_count = [], None
    return nb


def build(out: Path) -> list[Path]:
    written = []
    for kind in ("student", "instructor"):
        (out / kind).mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.write(student_notebook(nb), out / "student" / path.name)
        shutil.copy(path, out / "instructor" / path.name)
        written += [out / "student" / path.name, out / "instructor" / path.name]
    for kind in ("student", "instructor"):  # data the notebooks read
        if (ROOT / "notebooks" / "results").exists():
            shutil.copytree(ROOT / "notebooks" / "results", out / kind / "results", dirs_exist_ok=True)
    return written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "build")
    args = p.parse_args()
    written = build(args.out)
    print(f"wrote {len(written)} notebooks to {args.out}/student and {args.out}/instructor")


if __name__ == "__main__":
    main()
