"""Every message a thread worker (or the live LISTEN loop) posts back to the UI.

Why messages and nothing else (Harlequin's pattern): workers never touch widgets and never call
into the UI thread; they post one of these to their screen (or the app) and the UI thread
applies it in a handler. So the whole worker -> UI protocol is this one file, every result is a
typed value a test can capture with `message_hook`, and a screen that was closed meanwhile
simply never handles it. `LedgerAppended` and `ExportProgress` implement `can_replace`, so a
burst collapses into its newest value (Toolong's `SizeChanged` pattern).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.message import Message

if TYPE_CHECKING:
    from ledger.store.stops import StopRow
    from tui.data import BoardData, Source
    from tui.inspect import EventDetail, RunTrace
    from tui.rows import Row
    from tui.verdicts import VerdictState

__all__ = [
    "BoardLoaded",
    "DetailLoaded",
    "ExportFinished",
    "ExportProgress",
    "JumpResolved",
    "LedgerAppended",
    "LiveState",
    "Notice",
    "PageLoaded",
    "PlanReady",
    "PolicyChecked",
    "ReplayLoaded",
    "ScenarioSeeded",
    "SourceReady",
    "StopRecorded",
    "TraceLoaded",
    "UndoNote",
    "VerdictsRechecked",
    "VerifyFinished",
]


# ---------------------------------------------------------------------- app-wide
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


@dataclass
class LiveState(Message):
    """The live loop's state: "live" (LISTEN in effect), "reconnecting" (`detail`: why and
    when the next attempt is) or "polling" (the server refused LISTEN: sizes are read)."""

    state: str
    detail: str = ""


# ---------------------------------------------------------------------- board and timeline
@dataclass
class BoardLoaded(Message):
    """The board's runs, approvals and chain sizes, read under the current filter."""

    board: BoardData


@dataclass
class VerdictsRechecked(Message):
    """Verdicts recomputed from the log for some board runs (run id -> state)."""

    states: dict[str, VerdictState]
    asked: list[uuid.UUID]  # every run the worker was given (answered or not)


@dataclass
class SourceReady(Message):
    """The timeline's new row source (a whole log, runs, or a filter), its scope note and,
    for one run, who stopped it and the stops in force on it (empty: none)."""

    source: Source
    note: str
    halt: Text = field(default_factory=Text)


@dataclass
class PageLoaded(Message):
    """One page of rows of `source` (ignored if the timeline moved to another source)."""

    source: Source
    page: int
    rows: list[Row]


@dataclass
class DetailLoaded(Message):
    """The inspector's facts for one event (None: the event is gone)."""

    detail: EventDetail | None


@dataclass
class JumpResolved(Message):
    """The row index of the first event at or after a requested time."""

    index: int


# ---------------------------------------------------------------------- trace / stop / undo
@dataclass
class TraceLoaded(Message):
    """Trace and stop facts of the run (None: run not found), and the stops in force."""

    trace: RunTrace | None
    stops: list[StopRow] = field(default_factory=list)


@dataclass
class StopRecorded(Message):
    """A stop or lift (or, in an exercise, its dry-run decision) was recorded, or refused
    (`refused`: nothing was recorded); `text` says which."""

    text: str
    refused: bool = False


@dataclass
class PlanReady(Message):
    """An undo plan, its dry-run steps (empty without a dry run) and a note on how it was made."""

    plan: Any
    steps: list[Any]
    note: str
    eligible: Any = None  # replay.undo.parties.Eligible: who the registry lets approve


@dataclass
class UndoNote(Message):
    """One line for the undo tab: a failed plan, an approval, an apply report, a refusal."""

    text: Text
    refused: bool = False


# ---------------------------------------------------------------------- replay
@dataclass
class ReplayLoaded(Message):
    """A run's stored events, decisions about it recorded elsewhere, and published policies,
    with who judges its approvals (RunAuthority) and who it acted for (RunIdentity)."""

    stored: list[Any]
    decisions: list[Any]
    policies: list[Any]
    authority: Any = None
    identity: Any = None


@dataclass
class PolicyChecked(Message):
    """Verdicts of a re-evaluation against a published policy, ready to show."""

    text: Text


# ---------------------------------------------------------------------- exercise and export
@dataclass
class ScenarioSeeded(Message):
    """The exercise scenario run is in the ledger (its own namespace)."""

    run_id: str


@dataclass
class ExportProgress(Message):
    """Events exported so far out of `total` (bursts collapse to the newest)."""

    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ExportProgress)


@dataclass
class ExportFinished(Message):
    """The export's result (or why it failed), ready to show."""

    text: Text
