"""Small-sample tests for `ledger compare`: one-sided Fisher exact and Mann-Whitney U.

Written here because gatecmp's replay/gate/stats.py (Fisher, Wilson) was not on its branch
yet when this slice was written; the coordinator may point `fisher_worse` at that one (same
definition: one-sided, candidate worse). Pure Python (no SciPy in the dependencies): the
hypergeometric tail in log space (math.lgamma), exact for any table size; Mann-Whitney with
the normal approximation, tie-corrected and continuity-corrected (the run counts that reach a
test here are >= --min-runs, where the approximation is good).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["fisher_worse", "mann_whitney_greater"]


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_worse(base_ok: int, base_n: int, cand_ok: int, cand_n: int) -> float:
    """One-sided Fisher exact p-value for "the candidate's success rate is lower".

    P(X <= cand_ok) for X ~ Hypergeometric(N = base_n + cand_n, K = base_ok + cand_ok,
    n = cand_n): the chance of a candidate this bad or worse if both sides were the same.
    Reference (trust-and-live-control.md §5): 18/20 vs 14/20 -> 0.118."""
    if not (0 <= base_ok <= base_n and 0 <= cand_ok <= cand_n):
        raise ValueError("successes must be between 0 and the number of trials")
    total, ok = base_n + cand_n, base_ok + cand_ok
    if total == 0 or cand_n == 0 or base_n == 0:
        return 1.0
    low = max(0, ok - base_n)
    denom = _log_comb(total, cand_n)
    p = sum(math.exp(_log_comb(ok, x) + _log_comb(total - ok, cand_n - x) - denom)
            for x in range(low, cand_ok + 1))
    return min(1.0, p)


def mann_whitney_greater(base: Sequence[float], cand: Sequence[float]) -> float:
    """One-sided p-value for "candidate values tend to be larger" (e.g. slower runs)."""
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
