"""Notebook 05's claims, re-run with seeds the notebook and the shipped study do not use.

The toy run of notebook 05 (3,000 steps, batch 512, learning rate 1e-3, on a CPU) supports three statements: the
eps-MSE is largest at small t (its prediction check reads the per-t losses); the EMA samples follow both moons
(the figure; at 1,000 steps of batch 256 and learning rate 2e-3 they were a diffuse blob between them); and their
MMD lies above every draw of the floor (2,000 independent points of the moons, ``training.toy_scores``), the
sprinkle of points between the moons. The test re-trains that run (same MLP, data size, schedule and optimiser)
with seeds 100-102 and asserts the check's verdict ("small") with a margin, the first tenth's loss over 10 times
the last tenth's; as a number for "follows the moons", an MMD under 0.005 (seeds 0-2 and 100-102: 0.0010 to
0.0016; the blob of the shorter run, seeds 0-2: 0.015 to 0.019; the sliced Wasserstein distance separates the two
less well, 1.2 to 1.5 times its floor's mean against 1.9 to 2.1 times); and the MMD above the floor's largest draw
(which was 0.00015).

Notebook 05 reads, from the five shipped seeds of ``python -m course_lib study ema`` (500 steps at a constant learning
rate, U-Net width 16, EMA decay 0.995, the 1,000 "train" digits, Fréchet distance against the held-out digits),
read against the score's own draw-to-draw spread (the floor's SD, 4.0): the EMA's FD is lower by more than that in
3 of 5 seeds, higher by more in one (seed 3: raw 43.5, EMA 49.3); 4 of 5 lower is a sign-test p of 0.19, so the
notebook does not claim the EMA samples better, only that it reduces the seed-to-seed spread of the FD (16.5 to
4.1). This test re-runs exactly that setting for seeds 100-102 (about a minute per seed on 2 CPU cores, so it runs
only with ``COURSE_SLOW_TESTS=1``) and asserts a smaller spread for the EMA weights, and, as before, a lower mean.

A smaller setting is NOT the same claim: with 300 steps at width 8 (trained on all 1,797 digits then), seed 102 gave
EMA FD 109 against raw FD 81. With the trainer's warm-up d_n = min(0.995, (1 + n) / (10 + n)) the EMA spans roughly
the last 1 / (1 - d_n) steps: about 34 at step 300 and 57 at step 500 (d_n reaches 0.995, a 200-step horizon, only
after 1,790 updates), and in a short run the weights still improve fast over that span. The notebook prints the
horizon of its run; this test keeps the notebook's setting.
"""

import os

import pytest
import torch

from course_lib import DDPMSampler, NoiseSchedule
from course_lib.data import make_toy_2d
from course_lib.lessons.training import check_hardest_t, hardest_t, raw_vs_ema, toy_scores, train_digit_unet
from course_lib.mlp_denoiser import MLPDenoiser
from course_lib.trainer import TrainConfig, Trainer

slow = pytest.mark.skipif(os.environ.get("COURSE_SLOW_TESTS") != "1",
                          reason="trains the notebook's 500-step run per seed; set COURSE_SLOW_TESTS=1")


@slow
def test_ema_weights_score_better_on_average_and_vary_less_after_500_constant_lr_steps():
    rows = [raw_vs_ema(train_digit_unet(seed, steps=500, width=16), n=300, sample_seed=seed, steps=50)
            for seed in (100, 101, 102)]
    raw, ema = torch.tensor([r["raw"] for r in rows]), torch.tensor([r["ema"] for r in rows])
    assert ema.mean() < raw.mean() and ema.std() < raw.std(), rows


@pytest.mark.parametrize("seed", [100, 101, 102])
def test_the_noise_is_hardest_to_predict_at_small_t_and_the_samples_follow_the_moons_with_a_sprinkle(seed, capsys):
    torch.manual_seed(seed)
    toy = Trainer(MLPDenoiser(hidden=128, depth=3), NoiseSchedule.make("linear", 1000),
                  make_toy_2d("moons", 8000, seed=seed),
                  TrainConfig(steps=3000, batch_size=512, lr=1e-3, log_every=100, seed=seed), progress=False)
    toy.train()
    by_t = toy.history.mean_loss_by_t()
    assert hardest_t(by_t) == "small" and by_t[0] > 10 * by_t[-1], by_t
    check_hardest_t("small", by_t)
    assert capsys.readouterr().out.startswith("✅")
    x = DDPMSampler(toy.schedule).sample(toy.ema_model.eval(), (2000, 2), generator=torch.Generator().manual_seed(0))
    q = toy_scores(x, "moons")
    assert max(q["mmd_floor"]) < q["mmd"] < 0.005, q
