"""The package's import graph: no module imports another in a loop (imports inside functions included), the
library never imports the lessons, and no lesson imports another lesson."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "course_lib"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The course_lib modules ``path`` imports anywhere in its body (relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("course_lib"):
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("course_lib"))
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(g[node]):
            if nxt == node.rpartition(".")[0] or node.startswith(nxt + "."):
                continue  # a module importing its own package's __init__ is Python's normal order, not a loop
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(g):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_module_imports_another_in_a_loop():
    assert find_cycle(graph()) is None, f"import cycle: {' -> '.join(find_cycle(graph()))}"


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_library_never_imports_the_lessons():
    for name, targets in graph().items():
        if not name.startswith("course_lib.lessons"):
            assert not any(t.startswith("course_lib.lessons") for t in targets), name


def lesson_modules() -> dict[str, Path]:
    """The lesson modules: ``course_lib/lessons/<name>.py`` for each notebook ``notebooks/NN_<name>.ipynb``
    (``grading.py`` and ``__init__.py`` are lesson machinery, not lessons)."""
    notebooks = PACKAGE.parent / "notebooks"
    names = {nb.stem.partition("_")[2] for nb in notebooks.glob("[0-9]*_*.ipynb")}
    return {f"course_lib.lessons.{n}": PACKAGE / "lessons" / f"{n}.py" for n in sorted(names)
            if (PACKAGE / "lessons" / f"{n}.py").exists()}


def test_no_lesson_imports_another_lesson():
    """Each lesson stands only on the library: what two notebooks share lives in ``course_lib``, not in a lesson."""
    lessons = lesson_modules()
    assert len(lessons) >= 10, sorted(lessons)  # the notebooks were found
    offenders = {name: sorted({other for t in imports_of(path) for other in lessons
                               if other != name and (t == other or t.startswith(other + "."))})
                 for name, path in lessons.items()}
    offenders = {name: targets for name, targets in offenders.items() if targets}
    assert not offenders, f"lessons importing other lessons: {offenders}"
