"""How ./course test hands out work to its 2 workers (tests/conftest.py): a notebook's cells stay together in order
(they share one kernel), a module's tests stay together, the long student-copy runs go out one by one, and the
longest units start first."""

from pathlib import Path

import conftest

ROOT = Path(__file__).resolve().parents[1]


def test_a_notebooks_cells_are_one_unit_and_a_modules_tests_another():
    cells = [f"notebooks/05_training::ipynb::Cell {i}" for i in range(3)]  # pytest 9's node ids of nbval's cells
    assert len({conftest.work_unit(c) for c in cells}) == 1
    assert conftest.work_unit(cells[0]) != conftest.work_unit("notebooks/06_sampling::ipynb::Cell 0")
    tests = ["tests/test_stats.py::test_bonferroni_level", "tests/test_stats.py::test_sign_test_exact_values"]
    assert conftest.work_unit(tests[0]) == conftest.work_unit(tests[1]) == "tests/test_stats.py"


def test_each_student_copy_run_is_a_unit_of_its_own():
    name = conftest.SPREAD[0]
    a, b = (f"tests/test_builds.py::{name}[{nb}.ipynb]" for nb in ("05_training", "06_sampling"))
    assert conftest.work_unit(a) == a and conftest.work_unit(b) == b
    assert conftest.work_unit("tests/test_builds.py::test_every_notebook_has_its_edits_listed") == \
        "tests/test_builds.py"


def test_the_long_units_named_first_exist_and_go_first():
    for start in conftest.HEAVY_FIRST:
        assert list(ROOT.glob(start.split("::")[0] + "*")), f"HEAVY_FIRST names {start}, which matches no file"
    ids = ["tests/test_stats.py::test_bonferroni_level", "notebooks/00_start_here::ipynb::Cell 0",
           "tests/test_builds.py::test_every_notebook_has_its_edits_listed"]
    assert sorted(ids, key=conftest.heaviness) == [ids[2], ids[1], ids[0]]
