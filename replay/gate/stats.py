"""Small-sample statistics for the release gate: Wilson score intervals, one-sided Fisher test.

Why these two and in plain Python: a gate sees 5-50 attempts per task, where the normal
approximation of a pass rate is wrong (18/20 would reach past 1) and a chi-squared test is
invalid. The Wilson interval stays inside [0, 1] and is honest about few runs; Fisher's exact
test conditions on the pass total, so its p-value is exact for any counts. Both are a few lines
over integers (math.comb, exact for the counts gates see) and need no SciPy at run time; the
tests cross-check them against SciPy and against statsmodels' published figures
(trust-and-live-control.md §5: Wilson 18/20 -> [0.699, 0.972], Fisher 18/20 vs 14/20 ->
one-sided p = 0.118).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist

__all__ = ["Interval", "fisher_worse", "wilson"]


@dataclass(frozen=True, slots=True)
class Interval:
    """A pass rate and its confidence interval (all three in [0, 1])."""

    rate: float
    low: float
    high: float


def wilson(passes: int, attempts: int, confidence: float = 0.95) -> Interval:
    """The Wilson score interval of `passes` out of `attempts` (two-sided, `confidence`).

    No attempts: the whole of [0, 1] around a rate of 0 (nothing is known; never a pass)."""
    if not 0 <= passes <= attempts:
        raise ValueError(f"passes {passes} must be between 0 and attempts {attempts}")
    if attempts == 0:
        return Interval(0.0, 0.0, 1.0)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p, n, z2 = passes / attempts, attempts, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if passes == 0 else max(0.0, centre - half)
    high = 1.0 if passes == attempts else min(1.0, centre + half)
    return Interval(p, low, high)


def fisher_worse(
    base_passes: int, base_attempts: int, cand_passes: int, cand_attempts: int
) -> float:
    """One-sided Fisher exact p-value that the candidate's pass rate is LOWER than the
    baseline's: P(X <= cand_passes) for X hypergeometric (all attempts, all passes, the
    candidate's attempts), computed exactly over integers. 1.0 when either side is empty."""
    for passes, attempts in ((base_passes, base_attempts), (cand_passes, cand_attempts)):
        if not 0 <= passes <= attempts:
            raise ValueError(f"passes {passes} must be between 0 and attempts {attempts}")
    if base_attempts == 0 or cand_attempts == 0:
        return 1.0
    total, passes = base_attempts + cand_attempts, base_passes + cand_passes
    fails = total - passes
    low = max(0, cand_attempts - fails)
    tail = sum(math.comb(passes, x) * math.comb(fails, cand_attempts - x)
               for x in range(low, cand_passes + 1))  # fmt: skip
    return float(min(Fraction(tail, math.comb(total, cand_attempts)), Fraction(1)))
