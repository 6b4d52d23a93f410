"""Read-side data access for the TUI: board summaries and virtualised timeline sources.

Why its own module: every call here runs inside a Textual thread worker, never on the UI thread,
and the SQL is fixed module-level constants (fragments composed with `psycopg.sql`, data always
bound as parameters). The timeline never loads a whole ledger: a source knows its row count and
fetches one page at a time by `seq` range (keyset), so 1,000,000 events scroll like 100.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, LiteralString, Protocol

import orjson
import psycopg
from psycopg import sql

from ledger import ids
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.read import RunSummary, latest_checkpoint, list_runs, origins
from tui.rows import Row, row_from_stored

__all__ = [
    "BoardData",
    "KeySource",
    "LedgerData",
    "OriginSource",
    "RunFilter",
    "Source",
    "parse_filter",
]

PAGE = 200

_VERDICT_FAILS: LiteralString = (
    "SELECT run_id, count(*) FILTER (WHERE outcome = 'fail') FROM ledger_verdicts GROUP BY run_id"
)
_APPROVAL_EVENTS: LiteralString = (
    "SELECT origin, seq, type, body FROM ledger_events "
    "WHERE type IN ('approval.requested', 'approval.decided') ORDER BY origin, seq"
)
_PAGE_BY_SEQ: LiteralString = (
    "SELECT seq, recorded_at, body FROM ledger_events "
    "WHERE origin = %s AND seq >= %s AND seq < %s ORDER BY seq"
)
_PAGE_BY_KEYS: LiteralString = (
    "SELECT e.origin, e.seq, e.recorded_at, e.body FROM ledger_events e "
    "JOIN unnest(%s::text[], %s::bigint[]) AS k(origin, seq) "
    "ON e.origin = k.origin AND e.seq = k.seq"
)
_SEQ_AT_TIME: LiteralString = (
    "SELECT seq FROM ledger_events WHERE origin = %s AND occurred_at >= %s "
    "ORDER BY occurred_at, seq LIMIT 1"
)
_SIZE: LiteralString = "SELECT coalesce(max(seq) + 1, 0) FROM ledger_events WHERE origin = %s"

# Key-list queries: a scope (runs or one origin) AND at most one condition, ordered by time.
_KEYS_HEAD: LiteralString = "SELECT origin, seq, occurred_at FROM ledger_events WHERE "
_SCOPE_RUNS: LiteralString = "run_id = ANY(%(runs)s::uuid[])"
_SCOPE_ORIGIN: LiteralString = "origin = %(origin)s"
_J: LiteralString = "convert_from(body, 'UTF8')::jsonb"
CONDITIONS: dict[str, LiteralString] = {
    "none": "TRUE",
    "text": "convert_from(body, 'UTF8') ILIKE %(value)s",
    "not_text": "convert_from(body, 'UTF8') NOT ILIKE %(value)s",
    "agent": "(" + _J + " #>> '{agent,name}') = %(value)s",
    "user": "(" + _J + " #>> '{principal,initiating_user}') = %(value)s",
    "tool": "(" + _J + " #>> '{data,tool}') = %(value)s",
    "resource": "(" + _J + " -> 'data' -> 'resources') ? %(value)s",
    "prompt": "(" + _J + " #>> '{versions,prompt_version}') = %(value)s",
    "model": "(" + _J + " #>> '{versions,model}') = %(value)s",
    "type": "type = %(value)s",
}
_KEYS_TAIL: LiteralString = " ORDER BY occurred_at, origin, seq LIMIT %(limit)s"
MAX_KEYS = 500_000


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
        rows = conn.execute(_PAGE_BY_SEQ, (self.origin, start, start + n)).fetchall()
        return [row_from_stored(self.origin, int(s), rec, bytes(b)) for s, rec, b in rows]

    def index_at_time(self, conn: psycopg.Connection, ns: int) -> int:
        row = conn.execute(_SEQ_AT_TIME, (self.origin, _dt(ns))).fetchone()
        return int(row[0]) if row else max(self.size - 1, 0)


@dataclass
class KeySource:
    """An ordered list of (origin, seq) keys: merged runs, filters and pivots."""

    keys: list[tuple[str, int, datetime]]
    title: str = ""
    truncated: bool = False

    def count(self) -> int:
        return len(self.keys)

    def fetch(self, conn: psycopg.Connection, start: int, n: int) -> list[Row]:
        window = self.keys[start : start + n]
        if not window:
            return []
        found = {
            (o, int(s)): row_from_stored(o, int(s), rec, bytes(b))
            for o, s, rec, b in conn.execute(
                _PAGE_BY_KEYS, ([k[0] for k in window], [k[1] for k in window])
            ).fetchall()
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

    def matches(self, run: RunSummary, fails: int) -> bool:
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
    fails: int


@dataclass(frozen=True)
class OpenApproval:
    """An approval.requested with no decision yet."""

    origin: str
    seq: int
    run_id: str
    approval_id: str
    tool: str
    required_roles: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class BoardData:
    """Everything the board shows, fetched in one worker call."""

    runs: list[BoardRun]
    approvals: list[OpenApproval]
    chain: dict[str, int]  # origin -> latest checkpoint size
    total_runs: int


@dataclass
class LedgerData:
    """The TUI's single read connection (serialised by a lock) plus query helpers."""

    settings: Settings
    _conn: psycopg.Connection | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def conn(self) -> psycopg.Connection:
        """The shared connection, opened on first use (call with the lock held)."""
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.settings)
        return self._conn

    def close(self) -> None:
        """Close the connection (app exit)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def board(self, flt: RunFilter, limit: int = 500) -> BoardData:
        """Runs (filtered, newest first), open approvals, and checkpoint size per origin."""
        with self._lock:
            conn = self.conn()
            fails: dict[uuid.UUID, int] = {
                r[0]: int(r[1]) for r in conn.execute(_VERDICT_FAILS).fetchall()
            }
            runs = list_runs(conn)
            approvals = _open_approvals(conn.execute(_APPROVAL_EVENTS).fetchall())
            chain = {}
            for origin in origins(conn):
                cp = latest_checkpoint(conn, origin)
                chain[origin] = cp.tree_size if cp else 0
        shown = [
            BoardRun(r, fails.get(r.run_id, 0))
            for r in reversed(runs)
            if flt.matches(r, fails.get(r.run_id, 0))
        ]
        return BoardData(shown[:limit], approvals, chain, len(runs))

    def origin_size(self, origin: str) -> int:
        """Number of events in one log."""
        with self._lock:
            row = self.conn().execute(_SIZE, (origin,)).fetchone()
        return int(row[0]) if row else 0

    def keys(
        self, runs: Sequence[str] = (), origin: str = "", cond: str = "none", value: str = ""
    ) -> tuple[list[tuple[str, int, datetime]], bool]:
        """Ordered keys of a scope (runs, else one origin) under one condition, and truncated."""
        scope = _SCOPE_RUNS if runs else _SCOPE_ORIGIN
        query = sql.SQL("").join(
            [
                sql.SQL(_KEYS_HEAD),
                sql.SQL(scope),
                sql.SQL(" AND "),
                sql.SQL(CONDITIONS[cond]),
                sql.SQL(_KEYS_TAIL),
            ]
        )
        params: dict[str, Any] = {
            "runs": [uuid.UUID(r) for r in runs],
            "origin": origin,
            "value": f"%{value}%" if cond in ("text", "not_text") else value,
            "limit": MAX_KEYS + 1,
        }
        with self._lock:
            rows = self.conn().execute(query, params).fetchall()
        keys = [(str(o), int(s), t) for o, s, t in rows]
        return keys[:MAX_KEYS], len(keys) > MAX_KEYS

    def fetch(self, source: Source, start: int, n: int = PAGE) -> list[Row]:
        """One page of a source."""
        with self._lock:
            return source.fetch(self.conn(), start, n)

    def index_at_time(self, source: Source, ns: int) -> int:
        """Row index of the first event at or after `ns`."""
        with self._lock:
            return source.index_at_time(self.conn(), ns)

    def run(self, sql_text: LiteralString, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one of the TUI's read-only constant queries."""
        with self._lock:
            return list(self.conn().execute(sql_text, params).fetchall())


def _open_approvals(rows: list[tuple[Any, ...]]) -> list[OpenApproval]:
    decided: set[tuple[str, str]] = set()
    requested: list[OpenApproval] = []
    for origin, seq, kind, body in rows:
        doc = orjson.loads(bytes(body))
        data = doc.get("data") or {}
        key = (str(doc.get("run_id")), str(data.get("approval_id")))
        if kind == "approval.decided":
            decided.add(key)
            continue
        requested.append(
            OpenApproval(
                origin,
                int(seq),
                key[0],
                key[1],
                str(data.get("tool", "")),
                tuple(data.get("required_roles") or ()),
                str(data.get("reason") or ""),
            )
        )
    return [a for a in requested if (a.run_id, a.approval_id) not in decided]
