"""The live stop state: kept by the sequencer from the log, read through the 0016 read API.

Why the sequencer: a stop (or a lift, or a policy publication) must reach every agent process
of its tenant quickly, and the state they act on must be a function of the log, never a side
table someone edits. So inside the batch transaction that stores an accepted
`run.stop.requested` / `run.stop.lifted` / `policy.published`, `record_live_changes` writes its
`ledger_live_changes` row (and `ledger_stops` row, or marks the stops a lift names), then sends
one `pg_notify('ledger_live', <max version>)` for the batch. A batch without those types costs
no statement (the filter is on the already parsed type). Readers (hooks, CLI, TUI) call
`stops_since`, which goes through `ledger_stops_since`: a writer sees only its tenant's stops.

A stop recorded before issue 16 has no `target`: it stops the run its `correlation.caused_by`
event belongs to (looked up by event id, in the same log), or `run:?` (no run matches) when
that event is not in the log.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import psycopg

from ledger.db.sqlfiles import query

if TYPE_CHECKING:  # the write path's; readers (`ledger stops`, `runs`) skip the event models
    from ledger.store.batch import Accepted

__all__ = ["LIVE_CHANNEL", "LIVE_TYPES", "StopRow", "live_version", "record_live_changes",
           "recorded_stop",
           "stops_since"]  # fmt: skip

LIVE_CHANNEL = "ledger_live"
LIVE_TYPES = frozenset({"run.stop.requested", "run.stop.lifted", "policy.published"})


@dataclass(frozen=True, slots=True)
class StopRow:
    """One row of `ledger_stops_since`: a stop, as of `version` (lifted or still active)."""

    version: int
    origin: str
    target: str
    target_run_id: uuid.UUID | None
    stop_event_id: uuid.UUID
    requested_by: str
    reason: str
    authority: str | None
    recorded_at: datetime
    lifted: bool


def _text(value: Any, default: str | None = None) -> str | None:
    """A text column from event data: strings only, storable (an operator's body is checked by
    the write door, but a statement that fails here would fail the whole batch)."""
    from ledger.store.batch import storable

    return storable(value)[:4000] if isinstance(value, str) else default


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _obj(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def _stop_params(row: Accepted, doc: dict[str, Any]) -> dict[str, Any]:
    data, correlation = _obj(doc, "data"), _obj(doc, "correlation")
    return {
        "event_id": uuid.UUID(row.event_id),
        "target": _text(data.get("target")),
        "target_run_id": _uuid(data.get("target_run_id")),
        "requested_by": _text(data.get("requested_by"), ""),
        "reason": _text(data.get("reason"), ""),
        "authority": _text(data.get("authority"), "asserted"),
        "caused_by": _uuid(correlation.get("caused_by")),
    }


def _lift_params(row: Accepted, doc: dict[str, Any]) -> dict[str, Any]:
    data = _obj(doc, "data")
    given = data.get("lifts")
    lifts: list[Any] = given if isinstance(given, list) else []
    return {
        "event_id": uuid.UUID(row.event_id),
        "lifted_by": _text(data.get("lifted_by"), ""),
        "lifts": [u for u in map(_uuid, lifts) if u is not None],
    }


def record_live_changes(conn: psycopg.Connection, accepted: Sequence[Accepted]) -> None:
    """Sequencer upkeep for one batch (inside its transaction, after its events are stored)."""
    live = [a for a in accepted if a.type in LIVE_TYPES]
    if not live:
        return
    policies: list[uuid.UUID] = []
    for row in live:  # in seq order within each log: a lift follows the stop it lifts
        if row.type == "policy.published":
            policies.append(uuid.UUID(row.event_id))
            continue
        doc = orjson.loads(row.body)
        if row.type == "run.stop.requested":
            conn.execute(query("live_record_stop"), _stop_params(row, doc))
        else:
            conn.execute(query("live_record_lift"), _lift_params(row, doc))
    if policies:
        conn.execute(query("live_record_policies"), (policies,))
    conn.execute(query("live_notify"))


def live_version(conn: psycopg.Connection) -> int:
    """The newest live change of any log (0 when none): what NOTIFY carries."""
    row = conn.execute(query("live_version")).fetchone()
    return int(row[0]) if row else 0


def stops_since(
    conn: psycopg.Connection, origins: Sequence[str] | None, since: int
) -> tuple[int, list[StopRow]]:
    """(version now, stops changed after `since`) in `origins` (None: all the caller may see),
    read in one statement so the version matches the rows. `since` 0: the active stops only."""
    params = (list(origins) if origins is not None else None, since)
    rows = conn.execute(query("live_stops_since_versioned"), params).fetchall()
    now = int(rows[0][10]) if rows else 0
    found = [StopRow(*r[:10]) for r in rows if r[0] is not None]
    return now, found


def recorded_stop(
    conn: psycopg.Connection, origin: str, stop_event_id: uuid.UUID
) -> StopRow | None:
    """The stop `stop_event_id` as the ledger recorded it in log `origin` (active or lifted),
    or None: what confirms a run.ended's `stopped_by`, the agent's own claim. Read through the
    0016 read API (readers get no table access): `since` 0 gives the active stops, `since` 1
    every stop changed after version 1, which includes every lifted one (a lift is a later
    change), so the two together hold every stop."""
    for since in (0, 1):
        for row in stops_since(conn, [origin], since)[1]:
            if row.stop_event_id == stop_event_id:
                return row
    return None
