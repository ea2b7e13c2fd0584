"""scripts/lesson_length.py: what it counts as prose, imports and code cells, and which limits a lesson exceeds."""

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import lesson_length  # noqa: E402


def test_prose_words_count_maths_and_code_as_one_word():
    assert lesson_length.prose_words("The **closed form** $x_t = \\sqrt{a} x_0$ is `q_sample`.") == 6
    assert lesson_length.prose_words("$$\\bar\\alpha_t = \\prod_s \\alpha_s$$") == 1


def test_measure_skips_the_colab_cell_and_flags_limits(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("word " * 1600),
        nbformat.v4.new_code_cell('if "google.colab" in sys.modules:\n    pass  # course_lib @ git+...'),
        nbformat.v4.new_code_cell("import torch\n\nfrom course_lib.lessons import training as lesson\n"),
        *[nbformat.v4.new_code_cell("x = 1") for _ in range(30)],
    ])
    path = tmp_path / "09_x.ipynb"
    nbformat.write(nb, path)
    row = lesson_length.measure(path, {"09_x.ipynb": 40.0})
    assert row == {"notebook": "09_x.ipynb", "words": 1600, "code_cells": 32, "import_lines": 2, "seconds": 40.0}
    assert lesson_length.over(row) == ["words", "code_cells"]


def test_every_notebook_is_measured():
    rows = [lesson_length.measure(p) for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))]
    assert len(rows) == len(list((ROOT / "student").glob("*.ipynb"))) >= 10
    assert all(r["words"] > 0 and r["code_cells"] > 0 for r in rows)
