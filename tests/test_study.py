"""course_lib.study: learning curves at several budgets, equal to separate runs of those lengths."""

import pytest

from course_lib.data import load_digits
from course_lib.study import check_budgets, learning_curve, load_study, save_study
from course_lib.trainer import TrainConfig
from course_lib.unet import UNet


def small():
    return UNet(base_channels=8)


def loss_of(trainer):
    return {"last_loss": trainer.history.loss[-1], "ema0": float(next(trainer.ema_model.parameters()).detach().sum())}


def test_a_curve_stopped_at_budgets_equals_separate_runs():
    data = load_digits(split="train")[:64]
    cfg = TrainConfig(batch_size=8)
    curve = learning_curve(small, data, [2, 5], loss_of, seed=3, config=cfg)
    assert [r["steps"] for r in curve] == [2, 5]
    alone = learning_curve(small, data, [5], loss_of, seed=3, config=cfg)
    assert curve[-1]["last_loss"] == alone[0]["last_loss"] and curve[-1]["ema0"] == alone[0]["ema0"]
    other_seed = learning_curve(small, data, [5], loss_of, seed=4, config=cfg)
    assert other_seed[0]["last_loss"] != alone[0]["last_loss"]


def test_budgets_are_checked():
    assert check_budgets((1, 2)) == [1, 2]
    for bad in ([], [5, 5], [3, 2], [0, 1]):
        with pytest.raises(ValueError, match="budgets"):
            check_budgets(bad)


def test_save_study_is_atomic(tmp_path):
    out = tmp_path / "study.json"
    rows = [{"kind": "a", "seed": 0, "steps": 1, "score": 1.0}, {"kind": "a", "seed": 0, "steps": 2, "score": 0.5}]
    save_study(rows, out, {"what": "test"})
    assert load_study(out) == ({"what": "test"}, rows)
    save_study(rows[:1], out, {"what": "test"})  # rewritten through a temporary file, then renamed
    assert load_study(out)[1] == rows[:1] and not out.with_suffix(".json.part").exists()
