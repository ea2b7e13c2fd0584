"""A student who edits notebook 04's settings (``T = 1000``, ``SCHEDULE = "linear"``) and runs it top to bottom
gets no traceback: every grid of timesteps, index and slider range follows ``T``.

The settings line is replaced in the jupytext source, which is then run with ``scripts/nbexec.py``'s client.
"""

import re
import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from nbexec import notebook_client  # noqa: E402

from course_lib.widgets import is_live_figure  # noqa: E402

SOURCE = ROOT / "notebooks" / "04_forward_diffusion.py"


def edited(text: str, pattern: str, line: str) -> str:
    new, count = re.subn(pattern, line, text, flags=re.M)
    assert count == 1, f"the settings line {pattern!r} is not in {SOURCE.name} exactly once"
    return new


def printed(nb) -> str:
    return "\n".join(out.get("text", "") + str(out.get("data", {}).get("text/plain", "")) + "".join(
        out.get("traceback", [])) for cell in nb.cells for out in cell.get("outputs", []))


@pytest.mark.parametrize("T, schedule", [(50, "linear"), (200, "cosine")])
def test_notebook_04_runs_with_another_T_and_schedule(T, schedule):
    text = edited(SOURCE.read_text(), r"^T = 1000\b", f"T = {T}")
    text = edited(text, r'^SCHEDULE = "linear"', f'SCHEDULE = "{schedule}"')
    nb = jupytext.reads(text, fmt="py:percent")
    notebook_client(nb, ROOT / "notebooks", timeout=300).execute()  # raises CellExecutionError on any error
    out = printed(nb)
    assert "Traceback" not in out and "Error" not in out
    assert f"alpha_bar at t = {T // 4}: " in out  # the table of alpha_bar is taken at fractions of T
    assert f"t = {T - 1:>3}: alpha_bar[t] = " in out
    widget = next(o for c in nb.cells for o in c.get("outputs", []) if is_live_figure(o))
    assert f"of T = {T} with the {schedule} schedule" in widget["data"]["text/plain"]
