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
