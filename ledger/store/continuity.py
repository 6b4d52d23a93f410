"""The suspended runs: kept by the sequencer from the log, read through the 0019 read API.

Why the sequencer: which runs are suspended (open, waiting for a person or a workflow) must be
a function of the log, so every process that resumes a run, and `ledger serve` when it ends
an abandoned one, acts on what the ledger holds, never on a side table someone edits. Inside
the batch transaction that stores them, `record_suspensions` folds the batch's run.suspended,
run.resumed and run.ended events per run in log order: a run whose last such event is a
suspension has its `ledger_suspended_runs` row (replaced), any other loses it. A batch without
those types costs no statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import orjson
import psycopg

from ledger.db.sqlfiles import query
from ledger.store.batch import Accepted, storable

__all__ = ["CONTINUITY_TYPES", "record_suspensions"]

CONTINUITY_TYPES = frozenset({"run.suspended", "run.resumed", "run.ended"})


MAX_KEY = 1000  # characters; the key index's entries must stay small


def _resume_key(body: bytes) -> str | None:
    """The suspension's resume key: a string the table holds exactly as it is (at most
    MAX_KEY characters, no NUL...), else None: a cut key could equal another run's key and
    hand that run to whoever resumes by it (a statement that failed would fail the batch)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    data = doc.get("data") if isinstance(doc, dict) else None
    key = data.get("resume_key") if isinstance(data, dict) else None
    if not isinstance(key, str) or len(key) > MAX_KEY or storable(key) != key:
        return None
    return key


def record_suspensions(conn: psycopg.Connection, accepted: Sequence[Accepted]) -> None:
    """Sequencer upkeep for one batch (inside its transaction, after its events are stored)."""
    last: dict[str, Accepted] = {}
    for row in accepted:  # in seq order within each log; a run lives in one log
        if row.type in CONTINUITY_TYPES:
            last[row.run_id] = row
    if not last:
        return
    gone = [uuid.UUID(r) for r, row in last.items() if row.type != "run.suspended"]
    if gone:
        conn.execute(query("continuity_unsuspend"), {"run_ids": gone})
    for row in last.values():
        if row.type == "run.suspended":
            conn.execute(query("continuity_suspend"),
                         {"event_id": uuid.UUID(row.event_id),
                          "resume_key": _resume_key(row.body)})
