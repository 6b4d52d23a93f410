"""The TUI's read side: one shared connection, board summaries, virtualised timeline sources.

Why its own module: every call here runs inside a Textual thread worker, never on the UI thread,
and all reads go through `ledger.store` (no SQL in the TUI). The timeline never loads a whole
ledger: a source knows its row count and fetches one page at a time by `seq` range (keyset),
so 1,000,000 events scroll like 100. The workers share one connection, so `LedgerData` owns the
lock that serialises them; callers only ever see `LedgerData.call` and `LedgerData.read`.

With a read replica (`LEDGER_READ_DSN`) the board's and the timeline's reads (`read`: runs,
pages, keys, sizes) go to the replica on a connection of their own; everything else (`call`:
stops, notes, decisions, undo, which read what they are about to write) stays on the primary.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Concatenate, ParamSpec, Protocol, TypeVar

import psycopg

from ledger import ids
from ledger.backlog import Backlog, read_backlog
from ledger.config import Settings
from ledger.db.connect import connect, database_dsn, read_connection, reads_replica
from ledger.store import board as store
from ledger.store.board import EventKey, OpenApproval, RunMark, VerdictSet
from ledger.store.read import RunSummary, latest_checkpoint, list_runs, origins
from ledger.store.stops import StopRow
from tui.rows import Row, row_from_stored
from tui.stopview import active_stops
from tui.verdicts import VerdictState, judge

__all__ = [
    "BoardData",
    "KeySource",
    "LedgerData",
    "OriginSource",
    "RunFilter",
    "Source",
    "origin_sizes",
    "parse_filter",
]

PAGE = 200
GATE_SECONDS = 10.0  # longest wait of the first read for the live loop's LISTEN
MAX_KEYS = 500_000

P = ParamSpec("P")
T = TypeVar("T")


class Source(Protocol):
    """A virtual list of timeline rows: a count and paged fetches."""

    title: str

    def count(self) -> int: ...
    def fetch(self, conn: psycopg.Connection, start: int, n: int) -> list[Row]: ...
    def index_at_time(self, conn: psycopg.Connection, ns: int) -> int: ...


@dataclass
class OriginSource:
    """A whole log (one origin) where row index == seq: pages are seq ranges."""

    origin: str
    size: int
    title: str = ""

    def count(self) -> int:
        return self.size

    def fetch(self, conn: psycopg.Connection, start: int, n: int) -> list[Row]:
        found = store.events_in_range(conn, self.origin, start, start + n)
        return [row_from_stored(e.origin, e.seq, e.recorded_at, e.body) for e in found]

    def index_at_time(self, conn: psycopg.Connection, ns: int) -> int:
        seq = store.seq_at_time(conn, self.origin, _dt(ns))
        return seq if seq is not None else max(self.size - 1, 0)


@dataclass
class KeySource:
    """An ordered list of (origin, seq) keys: merged runs, filters and pivots."""

    keys: list[EventKey]
    title: str = ""
    truncated: bool = False

    def count(self) -> int:
        return len(self.keys)

    def fetch(self, conn: psycopg.Connection, start: int, n: int) -> list[Row]:
        window = self.keys[start : start + n]
        found = {
            (e.origin, e.seq): row_from_stored(e.origin, e.seq, e.recorded_at, e.body)
            for e in store.events_by_keys(conn, window)
        }
        return [found[(k[0], k[1])] for k in window if (k[0], k[1]) in found]

    def index_at_time(self, conn: psycopg.Connection, ns: int) -> int:
        target = _dt(ns)
        lo, hi = 0, len(self.keys)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.keys[mid][2] < target:
                lo = mid + 1
            else:
                hi = mid
        return min(lo, max(len(self.keys) - 1, 0))


def _dt(ns: int) -> datetime:
    """Nanoseconds since the epoch as a UTC datetime (microsecond precision, as stored)."""
    return datetime.fromisoformat(ids.format_timestamp(ns)[:26] + "+00:00")


@dataclass(frozen=True)
class RunFilter:
    """Board filter: `agent:x user:y status:z verdict:fail since:<RFC3339> until:... text`."""

    agent: str = ""
    user: str = ""
    status: str = ""
    verdict: str = ""
    since: str = ""
    until: str = ""
    text: str = ""

    def matches(self, run: RunSummary, verdict: VerdictState) -> bool:
        """Whether a run passes the filter; a run whose verdicts are not known (missing, stale)
        matches `verdict:fail` and never `verdict:pass`, so a deleted row cannot hide it."""
        fails = verdict.fails or (0 if verdict.state in ("rechecked", "stored") else 1)
        if self.agent and self.agent not in (run.agent or ""):
            return False
        if self.user and self.user not in (run.initiating_user or ""):
            return False
        if self.status and self.status != run.status:
            return False
        if self.verdict == "fail" and not fails:
            return False
        if self.verdict == "pass" and fails:
            return False
        if self.since and run.started_at < self.since:
            return False
        if self.until and run.started_at >= self.until:
            return False
        blob = f"{run.run_id} {run.agent} {run.initiating_user} {run.origin}"
        return not self.text or self.text.lower() in blob.lower()


def parse_filter(text: str) -> RunFilter:
    """Parse the board's filter line into a RunFilter (unknown `key:` words are text)."""
    fields: dict[str, str] = {}
    words: list[str] = []
    for word in text.split():
        key, sep, value = word.partition(":")
        if sep and key in RunFilter.__dataclass_fields__ and key != "text":
            fields[key] = value
        else:
            words.append(word)
    return RunFilter(**fields, text=" ".join(words))


@dataclass(frozen=True)
class BoardRun:
    """A run line on the board."""

    summary: RunSummary
    verdict: VerdictState


@dataclass(frozen=True)
class BoardData:
    """Everything the board shows, fetched in one worker call."""

    runs: list[BoardRun]
    approvals: list[OpenApproval]
    chain: dict[str, int]  # origin -> latest checkpoint size
    total_runs: int
    backlog: Backlog | None = None  # intake waiting (ledger.backlog), shown in the header
    stops: list[StopRow] = field(default_factory=list)  # the stops in force (banner)


@dataclass
class LedgerData:
    """The TUI's single read connection, serialised by a lock it owns, plus the board's reads.

    The database is resolved once (`pinned`): starting or reusing the embedded server, creating
    its database, and from then on every connection of the session (the shared one, the LISTEN
    loop's, the verifier's) opens that same DSN without going back to the embedded server's
    start-up path. Two workers asking at once wait for the first; neither starts a server.
    """

    settings: Settings
    migrate: bool = True  # False in --readonly mode: an auditor's session runs no DDL
    _conn: psycopg.Connection | None = None
    _rconn: psycopg.Connection | None = None  # the replica's, when reads go to one
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pin_lock: threading.Lock = field(default_factory=threading.Lock)
    _pinned: Settings | None = None
    #: Set by the live loop once LISTEN is in effect (or has failed): the first connection
    #: waits for it, so nothing appended between the first read and LISTEN goes unseen.
    gate: threading.Event | None = None

    def pinned(self) -> Settings:
        """The settings with the database resolved to a DSN (resolved on first use, once)."""
        with self._pin_lock:
            if self._pinned is None:
                self._pinned = dataclasses.replace(self.settings, dsn=database_dsn(self.settings))
            return self._pinned

    def dsn(self) -> str:
        """The session's database DSN (`pinned`)."""
        dsn = self.pinned().dsn
        assert dsn is not None
        return dsn

    def conn(self) -> psycopg.Connection:
        """The shared connection, opened on first use; only `call` uses it, with the lock held."""
        if self._conn is None or self._conn.closed:
            if self.gate is not None:
                self.gate.wait(GATE_SECONDS)
            self._conn = connect(self.pinned(), migrate=self.migrate)
        return self._conn

    @property
    def replica(self) -> bool:
        """True when reads go to a replica (`Settings.read_dsn`) rather than the primary."""
        return reads_replica(self.settings)

    def read_conn(self) -> psycopg.Connection:
        """The replica's read-only connection (never migrated), opened on first use; only
        `read` uses it, with the lock held. Without a replica, the shared one (`conn`)."""
        if not self.replica:
            return self.conn()
        if self._rconn is None or self._rconn.closed:
            if self.gate is not None:
                self.gate.wait(GATE_SECONDS)
            self._rconn = read_connection(self.settings)
        return self._rconn

    def close(self) -> None:
        """Close the connections (app exit)."""
        with self._lock:
            for conn in (self._conn, self._rconn):
                if conn is not None:
                    conn.close()
            self._conn = self._rconn = None

    def call(
        self,
        fn: Callable[Concatenate[psycopg.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`fn(conn, *args, **kwargs)` on the shared connection, one worker at a time.

        Why one door: psycopg connections are not for concurrent use, and the TUI runs many
        thread workers; every database call of the TUI passes here, so none can forget the lock.
        A connection the server dropped (a restart) is forgotten, so the next call opens a new
        one; the failed call is not repeated (it may have been a write that committed).
        """
        with self._lock:
            conn = self.conn()
            try:
                return fn(conn, *args, **kwargs)
            except psycopg.OperationalError:
                if conn.closed:
                    self._conn = None
                raise

    def read(
        self,
        fn: Callable[Concatenate[psycopg.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`fn(conn, ...)` on the read connection (`read_conn`: the replica if one is set), under
        the same lock as `call`. Only for what writes nothing: the replica refuses writes."""
        with self._lock:
            conn = self.read_conn()
            try:
                return fn(conn, *args, **kwargs)
            except psycopg.OperationalError:
                if conn.closed:
                    self._forget(conn)
                raise

    def _forget(self, conn: psycopg.Connection) -> None:
        """Drop a connection the server closed, so the next use opens a new one."""
        if conn is self._conn:
            self._conn = None
        if conn is self._rconn:
            self._rconn = None

    def sizes(self) -> dict[str, int]:
        """Number of events per origin; what the live loop reads after (re)connecting.

        A read, so a shared connection the server dropped (a restart) is reopened and asked
        again here: after a reconnection the screens' next reads find a working connection.
        """
        with self._lock:
            for attempt in range(2):
                conn = self.read_conn()
                try:
                    return origin_sizes(conn)
                except psycopg.OperationalError:
                    if not conn.closed or attempt:
                        raise
                    self._conn = self._rconn = None
        raise AssertionError("unreachable")

    def board(
        self,
        flt: RunFilter,
        limit: int = 500,
        known: Mapping[uuid.UUID, VerdictState] | None = None,
    ) -> BoardData:
        """Runs (filtered, newest first), open approvals, and checkpoint size per origin.

        Each run's verdict is the one recomputed this session (`known`) while the run has no
        event since, else its stored set judged for freshness (tui.verdicts.judge).
        """
        (sets, marks), runs, approvals, chain = self.read(_board_reads)
        shown = []
        for r in reversed(runs):
            verdict = _verdict_of(r.run_id, sets, marks, known or {})
            if flt.matches(r, verdict):
                shown.append(BoardRun(r, verdict))
        backlog = self.read(read_backlog)
        stops = self.read(active_stops)
        return BoardData(shown[:limit], approvals, chain, len(runs), backlog, stops)

    def origin_size(self, origin: str) -> int:
        """Number of events in one log."""
        return self.read(store.origin_size, origin)

    def keys(
        self, runs: Sequence[str] = (), origin: str = "", cond: str = "none", value: str = ""
    ) -> tuple[list[EventKey], bool]:
        """Ordered keys of a scope (runs, else one origin) under one condition, and truncated."""
        keys = self.read(
            store.event_keys,
            runs=[uuid.UUID(r) for r in runs],
            origin=origin,
            condition=cond,
            value=value,
            limit=MAX_KEYS + 1,
        )
        return keys[:MAX_KEYS], len(keys) > MAX_KEYS

    def fetch(self, source: Source, start: int, n: int = PAGE) -> list[Row]:
        """One page of a source."""
        return self.read(source.fetch, start, n)

    def index_at_time(self, source: Source, ns: int) -> int:
        """Row index of the first event at or after `ns`."""
        return self.read(source.index_at_time, ns)


def _verdict_of(
    run_id: uuid.UUID,
    sets: Mapping[uuid.UUID, list[VerdictSet]],
    marks: Mapping[uuid.UUID, RunMark],
    known: Mapping[uuid.UUID, VerdictState],
) -> VerdictState:
    mark = marks.get(run_id)
    done = known.get(run_id)
    if done is not None and mark is not None and done.last_seq == mark.last_seq:
        return done
    return judge(mark, sets.get(run_id, ()))


def origin_sizes(conn: psycopg.Connection) -> dict[str, int]:
    """Number of events per origin."""
    return {origin: store.origin_size(conn, origin) for origin in origins(conn)}


_Verdicts = tuple[dict[uuid.UUID, list[VerdictSet]], dict[uuid.UUID, RunMark]]
_BoardReads = tuple[_Verdicts, list[RunSummary], list[OpenApproval], dict[str, int]]


def _board_reads(conn: psycopg.Connection) -> _BoardReads:
    """Everything the board needs, read under one lock hold."""
    fails = (store.verdict_sets(conn), store.run_marks(conn))
    runs = list_runs(conn)
    logs = origins(conn)
    approvals = store.open_approvals(conn, logs)
    chain = {}
    for origin in logs:
        cp = latest_checkpoint(conn, origin)
        chain[origin] = cp.tree_size if cp else 0
    return fails, runs, approvals, chain
