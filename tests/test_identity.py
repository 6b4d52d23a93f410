"""`ledger.identity.normalise_principal`: one comparison form for every principal."""

from __future__ import annotations

from ledger.identity import normalise_principal, principal_set, same_principal


def test_case_space_and_compatibility_forms_are_one_principal() -> None:
    assert normalise_principal(" Alice@Example.COM ") == "alice@example.com"
    assert normalise_principal("\uff21\uff2c\uff29\uff23\uff25") == "alice"  # full-width (NFKC)
    assert normalise_principal("Straße") == normalise_principal("STRASSE")  # casefold, not lower
    assert same_principal("Alice@Example.com", "alice@example.com")
    assert not same_principal("alice@example.com", "alice@example.org")
    assert not same_principal(None, "alice") and not same_principal(None, None)
    assert principal_set(["Bob", None, "bob "]) == frozenset({"bob"})
