"""Write the student copy of the course from the instructor copy (the one source).

    python scripts/build_course.py            (or: ./course build)
    python scripts/build_course.py --check    exit 1 if a committed student copy is out of date

* ``notebooks/``: the **instructor copy**, paired with jupytext: solutions, every output. The maintained source.
* ``student/``: the **student copy**, committed, and what every badge, the Binder link, the nbgitpuller link
  and the README's table open. Made from the instructor copy by ``student_notebook``:

  - every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block becomes a TODO stub (``raise
    NotImplementedError`` inside a function, ``name = None`` at the top level), so that the notebook still runs
    top to bottom and its checks answer "Not yet";
  - the outputs of every cell from an exercise up to its check are cleared (the check, and anything in
    between that would give the answer away: a prediction's figure, a table of results);
  - the outputs of cells tagged ``spoiler`` are cleared too (a figure or table that answers a question);
  - cells tagged ``instructor`` (the instructor's plan at the top of each notebook) are dropped, and so is the
    saved widget state (it holds the last image of every widget, those of cleared cells too: a widget that is
    kept shows its stored picture, and is live again once the cell runs);
  - every other output (figures, tables, claim verdicts) is kept, so the student copy reads like the lesson.

**Declared answers.** Every exercise or prediction declares, in its cell's metadata (``# %% answers=["0.078"]``
in the .py file), the values and words that would answer it. ``answer_leaks`` lists every place of a student
copy that shows one: any stored output (text, tables, a figure's description), or the prose and code from the
top of the notebook down to the question's check. The metadata itself is removed from the student copy.

``tests/test_builds.py`` fails when a committed student copy differs from what this script writes.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks"
STUDENT = ROOT / "student"
BLOCK = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\n(?P<body>.*?)^[ \t]*### END SOLUTION\n?", re.M | re.S)
CHECK_CALL = re.compile(r"^(?:\w+\.)?check_\w+\((?P<args>.*)", re.M | re.S)
SPOILER = "spoiler"
INSTRUCTOR = "instructor"  # the instructor's plan: dropped from the student copy
ANSWERS = "answers"  # cell metadata: what would answer the question the cell asks
TEXT_OUTPUTS = ("text/plain", "text/html", "text/markdown", "text/latex")


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


def is_exercise(cell) -> bool:
    return cell.cell_type == "code" and "### BEGIN SOLUTION" in cell.source


def defined_names(source: str) -> set[str]:
    """The names an exercise cell defines at its top level (functions, classes and assigned names)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        for target in getattr(node, "targets", [getattr(node, "target", None)]):
            names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)} if target is not None else set()
    return names


def check_of(cells, i: int) -> int | None:
    """Index of the cell that checks exercise ``cells[i]``: the first later code cell calling a ``check_...``
    function on one of the names the exercise defines (for a question asked in prose, any ``check_...``)."""
    names = defined_names(cells[i].source) if cells[i].cell_type == "code" else None
    for j in range(i + 1, len(cells)):
        cell = cells[j]
        if cell.cell_type != "code":
            continue
        call = CHECK_CALL.search(cell.source)
        if call and (names is None or names & set(re.findall(r"\b\w+\b", call["args"]))):
            return j
    return None


def output_texts(cell) -> list[str]:
    """Every text a stored output of ``cell`` shows: printed text, tables, and each figure's description."""
    texts = []
    for out in cell.get("outputs", []):
        texts.append(out.get("text", ""))
        data = out.get("data", {})
        texts += [str(data.get(kind, "")) for kind in TEXT_OUTPUTS]
        texts += [str(v) for meta in out.get("metadata", {}).values() if isinstance(meta, dict)
                  for k, v in meta.items() if k in ("alt", "description")]
    return [t if isinstance(t, str) else "".join(t) for t in texts if t]


def answer_leaks(instructor, student) -> list[str]:
    """Where the student copy ``student`` shows an answer that a question of ``instructor`` declares (cell
    metadata ``answers``): in any stored output, or in the prose and code from the top down to the question's
    check. One line per leak, naming the question's cell, the answer and where it was found."""
    where = {cell.get("id"): k for k, cell in enumerate(student.cells)}
    leaks = []
    for i, cell in enumerate(instructor.cells):
        answers = [a.lower() for a in cell.get("metadata", {}).get(ANSWERS, [])]
        if not answers:
            continue
        k = where.get(cell.get("id"))
        end = check_of(student.cells, k) if k is not None else None
        if end is None:
            leaks.append(f"cell {i}: a question with declared answers but no check after it in the student copy")
            continue
        state = json.dumps(student.metadata.get("widgets", {})).lower()
        leaks += [f"cell {i} (answers {a!r}): in the saved widget state" for a in answers if a in state]
        for j, other in enumerate(student.cells):
            places = [("output", t) for t in output_texts(other)]
            if j <= end:
                places.append(("source", other.source))
            for kind, text in places:
                for answer in answers:
                    if answer in text.lower():
                        leaks.append(f"cell {i} (answers {answer!r}): shown in the {kind} of student cell {j}")
    return leaks


def student_notebook(nb):
    """The student copy of the instructor notebook ``nb`` (a new object; ``nb`` is not changed)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells = [cell for cell in nb.cells if INSTRUCTOR not in cell.get("metadata", {}).get("tags", [])]
    cells = nb.cells
    clear = {i for i, cell in enumerate(cells) if SPOILER in cell.get("metadata", {}).get("tags", [])}
    for i, cell in enumerate(cells):
        if is_exercise(cell):
            end = check_of(cells, i)
            if end is None:
                raise ValueError(f"cell {i}: an exercise without a check_...() cell that uses what it defines")
            clear |= set(range(i, end + 1))
            cell.source = studentize(cell.source)
    for i in clear:
        if cells[i].cell_type == "code":
            cells[i].outputs, cells[i].execution_count = [], None
    for cell in cells:
        cell.metadata.pop(ANSWERS, None)
    nb.metadata.pop("jupytext", None)  # the student copy is not paired with a .py file
    nb.metadata.pop("widgets", None)  # saved widget state holds every widget's last image, cleared cells' too
    return nb


def instructor_notebooks(source: Path = SOURCE) -> list[Path]:
    return sorted(source.glob("[0-9][0-9]*_*.ipynb"))


def student_text(path: Path) -> str:
    """What ``student/<name>`` must hold for the instructor notebook at ``path``."""
    return nbformat.writes(student_notebook(nbformat.read(path, as_version=4))) + "\n"


def build(out: Path = STUDENT, source: Path = SOURCE) -> list[Path]:
    """Write the student copy of every notebook of ``source`` into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in instructor_notebooks(source):
        (out / path.name).write_text(student_text(path))
        written.append(out / path.name)
    return written


def stale(out: Path = STUDENT) -> list[str]:
    """Names of the student notebooks in ``out`` that are missing or differ from what ``build`` writes."""
    return [p.name for p in instructor_notebooks()
            if not (out / p.name).exists() or (out / p.name).read_text() != student_text(p)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=STUDENT)
    p.add_argument("--check", action="store_true", help="only say whether the student copy is up to date")
    args = p.parse_args()
    if args.check:
        names = stale(args.out)
        print(f"out of date: {', '.join(names)} (run ./course build)" if names else "student copy up to date")
        return 1 if names else 0
    written = build(args.out)
    print(f"wrote {len(written)} student notebooks to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
