"""Notebook 03's claims, re-run with seeds the notebook does not use (it uses 0, 1, 2).

Each test trains the three U-Nets (long skips concat, add, none) for one new seed at the notebook's CPU
settings and checks every claim of ``SKIP_CLAIMS``: its direction, and that it holds with the notebook's
threshold.
"""

import pytest

from course_lib.lessons.residual_vs_skip import SKIP_CLAIMS, skip_claims, skip_mode_experiment


@pytest.mark.parametrize("seed", [100, 101, 102])
def test_skip_claims_hold_for_new_seeds(seed):
    margins = skip_claims(skip_mode_experiment(seeds=(seed,), steps=150, batch_size=64))
    for key, (statement, threshold) in SKIP_CLAIMS.items():
        margin = float(margins[key][0])
        assert margin > threshold, f"seed {seed}: {statement.format(threshold=threshold)!r}: margin {margin:.1f}"
