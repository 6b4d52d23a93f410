"""Reads of the log: a run's events, the list of runs, checkpoints, single events, receipts.

Readers get the stored canonical bytes and decode them on demand; nothing here trusts the
projection columns for content (those are for indexing; `ledger verify` checks them).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from ledger.db.sqlfiles import query
from ledger.merkle import leaf_hash

if TYPE_CHECKING:  # the event models load when a row is decoded, not with the reader
    from ledger.events import EventBase

__all__ = [
    "CheckpointRow",
    "ReceiptState",
    "RunHead",
    "RunSummary",
    "SignedCheckpoint",
    "StoredEvent",
    "approval_requests",
    "checkpoint_at",
    "checkpoint_at_most",
    "checkpoints",
    "checkpoints_from",
    "cosigned_note",
    "decision_rows",
    "decisions_for_calls",
    "event_by_id",
    "events_of_types",
    "iter_events",
    "latest_checkpoint",
    "list_runs",
    "origins",
    "receipt_states",
    "run_events",
    "run_head",
    "run_started_event",
    "runs_events",
    "runs_joined",
    "runs_rows",
    "runs_started_between",
    "runs_with_tool_calls",
    "tool_calls_since",
]


@dataclass(frozen=True)
class StoredEvent:
    """One event as stored: position, record time, canonical bytes, leaf hash."""

    seq: int
    recorded_at: datetime | None
    body: bytes
    leaf_hash: bytes
    origin: str = ""

    @functools.cached_property
    def event(self) -> EventBase:
        """The typed event decoded from the stored bytes."""
        from ledger.events import decode_event

        return decode_event(self.body)


@dataclass(frozen=True)
class RunSummary:
    """One line of `ledger runs`."""

    run_id: uuid.UUID
    origin: str
    agent: str | None
    initiating_user: str | None
    started_at: str
    status: str
    event_count: int
    imported: bool = False  # its first event says `trust: imported` (copied from another system)


@dataclass(frozen=True)
class CheckpointRow:
    """The latest signed checkpoint of an origin."""

    tree_size: int
    root_hash: bytes
    note: str
    frontier: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """One stored checkpoint: tree size, root hash and the signed note (text)."""

    tree_size: int
    root_hash: bytes
    note: str


@dataclass(frozen=True, slots=True)
class RunHead:
    """The last event of a run, logged or still in intake: its `run_seq` and leaf hash."""

    run_seq: int
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class ReceiptState:
    """Where an acknowledged event is now: its logged leaf hash, or its body still in intake.

    `seq` and `logged_body` are set once it is logged (from the tenant-scoped read API, so a
    writer that cannot read the log still compares a retry's bytes with what was stored)."""

    logged_leaf: bytes | None
    pending_body: bytes | None
    seq: int | None = None
    logged_body: bytes | None = None


def run_events(conn: psycopg.Connection, run_id: uuid.UUID) -> list[StoredEvent]:
    """Every stored event of a run, in run order."""
    return [
        StoredEvent(int(seq), rec, bytes(body), bytes(leaf), origin)
        for seq, rec, body, leaf, origin in conn.execute(query("run_events"), (run_id,)).fetchall()
    ]


def run_started_event(
    conn: psycopg.Connection, origin: str, run_id: uuid.UUID
) -> StoredEvent | None:
    """The logged `run.started` of a run in an origin (the event that carries its identities)."""
    rows = conn.execute(query("run_started_event"), (origin, run_id)).fetchall()
    return _stored(rows)[0] if rows else None


def event_by_id(conn: psycopg.Connection, event_id: uuid.UUID) -> StoredEvent | None:
    """One stored event by id, or None."""
    row = conn.execute(query("event_by_id"), (event_id,)).fetchone()
    if row is None:
        return None
    origin, seq, rec, body, leaf = row
    return StoredEvent(int(seq), rec, bytes(body), bytes(leaf), origin)


def approval_requests(conn: psycopg.Connection, origin: str, approval_id: str) -> list[StoredEvent]:
    """The sequenced approval.requested events of `origin` with this approval id, by seq."""
    rows = conn.execute(query("approval_requests"), (origin, approval_id)).fetchall()
    return _stored(rows)


def iter_events(
    conn: psycopg.Connection, origin: str, from_seq: int = 0, batch: int = 10_000
) -> Iterator[StoredEvent]:
    """All events of an origin in `seq` order, streamed in batches (flat memory)."""
    last = from_seq - 1
    while True:
        rows = conn.execute(query("events_after"), (origin, last, batch)).fetchall()
        if not rows:
            return
        for seq, rec, body, leaf in rows:
            yield StoredEvent(int(seq), rec, bytes(body), bytes(leaf), origin)
        last = int(rows[-1][0])


def list_runs(
    conn: psycopg.Connection, since: datetime | None = None, until: datetime | None = None
) -> list[RunSummary]:
    """Runs by their first event (run.started, or another in-run event when it is missing: such
    a run is listed, status "no run.started", never hidden), oldest first, with event counts."""
    from ledger.events import decode_event

    runs: list[RunSummary] = []
    for run_id, origin, body, _rec, count, end_body, suspended in conn.execute(
        query("list_runs"), {"since": since, "until": until}
    ).fetchall():
        started = decode_event(bytes(body))  # the run's first event: run.started when honest
        status = "suspended" if suspended else "running"  # suspended: open, waiting (issue 17)
        if end_body is not None:
            status = str(decode_event(bytes(end_body)).data.status)
        if started.type != "run.started":
            status = f"no run.started ({status})"
        runs.append(
            RunSummary(
                run_id=run_id,
                origin=origin,
                agent=started.agent.name if started.agent else None,
                initiating_user=started.principal.initiating_user,
                started_at=started.occurred_at,
                status=status,
                event_count=int(count),
                imported=started.trust == "imported",
            )
        )
    return runs


def latest_checkpoint(conn: psycopg.Connection, origin: str) -> CheckpointRow | None:
    """The newest checkpoint of an origin, or None for an empty log."""
    row = conn.execute(query("latest_checkpoint"), (origin,)).fetchone()
    if row is None:
        return None
    size, root, note, frontier, created = row
    return CheckpointRow(int(size), bytes(root), note, bytes(frontier), created)


def origins(conn: psycopg.Connection) -> list[str]:
    """Every log origin (tenant) present in the database."""
    return [row[0] for row in conn.execute(query("origins")).fetchall()]


def _signed(row: tuple[Any, ...] | None) -> SignedCheckpoint | None:
    if row is None:
        return None
    size, root, note = row
    return SignedCheckpoint(int(size), bytes(root), str(note))


def checkpoint_at(conn: psycopg.Connection, origin: str, size: int) -> SignedCheckpoint | None:
    """The checkpoint of exactly `size` leaves, or None."""
    return _signed(conn.execute(query("checkpoint_at"), (origin, size)).fetchone())


def checkpoint_at_most(conn: psycopg.Connection, origin: str, size: int) -> SignedCheckpoint | None:
    """The largest checkpoint of at most `size` leaves, or None."""
    return _signed(conn.execute(query("checkpoint_at_most"), (origin, size)).fetchone())


def checkpoints(conn: psycopg.Connection, origin: str) -> list[SignedCheckpoint]:
    """Every stored checkpoint of an origin, smallest first."""
    return [
        SignedCheckpoint(int(size), bytes(root), str(note))
        for size, root, note in conn.execute(query("all_checkpoints"), (origin,)).fetchall()
    ]


def checkpoints_from(conn: psycopg.Connection, origin: str, start: int) -> list[SignedCheckpoint]:
    """Every stored checkpoint of an origin of at least `start` leaves, smallest first."""
    return [
        SignedCheckpoint(int(size), bytes(root), str(note))
        for size, root, note in conn.execute(query("checkpoints_from"), (origin, start))
    ]


def cosigned_note(conn: psycopg.Connection, origin: str, size: int) -> str | None:
    """The checkpoint note of `size` with its witness cosignatures, if a witness cosigned it."""
    row = conn.execute(query("cosigned_note"), (origin, size)).fetchone()
    return None if row is None else str(row[0])


def events_of_types(
    conn: psycopg.Connection, origin: str, types: Sequence[str], before: int | None = None
) -> list[tuple[int, bytes]]:
    """(seq, body) of an origin's events of the given types (seq < `before`), in seq order."""
    if before is None:
        rows = conn.execute(query("events_of_types"), (origin, list(types))).fetchall()
    else:
        rows = conn.execute(
            query("events_of_types_before"), (origin, before, list(types))
        ).fetchall()
    return [(int(seq), bytes(body)) for seq, body in rows]


def run_head(conn: psycopg.Connection, run_id: uuid.UUID) -> RunHead | None:
    """The newest event of a run, whether sequenced or still waiting in intake."""
    row = conn.execute(query("run_head"), {"run_id": run_id}).fetchone()
    if row is None:
        return None
    run_seq, leaf, body = row
    return RunHead(int(run_seq), bytes(leaf) if leaf is not None else leaf_hash(bytes(body)))


def receipt_states(
    conn: psycopg.Connection, event_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ReceiptState]:
    """Where each acknowledged event is now (ids neither logged nor pending are left out)."""
    found: dict[uuid.UUID, ReceiptState] = {}
    rows = conn.execute(query("receipt_state"), (list(event_ids),))
    for event_id, state, seq, leaf, body in (row[:5] for row in rows):
        if state == "sequenced":
            found[event_id] = ReceiptState(bytes(leaf), None, int(seq), bytes(body))
        elif state == "pending":
            found[event_id] = ReceiptState(None, bytes(body))
    return found


# ---------------------------------------------------------------- reads for replay and undo


def _stored(rows: list[tuple[Any, ...]]) -> list[StoredEvent]:
    return [
        StoredEvent(int(seq), rec, bytes(body), bytes(leaf), origin)
        for seq, rec, body, leaf, origin in rows
    ]


def runs_events(conn: psycopg.Connection, run_ids: Sequence[uuid.UUID]) -> list[StoredEvent]:
    """Every stored event of several runs, grouped by run (run id order), in run order."""
    return _stored(conn.execute(query("runs_events"), (list(run_ids),)).fetchall())


def runs_with_tool_calls(
    conn: psycopg.Connection, since: datetime | None, until: datetime | None
) -> list[uuid.UUID]:
    """Runs with a tool call event that occurred in [since, until), ordered by id."""
    found = conn.execute(query("runs_with_tool_calls"), {"since": since, "until": until})
    return sorted((row[0] for row in found.fetchall()), key=str)


def tool_calls_since(
    conn: psycopg.Connection, start: str | datetime, excluding: Sequence[uuid.UUID]
) -> list[StoredEvent]:
    """Tool call events of runs not in `excluding` that occurred at or after `start`, by seq."""
    rows = conn.execute(query("tool_calls_since"), (start, list(excluding))).fetchall()
    return _stored(rows)


def runs_started_between(
    conn: psycopg.Connection, since: datetime | None, until: datetime | None
) -> list[uuid.UUID]:
    """Runs whose first event was recorded or is dated in [since, until), oldest first (the
    order `ledger runs` uses); runs lacking run.started included (capture.run_started)."""
    rows = conn.execute(query("runs_started_between"), {"since": since, "until": until})
    return [row[0] for row in rows.fetchall()]


def decisions_for_calls(
    conn: psycopg.Connection, origin: str, calls: Sequence[str]
) -> list[tuple[uuid.UUID, StoredEvent]]:
    """(run id, event) of approval.decided events in `origin` naming one of `calls`, by seq."""
    if not calls:
        return []
    rows = conn.execute(query("decisions_for_calls"), (origin, list(calls))).fetchall()
    return [
        (rid, StoredEvent(int(seq), rec, bytes(body), bytes(leaf), org))
        for org, seq, rec, body, leaf, rid in rows
    ]


# The bulk shapes of `ledger check`: raw binary rows (uuid_send run ids) for replay.fastdecode.


def runs_joined(conn: psycopg.Connection, run_ids: Sequence[uuid.UUID]) -> list[tuple[Any, ...]]:
    """One row per run: (run id bytes, origin, seqs, record times, bodies joined by newline).

    Chunk queries are small and many; PostgreSQL's own parallel workers would only add start-up
    cost on the cores the checkers use, and the per-chunk sort (~20 MB) should stay in memory.
    """
    with conn.transaction(), conn.cursor(binary=True) as cur:
        cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cur.execute("SET LOCAL work_mem = '64MB'")
        cur.execute(query("runs_joined"), (list(run_ids),))
        return cur.fetchall()


def runs_rows(conn: psycopg.Connection, run_ids: Sequence[uuid.UUID]) -> list[tuple[Any, ...]]:
    """One row per event of the runs: (run id bytes, origin, seq, recorded_at, body)."""
    with conn.cursor(binary=True) as cur:
        cur.execute(query("runs_rows"), (list(run_ids),))
        return cur.fetchall()


def decision_rows(
    conn: psycopg.Connection, origin: str, calls: Sequence[str]
) -> list[tuple[Any, ...]]:
    """approval.decided rows in `origin` naming one of `calls`, in the shape of `runs_rows`."""
    with conn.cursor(binary=True) as cur:
        cur.execute(query("decisions_rows"), (origin, list(calls)))
        return cur.fetchall()
