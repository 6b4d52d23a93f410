"""Issue 15 item 1, second hostile review: bodies a writer credential INSERTs straight into
intake that used to fail every batch (so `ledger serve` stopped for every tenant), and one rule
that closed honest runs. Each asserts the exact outcome and that every tenant goes on.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import psycopg
import pytest

from ledger.config import Settings
from ledger.events import make_event, to_json
from ledger.store.append import submit
from tests.integrity.conftest import fate
from tests.integrity.test_writer_control_plane import registry_event
from tests.integrity.test_writer_screen import Writer, _follows, _others_go_on, _raw


def test_a_date_that_does_not_exist_is_rejected(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    _, conn = writer
    bad: dict[uuid.UUID, str] = {}
    for when in ("2026-02-30T00:00:00.000000000Z", "0000-01-01T00:00:00.000000000Z",
                 "2026-13-01T00:00:00.000000000Z"):  # fmt: skip
        body = to_json(make_event("run.started", run_id=uuid.uuid4(), run_seq=0, data={}))
        body["occurred_at"] = when
        bad[_raw(conn, ledger_settings.origin(), body)] = (
            f"field 'occurred_at' {when!r} is not a real date"
        )
    _others_go_on(ledger_conn, ledger_settings)
    assert {event_id: fate(ledger_conn, event_id) for event_id in bad} == bad


def test_a_reason_quoting_a_nul_is_stored_escaped(
    writer: Writer,
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    tmp_path: Path,
    trusted_admin: Path,
) -> None:
    _, conn = writer
    body = to_json(registry_event(tmp_path / "mallory.key", "sec-admin"))
    body["data"]["document"]["\u0000evil"] = 1  # pydantic quotes the key in its message
    event_id = _raw(conn, ledger_settings.origin(), body)
    _others_go_on(ledger_conn, ledger_settings)
    reason = fate(ledger_conn, event_id)
    assert "\\x00evil" in reason and "\x00" not in reason


def test_a_gap_in_place_of_run_started_does_not_close_the_run(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    _, conn = writer
    lost = {"reason": "run.started could not be encoded", "missing_events": 1}
    gap = make_event("ledger.gap", run_id=uuid.uuid4(), run_seq=0, data=lost)
    later = _follows(gap, ledger_settings)
    submit(conn, [gap, later], ledger_settings)  # as the hooks submit them
    _others_go_on(ledger_conn, ledger_settings)
    assert [fate(ledger_conn, e) for e in (gap, later)] == ["sequenced", "sequenced"]


def test_intake_columns_must_match_the_body(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    _, conn = writer
    body = to_json(make_event("run.started", run_id=uuid.uuid4(), run_seq=0, data={}))
    conn.execute(  # the run_id column names another run: it would steer the held-row pick-up
        "INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body) "
        "VALUES (%s, %s, %s, %s, %s)",
        (body["event_id"], ledger_settings.origin(), uuid.uuid4(), 0, orjson.dumps(body)),
    )
    _others_go_on(ledger_conn, ledger_settings)
    reason = fate(ledger_conn, uuid.UUID(body["event_id"]))
    assert reason == "intake columns do not match the event body"


def test_a_huge_body_is_refused_by_the_database(
    writer: Writer, ledger_settings: Settings
) -> None:
    _, conn = writer
    body = to_json(make_event("run.started", run_id=uuid.uuid4(), run_seq=0, data={}))
    body["data"] = {"pad": "x" * 1_100_000}
    with pytest.raises(psycopg.errors.CheckViolation, match="intake_body_size"):
        _raw(conn, ledger_settings.origin(), body)
