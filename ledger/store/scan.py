"""Whole-log reads for `ledger verify`: aggregated batches for the bulk pass, typed rows for the
row pass, and the check that nothing lies outside the verified range.

`ledger.verify_bulk` and `ledger.verify_rows` hold the checks; this module holds the reads, so
that the tables stay known to `ledger.store` alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from ledger.db.sqlfiles import query

__all__ = ["rows_outside", "verify_batch", "verify_rows"]

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
def verify_rows(conn: psycopg.Connection, origin: str) -> Iterator[Iterator[tuple[Any, ...]]]:
    """Every event of `origin` in seq order as typed COPY rows (seq, event_id, run_id, run_seq,
    type, occurred_at, body, leaf_hash); the COPY ends when the block does."""
    with conn.cursor().copy(query("copy_verify"), (origin,)) as copy:
        copy.set_types(_ROW_TYPES)
        yield copy.rows()
