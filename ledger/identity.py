"""The one way principals are compared: `normalise_principal`.

Why: every "who" in the record is text a writer or an operator typed, and self-approval and
separation-of-duties checks compare two such texts. Compared raw, `Alice@Example.com` is not
`alice@example.com`, so a writer could approve their own run by changing case (issue 14). All
comparisons of principals in replay, undo and the TUI go through this function, so there is a
single definition of "the same principal".

The form: Unicode NFKC (so full-width or compatibility look-alikes fold to plain letters), outer
whitespace stripped, then casefolded. E-mail addresses are casefolded *whole*, local part too:
RFC 5321 lets the local part be case-sensitive, but no identity provider we accept issues two
accounts differing only in case, and for a separation-of-duties check treating two spellings as
one person errs on the safe side (a refusal), never on the side of a forged approval. Display
keeps the recorded text; only comparisons use the normalised form.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

__all__ = ["normalise_principal", "principal_set", "same_principal"]


def normalise_principal(text: str) -> str:
    """The comparison form of a principal id or e-mail address (NFKC, stripped, casefolded)."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def same_principal(a: str | None, b: str | None) -> bool:
    """True when both are recorded and name the same principal once normalised."""
    return a is not None and b is not None and normalise_principal(a) == normalise_principal(b)


def principal_set(names: Iterable[str | None]) -> frozenset[str]:
    """The normalised forms of the recorded names (None skipped), for membership tests."""
    return frozenset(normalise_principal(n) for n in names if n is not None)
