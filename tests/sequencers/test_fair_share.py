"""The fair-share rule each `ledger serve` applies to the lease table (ledger.store.leases):
shares, preferred tenants, handing over, and no origin left starving."""

from __future__ import annotations

import pytest

from ledger.store.leases import LeaseRow, fair_share

P = "agent-ledger.local/"


def rows(*spec: tuple[str, str | None, bool]) -> list[LeaseRow]:
    """(tenant, holder, starving) per origin; a holder means a live lease."""
    return [LeaseRow(P + t, h, h is not None, s) for t, h, s in spec]


def tenants(origins: list[str]) -> list[str]:
    return [o.removeprefix(P) for o in origins]


def test_alone_it_takes_every_origin() -> None:
    keep, release = fair_share(rows(("a", None, False), ("b", None, False)), "me", (), {})
    assert (tenants(keep), release) == (["a", "b"], [])


def test_two_holders_split_four_origins_preferred_first() -> None:
    free = rows(*((t, None, False) for t in "abcd"))
    live = {"me": ["c", "d"], "other": ["a", "b"]}
    keep, _ = fair_share(free, "me", ("c", "d"), live)
    assert tenants(keep) == ["c", "d"]


def test_over_its_share_it_gives_back_what_it_does_not_prefer() -> None:
    mine = rows(*((t, "me", False) for t in "abcd"))
    keep, release = fair_share(mine, "me", ("a", "b"), {"me": ["a", "b"], "new": ["c", "d"]})
    assert (tenants(keep), tenants(release)) == (["a", "b"], ["c", "d"])


def test_a_preferred_origin_moves_from_a_holder_that_does_not_prefer_it() -> None:
    """Finding 2 of the walk: the preferring holder plans it; the holder gives it back."""
    spec = rows(("a", "other", False), ("b", None, False), ("c", "other", False),
                ("d", None, False))
    live = {"me": ["a", "d"], "other": []}
    keep, release = fair_share(spec, "me", ("a", "d"), live)
    assert (tenants(keep), release) == (["a", "d"], [])
    keep, release = fair_share(spec, "other", (), live)
    assert (tenants(keep), tenants(release)) == (["c", "b"], ["a"])


def test_a_preference_shared_by_two_holders_stays_with_the_one_holding_it() -> None:
    spec = rows(("a", "other", False), ("b", None, False))
    live = {"me": ["a"], "other": ["a"]}
    assert fair_share(spec, "other", ("a",), live) == ([P + "a"], [])
    assert tenants(fair_share(spec, "me", ("a",), live)[0]) == ["b"]


def test_idle_leases_count_in_the_share() -> None:
    """Work arriving one tenant at a time: the holder of an idle origin leaves the new one."""
    spec = rows(("a", "p1", False), ("b", None, False))  # a: idle, leased; b: fresh work
    live: dict[str, list[str]] = {"p1": [], "p2": []}
    assert fair_share(spec, "p1", (), live) == ([P + "a"], [])
    assert fair_share(spec, "p2", (), live) == ([P + "b"], [])


def test_preferring_more_than_its_share_does_not_swing() -> None:
    """Each holder computes the same owners, so what one gives back the other never wants."""
    live = {"x": list("abcd"), "y": []}
    free = rows(*((t, None, False) for t in "abcd"))
    assert tenants(fair_share(free, "x", tuple("abcd"), live)[0]) == ["a", "b"]
    assert tenants(fair_share(free, "y", (), live)[0]) == ["c", "d"]
    settled = rows(("a", "x", False), ("b", "x", False), ("c", "y", False), ("d", "y", False))
    assert fair_share(settled, "x", tuple("abcd"), live)[1] == []
    assert fair_share(settled, "y", (), live)[1] == []


def test_a_starving_origin_is_claimed_over_the_share() -> None:
    spec = rows(("a", "me", False), ("b", "me", False), ("c", None, True))
    keep, _ = fair_share(spec, "me", (), {"me": [], "x": [], "y": []})
    assert tenants(keep) == ["a", "c"]


@pytest.mark.parametrize("holders", [1, 2, 3, 5])
def test_shares_cover_every_origin(holders: int) -> None:
    """Whatever the number of holders, one round of batches leases every origin."""
    names = [f"h{i}" for i in range(holders)]
    held: dict[str, str | None] = dict.fromkeys("abcdefg")
    for name in names:
        keep, _ = fair_share(rows(*((t, h, False) for t, h in held.items())), name, (),
                             {n: [] for n in names})
        held |= dict.fromkeys(tenants(keep), name)
    assert None not in held.values()
