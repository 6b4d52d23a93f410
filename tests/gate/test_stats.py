"""replay.gate.stats against the published figures (statsmodels 0.15 / SciPy 1.17, reference
§5) and against SciPy on random tables: the gate's arithmetic is plain Python, checked here."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest, fisher_exact

from replay.gate.stats import fisher_worse, wilson


@pytest.mark.parametrize(("passes", "attempts", "low", "high"), [
    (18, 20, 0.699, 0.972), (20, 20, 0.839, 1.0), (45, 50, 0.786, 0.957), (95, 100, 0.888, 0.978),
])  # fmt: skip
def test_wilson_matches_the_reference(passes: int, attempts: int, low: float, high: float) -> None:
    got = wilson(passes, attempts)
    assert (round(got.low, 3), round(got.high, 3), got.rate) == (low, high, passes / attempts)


def test_fisher_matches_the_reference_and_edges() -> None:
    assert round(fisher_worse(18, 20, 14, 20), 3) == 0.118
    assert fisher_worse(5, 5, 5, 5) == 1.0  # no evidence of anything
    assert fisher_worse(0, 0, 3, 5) == 1.0  # an empty side tests nothing
    assert fisher_worse(2, 5, 5, 5) == 1.0  # the candidate is better: never "worse"
    assert fisher_worse(10, 10, 0, 10) < 1e-5
    assert wilson(0, 0) == wilson(0, 0) and (wilson(0, 0).low, wilson(0, 0).high) == (0.0, 1.0)
    assert wilson(0, 5).low == 0.0
    with pytest.raises(ValueError, match="passes 6 must be between 0 and attempts 5"):
        wilson(6, 5)
    with pytest.raises(ValueError, match="passes -1 must be between 0 and attempts 5"):
        fisher_worse(1, 5, -1, 5)


_side = st.integers(1, 60).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@settings(max_examples=150, deadline=None)
@given(_side, _side)
def test_fisher_agrees_with_scipy(base: tuple[int, int], cand: tuple[int, int]) -> None:
    (bp, bn), (cp, cn) = base, cand
    table = [[cp, cn - cp], [bp, bn - bp]]  # candidate first: "less" = candidate worse
    expected = float(fisher_exact(table, alternative="less").pvalue)
    assert fisher_worse(bp, bn, cp, cn) == pytest.approx(min(expected, 1.0), rel=1e-9, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(_side)
def test_wilson_agrees_with_scipy(side: tuple[int, int]) -> None:
    passes, attempts = side
    ci = binomtest(passes, attempts).proportion_ci(0.95, method="wilson")
    got = wilson(passes, attempts)
    assert got.low == pytest.approx(ci.low, abs=1e-9)
    assert got.high == pytest.approx(ci.high, abs=1e-9)


def test_fisher_on_live_traffic_sizes_agrees_with_scipy() -> None:
    """`ledger compare` tests thousands of runs: above the exact range the log-space tail is
    used, and it must still be SciPy's one-sided p-value."""
    from scipy.stats import fisher_exact

    from replay.gate.stats import fisher_worse

    for base, cand in (((1500, 2000), (1490, 2000)), ((9000, 10000), (8850, 10000)),
                       ((40, 3000), (20, 3000))):
        table = [[cand[0], cand[1] - cand[0]], [base[0], base[1] - base[0]]]
        expected = fisher_exact(table, alternative="less").pvalue
        assert abs(fisher_worse(*base, *cand) - expected) < 1e-9
