"""The stamp chain's rows in the database: the sequencer's state and signed notes, verify's reads.

The hashing itself is pure (ledger.stamps). The chain state of an origin lives in its newest
checkpoint row (stamp_start, stamp_head) like the tree's frontier does, so continuing it costs
one index probe per origin per batch and one SHA-256 per event.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import psycopg

from ledger.db.sqlfiles import query
from ledger.note import Signer
from ledger.stamps import EMPTY_HEAD, fold, stamp_note_body

if TYPE_CHECKING:  # the sequencer's; `verify` reads stamps without the event models
    from ledger.store.batch import Accepted

__all__ = [
    "Stamp",
    "batch_recorded_us",
    "first_stamped_before",
    "stamp_notes",
    "stamp_rows",
    "stamp_rows_of",
]

Stamp = tuple[int, bytes, str]
"""stamp_start, stamp_head, stamp_note: the checkpoint row's stamp columns."""


def batch_recorded_us(conn: psycopg.Connection) -> int:
    """The recorded_at of the batch being sequenced, in microseconds since the Unix epoch."""
    row = conn.execute(query("batch_recorded_at")).fetchone()
    assert row is not None
    return int(row[0])


def stamp_rows_of(
    conn: psycopg.Connection, signer: Signer, origin: str, size: int, rows: Sequence[Accepted]
) -> Stamp:
    """Fold the batch's `rows` of `origin` (in seq order, ending at `size`) into its chain and
    sign the new head. An origin whose newest checkpoint has no stamp starts a chain here."""
    state = conn.execute(query("stamp_state"), (origin,)).fetchone()
    if state is not None and state[0] is not None:
        start, head = int(state[0]), bytes(state[1])
    else:
        start, head = rows[0].seq if rows else size, EMPTY_HEAD
    for row in rows:
        head = fold(head, row.leaf, row.seq, row.recorded_us, row.submitted_by)
    note = signer.sign_note(stamp_note_body(origin, size, start, head))
    return start, head, note.decode("utf-8")


def stamp_notes(
    conn: psycopg.Connection, origin: str, start: int = 0
) -> list[tuple[int, str | None]]:
    """(tree_size, stamp note or None) of every checkpoint of `origin` of at least `start`
    leaves, smallest first."""
    rows = (
        conn.execute(query("stamp_notes"), (origin,)) if start == 0
        else conn.execute(query("stamp_notes_from"), (origin, start))
    ).fetchall()
    return [(int(size), None if note is None else str(note)) for size, note in rows]


def stamp_rows(
    conn: psycopg.Connection, origin: str, start: int
) -> Iterator[tuple[int, bytes, int, str | None]]:
    """(seq, leaf, recorded_at µs, submitted_by) of every event from `start`, in seq order.

    A server-side cursor (WITH HOLD, so autocommit callers work too): a client-side one would
    hold every row of the log in memory at once, the one part of verify growing with N."""
    with conn.cursor("ledger_stamp_rows", binary=True, withhold=True) as cur:
        cur.execute(query("stamp_rows"), (origin, start))
        while batch := cur.fetchmany(5000):
            for seq, leaf, recorded, role in batch:
                yield int(seq), bytes(leaf), int(recorded), role


def first_stamped_before(
    conn: psycopg.Connection, origin: str, start: int, lo: int = 0
) -> int | None:
    """The first seq in [lo, start) (before the chain's start) that carries a submitted_by."""
    row = (
        conn.execute(query("first_stamped_before"), (origin, start)) if lo == 0
        else conn.execute(query("first_stamped_between"), (origin, lo, start))
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])
