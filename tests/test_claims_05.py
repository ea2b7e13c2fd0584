"""Notebook 05's claim, re-run with seeds the notebook and the shipped study do not use.

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

from course_lib.lessons.training import raw_vs_ema, train_digit_unet

slow = pytest.mark.skipif(os.environ.get("COURSE_SLOW_TESTS") != "1",
                          reason="trains the notebook's 500-step run per seed; set COURSE_SLOW_TESTS=1")


@slow
@pytest.mark.parametrize("seed", [100, 101, 102])
def test_ema_weights_beat_raw_weights_after_500_constant_lr_steps(seed):
    trainer = train_digit_unet(seed, steps=500, width=16)
    r = raw_vs_ema(trainer, n=300, steps=50)
    assert r["ema"] < r["raw"], r
