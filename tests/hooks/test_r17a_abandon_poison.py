"""Review r17a: a hostile tenant-a agent host poisons its own suspended run so that `ledger
serve`'s abandon pass crashes or stalls for every tenant. The attacker puts bytes straight
into intake with its writer role (a gapped run_seq, so the sequencer holds the row instead of
rejecting it at once): the abandon pass must skip that run with a warning and go on ending
tenant b's idle run; the serve loop must never die of it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

import ledger
from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.hooks.writer import Writer
from ledger.serve_abandon import Abandoner, abandon_idle

from .conftest import stored
from .test_continuity_attacks import writer_a

__all__ = ["writer_a"]

FUTURE = datetime.now(UTC) + timedelta(days=30)
POISON = {
    "json-array": b"[1, 2]",
    "json-string": b'"run.suspended"',
    "not-json": b"\xff\xfe garbage",
    "no-event-id": b'{"type": "tool.call.started"}',
    "event-id-not-text": b'{"type": "run.suspended", "event_id": 7, "data": {"totals": 1}}',
}


def _suspend(agent: str, tenant: str, key: str, writer: Writer | None = None) -> ledger.Run:
    with ledger.run(agent=agent, user="ann", tenant=tenant, writer=writer) as run:
        run.suspend("interrupt", resume_key=key)
    return run


@pytest.mark.parametrize("poison", sorted(POISON))
def test_a_poisoned_head_in_intake_does_not_stop_abandoning_other_tenants_runs(
    writer: Writer, writer_a: tuple[Writer, psycopg.Connection],
    ledger_conn: psycopg.Connection, ledger_settings: Settings, poison: str,
) -> None:
    hostile, conn = writer_a
    mine = _suspend("a-bot", "a", "k:a", hostile)
    assert hostile.flush()
    victim = _suspend("b-bot", "b", "k:b")
    assert writer.flush()
    from ledger.store.sequencer import try_sequence
    try_sequence(ledger_conn, ledger_settings)
    # the poison: a body that is not an event, at a gapped run_seq (held, not rejected at once)
    conn.execute(query("submit_events"), ([uuid.uuid4()], [hostile.settings.origin("a")],
                                          [mine.run_id], [9], [POISON[poison]]))
    ended = abandon_idle(ledger_conn, ledger_settings, 3600, now=FUTURE)
    assert ended == [victim.run_id]
    try_sequence(ledger_conn, ledger_settings)
    end = stored(ledger_conn, victim.run_id)[-1]
    assert (end.type, end.data.status) == ("run.ended", "abandoned")
    # and the serve loop's tick never raises, whatever the attacker keeps in intake
    assert Abandoner(0.01).tick(ledger_conn, ledger_settings) >= 0
