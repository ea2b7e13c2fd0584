"""Notebook 05's claims, re-run with seeds the notebook and the shipped study do not use.

The eps-MSE is largest at small t: notebook 05's prediction check reads the per-t losses of its 1,000-step toy run
(seed 0). The test re-trains that run (same MLP, data size, schedule and optimiser) with seeds 100-102 and asserts
the check's verdict ("small") and a margin: the first tenth's loss over 10 times the last tenth's.

Notebook 05 checks, over the five shipped seeds of ``scripts/sampling_studies.py``, that after 500 steps at a
constant learning rate (U-Net width 16, EMA decay 0.995) the EMA weights score a lower Fréchet distance than the
raw weights. This test re-runs exactly that setting for seeds 100-102 (about a minute per seed on 2 CPU cores, so
it runs only with ``COURSE_SLOW_TESTS=1``).

A smaller setting is NOT the same claim: with 300 steps at width 8, seed 102 gave EMA FD 109 against raw FD 81.
The EMA with decay 0.995 averages over roughly the last 1 / (1 - 0.995) = 200 steps, so in a run that short it
still holds early, worse weights. The notebook states that condition; this test keeps the notebook's setting.
"""

import os

import pytest
import torch

from course_lib import NoiseSchedule
from course_lib.data import make_toy_2d
from course_lib.lessons.training import check_hardest_t, hardest_t, raw_vs_ema, train_digit_unet
from course_lib.mlp_denoiser import MLPDenoiser
from course_lib.trainer import TrainConfig, Trainer

slow = pytest.mark.skipif(os.environ.get("COURSE_SLOW_TESTS") != "1",
                          reason="trains the notebook's 500-step run per seed; set COURSE_SLOW_TESTS=1")


@slow
@pytest.mark.parametrize("seed", [100, 101, 102])
def test_ema_weights_beat_raw_weights_after_500_constant_lr_steps(seed):
    trainer = train_digit_unet(seed, steps=500, width=16)
    r = raw_vs_ema(trainer, n=300, steps=50)
    assert r["ema"] < r["raw"], r


@pytest.mark.parametrize("seed", [100, 101, 102])
def test_the_noise_is_hardest_to_predict_at_small_t(seed, capsys):
    torch.manual_seed(seed)
    toy = Trainer(MLPDenoiser(hidden=128, depth=3), NoiseSchedule.make("linear", 1000),
                  make_toy_2d("moons", 8000, seed=seed),
                  TrainConfig(steps=1000, batch_size=256, lr=2e-3, log_every=100, seed=seed), progress=False)
    toy.train()
    by_t = toy.history.mean_loss_by_t()
    assert hardest_t(by_t) == "small" and by_t[0] > 10 * by_t[-1], by_t
    check_hardest_t("small", by_t)
    assert capsys.readouterr().out.startswith("✅")
