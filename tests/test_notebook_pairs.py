"""Each notebook and its py:percent pair hold the same cells (types and sources)."""

from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]*_*.ipynb"))


def test_every_notebook_has_a_pair_and_vice_versa():
    folder = Path(__file__).resolve().parents[1] / "notebooks"
    ipynb = {p.stem for p in folder.glob("[0-9][0-9]*_*.ipynb")}
    py = {p.stem for p in folder.glob("[0-9][0-9]*_*.py")}
    assert ipynb == py, f"unpaired: {sorted(ipynb ^ py)}"
    assert len(ipynb) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_pair_cells_match(path):
    nb, py = jupytext.read(path), jupytext.read(path.with_suffix(".py"))
    cells = lambda n: [(c.cell_type, c.source.strip()) for c in n.cells]
    assert cells(nb) == cells(py), f"{path.name} and its .py differ: run ./course notebooks {path.with_suffix('.py')}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_was_executed_in_order(path):
    nb = jupytext.read(path)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert all(counts) and counts == list(range(1, len(counts) + 1)), "outputs must come from one top-to-bottom run"
