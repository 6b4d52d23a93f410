"""App-wide messages posted by thread workers and the live LISTEN loop.

Why dataclass messages: workers never touch widgets; they post one of these and the UI thread
applies it. `LedgerAppended` implements `can_replace` so a burst of sequencer notifications for
one origin collapses into the newest one (Toolong's `SizeChanged` pattern).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

__all__ = ["LedgerAppended", "Notice", "VerifyFinished"]


@dataclass
class LedgerAppended(Message):
    """The sequencer extended `origin` to `size` events (pg_notify 'ledger_appended')."""

    origin: str
    size: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LedgerAppended) and message.origin == self.origin


@dataclass
class VerifyFinished(Message):
    """A full `verify_ledger` run finished: status per origin and verified sizes."""

    status: str
    sizes: dict[str, int]
    reason: str | None


@dataclass
class Notice(Message):
    """A one-line notification from a worker (errors included)."""

    text: str
    error: bool = False
