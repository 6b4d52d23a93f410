"""Run ids from the command line (kept here so CLI modules need not import each other)."""

from __future__ import annotations

import uuid

from ledger.errors import InputError

__all__ = ["parse_run_id"]


def parse_run_id(text: str) -> uuid.UUID:
    """A run id, or a one-line usage error (exit 2)."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InputError(f"not a run id (UUID): {text!r}") from None
