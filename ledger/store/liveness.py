"""Sequencer liveness: no writer can stop the log or fake a live sequencer (migration 0013).

A hostile writer (issue 15, item 1) had two ways to halt sequencing for every tenant:

* Held rows. An event whose run predecessor has not arrived waits in intake. Read by intake_id
  alone, batch_size such rows (one INSERT ... SELECT of runs starting at run_seq 1) filled every
  batch, so nothing else was ever sequenced. Now a held row is marked (`held_at`), fresh rows are
  read first, with the held rows of their runs (the ones a fresh row may unblock), then held rows
  not looked at for a second, least recently held first (round robin: a legitimate held row is
  reached even among thousands of junk ones, a tenth of each batch is kept for them so a steady
  stream of fresh rows cannot starve them, and an idle `ledger serve` does not rewrite junk rows
  in a loop), and a row held longer than a bound
  (`LEDGER_HELD_MAX_AGE`, default 1h, from its `received_at`) is moved to `ledger_rejects` with
  the predecessor it waited for, so the writer learns it.
* Advisory locks. Any role may take any advisory lock, so a writer holding the sequencer's lock
  stopped every sequencer, and one holding `ledger serve`'s lock made `ledger verify` believe a
  sequencer ran. Leadership is now the row lock of `ledger_sequencer_state`'s one row (FOR
  UPDATE needs UPDATE privilege: the sequencer role and the owner only), and "a sequencer is
  running" is that row's heartbeat, written by `ledger serve` at most once a second and judged
  by its age on the database clock (sql/queries/liveness.sql).
"""

from __future__ import annotations

import os
import time

import psycopg

from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.errors import LedgerError
from ledger.store.batch import Drained

__all__ = [
    "DEFAULT_HELD_MAX_AGE",
    "HELD_MAX_AGE_ENV",
    "Heartbeat",
    "held_max_age",
    "settle_held",
    "take_leadership",
]

HELD_MAX_AGE_ENV = "LEDGER_HELD_MAX_AGE"
DEFAULT_HELD_MAX_AGE = "1h"


class NoSequencerRow(LedgerError):
    """The leadership row of migration 0013 is missing (deleted by hand)."""


def take_leadership(conn: psycopg.Connection, *, wait: bool = True) -> bool:
    """Become the sequencer for the current transaction (False if another one is, and not wait).

    Key operations hold it for their whole transaction, so no batch interleaves with a rotation.
    """
    row = conn.execute(query("take_sequencer_row" if wait else "try_sequencer_row")).fetchone()
    if row is not None:
        return True
    if wait:
        raise NoSequencerRow("ledger_sequencer_state has no row: run `ledger db migrate`")
    return False


def held_max_age(settings: Settings) -> float:
    """Seconds a held row may wait for its predecessor (settings.extra, env, else 1h)."""
    from ledger.when import parse_duration

    text = settings.extra.get("held_max_age") or os.environ.get(HELD_MAX_AGE_ENV)
    return parse_duration(text or DEFAULT_HELD_MAX_AGE, HELD_MAX_AGE_ENV).total_seconds()


def settle_held(conn: psycopg.Connection, settings: Settings, drained: Drained) -> tuple[int, int]:
    """Mark this batch's held rows (back of the queue), reject the expired.

    Returns how many rows stay held and how many of them were held for the first time (a batch
    that only moved fresh rows to the held queue made progress: the next one reads past them).

    Runs after the batch is ordered and written, in its transaction: a row still neither done
    nor rejected waits for its run predecessor.
    """
    settled = set(drained.done_intake) | {r[0] for r in drained.rejects}
    waiting = {p.intake_id: p for p in drained.parsed if p.intake_id not in settled}
    if not waiting:
        return 0, 0
    bound = held_max_age(settings)
    rows = conn.execute(query("held_rows"), (bound, list(waiting))).fetchall()
    keep: list[int] = []
    gone: list[int] = []
    fresh = 0
    for intake_id, was_fresh, expired in rows:
        item = waiting[intake_id]
        if expired:
            head = item.head
            drained.reject(
                item,
                f"predecessor run_seq {head.run_seq - 1} never arrived "
                f"(run {head.run_id} held over {bound:g}s)",
            )
            conn.execute(query("insert_reject"), drained.rejects[-1])
            gone.append(intake_id)
        else:
            keep.append(intake_id)
            fresh += bool(was_fresh)
    if keep:
        conn.execute(query("mark_held"), (keep,))
    if gone:
        conn.execute(query("delete_intake"), ("{" + ",".join(map(str, gone)) + "}",))
    return len(keep), fresh


class Heartbeat:
    """`ledger serve`'s sign of life: written at start, at most once a second, cleared at exit."""

    def __init__(self, conn: psycopg.Connection, every: float = 1.0) -> None:
        self.conn = conn
        self.every = every
        self.last = float("-inf")

    def beat(self, *, force: bool = False) -> None:
        """Refresh the heartbeat if a second has passed (or force)."""
        now = time.monotonic()
        if force or now - self.last >= self.every:
            with self.conn.transaction():
                self.conn.execute(query("sequencer_heartbeat"))
            self.last = now

    def clear(self) -> None:
        """Withdraw it at a clean exit (another live serve writes it again within a second)."""
        if self.conn.closed:
            return
        try:
            with self.conn.transaction():
                self.conn.execute(query("sequencer_heartbeat_clear"))
        except psycopg.Error:
            pass  # the connection is broken: the heartbeat ages out by itself
