"""Review r17a: a hostile tenant-a agent host keeps bytes that are not JSON in intake (a
gapped run_seq: the sequencer holds such a row up to LEDGER_HELD_MAX_AGE). The continuity read
API parses intake bodies; one garbage row must not make find_suspended / resume /
pending_approvals fail, neither for tenant b nor for tenant a's other agent hosts."""

from __future__ import annotations

import uuid

import psycopg

import ledger
from ledger.db.sqlfiles import query
from ledger.hooks.writer import Writer

from .test_continuity_attacks import writer_a

__all__ = ["writer_a"]


def _waiting(tenant: str, key: str, writer: Writer | None = None) -> tuple[ledger.Run, str]:
    with ledger.run(agent="bot", user="ann", tenant=tenant, writer=writer) as run:
        approval = run.request_approval({"id": "c1", "name": "wire", "args": {"usd": "9"}})
        run.suspend("approval", resume_key=key, pending=[approval.approval_id])
    return run, approval.approval_id


def test_garbage_in_intake_does_not_halt_continuity_reads(
    writer: Writer, writer_a: tuple[Writer, psycopg.Connection]
) -> None:
    hostile, conn = writer_a
    b_run, b_approval = _waiting("b", "k:b")
    a_run, a_approval = _waiting("a", "k:a", hostile)
    assert writer.flush() and hostile.flush()
    for body in (b"\xff\xfe not utf-8", b"{not json", b"\x00"):
        conn.execute(query("submit_events"), ([uuid.uuid4()], [hostile.settings.origin("a")],
                                              [uuid.uuid4()], [5], [body]))
    assert ledger.find_suspended("k:b", tenant="b") == b_run.run_id
    assert [p.approval_id for p in ledger.pending_approvals(b_run.run_id)] == [b_approval]
    # tenant a's honest hosts (same tenant, another run) still find and resume their runs
    assert ledger.find_suspended("k:a", writer=hostile) == a_run.run_id
    assert [p.approval_id for p in ledger.pending_approvals(a_run.run_id, writer=hostile)
            ] == [a_approval]
    with ledger.resume(a_run.run_id, writer=hostile) as resumed:
        assert resumed.run_id == a_run.run_id
