"""Notebook 08's lesson module: the exercises' checks and their diagnoses, the live figure's view, the figures'
descriptions, and the scores behind the trade-off (checked on real digits, where their values are known)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from course_lib.data import load_digits
from course_lib.guidance import guide
from course_lib.lessons import grading
from course_lib.lessons import guidance as G

SCALES = [0.0, 1.0, 3.0, 8.0]


@pytest.fixture(autouse=True)
def fresh_attempts():
    grading.attempts.clear()


def table(acc, div, fd, seeds=(0, 1, 2)):
    """A trade-off table with the given per-scale means (every seed the same)."""
    return {"scales": SCALES, "seeds": list(seeds), "n_per": 20,
            "accuracy": {s: [a] * len(seeds) for s, a in zip(SCALES, acc)},
            "diversity": {s: [d] * len(seeds) for s, d in zip(SCALES, div)},
            "fd": {s: [f] * len(seeds) for s, f in zip(SCALES, fd)}}


MEASURED = table([0.12, 0.85, 0.95, 0.97], [1.0, 0.95, 0.8, 0.6], [20.0, 18.0, 25.0, 60.0])
BASELINES = {"unconditional": {"accuracy": [0.1, 0.11, 0.09], "diversity": [1.0] * 3, "fd": [18.0] * 3},
             "real": {"accuracy": [0.97] * 3, "diversity": [1.0] * 3, "fd": [15.0] * 3}}


def test_the_guided_estimate_passes_in_either_form(capsys):
    G.check_guided_eps(lambda c, u, s: u + s * (c - u))
    G.check_guided_eps(lambda c, u, s: (1 - s) * u + s * c)  # the same line, written as a mix
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda c, u, s: c + s * (u - c), "swapped roles"),
    (lambda c, u, s: (1 + s) * c - s * u, "the paper's form with w = s"),
    (lambda c, u, s: s * (c - u), "not the point it starts from"),
    (lambda c, u, s: u + s * c, "weights do not add up to 1"),
])
def test_each_common_mistake_is_named_without_the_formula(wrong, diagnosis, three_tries):
    messages = three_tries(G.check_guided_eps, wrong)
    assert all("❌" in m and diagnosis in m for m in messages)
    assert "eps_uncond + scale" not in "".join(messages)  # never the solution's code
    assert "Hint" in messages[1] and "course_lib/guidance.py" in messages[2]


def test_a_stub_gets_a_not_yet(capsys):
    def stub(c, u, s):
        raise NotImplementedError

    G.check_guided_eps(stub)
    assert "Not yet" in capsys.readouterr().out


def test_the_predictions_are_judged_against_the_measurement(capsys):
    right = ("any digit, whatever was asked", "the asked digit, less varied than real digits")
    G.check_extremes_prediction(*right, MEASURED, BASELINES)
    assert "✅" in capsys.readouterr().out
    G.check_extremes_prediction("the asked digit", right[1], MEASURED, BASELINES)
    out = capsys.readouterr().out
    assert "❌" in out and "s = 0" in out and "12%" in out
    G.check_extremes_prediction(right[0], "the asked digit, as varied as real digits", MEASURED, BASELINES)
    assert "s = 8" in capsys.readouterr().out
    G.check_extremes_prediction("blank", right[1], MEASURED, BASELINES)
    assert "must be one of" in capsys.readouterr().out
    # had diversity stayed at real digits' level, the other answer would be the right one
    flat = table([0.12, 0.85, 0.95, 0.97], [1.0, 1.0, 1.0, 0.98], [20.0, 18.0, 25.0, 60.0])
    G.check_extremes_prediction(right[0], "the asked digit, as varied as real digits", flat, BASELINES)
    assert "✅" in capsys.readouterr().out


def test_the_best_scale_is_judged_by_the_students_own_score(capsys):
    G.check_best_scale(lambda a, d, f: a - f / 100, 3.0, MEASURED)  # 0.95 - 0.25 beats 0.85 - 0.18
    assert "✅" in capsys.readouterr().out
    G.check_best_scale(lambda a, d, f: a - f / 100, 8.0, MEASURED)
    out = capsys.readouterr().out
    assert "❌" in out and "higher at another measured scale" in out and "3.0" not in out  # never names it
    G.check_best_scale(lambda a, d, f: -f, 1.0, MEASURED)
    assert "✅" in capsys.readouterr().out
    G.check_best_scale(lambda a, d, f: 1.0, 1.0, MEASURED)
    assert "the same at every scale" in capsys.readouterr().out
    G.check_best_scale(lambda a, d, f: a, 2.5, MEASURED)
    assert "one of the measured scales" in capsys.readouterr().out


def test_the_best_scale_check_diagnoses_a_score_that_cannot_choose(capsys):
    G.check_best_scale(lambda a, d, f: f, 8.0, MEASURED)  # forgot that a lower FD is better
    assert "rises when the FD rises" in capsys.readouterr().out
    G.check_best_scale(lambda a, d, f: -a, 0.0, MEASURED)
    assert "falls when more samples read as the asked digit" in capsys.readouterr().out
    saturated = table([0.1, 1.0, 1.0, 1.0], [2.0, 0.9, 0.7, 0.75], [40.0, 18.0, 25.0, 38.0])
    G.check_best_scale(lambda a, d, f: a, 3.0, saturated)  # accuracy alone: s = 1, 3 and 8 tie
    out = capsys.readouterr().out
    assert "❌" in out and "ties at s = 1, 3, 8" in out
    G.check_best_scale(lambda a, d, f: d, 0.0, saturated)  # diversity alone peaks where the label is ignored
    out = capsys.readouterr().out
    assert "❌" in out and "highest at s = 0" in out


def test_turning_points_and_means():
    tp = G.turning_points(MEASURED)
    assert tp == {"best_accuracy": [8.0] * 3, "best_fd": [1.0] * 3}
    assert G.summarise(MEASURED)["fd"][3.0] == 25.0


def test_real_digits_score_as_real_digits():
    """Held-out digits scored as samples of their own labels: the classifier reads most correctly, and their
    diversity is 1 by construction when all of them are used; one digit repeated has diversity 0."""
    x, y = load_digits(split="test", return_labels=True)
    row = G.scores(x, y)
    assert row["accuracy"] > 0.9 and abs(row["diversity"] - 1.0) < 1e-9
    copies = torch.cat([x[(y == d).nonzero()[0]].repeat(5, 1, 1, 1) for d in range(10)])
    assert G.scores(copies, torch.arange(10).repeat_interleave(5))["diversity"] < 1e-9


def test_the_table_says_how_many_samples_each_score_is_from():
    text = G.format_tradeoff(MEASURED, BASELINES)
    assert text.splitlines()[0] == ("200 samples per scale and seed (20 of each digit; DDIM, 20 steps), seeds 0, 1, "
                                    "2; each baseline as many")
    assert "s =    3: read as asked 0.950" in text and "real: read as asked 0.970" in text
    assert "FD (training digits: the floor) 15.0" in text


def test_the_shipped_training_is_read_from_the_checkpoint_and_the_data():
    from course_lib.checkpoints import load_checkpoint

    config = load_checkpoint(G.CONDITIONAL)["config"]
    _, y = load_digits(split="train", return_labels=True)
    text = G.shipped_training()
    assert f"trained {config['steps']:,} steps of batch {config['batch_size']}" in text
    assert f"the {len(y):,} training digits" in text and f"{int((y == 7).sum())} sevens" in text
    assert text.endswith(f"p_uncond = {config['p_uncond']}")


def test_label_path_says_where_the_label_goes():
    from course_lib import UNet

    blocks = G.label_path(UNet(num_classes=10))
    assert "every ResBlock" in blocks and "704 weights" in blocks and "null label 10" in blocks
    assert "only the time embedding" in G.label_path(UNet(num_classes=10, label_at="input"))


def test_the_view_looks_up_and_describes_its_values():
    samples = {s: torch.rand(10, 4, 1, 8, 8) * 2 - 1 for s in (0.0, 3.0)}
    view = G.GuidanceView(samples)
    view.update(digit=3, scale=3.0)
    assert np.allclose(view.images[2].get_array(), samples[3.0][3, 2, 0].numpy())
    assert "asked for a 3" in view.title.get_text() and "s = 3" in view.title.get_text()
    text = view.describe(digit=3, scale=3.0)
    assert "digit 3" in text and "guidance scale 3" in text and len(text.split()) >= 8


def test_the_figures_are_described():
    fig = G.plot_tradeoff(MEASURED, BASELINES, others={"label at the input only": MEASURED})
    assert "guidance scale" in fig.description and "label at the input only" in fig.description
    rows = G.plot_rows({"a": torch.zeros(10, 3, 1, 8, 8)})
    assert "one row per asked digit" in rows.description


def test_guide_is_what_the_exercise_reproduces():
    c, u = torch.randn(3), torch.randn(3)
    assert torch.allclose(G.guide(c, u, 2.0), guide(c, u, 2.0))


def test_the_measurement_keeps_the_live_figures_samples():
    """``measure_tradeoff`` scores every scale and seed and keeps, from its first seed, exactly the samples that
    ``sample_table`` draws for the live figure (the same starting noise at every scale)."""
    from course_lib import NoiseSchedule, UNet

    torch.manual_seed(0)
    model, schedule = UNet(num_classes=10, base_channels=8).eval(), NoiseSchedule.make("linear", 1000)
    got = G.measure_tradeoff(model, schedule, scales=(0.0, 2.0), seeds=(5, 6), n_per=3, keep=2)
    assert got["scales"] == [0.0, 2.0] and all(len(got[k][s]) == 2 for k in ("accuracy", "fd") for s in (0.0, 2.0))
    table = G.sample_table(model, schedule, scales=(0.0, 2.0), seed=5, n_per=3, keep=2)
    for s in (0.0, 2.0):
        assert got["samples"][s].shape == (10, 2, 1, 8, 8) and torch.equal(got["samples"][s], table[s])
