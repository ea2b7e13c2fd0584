"""The student copy (``student/``): up to date with the instructor copy, no solutions and no answers in it, and
every student notebook runs top to bottom, with a student's edits of its settings, without a traceback."""

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_course  # noqa: E402
from build_course import answer_leaks, student_notebook, studentize  # noqa: E402
from nbexec import notebook_client  # noqa: E402

INSTRUCTOR = build_course.instructor_notebooks()
SOURCE_DIR = build_course.SOURCE
NAMES = [p.name for p in INSTRUCTOR]


def solution_lines(nb):
    lines = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and line.strip():
                lines.append(line.strip())
    return lines


def printed(nb) -> str:
    return "\n".join(out.get("text", "") + str(out.get("data", {}).get("text/plain", "")) + "".join(
        out.get("traceback", [])) for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)


def test_studentize_function_and_top_level_blocks():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    assert studentize(src) == "def f(x):\n    # TODO: your code here\n    raise NotImplementedError\n"
    src = "### BEGIN SOLUTION\nanswer = 2 + 2\nbest, other = 1, 2\n### END SOLUTION\nprint(answer)\n"
    assert studentize(src) == "answer = None  # TODO: your code here\nprint(answer)\n"


def test_outputs_from_an_exercise_to_its_check_and_spoilers_are_cleared():
    def code(source, text, tags=()):
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})
        cell.outputs = [nbformat.v4.new_output("stream", text=text)]
        return cell
    nb = nbformat.v4.new_notebook(cells=[
        code("x = 1", "before"),
        code("### BEGIN SOLUTION\nprediction = 'a'\n### END SOLUTION\n", ""),
        code("experiment()", "the answer is a"),
        code("lesson.check_claims(margins, {})", "claims"),
        code("lesson.check_prediction(prediction, rows)", "✅ Correct!"),
        code("after()", "kept"),
        code("reveal()", "spoiler", tags=["spoiler"]),
    ])
    student = student_notebook(nb)
    assert [bool(c.outputs) for c in student.cells] == [True, False, False, False, False, True, False]
    assert student.cells[1].source == "prediction = None  # TODO: your code here\n"
    assert nb.cells[2].outputs, "the instructor notebook is not changed"
    lone = nbformat.v4.new_notebook(cells=[code("### BEGIN SOLUTION\nanswer = 1\n### END SOLUTION\n", "")])
    with pytest.raises(ValueError, match="an exercise without a check"):
        student_notebook(lone)


def test_declared_answers_are_found_wherever_the_student_copy_shows_them():
    def code(source, text, **metadata):
        cell = nbformat.v4.new_code_cell(source, metadata=metadata)
        cell.outputs = [nbformat.v4.new_output("stream", text=text)]
        return cell
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Plan: the answer is 0.078", metadata={"tags": ["instructor"]}),
        nbformat.v4.new_markdown_cell("Predict alpha_bar at t = 500."),
        code("### BEGIN SOLUTION\nprediction = 0.078\n### END SOLUTION\n", "", answers=["0.078"]),
        code("lesson.check_alpha_bar_prediction(prediction)", "✅"),
        nbformat.v4.new_markdown_cell("After the check the prose may say 0.078."),
        code("plot()", "alpha_bar_500 = 0.078", tags=["spoiler"]),
    ])
    student = student_notebook(nb)
    assert len(student.cells) == len(nb.cells) - 1, "the instructor's plan is dropped"
    assert "answers" not in student.cells[1].metadata, "the declarations are not in the student copy"
    nb.metadata["widgets"] = {"state": {"m": {"state": {"value": "alpha_bar = 0.078"}}}}
    assert "widgets" not in student_notebook(nb).metadata, "saved widget state is dropped"
    leaky_state = nbformat.from_dict(json.loads(json.dumps(student)))
    leaky_state.metadata["widgets"] = nb.metadata["widgets"]
    assert "saved widget state" in answer_leaks(nb, leaky_state)[0]
    del nb.metadata["widgets"]
    assert answer_leaks(nb, student) == []
    leaky = nbformat.from_dict(json.loads(json.dumps(student)))
    leaky.cells[-1].outputs = nb.cells[-1].outputs  # a spoiler's output put back
    leaky.cells[0].source += " (it is 0.078)"  # the answer in the prose before the check
    leaks = answer_leaks(nb, leaky)
    assert len(leaks) == 2 and "output of student cell 4" in leaks[1] and "source of student cell 0" in leaks[0]


@pytest.mark.parametrize("path", INSTRUCTOR, ids=lambda p: p.stem)
def test_no_declared_answer_shows_in_the_student_copy(path):
    instructor = nbformat.read(path, as_version=4)
    student = nbformat.read(ROOT / "student" / path.name, as_version=4)
    assert answer_leaks(instructor, student) == []
    exercises = [c for c in instructor.cells if build_course.is_exercise(c)]
    undeclared = [c.source.splitlines()[0] for c in exercises if "answers" not in c.metadata]
    assert not undeclared, f"exercises that do not declare what would answer them: {undeclared}"


PLAN_PARTS = ("Timeline", "Live-code", "Predict", "Common mistakes", "questions to ask")


@pytest.mark.parametrize("path", INSTRUCTOR, ids=lambda p: p.stem)
def test_every_notebook_has_an_instructors_plan_the_student_never_sees(path):
    instructor = nbformat.read(path, as_version=4)
    plans = [c for c in instructor.cells if "instructor" in c.metadata.get("tags", [])]
    assert plans and plans[0] is instructor.cells[1], "the plan is the cell after the title and objectives"
    text = "\n".join(c.source for c in plans)
    assert [part for part in PLAN_PARTS if part.lower() not in text.lower()] == []
    assert re.search(r"\b0\s*[-–]\s*\d+\b", text), "the timeline gives minutes"
    student = nbformat.read(ROOT / "student" / path.name, as_version=4)
    assert not [c for c in student.cells if "instructor" in c.metadata.get("tags", [])]


def test_a_leak_put_back_is_found():
    """Notebook 04's first exercise predicts alpha_bar at t = 500: putting back the outputs the build clears
    (the stored figures and tables below the prediction) makes the leak test fail."""
    path = SOURCE_DIR / "04_forward_diffusion.ipynb"
    instructor = nbformat.read(path, as_version=4)
    student = student_notebook(instructor)
    by_id = {c.get("id"): c for c in instructor.cells}
    for cell in student.cells:
        if cell.cell_type == "code" and not cell.outputs:
            cell.outputs = by_id[cell.get("id")].outputs
    assert any("0.078" in leak for leak in answer_leaks(instructor, student))


def test_the_committed_student_copy_is_up_to_date():
    assert build_course.stale() == [], "run ./course build (or ./course notebooks) and commit student/"


@pytest.mark.parametrize("path", INSTRUCTOR, ids=lambda p: p.stem)
def test_student_copy_holds_no_solution_and_no_answer(path):
    instructor = nbformat.read(path, as_version=4)
    student = nbformat.read(ROOT / "student" / path.name, as_version=4)
    nbformat.validate(student)
    text = "\n".join(c.source for c in student.cells)
    assert "BEGIN SOLUTION" not in text and "TODO" in text
    for line in solution_lines(instructor):
        assert line not in text, f"solution line {line!r} left in the student copy"
    shown = printed(student)
    assert "✅" not in shown, "a check's verdict is stored in the student copy"
    assert "jupytext" not in student.metadata, "the student copy is not paired with a .py file"


# A student's edits of each notebook's settings (pattern -> replacement, each matching exactly one line).
EDITS = {
    "00_start_here.ipynb": {},
    "01_vanishing_gradients.ipynb": {
        r"^SEEDS = \(0, 1, 2\)": "SEEDS = (3, 4)",
        r'activation_table\(\("sigmoid", "tanh", "relu"\), \("default", "xavier", "kaiming"\)':
            'activation_table(("sigmoid", "tanh"), ("default", "xavier")',
        r"degradation_experiment\(seeds=SEEDS, steps=200\)": "degradation_experiment(seeds=SEEDS, steps=40)",
    },
    "01b_gradient_pathologies.ipynb": {
        r"^SEEDS = \(0, 1, 2\)": "SEEDS = (3, 4)",
        r"^depths = \(2, 8, 16, 32, 64, 128\)": "depths = (8, 16, 32)",
        r"^shallow_to_deep = \(2, 4, 8, 16, 32\)": "shallow_to_deep = (2, 4, 8)",
    },
    "02_residual_blocks.ipynb": {r"^SEEDS, STEPS = \(0, 1, 2\), 150": "SEEDS, STEPS = (5,), 20"},
    "03_residual_vs_skip.ipynb": {r"^SEEDS = \(0, 1, 2\)": "SEEDS = (4,)", r"^STEPS = .*": "STEPS = 20"},
    "04_forward_diffusion.ipynb": {r"^T = 1000\b": "T = 200", r'^SCHEDULE = "linear"': 'SCHEDULE = "cosine"'},
    "05_training.ipynb": {r"^T = 1000\b": "T = 200", r"^DIGIT_STEPS = .*": "DIGIT_STEPS = 30"},
    "06_sampling.ipynb": {r"^TOY_STEPS = .*": "TOY_STEPS = 200"},
    "06b_sample_quality.ipynb": {r"^SEEDS = \(0, 1, 2\)": "SEEDS = (3, 4)"},
    "07_residual_in_diffusion.ipynb": {r"^LIVE_BUDGETS = .*": "LIVE_BUDGETS = (10, 20)"},
    "07b_comparing_variants.ipynb": {r"^BUDGET = 4000\b": "BUDGET = 1000"},
    "08_guidance.ipynb": {r"^SEEDS = \(0, 1, 2\)": "SEEDS = (3,)"},
}


def edited(nb, edits: dict[str, str]):
    for pattern, line in edits.items():
        hits = [c for c in nb.cells if c.cell_type == "code" and re.search(pattern, c.source, re.M)]
        assert len(hits) == 1, f"the setting {pattern!r} is not in exactly one cell"
        hits[0].source, count = re.subn(pattern, line, hits[0].source, flags=re.M)
        assert count == 1
    return nb


def test_every_notebook_has_its_edits_listed():
    assert sorted(EDITS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_runs_with_edited_settings_and_checks_say_not_yet(name, monkeypatch):
    """The student copy, its settings edited as a student would (fewer seeds, depths, steps; another T), runs
    top to bottom; every check answers "Not yet" and no claim raises (one whose inputs are gone says so).
    Training is capped with COURSE_MAX_STEPS: the verdicts of claims are not what this test is about."""
    monkeypatch.setenv("COURSE_MAX_STEPS", "3")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    nb = edited(nbformat.read(ROOT / "student" / name, as_version=4), EDITS[name])
    notebook_client(nb, ROOT / "student", timeout=300).execute()  # raises CellExecutionError on any error
    out = printed(nb)
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert "Traceback (most recent call last)" not in out
    n_checks = len(re.findall(r"^❌ Not yet", out, re.M))
    n_exercises = sum("TODO: your code here" in c.source for c in nb.cells)
    assert n_checks >= n_exercises > 0 and "✅" not in out
