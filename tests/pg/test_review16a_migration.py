"""Hostile review r16a: migration 0016 must derive the stop state from whatever stops the log
already holds. Before issue 15 a writer's run.stop.requested was sequenced with any data (the
sequencer checks an event's head only; the owner's raw intake row stands in for it here), so
an upgrade may meet a stop whose `target_run_id` or `caused_by` only looks like a UUID."""

from __future__ import annotations

import uuid

import orjson
import psycopg
import pytest

from ledger.config import Settings
from ledger.db.sqlfiles import read_sql
from ledger.events import to_json
from ledger.store.door import single_event
from ledger.store.sequencer import try_sequence


@pytest.mark.parametrize("field", ["target_run_id", "caused_by"])
def test_the_migration_survives_an_old_stop_with_a_uuid_shaped_non_uuid(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, field: str
) -> None:
    event = single_event("run.stop.requested", {"requested_by": "old", "reason": "pre-15"})
    body = to_json(event)
    shaped = "-" * 36  # matches 0016's '^[0-9a-f-]{36}$' guard, is no UUID
    if field == "target_run_id":
        body["data"]["target_run_id"] = shaped
    else:
        body["correlation"] = {"caused_by": shaped}
    ledger_conn.execute(
        "INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body) "
        "VALUES (%s, %s, %s, %s, %s)",
        (body["event_id"], ledger_settings.origin(), body["run_id"], 0, orjson.dumps(body)),
    )
    try_sequence(ledger_conn, ledger_settings, wait=True)
    assert ledger_conn.execute("SELECT 1 FROM ledger_events WHERE event_id = %s",
                               (uuid.UUID(body["event_id"]),)).fetchone() == (1,)
    with ledger_conn.transaction():
        ledger_conn.execute("DELETE FROM ledger_stops")
        ledger_conn.execute("DELETE FROM ledger_live_changes")
        ledger_conn.execute(read_sql("migrations/0016_live_control.sql"))  # type: ignore[arg-type]
    row = ledger_conn.execute("SELECT target, target_run_id FROM ledger_stops").fetchone()
    assert row == ("run:?", None)
