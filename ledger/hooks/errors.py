"""Errors the hooks raise into agent code.

Only one error ever crosses from the ledger into an agent: `LedgerUnavailable`, raised *instead
of running* a tool whose intent could not be durably recorded (fail closed). It subclasses the
ledger's `DatabaseUnavailable` so callers can handle every "ledger is down" case with one clause.
"""

from __future__ import annotations

from ledger.errors import DatabaseUnavailable

__all__ = ["LedgerUnavailable"]


class LedgerUnavailable(DatabaseUnavailable):
    """A side-effecting tool was not run because its intent could not be recorded durably."""
