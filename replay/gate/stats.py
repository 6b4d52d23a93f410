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
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist

__all__ = ["Interval", "fisher_worse", "mann_whitney_greater", "wilson"]

_EXACT_UP_TO = 2000  # attempts in all: exact integers below, log-space floats above


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
    candidate's attempts), exactly over integers for gate-sized counts, in log space (lgamma)
    for live traffic (`ledger compare`: thousands of runs, where the integers would have
    thousands of digits). 1.0 when either side is empty."""
    for passes, attempts in ((base_passes, base_attempts), (cand_passes, cand_attempts)):
        if not 0 <= passes <= attempts:
            raise ValueError(f"passes {passes} must be between 0 and attempts {attempts}")
    if base_attempts == 0 or cand_attempts == 0:
        return 1.0
    total, passes = base_attempts + cand_attempts, base_passes + cand_passes
    fails = total - passes
    low = max(0, cand_attempts - fails)
    if total > _EXACT_UP_TO:
        return _fisher_log(passes, fails, cand_attempts, low, cand_passes)
    tail = sum(math.comb(passes, x) * math.comb(fails, cand_attempts - x)
               for x in range(low, cand_passes + 1))  # fmt: skip
    return float(min(Fraction(tail, math.comb(total, cand_attempts)), Fraction(1)))


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _fisher_log(passes: int, fails: int, drawn: int, low: int, high: int) -> float:
    denom = _log_comb(passes + fails, drawn)
    tail = sum(math.exp(_log_comb(passes, x) + _log_comb(fails, drawn - x) - denom)
               for x in range(low, high + 1))
    return min(1.0, tail)


def mann_whitney_greater(base: Sequence[float], cand: Sequence[float]) -> float:
    """One-sided p-value for "candidate values tend to be larger" (e.g. slower runs): the
    Mann-Whitney U test, normal approximation, tie- and continuity-corrected (`ledger compare`
    only tests sides of at least --min-runs, where the approximation is good)."""
    n1, n2 = len(base), len(cand)
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = sorted([(v, 0) for v in base] + [(v, 1) for v in cand])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    u = sum(r for r, (_, side) in zip(ranks, pooled, strict=True) if side) - n2 * (n2 + 1) / 2
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0:
        return 1.0
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))
