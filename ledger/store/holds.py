"""Reading retention records and the facts holds and archives are judged on.

Why a store module: `ledger hold list`, `ledger redact`, `ledger retention list` and `ledger
archive` all ask "which holds and rules are recorded" and "what does this range hold" and must
see the same rows. Holds and rules are read from the log itself (sql/queries/retention.sql,
through the (origin, type, seq) index), not from a projection table: what the signed log says
is in force is what is in force, and no second copy can drift from it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from ledger.db.sqlfiles import query

__all__ = [
    "RangeFacts",
    "RecordRow",
    "detached_record_rows",
    "due_events",
    "open_run_in",
    "range_facts",
    "record_rows",
    "run_in_range",
    "run_span",
    "subject_in_range",
    "subject_in_run",
    "subject_span",
    "tenant_state",
]


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One stored retention record: where it sits in the log, and its canonical bytes."""

    origin: str
    seq: int
    event_id: uuid.UUID
    recorded_at: datetime
    body: bytes


@dataclass(frozen=True, slots=True)
class RangeFacts:
    """What [lo, hi) of a log holds: how many events, and when the newest occurred."""

    events: int
    newest: datetime | None


def record_rows(
    conn: psycopg.Connection, types: Sequence[str], origins: Sequence[str] | None = None
) -> list[RecordRow]:
    """Every event of `types` in `origins` (None: every log), by origin then seq."""
    if origins is not None and len(origins) == 1:
        params: dict[str, object] = {"types": list(types), "origin": origins[0]}
        rows = conn.execute(query("retention_records_of"), params).fetchall()
    else:
        params = {"types": list(types), "origins": None if origins is None else list(origins)}
        rows = conn.execute(query("retention_records"), params).fetchall()
    return [RecordRow(str(o), int(s), e, r, bytes(b)) for o, s, e, r, b in rows]


def detached_record_rows(
    conn: psycopg.Connection, table: str, types: Sequence[str]
) -> list[RecordRow] | None:
    """The records of `types` in a detached tenant's events `table`, oldest first; None when
    this login may not read it (only the owner holds privileges on a detached partition)."""
    statement = sql.SQL(query("detached_records")).format(events=sql.Identifier(table))
    try:
        with conn.transaction():
            rows = conn.execute(statement, {"types": list(types)}).fetchall()
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedTable):
        return None
    return [RecordRow(str(o), int(s), e, r, bytes(b)) for o, s, e, r, b in rows]


def tenant_state(conn: psycopg.Connection, origin: str) -> tuple[bool, str | None]:
    """(is `origin` listed or logged, when it was detached or None)."""
    row = conn.execute(query("tenant_state"), {"origin": origin}).fetchone()
    return (bool(row[0]), None if row[1] is None else str(row[1])) if row else (False, None)


def subject_in_run(conn: psycopg.Connection, origin: str, subject: str, run_id: uuid.UUID) -> bool:
    """Whether `subject` has sealed payloads in events of `run_id` in log `origin`."""
    params = {"origin": origin, "subject": subject, "run_id": run_id}
    row = conn.execute(query("subject_in_run"), params).fetchone()
    return bool(row and row[0])


def run_in_range(
    conn: psycopg.Connection, origin: str, run_id: uuid.UUID, lo: int, hi: int
) -> int | None:
    """The first seq of `run_id` in [lo, hi) of `origin`, or None."""
    params = {"origin": origin, "run_id": run_id, "lo": lo, "hi": hi}
    row = conn.execute(query("run_in_range"), params).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def subject_in_range(
    conn: psycopg.Connection, origin: str, subject: str, lo: int, hi: int
) -> int | None:
    """The first seq in [lo, hi) of `origin` of an event with payloads of `subject`, or None."""
    params = {"origin": origin, "subject": subject, "lo": lo, "hi": hi}
    row = conn.execute(query("subject_in_range"), params).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def range_facts(conn: psycopg.Connection, origin: str, lo: int, hi: int) -> RangeFacts:
    """How many events [lo, hi) of `origin` holds and when the newest of them occurred."""
    row = conn.execute(query("range_facts"), {"origin": origin, "lo": lo, "hi": hi}).fetchone()
    return RangeFacts(int(row[0]) if row else 0, row[1] if row else None)


def due_events(
    conn: psycopg.Connection, origin: str, like: str, cutoff: datetime
) -> tuple[int, int | None, int | None]:
    """(count, first seq, last seq) of events of `origin` of types LIKE `like` occurred
    before `cutoff`."""
    params = {"origin": origin, "like": like, "cutoff": cutoff}
    row = conn.execute(query("retention_due"), params).fetchone()
    if row is None:
        return 0, None, None
    lo, hi = row[1], row[2]
    return int(row[0]), None if lo is None else int(lo), None if hi is None else int(hi)


def _span(row: tuple[object, ...] | None) -> tuple[int, int] | None:
    if row is None or row[0] is None or row[1] is None:
        return None
    return int(str(row[0])), int(str(row[1]))


def run_span(conn: psycopg.Connection, origin: str, run_id: uuid.UUID) -> tuple[int, int] | None:
    """(first, last) seq of `run_id` in `origin`, or None."""
    return _span(conn.execute(query("run_span"), {"origin": origin, "run_id": run_id}).fetchone())


def subject_span(conn: psycopg.Connection, origin: str, subject: str) -> tuple[int, int] | None:
    """(first, last) seq of the events of `origin` with payloads of `subject`, or None."""
    params = {"origin": origin, "subject": subject}
    return _span(conn.execute(query("subject_span"), params).fetchone())


def open_run_in(
    conn: psycopg.Connection, origin: str, lo: int, hi: int, singles: Collection[str]
) -> tuple[uuid.UUID, int] | None:
    """A run an archive of [lo, hi) would split (it goes on after, or is not over): its id and
    first seq in the range, or None."""
    params = {"origin": origin, "lo": lo, "hi": hi, "singles": sorted(singles)}
    row = conn.execute(query("open_run_in"), params).fetchone()
    return None if row is None else (row[0], int(row[1]))
