"""Principal names compared as people, not as strings.

Why: the writer chooses every principal string, so `Alice@Example.com` and `alice@example.com`
must be one person wherever a rule separates duties (self-approval, four eyes). Comparison goes
through one normal form: surrounding space stripped and Unicode case folded.
"""

from __future__ import annotations

__all__ = ["normalise_principal"]


def normalise_principal(text: str) -> str:
    """The comparable form of a principal: stripped and casefolded."""
    return text.strip().casefold()
