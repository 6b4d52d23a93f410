"""`ledger.run(run_id=X)` names a NEW run (fixruns, issue 17): when X is already in the ledger
(logged, or still in intake), starting it again would restart X's chain at run_seq 0 (the
sequencer rejects it later, after its tools ran), so it raises `ledger.RunExists` pointing to
`ledger.resume(X)` and writes nothing. Runs without an explicit id pay no round trip for it."""

from __future__ import annotations

import uuid

import psycopg
import pytest

import ledger
from ledger.hooks.writer import Writer

from .conftest import FlakyDatabase, stored


def _count(conn: psycopg.Connection) -> tuple[int, int]:
    row = conn.execute("SELECT (SELECT count(*) FROM ledger_events), "
                       "(SELECT count(*) FROM ledger_intake)").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_a_chosen_run_id_starts_a_run_once_then_points_to_resume(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    rid = uuid.uuid4()
    with ledger.run(agent="id-bot", user="ann", run_id=rid) as run:  # a new run: fine
        run.custom("step")
    assert writer.flush()
    before = _count(ledger_conn)
    with pytest.raises(ledger.RunExists, match=rf"ledger\.resume\({rid}\)") as exc:
        with ledger.run(agent="id-bot", user="ann", run_id=rid):
            raise AssertionError("the body must not run")
    assert isinstance(exc.value, ValueError)
    assert writer.flush()
    assert _count(ledger_conn) == before  # nothing written
    assert [e.run_seq for e in stored(ledger_conn, rid)] == [0, 1, 2]


def test_a_run_still_in_intake_counts_as_existing_and_resume_continues_it(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    unsequenced = ledger.configure(writer.settings, connect=writer._connect, sequence=False)
    rid = uuid.uuid4()
    with ledger.run(agent="id-bot", run_id=rid) as run:
        run.suspend(resume_key="test:id")
    with pytest.raises(ledger.RunExists, match="already exists"):
        ledger.run(agent="id-bot", run_id=rid).begin()
    with ledger.resume(rid) as again:  # what the error points to
        again.custom("continued")
    assert unsequenced.flush()
    assert _count(ledger_conn)[1] == 5  # started, suspended, resumed, custom, ended


def test_a_chosen_run_id_fails_closed_when_the_ledger_cannot_be_read(
    writer: Writer, flaky: FlakyDatabase, ledger_conn: psycopg.Connection
) -> None:
    flaky.go_down()
    try:
        with pytest.raises(ledger.LedgerUnavailable):
            ledger.run(agent="id-bot", run_id=uuid.uuid4()).begin()
        with ledger.run(agent="id-bot") as run:  # no id chosen: no read, spooled as usual
            run.custom("offline")
    finally:
        flaky.come_back()
    assert writer.flush()
    assert [e.type for e in stored(ledger_conn, run.run_id)] == ["run.started", "custom",
                                                                  "run.ended"]
