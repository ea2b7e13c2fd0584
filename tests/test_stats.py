"""course_lib.stats: paired differences, t-intervals, the sign test, log ratios and Bonferroni levels."""

import math

import numpy as np
import pytest

from course_lib import stats


def test_t_interval_known_values():
    mean, lo, hi = stats.t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert hi - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)  # t_{0.975, 2} sd / sqrt(3)
    assert mean - lo == pytest.approx(hi - mean)
    with pytest.raises(ValueError, match="at least 2"):
        stats.t_interval([1.0])
    with pytest.raises(ValueError, match="level"):
        stats.t_interval([1.0, 2.0], level=1.5)


def test_t_interval_covers_the_mean_at_its_level():
    rng = np.random.default_rng(0)
    covered = [lo <= 0 <= hi for lo, hi in (stats.t_interval(rng.normal(size=5))[1:] for _ in range(4000))]
    assert np.mean(covered) == pytest.approx(0.95, abs=0.012)


def test_paired_and_log_ratios_pair_by_seed():
    a, b = {2: 30.0, 0: 10.0, 1: 20.0}, {0: 5.0, 1: 40.0, 3: 1.0}
    assert stats.paired(a, b) == [5.0, -20.0]
    assert stats.log_ratios(a, b) == pytest.approx([math.log(2), math.log(0.5)])
    with pytest.raises(ValueError, match="positive"):
        stats.log_ratios({0: 0.0}, {0: 1.0})


def test_sign_test_exact_values():
    assert stats.sign_test([1, 2, 3, 4, 5]) == pytest.approx(2 / 32)  # all five seeds agree
    assert stats.sign_test([1, -1, 2, -2]) == pytest.approx(1.0)
    assert stats.sign_test([0.0, 0.0]) == 1.0
    assert stats.sign_test([1] * 10) == pytest.approx(2 / 1024)


def test_bonferroni_level():
    assert stats.bonferroni_level(1) == pytest.approx(0.95)
    assert stats.bonferroni_level(36) == pytest.approx(1 - 0.05 / 36)
    with pytest.raises(ValueError, match="n_intervals"):
        stats.bonferroni_level(0)
