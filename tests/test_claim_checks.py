"""The claim-check helpers: a verdict that depends only on whether the claim held."""

import math

import pytest

from course_lib.claims import check_claim, check_claims, claim_holds, mean_spread


def test_verdict_names_seed_count_not_margins(capsys):
    assert check_claim("A beats B", [41.23, 35.0, 52.3], threshold=10) is True
    out = capsys.readouterr().out
    assert out == "✓ A beats B: held for 3 of 3 seeds.\n"
    assert "41" not in out


def test_failed_claim_says_so_without_raising(capsys):
    assert check_claim("A beats B", [5.0, -1.0, 3.0], threshold=0) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ A beats B: did not hold this time (held for 2 of 3 seeds).")


def test_margin_equal_to_threshold_and_nan_do_not_hold():
    assert not claim_holds([1.0, 2.0], threshold=1.0)
    assert not claim_holds([1.0, math.nan])
    assert claim_holds([0.5, 2.0])


@pytest.mark.parametrize("bad", [[], [[1.0, 2.0]]])
def test_margins_must_be_a_list_per_seed(bad):
    with pytest.raises(ValueError, match="margins must be a non-empty list"):
        claim_holds(bad)


def test_mean_spread():
    assert mean_spread([0.91, 0.93, 0.95], ".1f", scale=100, unit="%") == "93.0% ± 2.0 (91.0 to 95.0, 3 seeds)"
    assert mean_spread([2.0], ".1f") == "2.0 ± 0.0 (2.0 to 2.0, 1 seed)"
    assert mean_spread([-3.0, 1.0], "+.1f") == "-1.0 ± 2.8 (-3.0 to +1.0, 2 seeds)"


def test_check_claims_formats_thresholds_and_prints_only_verdicts(capsys):
    margins = {"a": [3.0, 4.0], "b": [0.5, -1.0]}
    assert check_claims(margins, {"a": ("A by over {threshold:g} points", 2.0), "b": "B holds"}) is None
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "✓ A by over 2 points: held for 2 of 2 seeds."
    assert out[1].startswith("✗ B holds: did not hold this time (held for 1 of 2 seeds).")
