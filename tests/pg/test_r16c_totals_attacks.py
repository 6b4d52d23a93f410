"""Review r16c: hostile-writer attacks on the run totals (migration 0017), from the writer's side.

Each test asserts what SHOULD hold; the ones that fail show a flaw in ledger_run_totals_add.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import psycopg

from tests.pg import test_writer_confinement as wc

confined = wc.confined
A, B = "agent-ledger.local/a", "agent-ledger.local/b"
ADD = "SELECT * FROM ledger_run_totals_add(%s, %s, %s, %s::numeric[], %s, %s)"


def test_writer_cannot_squat_another_tenants_run_id(confined: wc.Confined) -> None:
    """Tenant a's writer adds to a run id of tenant b before b's first delta: the row is then
    owned by origin a, and b's own (honest) additions are refused as "another origin" -- a
    cross-tenant DoS of b's enforced run (its submit statement fails). The run's origin must
    come from the run itself (its run.started in intake/log), not from the caller's claim."""
    w, owner = confined.writer, confined.owner
    b_run = uuid.uuid4()  # a run of tenant b (its id learnt from b's traffic, receipts, ...)
    try:
        w.execute(ADD, ([uuid.uuid4()], [A], [b_run], [Decimal("1000000")], [0], [0]))
    except psycopg.Error:
        w.rollback()
    # tenant b's honest totals must still be addable and readable as b's
    rows = owner.execute(ADD, ([uuid.uuid4()], [B], [b_run], [Decimal("0.01")], [1], [0])
                         ).fetchall()
    assert rows == [(b_run, Decimal("0.01"), 1, 0)]


def test_array_length_mismatch_does_not_leak_other_tenants_totals(
        confined: wc.Confined) -> None:
    """Arrays of unequal length are padded with NULL by unnest: a NULL origin must not pass
    the origin checks and read (or write) another tenant's totals."""
    w, owner = confined.writer, confined.owner
    b_run = uuid.uuid4()
    owner.execute(ADD, ([uuid.uuid4()], [B], [b_run], [Decimal("7.5")], [42], [0]))
    leaked: list[tuple[object, ...]] = []
    try:
        leaked = w.execute(ADD, ([uuid.uuid4()], [], [b_run], [Decimal(0)], [0], [0])
                           ).fetchall()
    except psycopg.Error:
        w.rollback()
    assert leaked == [] or all(r[1:] == (Decimal(0), 0, 0) for r in leaked), leaked


def test_nan_or_infinite_delta_is_refused(confined: wc.Confined) -> None:
    """'NaN' is not < 0 in PostgreSQL numeric: a NaN (or Infinity) delta poisons a run's
    cost_usd forever (every later budget comparison is NaN). Deltas must be finite."""
    w = confined.writer
    for bad in ("NaN", "Infinity"):
        run = uuid.uuid4()
        refused = False
        try:
            w.execute(ADD, ([uuid.uuid4()], [A], [run], [Decimal(bad)], [0], [0])).fetchall()
        except psycopg.Error:
            w.rollback()
            refused = True
        assert refused, f"{bad} delta accepted"


def test_agent_bound_writer_cannot_touch_another_agents_totals(confined: wc.Confined) -> None:
    """A writer bound to tenant a *and agent bot* may write only bot's events (0010); the
    totals API checks the origin only (ledger_api_visible(origin, NULL): body NULL is
    "tenant-wide"), so it reads and inflates the running totals of another agent's run of the
    same tenant -- denying that agent's calls on its budget."""
    from ledger.store.roles import add_writer

    w, owner = confined.writer, confined.owner
    other_run = uuid.uuid4()  # a run of agent "other" in tenant a
    owner.execute(ADD, ([uuid.uuid4()], [A], [other_run], [Decimal("0.5")], [5], [0]))
    add_writer(owner, confined.role, "a", "bot", None)
    assert w.execute("SELECT * FROM ledger_run_totals_of(%s)", (other_run,)).fetchall() == []
    try:
        w.execute(ADD, ([uuid.uuid4()], [A], [other_run], [Decimal("999")], [0], [0]))
    except psycopg.Error:
        w.rollback()
    assert owner.execute("SELECT cost_usd FROM ledger_run_totals WHERE run_id = %s",
                         (other_run,)).fetchone() == (Decimal("0.5"),)


def test_totals_count_only_events_the_writer_actually_submitted(confined: wc.Confined) -> None:
    """0017 says the totals are written only for "the rows it actually inserted", but the
    writer holds EXECUTE on ledger_run_totals_add and calls it with made-up event ids: each
    adds a row to ledger_run_totals_seen (never pruned, shared by every tenant) and moves the
    totals with no event behind them. A 10 000-id call must be refused."""
    w, owner = confined.writer, confined.owner
    run = uuid.uuid4()
    n = 10_000
    before = owner.execute("SELECT count(*) FROM ledger_run_totals_seen").fetchone()
    try:
        w.execute(ADD, ([uuid.uuid4() for _ in range(n)], [A] * n, [run] * n,
                        [Decimal("0.000001")] * n, [1] * n, [0] * n))
    except psycopg.Error:
        w.rollback()
    after = owner.execute("SELECT count(*) FROM ledger_run_totals_seen").fetchone()
    assert after == before, f"{after[0] - before[0]} phantom events remembered"
