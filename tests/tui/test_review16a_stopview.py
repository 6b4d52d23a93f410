"""Hostile review r16a: a writer's run.ended must not crash or fool the TUI's stop lines.

The attacker holds a real LOGIN writer role and INSERTs its own run's run.ended as it likes:
`stopped_by` is the writer's own claim (it names no stop the ledger recorded), and the sequencer
checks only an event's head, so its shape is the writer's too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest
from psycopg import conninfo, sql

from ledger.config import Settings
from ledger.events import leaf_hash, make_event, to_json
from ledger.store.append import encode_for_intake, submit
from ledger.store.roles import add_writer
from ledger.store.sequencer import try_sequence
from tui.stopview import run_stop_note

Writer = psycopg.Connection


@pytest.fixture
def writer(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> Iterator[Writer]:
    role = f"w_r16a_{uuid.uuid4().hex[:8]}"
    add_writer(ledger_conn, role, "default", None, "pw")
    dsn = conninfo.make_conninfo(ledger_settings.dsn or "", user=role, password="pw")
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            yield conn
    finally:
        ledger_conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        ledger_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _run_ending(writer: Writer, settings: Settings, conn: psycopg.Connection,
                data: Any) -> uuid.UUID:
    """The writer's run: run.started (submitted), then a run.ended whose data it chose (raw)."""
    run_id = uuid.uuid4()
    started = make_event("run.started", run_id=run_id, run_seq=0, data={"task": "t"},
                         agent={"name": "mallory", "version": "1"})
    submit(writer, [started], settings)
    prev = leaf_hash(encode_for_intake(started, settings).body).hex()
    ended = make_event("run.ended", run_id=run_id, run_seq=1, prev_run_hash=prev,
                       data={"status": "failed", "event_count": 2},
                       agent={"name": "mallory", "version": "1"})
    body = to_json(ended)
    body["data"] = data
    writer.execute(
        "INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body) "
        "VALUES (%s, %s, %s, %s, %s)",
        (body["event_id"], settings.origin(), str(run_id), 1, orjson.dumps(body)),
    )
    try_sequence(conn, settings, wait=True)
    assert conn.execute("SELECT count(*) FROM ledger_events WHERE run_id = %s",
                        (run_id,)).fetchone() == (2,)
    return run_id


@pytest.mark.parametrize("data", [
    {"status": "stopped", "event_count": 2, "stopped_by": "pwned"},
    {"status": "stopped", "event_count": 2, "stopped_by": ["pwned"]},
    ["stopped"],
])
def test_a_malformed_run_ended_does_not_crash_the_timeline_title(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings, data: Any
) -> None:
    run_id = _run_ending(writer, ledger_settings, ledger_conn, data)
    note = run_stop_note(ledger_conn, str(run_id))  # `ledger tui --run` calls this
    assert "registry" not in note.plain


def test_a_writer_cannot_claim_a_registry_stop_that_was_never_recorded(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    forged = {"target": "tenant:default", "requested_by": "ciso@example",
              "reason": "approved shutdown", "stop_event_id": str(uuid.uuid4()),
              "authority": "registry"}
    run_id = _run_ending(writer, ledger_settings, ledger_conn,
                         {"status": "stopped", "event_count": 2, "stopped_by": forged})
    assert ledger_conn.execute("SELECT count(*) FROM ledger_stops").fetchone() == (0,)
    note = run_stop_note(ledger_conn, str(run_id))
    # no such stop exists: the title must not present the agent's claim as a registry stop
    assert "stopped by ciso@example (registry)" not in note.plain


def test_ledger_replay_of_a_malformed_stopped_run_is_one_line_not_a_traceback(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any
) -> None:
    run_id = _run_ending(writer, ledger_settings, ledger_conn,
                         {"status": "stopped", "event_count": 2, "stopped_by": "pwned"})
    res = cli("replay", str(run_id))
    assert "Traceback" not in res.stderr
    assert res.exit_code == 0, res.stderr  # the run replays; the bad claim is simply not shown


def test_ledger_replay_does_not_present_a_forged_stop_as_registry_signed(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any
) -> None:
    forged = {"target": "tenant:default", "requested_by": "ciso@example",
              "reason": "approved shutdown", "stop_event_id": str(uuid.uuid4()),
              "authority": "registry"}
    run_id = _run_ending(writer, ledger_settings, ledger_conn,
                         {"status": "stopped", "event_count": 2, "stopped_by": forged})
    res = cli("replay", str(run_id))
    assert res.exit_code == 0, res.stderr
    assert "stopped by ciso@example (registry)" not in res.stdout
