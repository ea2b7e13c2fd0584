"""Notebook 02's lesson module: the lesion experiments, the lesion widget and the exercises' checks."""

import copy

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot
import numpy as np
import pytest
import torch

from course_lib import BasicBlock, PreActBlock, SmallResNet
from course_lib.lessons import residual_blocks as rb
from course_lib.lessons.residual_blocks import (
    LesionResults,
    LesionView,
    accuracy_for_every_deletion,
    accuracy_without,
    accuracy_without_branch,
    block_forward,
    block_jacobian,
    check_block_forward,
    check_block_jacobian,
    check_lesion_prediction,
    identity_error,
    lesion_claims,
    lesion_experiment,
    lesion_study,
    lesion_summary,
    multi_lesion_claims,
    multi_lesion_experiment,
    plot_lesion_seeds,
    plot_multi_lesion,
    print_lesion_report,
    show_lesion,
    typical_block,
    unraveled_view,
)


@pytest.fixture(scope="module")
def small_res():
    return lesion_experiment(seeds=(0, 1), num_blocks=4, width=8, steps=20, batch_size=32)


def test_lesion_experiment_shapes_summaries_and_figures(small_res):
    res = small_res
    assert res.blocks == res.nets["residual"][0].lesionable_blocks() and 0 in res.blocks
    for name in ("residual", "plain"):
        assert res.intact[name].shape == (2,) and res.lesioned[name].shape == (2, len(res.blocks))
        net = res.nets[name][1]
        assert accuracy_without(net, set()) == pytest.approx(res.intact[name][1])
        assert [lesion_study(net)[b] for b in res.blocks] == pytest.approx(res.lesioned[name][1].tolist())
        assert res.accuracy(name, 1, {res.blocks[0]}) == res.lesioned[name][1, 0]  # measured once, kept
    summary, margins = lesion_summary(res), lesion_claims(res)
    assert all(v.shape == (2,) for v in [*summary.values(), *margins.values()])
    d = res.drops("residual")
    assert summary["residual worst drop"] == pytest.approx(d.max(1))
    assert margins["block 0 minus mean of the others"] == pytest.approx(100 * (d[:, 0] - d[:, 1:].mean(1)))
    assert plot_lesion_seeds(res).axes
    with pytest.raises(ValueError, match="seeds"):
        lesion_experiment(seeds=())


def test_lesion_report_prints_the_settings_it_was_run_with(small_res, capsys):
    print_lesion_report(small_res)
    out = capsys.readouterr().out
    assert ("4 blocks per net (8 then 16 channels), trained 20 Adam steps on 1000 training digits; test accuracy on "
            "797 held-out digits") in out
    assert f"Deletable blocks: {small_res.blocks}" in out and "seed 1    plain" in out
    assert "Residual net with the branch of block 2 deleted, its projection shortcut kept: " in out


def test_deleting_a_branch_keeps_the_shortcut_identity_or_projection(small_res):
    net = small_res.nets["residual"][0]
    assert list(small_res.projection_kept) == [2]  # the block that halves the resolution
    assert small_res.projection_kept[2][0] == accuracy_without_branch(net, 2)
    for b in small_res.blocks:  # an identity shortcut: the same as deleting the whole block
        assert accuracy_without_branch(net, b) == accuracy_without(net, {b})
    with pytest.raises(ValueError, match="block=4"):
        accuracy_without_branch(net, 4)
    with pytest.raises(ValueError, match="plain net has no shortcut"):
        accuracy_without_branch(small_res.nets["plain"][0], 2)


def test_lesion_widget_opens_on_a_typical_block(small_res):
    block = typical_block(small_res)
    middle = [b for b in small_res.blocks if b != 0]
    drops = small_res.drops("residual")[:, 1:].mean(0)
    assert block in middle and abs(drops[middle.index(block)] - np.median(drops)) == min(abs(drops - np.median(drops)))
    live = rb.lesion_widget(small_res)
    assert live.controls["blocks"].value == (block,) and live.controls["seed"].value == small_res.seeds[0]
    assert list(live.controls["blocks"].options) == small_res.blocks


def test_every_deletion_shares_passes_and_matches_one_by_one():
    torch.manual_seed(0)
    net = SmallResNet(num_blocks=6, width=4)
    every = accuracy_for_every_deletion(net)
    deletable = net.lesionable_blocks()
    assert len(every) == 2 ** len(deletable)
    for deleted in [(), (0,), (1, 4), tuple(deletable)]:
        assert every[frozenset(deleted)] == accuracy_without(net, set(deleted))


def test_multi_lesion_experiment_averages_every_set(small_res):
    ml = multi_lesion_experiment(small_res)
    pool = [b for b in small_res.blocks if b != 0]
    assert ml.pool == pool and ml.sizes == list(range(len(pool) + 1))
    assert ml.n_sets == [1, len(pool), len(pool) * (len(pool) - 1) // 2, 1][:len(ml.sizes)]
    for name in ("residual", "plain"):
        assert ml.accuracy[name].shape == (2, len(ml.sizes))
        assert ml.accuracy[name][:, 0] == pytest.approx(small_res.intact[name])
        assert ml.accuracy[name][:, 1] == pytest.approx(small_res.lesioned[name][:, 1:].mean(1))
    margin = multi_lesion_claims(ml)["residual with 2 deleted minus plain with 1 deleted"]
    assert margin == pytest.approx(100 * (ml.accuracy["residual"][:, 2] - ml.accuracy["plain"][:, 1]))
    assert plot_multi_lesion(ml).axes
    assert len(multi_lesion_experiment(small_res, include_block_0=True).pool) == len(small_res.blocks)


def test_lesion_view_updates_only_artists_and_shows_several_blocks(small_res):
    view = LesionView(small_res)
    assert not matplotlib.pyplot.fignum_exists(view.fig.number)  # closed: shown by the widget only
    assert small_res.blocks == [0, 1, 3]
    assert view.update(seed=1, blocks=(1, 3)) is None  # the background never changes
    heights = [bar.get_height() for bar in view.lesioned_bars]
    assert heights == pytest.approx([small_res.accuracy(n, 1, {1, 3}) for n in ("residual", "plain")])
    assert "blocks 1, 3 deleted" in view.title.get_text()
    assert show_lesion(small_res, seed=0, blocks=(1,)).axes
    nets = {n: small_res.nets[n][0] for n in small_res.nets}
    assert show_lesion(nets, blocks=(1, 3)).axes  # one seed's nets, without the experiment


def test_demo_widget_follows_each_control():
    live = rb.demo_widgets()["lesion"]
    assert list(live.controls) == ["seed", "blocks"]
    assert list(live.controls["seed"].options) == [0, 1, 2]
    assert list(live.controls["blocks"].options) == [0, 1, 2, 3, 5, 6, 7]
    for name, value in [("blocks", (1, 2, 5)), ("seed", 2), ("blocks", ())]:
        before = live.image.value
        live.controls[name].value = value
        assert live.image.value != before and live.status.value == "", (name, value)


def test_unraveled_view_exact_only_for_linear_branches_but_always_for_the_jacobian():
    linear, nonlinear = unraveled_view(nonlinear=False), unraveled_view(nonlinear=True)
    assert linear["forward"] < 1e-12 and linear["jacobian"] < 1e-12
    assert nonlinear["forward"] > 1e-3 and nonlinear["jacobian"] < 1e-12


def test_zero_init_identity_error_is_zero_on_positive_inputs_and_relu_on_signed_ones():
    block = BasicBlock(4, 4, zero_init=True)
    out_err, jac_err = identity_error(block, torch.rand(2, 4, 4, 4) + 0.1)
    assert out_err == 0 and jac_err == 0
    x = torch.randn(2, 4, 4, 4)  # a zero-initialised basic block computes ReLU(x)
    out_err, jac_err = identity_error(block, x)
    assert out_err == (-x).clamp(min=0).max().item() and jac_err == 1
    assert identity_error(PreActBlock(4, 4, zero_init=True), x) == (0, 0)  # nothing after the sum


# ----------------------------------------------------------------------------- exercises

def test_check_block_forward_accepts_reference_and_float64(capsys):
    check_block_forward(block_forward)
    check_block_forward(lambda b, x, r: block_forward(copy.deepcopy(b).double(), x.double(), r))
    out = capsys.readouterr().out
    assert out.count("✅") == 2


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda b, x, r: b.post(b.branch(x)), "the shortcut is missing"),
    (lambda b, x, r: b.post(b.branch(x) + x) if r else b.post(b.branch(x)), "adding x itself fails"),
    (lambda b, x, r: b.post(b.branch(x)) + b.shortcut(x) if r else b.post(b.branch(x)),
     "you added the shortcut after block.post"),
    (lambda b, x, r: b.branch(x) + b.shortcut(x) if r else b.post(b.branch(x)), "block.post (a basic block's output"),
    (lambda b, x, r: block_forward(b, x, True), "that is the residual block's output"),
    (lambda b, x, r: block_forward(b, x, r) if r else b.branch(x), "block.post (the ReLU after F"),
    (lambda b, x, r: x.repeat(1, 2, 1, 1), "a block's output keeps the batch, has out_channels channels"),
])
def test_check_block_forward_names_each_mistake_and_escalates(wrong, diagnosis, capsys):
    check_block_forward(wrong)
    first = capsys.readouterr().out
    assert "Not yet" in first and diagnosis in first and "Hint:" not in first
    check_block_forward(wrong)
    assert "Hint: a residual block learns F as a correction to its input" in capsys.readouterr().out
    check_block_forward(wrong)
    last = capsys.readouterr().out
    assert "Read He et al. (2016), Deep Residual Learning, Sec. 3.1" in last and "course_lib." not in last
    assert "expected" not in first + last


def test_checks_say_not_yet_on_stubs(capsys):
    def stub(*args):
        raise NotImplementedError

    check_block_forward(stub)
    check_block_forward(None)
    check_block_jacobian(stub)
    check_block_jacobian(None)
    check_lesion_prediction(None, None)
    out = capsys.readouterr().out
    assert out.count("Not yet") == 5 and "Traceback" not in out


def reference_jacobian(block, x):
    block.eval()
    n = x.numel()
    return torch.autograd.functional.jacobian(lambda v: block(v.view_as(x)).flatten(), x.flatten()).reshape(n, n)


def train_mode_jacobian(block, x):
    n = x.numel()
    return torch.autograd.functional.jacobian(lambda v: block(v.view_as(x)).flatten(), x.flatten()).reshape(n, n)


def branch_jacobian(block, x):
    block.eval()
    n = x.numel()
    return torch.autograd.functional.jacobian(lambda v: block.branch(v.view_as(x)).flatten(),
                                              x.flatten()).reshape(n, n)


def test_check_block_jacobian_accepts_reference_float64_and_the_library(capsys):
    check_block_jacobian(reference_jacobian)
    check_block_jacobian(lambda b, x: reference_jacobian(b.double(), x.double()))
    check_block_jacobian(lambda b, x: block_jacobian(b.eval(), x).numpy())
    out = capsys.readouterr().out
    assert out.count("✅") == 3 and "zero-initialised PreActBlock(2, 2): max|J - I| = 0.0e+00" in out


SOLUTION_TEXT = ("autograd.functional", ".eval()", "reshape(", "view_as", "torch.eye", "jacrev")


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda b, x: torch.eye(x.numel()), "returns the identity matrix, and that block is not the identity"),
    (lambda b, x: np.eye(18), "returns the identity matrix, and that block is not the identity"),
    (lambda b, x: reference_jacobian(b, x).T, "your matrix is the transpose of the Jacobian"),
    (train_mode_jacobian, "ran the block in training mode: its BatchNorm normalised with the statistics"),
    (lambda b, x: torch.autograd.functional.jacobian(b.eval(), x), "has shape (1, 2, 3, 3, 1, 2, 3, 3)"),
    (lambda b, x: reference_jacobian(b, x)[:9], "has shape (9, 18): J has one row per entry of y"),
    (branch_jacobian, "the Jacobian of the branch F alone"),
    (lambda b, x: reference_jacobian(b, x) - torch.eye(18), "the Jacobian of the branch F alone"),
    (lambda b, x: None, "returns None"),
    (lambda b, x: "I", "returns a str, not a matrix"),
    (lambda b, x: 1.1 * reference_jacobian(b, x), "your J differs from the block's Jacobian"),
])
def test_check_block_jacobian_names_each_mistake_without_the_solution(wrong, diagnosis, capsys):
    for _ in range(3):
        check_block_jacobian(wrong)
    out = capsys.readouterr().out
    assert out.count("Not yet") == 3 and diagnosis in out and "✅" not in out
    assert "Hint: the Jacobian is a matrix" in out and "He et al. (2016b)" in out and "Ioffe and Szegedy" in out
    assert not [text for text in SOLUTION_TEXT if text in out]


def test_check_block_jacobian_rejects_a_function_that_ignores_its_block(capsys):
    seen = []

    def stuck_after_two_blocks(block, x):  # right for the first two blocks, then repeats the second answer
        seen.append(reference_jacobian(block, x))
        return seen[min(len(seen), 2) - 1]

    check_block_jacobian(stuck_after_two_blocks)
    out = capsys.readouterr().out
    assert "for a PreActBlock(2, 2) that is not zero-initialised as for an earlier, different block" in out


def fake_lesions(plain_drop: float) -> LesionResults:
    res = LesionResults([0, 1, 2], [0, 1, 2])
    res.intact = {"residual": np.full(3, 0.9), "plain": np.full(3, 0.9)}
    res.lesioned = {"residual": np.tile([0.2, 0.85, 0.85], (3, 1)), "plain": np.full((3, 3), 0.9 - plain_drop)}
    return res


def test_check_lesion_prediction_compares_with_what_the_nets_did(capsys):
    check_lesion_prediction("plain", fake_lesions(0.7))
    check_lesion_prediction(" Plain net", fake_lesions(0.7))
    assert capsys.readouterr().out.count("✅") == 2
    check_lesion_prediction("residual", fake_lesions(0.7))
    out = capsys.readouterr().out
    assert "Not yet" in out and "the plain net lost more" in out
    check_lesion_prediction("plain", fake_lesions(0.0))  # a run where the residual net lost more
    assert "the residual net lost more" in capsys.readouterr().out
    check_lesion_prediction("deeper", fake_lesions(0.7))
    assert 'answer with "residual" or "plain"' in capsys.readouterr().out
