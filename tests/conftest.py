import os
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from check_portability import SETTINGS


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


@pytest.fixture(autouse=True)
def fresh_attempts():
    """Every test starts at the first hint tier: the exercises' attempt counter is cleared around it."""
    from course_lib.lessons import grading

    grading.attempts.clear()
    yield
    grading.attempts.clear()


@pytest.fixture
def three_tries(capsys):
    """``three_tries(check, *args)``: call an exercise's check three times with the same answer and return the
    three messages it prints (the hint tiers: diagnosis, hint, reading)."""

    def run(check, *args):
        messages = []
        for _ in range(3):
            check(*args)
            messages.append(capsys.readouterr().out)
        return messages

    return run



# Tests of the pinned set-up itself (its files, the website and browser build, Colab's widgets installed beside the
# pins, Ray for the studies) need what only requirements-test.txt installs: on every other stack
# (`./course test --stack NAME`, which sets COURSE_STACK; scripts/stacks.py) they are not collected.
PINNED_SETUP_FILES = ["test_setup_files.py", "test_site.py", "test_browser.py", "test_widgets_compat.py",
                      "test_study_runner.py"]
collect_ignore = PINNED_SETUP_FILES if os.environ.get("COURSE_STACK", "pins") != "pins" else []


# ./course test runs the unit tests and the notebooks (nbval) in one pytest call on 2 workers (pytest-xdist). Work goes
# out in units: a test module (its module fixtures, a trained model or a built site, are made once), a notebook (its
# cells share one kernel, so they must run in order on one worker), or alone, each run of a SPREAD test (long and
# independent). Units start longest first (HEAVY_FIRST, measured with --durations), so that no long one is left for
# the end while the other worker idles. xdist's own --dist loadgroup cannot do this under pytest 9: it marks a group
# by renaming the test's node id, which pytest 9 no longer reads.
SPREAD = ("test_student_notebook_runs_with_edited_settings_and_checks_say_not_yet",)
HEAVY_FIRST = ("tests/test_claims_03_07.py", "tests/test_site.py", "tests/test_large_config.py", "tests/test_builds.py",
               "tests/test_claims_05.py", "notebooks/08_guidance", "notebooks/05_training",
               "notebooks/03_residual_vs_skip", "notebooks/06_sampling", "notebooks/06b_sample_quality",
               "notebooks/07_residual_in_diffusion", "tests/test_claims_06.py", "tests/test_claims_01.py",
               "tests/test_browser.py", "tests/test_claims_02.py", "tests/test_study_runner.py",
               "tests/test_claims_08.py", "notebooks/")


def work_unit(nodeid: str) -> str:
    """The unit of work ``nodeid`` belongs to: its file (a test module, a notebook), or itself for a SPREAD test."""
    if any(f"::{name}[" in nodeid for name in SPREAD):
        return nodeid
    return nodeid.split("::", 1)[0]


def heaviness(nodeid: str) -> int:
    return next((i for i, start in enumerate(HEAVY_FIRST) if nodeid.startswith(start)), len(HEAVY_FIRST))


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: heaviness(item.nodeid))  # stable: a unit's tests keep their order


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, which another stack may lack
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnits(LoadScopeScheduling):
        """xdist's scheduler by scope, with ``work_unit`` as the scope and the collection's order kept."""

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False  # keep HEAVY_FIRST's order (it would sort units by their test count)
    return WorkUnits(config, log)


# COURSE_NBVAL_CPU=NAME (.ci/run sets avx2 on an AVX-512 CPU) starts nbval's Jupyter kernels, the ones that run the
# notebooks whose outputs are compared, with PyTorch capped at that setting of scripts/check_portability.py (its ATen
# and oneDNN caps; the thread count stays the suite's), so that every CI run on an AVX-512 CPU also checks that the
# compared outputs do not depend on the instruction set. The rest of the suite (the claims re-run on other seeds, the
# student copies, the GPU configuration run on the CPU) runs with PyTorch uncapped. nbval starts a notebook's kernel
# while its first cell is set up, with the environment of that moment. The hook is a plugin, not a conftest hook: a
# conftest's pytest_runtest_setup would reach only the items under tests/, not the notebooks.
NBVAL_CPU_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")
NBVAL_CPU_SETTINGS = sorted(name for name, env in SETTINGS.items() if set(NBVAL_CPU_VARIABLES) <= set(env))


def nbval_cpu_environment() -> dict[str, str]:
    """The variables COURSE_NBVAL_CPU adds to an nbval kernel's environment (none when it is unset)."""
    name = os.environ.get("COURSE_NBVAL_CPU", "")
    if not name:
        return {}
    if name not in NBVAL_CPU_SETTINGS:
        raise pytest.UsageError(f"COURSE_NBVAL_CPU={name!r} is not a capped setting; allowed: {NBVAL_CPU_SETTINGS}")
    return {k: SETTINGS[name][k] for k in NBVAL_CPU_VARIABLES}


class NbvalCpu:
    """Sets ``variables`` in the environment while nbval starts a notebook's kernel."""

    def __init__(self, variables: dict[str, str]):
        self.variables = variables

    def pytest_report_header(self):
        return "nbval's kernels start with " + " ".join(f"{k}={v}" for k, v in self.variables.items())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item):
        if type(item).__name__ != "IPyNbCell" or item.parent.kernel is not None:
            return (yield)
        with mock.patch.dict(os.environ, self.variables):
            return (yield)


def pytest_configure(config):
    variables = nbval_cpu_environment()
    if variables:
        torch.backends.cpu.get_cpu_capability()  # ATen picks this process's kernels now, before a Jupyter kernel starts
        config.pluginmanager.register(NbvalCpu(variables), "nbval-cpu")
