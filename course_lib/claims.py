"""Claim checks: the conclusion a notebook draws from training, asserted over several seeds.

Numbers that come out of training (losses, accuracies, sample scores) change in their last digits
from one CPU to another and with the thread count, so the notebook tests never compare them. What
the prose concludes from them is checked instead, seed by seed, and printed as a verdict whose text
depends only on whether the claim held::

    >>> check_claim("deleting one block hurts the plain net more than the residual net, by over 10 points",
    ...             margins=[41.2, 35.0, 52.3], threshold=10)
    ✓ deleting one block hurts the plain net more than the residual net, by over 10 points: held for 3 of 3 seeds.

A *margin* is how far one seed's result lies on the claimed side of the threshold (``margin > threshold``
means the claim held for that seed). The margins themselves are shown in a cell whose output the tests
ignore; the verdict line is what they compare, so a claim must hold with room to spare on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def claim_holds(margins: Sequence[float], threshold: float = 0.0) -> bool:
    """True when every seed's margin is above ``threshold`` (and none is NaN)."""
    values = np.asarray(margins, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"margins must be a non-empty list of numbers, one per seed; got {margins!r}")
    return bool(np.all(values > threshold))


def check_claim(statement: str, margins: Sequence[float], threshold: float = 0.0) -> bool:
    """Print a deterministic verdict for ``statement`` over the seeds' ``margins``; return whether it held.

    The verdict names the number of seeds, never the margins: ``✓ STATEMENT: held for 3 of 3 seeds.``
    or ``✗ STATEMENT: did not hold this time (held for 2 of 3 seeds). ...``.
    """
    values = np.asarray(margins, dtype=float)
    held = claim_holds(values, threshold)
    n_held, n = int(np.sum(values > threshold)), values.size
    if held:
        print(f"✓ {statement}: held for {n_held} of {n} seeds.")
    else:
        print(f"✗ {statement}: did not hold this time (held for {n_held} of {n} seeds). Training is random "
              "and machines differ in their last digits; read the numbers above before trusting the prose.")
    return held


def check_claims(margins: dict[str, Sequence[float]], statements: dict[str, str | tuple[str, float]]) -> None:
    """``check_claim`` for every ``name: statement`` (or ``name: (statement, threshold)``) over ``margins[name]``.

    A statement may name its threshold as ``{threshold:g}``. A claim missing from ``margins`` (its inputs were
    edited out: a depth, a seed, an activation) says it was not measured instead of raising. Returns nothing,
    so that a notebook cell ending with the call shows only the verdicts (nbval shows a returned value even
    behind a trailing ``;``).
    """
    for name, spec in statements.items():
        statement, threshold = spec if isinstance(spec, tuple) else (spec, 0.0)
        statement = statement.format(threshold=threshold)
        values = margins.get(name)
        if values is None or np.size(values) == 0:
            print(f"- not measured: {statement} (the settings above leave out what it needs).")
        else:
            check_claim(statement, values, threshold)


def mean_spread(values: Sequence[float], fmt: str = ".3g", scale: float = 1.0, unit: str = "") -> str:
    """``"mean ± sd (min to max, n seeds)"`` of per-seed ``values``, each multiplied by ``scale``.

    ``mean_spread([0.91, 0.93, 0.95], ".1f", scale=100, unit="%")`` gives ``"93.0% ± 2.0 (91.0 to 95.0, 3 seeds)"``.
    """
    v = np.asarray(values, dtype=float) * scale
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must be a non-empty list of numbers, one per seed; got {values!r}")
    sd, sd_fmt = (v.std(ddof=1) if v.size > 1 else 0.0), fmt.replace("+", "")  # a spread has no sign
    return (f"{v.mean():{fmt}}{unit} ± {sd:{sd_fmt}} ({v.min():{fmt}} to {v.max():{fmt}}, "
            f"{v.size} seed{'s' if v.size > 1 else ''})")


def format_margins(margins: dict[str, np.ndarray], fmt: str = ".2f") -> str:
    """One line per claim: its per-seed margins (the claim holds for a seed when its margin is > 0)."""
    return "\n".join(f"margin {name}: " + ", ".join(f"{m:{fmt}}" for m in np.asarray(values, dtype=float))
                     for name, values in margins.items())
