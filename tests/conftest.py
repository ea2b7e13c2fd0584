import os

import pytest
import torch


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


# ./course test runs the unit tests on 2 workers (pytest-xdist, --dist loadgroup): each test module is one group, so
# its fixtures (a trained model, a built site) are meant to be computed once; the student-copy runs, independent and
# long, spread over both workers. The notebooks run under nbval in a second, single-process pytest call: a
# notebook's cells share one kernel, and in a run with xdist (fec64e6) their cells were split over the workers.
SPREAD = ("test_student_notebook_runs_with_edited_settings_and_checks_say_not_yet",)


def pytest_configure(config):
    if not config.pluginmanager.hasplugin("xdist"):  # another stack may lack pytest-xdist: the marks do nothing
        config.addinivalue_line("markers", "xdist_group(name): tests pytest-xdist keeps on one worker")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            spread = getattr(item, "originalname", item.name) in SPREAD
            item.add_marker(pytest.mark.xdist_group(item.nodeid if spread else str(item.path)))
