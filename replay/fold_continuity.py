"""Fold builders for run continuity (issue 17), kept apart so replay/state.py stays small.

A run that records `run.suspended` is open and waiting (for a person, a workflow), not failed
and not lost: its status is `suspended` until a `run.resumed` continues it (status open again,
None) and a `run.ended` ends it (`abandoned` when `ledger serve` gave up waiting).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ledger.events import EventBase

__all__ = ["SUSPENDED", "run_resumed", "run_suspended"]

SUSPENDED = "suspended"


class _RunFold(Protocol):
    run: dict[str, Any]


def run_suspended(f: _RunFold, event: EventBase, data: Any) -> str:
    """The run waits: status `suspended` (a later run.resumed or run.ended replaces it)."""
    f.run.update(status=SUSPENDED)
    key = getattr(data, "resume_key", None)
    return f"suspended ({getattr(data, 'reason', '')})" + (f" key {key}" if key else "")


def run_resumed(f: _RunFold, event: EventBase, data: Any) -> str:
    """The same run goes on (maybe in another process): open again."""
    if f.run.get("status") == SUSPENDED:
        f.run.update(status=None)
    return "resumed"
