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


def test_a_preference_orders_it_does_not_pin() -> None:
    """A preferred origin another live holder keeps stays there; a free one is claimed."""
    spec = rows(("a", "other", False), ("b", None, False), ("c", "other", False),
                ("d", None, False))
    keep, release = fair_share(spec, "me", ("a", "d"), {"me": ["a", "d"], "other": []})
    assert (tenants(keep), release) == (["d", "b"], [])


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
