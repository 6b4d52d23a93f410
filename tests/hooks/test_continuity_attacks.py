"""Run continuity from the attacker's side (issue 17): a hostile agent host holding tenant a's
writer credential (a real LOGIN role bound by `ledger db writer add`) tries to find, read,
resume and suspend tenant b's suspended run. The read API shows it nothing, and an event it
forges into b's run (the strongest forgery: the right run_seq and prev_run_hash, handed to
it) is rejected by the sequencer's tenant rule with the reason, while b's run stays suspended.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql

import ledger
from ledger.config import Settings
from ledger.events import encode_event, leaf_hash, make_event
from ledger.hooks.writer import Writer
from ledger.store.append import submit
from ledger.store.sequencer import try_sequence

from .conftest import stored


@pytest.fixture
def writer_a(ledger_conn: psycopg.Connection, ledger_settings: Settings,
             cli: Any) -> Iterator[tuple[Writer, psycopg.Connection]]:
    """Tenant a's hostile host: its hooks' writer and a raw connection, both as the role."""
    role = f"w_a_{uuid.uuid4().hex[:8]}"
    res = cli("db", "writer", "add", role, "--tenant", "a", "--password-env", "W_PW",
              env={"W_PW": "pw-a"})
    assert res.exit_code == 0, res.stderr
    dsn = conninfo.make_conninfo(ledger_settings.dsn or "", user=role, password="pw-a")
    w = Writer(Settings(home=ledger_settings.home / "a", dsn=dsn, tenant="a"))
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        yield w, conn
    finally:
        conn.close()
        w.close()
        ledger_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _b_suspended(writer: Writer) -> tuple[ledger.Run, str]:
    """Tenant b (the owner's hooks): a run waiting for an approval, under key `shared:7`."""
    with ledger.run(agent="b-bot", user="bea", tenant="b") as run:
        approval = run.request_approval({"id": "c1", "name": "wire", "args": {"usd": "900"}})
        run.suspend("approval", resume_key="shared:7", pending=[approval.approval_id])
    assert writer.flush()
    return run, approval.approval_id


def test_a_writer_of_tenant_a_cannot_find_read_or_resume_tenant_bs_run(
    writer: Writer, writer_a: tuple[Writer, psycopg.Connection]
) -> None:
    run, approval_id = _b_suspended(writer)
    assert ledger.find_suspended("shared:7", tenant="b") == run.run_id  # the owner sees it
    hostile, conn = writer_a
    assert ledger.find_suspended("shared:7", writer=hostile) is None
    assert ledger.find_suspended("shared:7", tenant="b", writer=hostile) is None
    assert ledger.pending_approvals(run.run_id, writer=hostile) == []
    with pytest.raises(ledger.RunNotFound):
        ledger.resume(run.run_id, writer=hostile)
    for statement in ("SELECT * FROM ledger_suspended_runs",):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute(statement)
    assert conn.execute("SELECT * FROM ledger_run_resume_point(%s)", (run.run_id,)).fetchall() \
        == []
    assert conn.execute("SELECT ledger_suspended_run('agent-ledger.local/b', 'shared:7')"
                        ).fetchone() == (None,)
    assert conn.execute("SELECT * FROM ledger_run_approvals(%s)", (run.run_id,)
                        ).fetchall() == []
    assert [p.approval_id for p in ledger.pending_approvals(run.run_id)] == [approval_id]


@pytest.mark.parametrize("forged", ["run.resumed", "run.suspended", "run.ended"])
def test_a_forged_continuation_of_tenant_bs_run_is_rejected_by_the_tenant_rule(
    writer: Writer, writer_a: tuple[Writer, psycopg.Connection],
    ledger_conn: psycopg.Connection, ledger_settings: Settings, forged: str,
) -> None:
    run, _ = _b_suspended(writer)
    head = stored(ledger_conn, run.run_id)[-1]
    data: dict[str, Any] = {"run.resumed": {"resume_key": "shared:7"},
                            "run.suspended": {"resume_key": "stolen:1"},
                            "run.ended": {"status": "abandoned", "event_count": 4}}[forged]
    event = make_event(forged, run_id=run.run_id, run_seq=head.run_seq + 1, tenant="a",
                       prev_run_hash=leaf_hash(encode_event(head)).hex(), data=data)
    _, conn = writer_a
    submit(conn, [event], Settings(home=ledger_settings.home, tenant="a"))
    try_sequence(ledger_conn, ledger_settings)
    reasons = ledger_conn.execute("SELECT event_id, reason FROM ledger_rejects").fetchall()
    role = conn.info.user
    expected = (f"run.ended (abandoned) from writer role {role!r} refused: only `ledger serve` "
                "ends a run as abandoned") if forged == "run.ended" else (
        f"run {run.run_id} belongs to another log: tenant 'a' cannot add to it")
    assert reasons == [(event.event_id, expected)]
    assert [e.type for e in stored(ledger_conn, run.run_id)][-1] == "run.suspended"
    assert ledger.find_suspended("shared:7", tenant="b") == run.run_id
    assert ledger.find_suspended("stolen:1", tenant="a") is None
