"""The evidence bundle's reads of `ledger_events` (exporters/bundle*.py call these).

Windows are read with a binary cursor (bytea as raw bytes, int8 as int) and never prepared:
after ~10 runs a prepared statement gets PostgreSQL's generic plan, which picked the
`occurred_at` index and scanned the whole period for every window. Rows come back unsorted
(an ORDER BY made PostgreSQL sort each window on disk); callers sort when needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ledger.db.sqlfiles import query

__all__ = ["ScopeSpan", "leaf_window", "recorded_at_of", "scope_span", "scope_window"]


@dataclass(frozen=True, slots=True)
class ScopeSpan:
    """Events of the prefix [0, end) inside a period: how many, first and last seq."""

    count: int
    first_seq: int | None
    last_seq: int | None


def scope_span(
    conn: psycopg.Connection, origin: str, end_size: int, bounds: tuple[str, str]
) -> ScopeSpan:
    """Count the events of seq < `end_size` with `occurred_at` in [bounds) (RFC 3339 text)."""
    row = conn.execute(query("export_scope"), (origin, end_size, *bounds)).fetchone()
    if row is None or row[1] is None:
        return ScopeSpan(int(row[0]) if row else 0, None, None)
    return ScopeSpan(int(row[0]), int(row[1]), int(row[2]))


def scope_window(
    cur: psycopg.Cursor[Any], bounds: tuple[str, str], origin: str, lo: int, hi: int
) -> list[tuple[Any, ...]]:
    """(seq, leaf hash, body or None outside `bounds`) of every event with seq in [lo, hi)."""
    return cur.execute(query("export_window"), (*bounds, origin, lo, hi), prepare=False).fetchall()


def leaf_window(cur: psycopg.Cursor[Any], origin: str, lo: int, hi: int) -> list[tuple[Any, ...]]:
    """(seq, leaf hash) of every event with seq in [lo, hi)."""
    return cur.execute(query("export_leaves"), (origin, lo, hi), prepare=False).fetchall()


def recorded_at_of(
    conn: psycopg.Connection, origin: str, seqs: Sequence[int]
) -> dict[int, datetime]:
    """The sequencer's `recorded_at` of the given seqs (those that have one)."""
    rows = conn.execute(query("export_recorded_at"), (origin, list(seqs))).fetchall()
    return {int(seq): at for seq, at in rows if at is not None}
