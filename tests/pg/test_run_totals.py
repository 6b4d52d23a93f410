"""Running totals of enforced runs (issue 16, migration 0017), from the hostile writer's side.

The totals are what a budget decides on before a call, so a writer (the agent host's
credential) must not be able to lower them, write another tenant's, or count an event twice;
it adds only through the submit statement's SECURITY DEFINER function and reads through the
tenant-scoped read API.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import psycopg
import pytest

from ledger.store.append import encode_for_intake, submit_encoded
from ledger.store.sequencer import try_sequence
from tests.ledgerkit import chained_run
from tests.pg import test_writer_confinement as wc

confined = wc.confined  # the LOGIN writer bound to tenant "a" (and tenant b's log)
A, B = "agent-ledger.local/a", "agent-ledger.local/b"
ADD = "SELECT * FROM ledger_run_totals_add(%s, %s, %s, %s::numeric[], %s, %s)"


def _add(conn: psycopg.Connection, origin: str, run: uuid.UUID, cost: str, tokens: int,
         unknown: int, event: uuid.UUID | None = None) -> list[tuple[object, ...]]:
    return conn.execute(ADD, ([event or uuid.uuid4()], [origin], [run], [Decimal(cost)],
                              [tokens], [unknown])).fetchall()


def test_writer_adds_only_its_own_positive_deltas_once(confined: wc.Confined) -> None:
    w = confined.writer
    item = encode_for_intake(chained_run(1, tenant="a")[0], confined.writer_settings)
    submit_encoded(w, [item])  # an event the writer really submitted (still in intake)
    run, event = item.run_id, item.event_id
    assert _add(w, A, run, "0.25", 10, 1, event) == [(run, Decimal("0.25"), 10, 1)]
    assert _add(w, A, run, "0.25", 10, 1, event) == [(run, Decimal("0.25"), 10, 1)]  # once
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="negative delta"):
        _add(w, A, run, "-0.25", 0, 0, event)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not submitted by"):
        _add(w, A, run, "0.25", 10, 1)  # no event behind the delta (r16c)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not writable"):
        _add(w, B, uuid.uuid4(), "1", 1, 0)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        w.execute("UPDATE ledger_run_totals SET cost_usd = 0")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        w.execute("SELECT * FROM ledger_run_totals")
    b_run = uuid.uuid4()
    _add(confined.owner, B, b_run, "3", 3, 0)
    assert w.execute("SELECT * FROM ledger_run_totals_of(%s)", (b_run,)).fetchall() == []
    assert w.execute("SELECT * FROM ledger_run_totals_of(%s)", (run,)).fetchall() == [
        (Decimal("0.25"), 10, 1)]
    # a run id claimed in another origin is a separate row: b's run keeps its own totals (r16c)
    assert _add(confined.owner, A, b_run, "1", 1, 0) == [(b_run, Decimal("1"), 1, 0)]
    assert _add(confined.owner, B, b_run, "0", 0, 0) == [(b_run, Decimal("3"), 3, 0)]


def test_submit_counts_inserted_events_once(confined: wc.Confined) -> None:
    events = chained_run(2, tenant="a")
    items = [encode_for_intake(e, confined.writer_settings) for e in events]
    tracked = [type(i)(i.event_id, i.origin, i.run_id, i.run_seq, i.body,
                       (Decimal("0.5"), 7, 0)) for i in items]
    n = len(items)
    assert len({i.run_id for i in items}) == 1
    first = submit_encoded(confined.writer, tracked)
    assert [r.run_totals for r in first] == [(Decimal("0.5") * n, 7 * n, 0)] * n
    again = submit_encoded(confined.writer, tracked)  # a retry after a lost ack
    assert [r.duplicate for r in again] == [True] * n
    assert again[0].run_totals == (Decimal("0.5") * n, 7 * n, 0)  # not counted twice


def test_agent_bound_writer_counts_and_reads_its_own_run(confined: wc.Confined) -> None:
    """The honest path under an agent binding (r16c): the row takes the agent its events name,
    the bound writer adds and reads it, and a writer bound to another agent sees nothing."""
    from ledger.store.roles import add_writer

    agent = "bot"
    items = [encode_for_intake(e, confined.writer_settings)
             for e in chained_run(1, tenant="a", agent={"name": agent})]
    add_writer(confined.owner, confined.role, "a", agent, None)
    tracked = [type(i)(i.event_id, i.origin, i.run_id, i.run_seq, i.body,
                       (Decimal("0.5"), 7, 0)) for i in items]
    n = len(items)
    receipts = submit_encoded(confined.writer, tracked)
    assert [r.run_totals for r in receipts] == [(Decimal("0.5") * n, 7 * n, 0)] * n
    of = "SELECT * FROM ledger_run_totals_of(%s)"
    run = items[0].run_id
    assert confined.writer.execute(of, (run,)).fetchall() == [(Decimal("0.5") * n, 7 * n, 0)]
    add_writer(confined.owner, confined.role, "a", agent + "-other", None)
    assert confined.writer.execute(of, (run,)).fetchall() == []


def test_sequenced_events_leave_the_seen_set_and_still_count_once(confined: wc.Confined) -> None:
    """The seen-set holds only events still in intake (r16c): once sequenced, an event never
    reaches intake again (the submit statement skips logged ids, a writer's delta needs its
    intake row), so the next add of the run prunes it and a retry still adds nothing."""
    items = [encode_for_intake(e, confined.writer_settings) for e in chained_run(1, tenant="a")]
    tracked = [type(i)(i.event_id, i.origin, i.run_id, i.run_seq, i.body,
                       (Decimal("1"), 1, 0)) for i in items]
    n, run = len(items), items[0].run_id
    submit_encoded(confined.writer, tracked)
    seen = "SELECT count(*) FROM ledger_run_totals_seen WHERE run_id = %s"
    assert confined.owner.execute(seen, (run,)).fetchone() == (n,)
    try_sequence(confined.owner, confined.settings, wait=True)
    again = submit_encoded(confined.writer, tracked)  # a retry after the events were logged
    assert again[0].run_totals == (Decimal(n), n, 0)
    assert confined.owner.execute(seen, (run,)).fetchone() == (0,)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not submitted by"):
        _add(confined.writer, A, run, "1", 1, 0, items[0].event_id)  # logged: not intake
