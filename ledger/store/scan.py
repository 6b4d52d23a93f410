"""Whole-log reads for `ledger verify`: aggregated batches for the bulk pass, typed rows for the
row pass, and the check that nothing lies outside the verified range.

`ledger.verify_bulk` and `ledger.verify_rows` hold the checks; this module holds the reads, so
that the tables stay known to `ledger.store` alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from ledger.db.sqlfiles import query

__all__ = [
    "attached_ranges",
    "log_size",
    "rows_outside",
    "run_heads_before",
    "sample_events",
    "seq_neighbours",
    "verify_batch",
    "verify_rows",
]

_ROW_TYPES = ["int8", "uuid", "uuid", "int8", "text", "timestamptz", "bytea", "bytea"]


def verify_batch(
    cursor: psycopg.Cursor[Any], origin: str, start: int, stop: int
) -> tuple[Any, ...] | None:
    """Seqs [start, stop) of an origin as the few aggregated values of `verify_batch`."""
    return cursor.execute(query("verify_batch"), (origin, start, stop)).fetchone()


def rows_outside(conn: psycopg.Connection, origin: str, size: int) -> bool:
    """Whether any event of `origin` has a seq outside 0..size-1."""
    row = conn.execute(query("verify_rows_outside"), (origin, size)).fetchone()
    return row is None or bool(row[0])


@contextmanager
def verify_rows(
    conn: psycopg.Connection, origin: str, start: int = 0
) -> Iterator[Iterator[tuple[Any, ...]]]:
    """Every event of `origin` from seq `start` in seq order as typed COPY rows (seq, event_id,
    run_id, run_seq, type, occurred_at, body, leaf_hash); the COPY ends when the block does."""
    statement, params = (
        (query("copy_verify"), (origin,)) if start == 0
        else (query("copy_verify_from"), (origin, start))
    )
    with conn.cursor().copy(statement, params) as copy:
        copy.set_types(_ROW_TYPES)
        yield copy.rows()


def run_heads_before(
    conn: psycopg.Connection, origin: str, start: int
) -> list[tuple[uuid.UUID, int, bytes]]:
    """(run_id, run_seq, leaf_hash) of the last event before `start` of every run that has an
    event at or after `start` (one index probe per run; the prefix is never read)."""
    rows = conn.execute(query("run_heads_before"), {"origin": origin, "start": start})
    return [(run_id, int(run_seq), bytes(leaf)) for run_id, run_seq, leaf in rows]


def log_size(conn: psycopg.Connection, origin: str) -> int:
    """One past the largest stored seq of `origin` (0 when empty): an index probe."""
    row = conn.execute(query("log_size"), (origin,)).fetchone()
    return 0 if row is None else int(row[0])


def seq_neighbours(
    conn: psycopg.Connection, origin: str, below: int, at_least: int
) -> tuple[int | None, int | None]:
    """The largest stored seq of `origin` below `below` and the smallest at or above
    `at_least` (None when there is none): two primary-key probes."""
    row = conn.execute(query("seq_neighbours"),
                       {"origin": origin, "below": below, "from": at_least}).fetchone()
    if row is None:
        return None, None
    return (None if row[0] is None else int(row[0])), (None if row[1] is None else int(row[1]))


def attached_ranges(conn: psycopg.Connection, origin: str, seq: int) -> list[tuple[int, int]]:
    """[lo, hi) of the seq-range partitions attached beside the one holding `origin`'s event
    `seq` (the system catalog: any role may read it); [] when not range-partitioned."""
    rows = conn.execute(query("attached_ranges"), {"origin": origin, "seq": seq}).fetchall()
    return [(int(lo), int(hi)) for lo, hi in rows]


def sample_events(
    conn: psycopg.Connection, origin: str, seqs: list[int]
) -> list[tuple[int, bytes, bytes]]:
    """(seq, body, stored leaf hash) of the given seqs of `origin` that exist, in seq order."""
    rows = conn.execute(query("sample_events"), (origin, seqs)).fetchall()
    return [(int(seq), bytes(body), bytes(leaf)) for seq, body, leaf in rows]
