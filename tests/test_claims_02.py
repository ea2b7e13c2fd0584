"""Notebook 02's claims, re-run with seeds the notebook does not use (it uses 0, 1, 2).

Each test trains the residual net and its plain twin for one new seed at the notebook's settings and
checks every claim of ``LESION_CLAIMS`` and ``MULTI_LESION_CLAIMS``: its direction, and that it holds with the
notebook's threshold.
"""

import pytest

from course_lib.lessons.residual_blocks import (
    LESION_CLAIMS,
    MULTI_LESION_CLAIMS,
    lesion_claims,
    lesion_experiment,
    multi_lesion_claims,
    multi_lesion_experiment,
)


@pytest.mark.parametrize("seed", [100, 101, 102])
def test_lesion_claims_hold_for_new_seeds(seed):
    res = lesion_experiment(seeds=(seed,), steps=150, batch_size=64)
    margins = {**lesion_claims(res), **multi_lesion_claims(multi_lesion_experiment(res))}
    for key, (statement, threshold) in {**LESION_CLAIMS, **MULTI_LESION_CLAIMS}.items():
        margin = float(margins[key][0])
        assert margin > threshold, f"seed {seed}: {statement.format(threshold=threshold)!r}: margin {margin:.1f}"
