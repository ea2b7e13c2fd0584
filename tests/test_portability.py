"""scripts/check_portability.py: its settings really change the kernels PyTorch picks."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from check_portability import SETTINGS, nbval_command, setting_environment

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
