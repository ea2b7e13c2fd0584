"""scripts/check_portability.py: its settings really change the kernels PyTorch picks; and COURSE_NBVAL_CPU, which
caps the kernels of nbval's notebooks at one of them in CI (tests/conftest.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from check_portability import SETTINGS, nbval_command, setting_environment
from conftest import NBVAL_CPU_VARIABLES

PROBE = "import torch; print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())"


def probe(name: str, tmp_path: Path) -> list[str]:
    """What an IPython process (as the notebook kernel) started under setting ``name`` reports. IPython 7 (Colab's)
    also writes the terminal's title to stdout, escape codes first; without a title it writes only the report."""
    env = setting_environment(name, tmp_path / name)
    out = subprocess.run([sys.executable, "-m", "IPython", "--TerminalInteractiveShell.term_title=False", "-c",
                          PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.parametrize("name, capability", [("sse41", "DEFAULT"), ("avx2", "AVX2")])
def test_emulated_settings_cap_aten_and_onednn(name, capability, tmp_path):
    assert SETTINGS[name]["ONEDNN_MAX_CPU_ISA"], "capping ATen alone leaves convolutions on the native path"
    if capability == "AVX2" and probe("native", tmp_path)[0] == "DEFAULT":
        pytest.skip("this CPU has no AVX2")
    assert probe(name, tmp_path)[0] == capability


@pytest.mark.parametrize("name, threads", [("threads1", "1"), ("threads4", "4"), ("native", "2")])
def test_thread_settings_reach_the_kernel(name, threads, tmp_path):
    """Even past the core count: torch caps OMP_NUM_THREADS at the cores, the start-up file does not."""
    assert probe(name, tmp_path)[1] == threads


def test_nbval_command_matches_the_course_test_command():
    course = (Path(__file__).resolve().parents[1] / "course").read_text()
    cmd = nbval_command(["notebooks/x.ipynb"])
    for flag in ("--nbval", "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg"):
        assert flag in cmd and flag in course


WORKER_PROBE = """
import os
import torch


def test_the_worker_keeps_pytorch_uncapped():
    assert "ATEN_CPU_CAPABILITY" not in os.environ and "ONEDNN_MAX_CPU_ISA" not in os.environ
    assert torch.backends.cpu.get_cpu_capability() == os.environ["NATIVE"]
"""


@pytest.mark.skipif(os.environ.get("COURSE_STACK", "pins") != "pins",
                    reason="checks the pinned set-up's nbval run: nbval and pytest-xdist, from requirements-test.txt")
def test_course_nbval_cpu_caps_only_nbval_kernels(tmp_path):
    """.ci/run's COURSE_NBVAL_CPU (tests/conftest.py), laid out as in ./course test: the suite's conftest loaded from
    tests/, two notebooks outside it, an xdist worker. Under sse41 each notebook, whose stored output is "DEFAULT
    SSE41" (ATen's capability and oneDNN's cap variable, as its kernel sees them), passes nbval, and a test run after
    them in the same worker still has PyTorch uncapped."""
    import nbformat

    native = probe("native", tmp_path)[0]
    if native == "DEFAULT":
        pytest.skip("this CPU's own kernels are already the DEFAULT ones")
    source = "import os, torch\nprint(torch.backends.cpu.get_cpu_capability(), os.environ.get('ONEDNN_MAX_CPU_ISA'))"
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="DEFAULT SSE41\n")]
    for name in ("a_kernel.ipynb", "b_kernel.ipynb"):
        nbformat.write(nbformat.v4.new_notebook(cells=[cell]), tmp_path / name)
    (tmp_path / "test_worker.py").write_text(WORKER_PROBE)
    env = {k: v for k, v in os.environ.items() if k not in (*NBVAL_CPU_VARIABLES, "PYTEST_ADDOPTS")}
    env.update(COURSE_NBVAL_CPU="sse41", NATIVE=native)
    root = Path(__file__).resolve().parents[1]
    paths = ["tests/test_portability.py::test_course_nbval_cpu_names_a_capped_setting",
             *(str(tmp_path / name) for name in ("a_kernel.ipynb", "b_kernel.ipynb", "test_worker.py"))]
    # rootdir /: xdist tells items apart by node id, which is "::Cell 0" for both notebooks outside the repository
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "1", "--rootdir=/",
                          "-c", "pyproject.toml", "--nbval", "--nbval-current-env", "--nbval-cell-timeout=120", *paths],
                         cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "4 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]


def test_course_nbval_cpu_names_a_capped_setting(monkeypatch):
    from conftest import nbval_cpu_environment

    monkeypatch.setenv("COURSE_NBVAL_CPU", "sse41")
    assert nbval_cpu_environment() == {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}
    for name in ("avx3", "threads1"):
        monkeypatch.setenv("COURSE_NBVAL_CPU", name)
        with pytest.raises(pytest.UsageError, match=rf"COURSE_NBVAL_CPU='{name}' is not a capped setting; allowed: "
                                                    r"\['avx2', 'sse41'\]"):
            nbval_cpu_environment()
