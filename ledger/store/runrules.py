"""Run rules of the sequencer: which events may join which run chain, and in what order.

A run belongs to the log (origin) of its first event. Heads are looked up by run id and carry
that owning origin, so they are keyed by (origin, run_id) in effect: an event naming a run that
already exists in another origin (stored, or earlier in the same batch) is rejected, never
chained, because chaining it would put a run into log b that starts at some run_seq > 0 and log
b could never verify again (issue 15). An event after its run's `run.ended` is rejected too: the
run.ended event commits to the run's event count and last hash, so nothing may follow it; nor may
anything follow a single-event run (`SINGLE_EVENT_TYPES` at run_seq 0: replay and `ledger runs`
read such a run as one record and would never show what a writer appended to it).
Nothing in the codebase appends to a run after run.ended (a decision that arrives after its run
ended is a single-event run of its own, ledger.hooks.approvals.decide).
"""

from __future__ import annotations

from typing import NamedTuple

import psycopg

from ledger.db.sqlfiles import query
from ledger.eventhead import EventHead
from ledger.events import leaf_hash
from ledger.store.batch import SINGLE_EVENT_TYPES, Accepted, Drained, Parsed

__all__ = ["RunHead", "order"]

_MAY_CLOSE = SINGLE_EVENT_TYPES | {"run.ended"}  # a head of these types may close its run


class RunHead(NamedTuple):
    """The last event of a run: its place, its leaf, the log it belongs to, and its type."""

    run_seq: int
    leaf: bytes
    origin: str
    type: str

    def closed(self) -> str:
        """Why nothing may follow this event in its run ("" if events may follow)."""
        if self.type == "run.ended":
            return f"ended at run_seq {self.run_seq}: nothing may follow run.ended"
        if self.run_seq == 0 and self.type in SINGLE_EVENT_TYPES:
            return f"is a single-event run ({self.type}): nothing may follow it"
        return ""


def _heads(conn: psycopg.Connection, parsed: list[Parsed]) -> dict[str, RunHead]:
    """Stored heads of the batch's runs (one backward index probe per run)."""
    rows = conn.execute(query("run_heads"), (list({p.head.run_id for p in parsed}),)).fetchall()
    return {str(r[0]): RunHead(int(r[1]), bytes(r[2]), str(r[3]), str(r[4])) for r in rows}


def order(
    conn: psycopg.Connection, drained: Drained, next_seq: dict[str, int]
) -> tuple[list[Accepted], int]:
    """Give each event whose run predecessor is known its `seq`; return them and how many wait.

    Passes repeat while one makes progress, so a run's events may arrive in any order within
    the batch. Conflicts with the stored chain go to `drained.rejects`.
    """
    heads = _heads(conn, drained.parsed)
    accepted: list[Accepted] = []
    pending = drained.parsed
    progress = True
    while pending and progress:
        progress = False
        still: list[Parsed] = []
        for item in pending:
            value = item.head
            run_id = value.run_id
            head = heads.get(run_id)
            expected = 0 if head is None else head.run_seq + 1
            foreign = _foreign_or_ended(value, item.origin, head, expected)
            if not foreign and value.run_seq > expected:
                still.append(item)
                continue
            reason = foreign or _chain_conflict(value, head, expected)
            if reason:
                drained.reject(item, reason)
                continue
            leaf = leaf_hash(item.body)
            seq = next_seq[item.origin]
            next_seq[item.origin] = seq + 1
            accepted.append(
                Accepted(
                    item.origin, seq, value.event_id, run_id, value.run_seq, value.type,
                    value.occurred_at, item.body, leaf, drained.recorded_us, item.role,
                )
            )  # fmt: skip
            heads[run_id] = RunHead(value.run_seq, leaf, item.origin, value.type)
            drained.done_intake.append(item.intake_id)
            progress = True
        pending = still
    return accepted, len(pending)


def _foreign_or_ended(value: EventHead, origin: str, head: RunHead | None, expected: int) -> str:
    """Why this event may not wait for its predecessor: its run is another log's, or has ended
    ("" if neither; an event at a run_seq the run already has gets the chain conflict)."""
    if head is None:
        return ""
    if head.origin == origin and head.type not in _MAY_CLOSE:  # the common case, no calls
        return ""
    if head.origin != origin:
        return (
            f"run {value.run_id} belongs to another log: tenant {value.tenant!r} cannot add to it"
        )
    closed = head.closed()
    if closed and value.run_seq >= expected:
        return f"run {value.run_id} {closed}"
    return ""


def _chain_conflict(value: EventHead, head: RunHead | None, expected: int) -> str:
    """Why an event at or before its run's next `run_seq` cannot join the chain ("" if it can)."""
    if value.run_seq < expected:
        return f"run {value.run_id} already has run_seq {value.run_seq}"
    want_prev = None if head is None else head.leaf.hex()
    if value.prev_run_hash != want_prev:
        return f"prev_run_hash does not match run {value.run_id} at run_seq {value.run_seq}"
    return ""
