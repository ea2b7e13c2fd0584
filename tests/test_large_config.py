"""The branch a notebook takes on a GPU, run on the CPU: no CI machine has a GPU, so a typo there would ship.

``COURSE_CONFIG=large`` makes ``use_large_config`` (and so every notebook) pick the GPU configuration on the
CPU, and ``COURSE_MAX_STEPS`` caps every ``Trainer.train`` call and every sampling loop so that it finishes in
seconds.
"""

import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from nbexec import notebook_client  # noqa: E402


def outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") + str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("name", ["03_residual_vs_skip", "05_training", "06_sampling", "07_residual_in_diffusion",
                                  "08_guidance"])
def test_notebook_runs_its_gpu_configuration_on_the_cpu(name, monkeypatch):
    monkeypatch.setenv("COURSE_CONFIG", "large")
    monkeypatch.setenv("COURSE_MAX_STEPS", "3")
    nb = jupytext.read(ROOT / "notebooks" / f"{name}.py")
    notebook_client(nb, ROOT / "notebooks", timeout=300).execute()  # raises CellExecutionError on any error
    text = outputs_text(nb)
    assert "a larger configuration will be used" in text
    assert "Traceback" not in text
