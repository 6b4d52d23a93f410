"""Two real `ledger serve` processes on one database split the tenants, and one takes over
when the other is killed with SIGKILL (issue 20 item 2). Asserted from the lease table (which
process leased which tenant, and for how many batches), never from timing; at the end every
tenant's log is contiguous, runs are in order and `ledger verify` passes."""

from __future__ import annotations

import signal

import psycopg

from ledger.config import Settings
from ledger.merkle import CompactRange

from .conftest import Fleet, fill, holders, leases, pending, registered, settle, until

FIRST = ["t1", "t2"]
SECOND = ["t3", "t4"]


def _log_is_whole(conn: psycopg.Connection, tenant: str) -> int:
    """Contiguous seq from 0, each run in run_seq order, and the newest checkpoint's root is
    the root of the stored leaves (the proofs a client gets are those of one sequencer)."""
    rows = conn.execute("SELECT seq, run_id, run_seq, leaf_hash FROM ledger_events "
                        "WHERE split_part(origin, '/', 2) = %s ORDER BY seq", (tenant,)).fetchall()
    assert [r[0] for r in rows] == list(range(len(rows)))
    last: dict[object, int] = {}
    for _, run_id, run_seq, _ in rows:
        assert run_seq == last.get(run_id, -1) + 1
        last[run_id] = run_seq
    tree = CompactRange()
    tree.append_many([bytes(r[3]) for r in rows])
    head = conn.execute("SELECT tree_size, root_hash FROM ledger_checkpoints WHERE "
                        "split_part(origin, '/', 2) = %s ORDER BY tree_size DESC LIMIT 1",
                        (tenant,)).fetchone()
    assert head is not None
    assert (head[0], bytes(head[1])) == (len(rows), tree.root())
    return len(rows)


def test_two_serves_split_the_tenants_and_one_takes_over_after_kill_9(
    fleet: Fleet, ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: object
) -> None:
    a, b = fleet.start(*FIRST), fleet.start(*SECOND)
    until("both serves registered", lambda: registered(ledger_conn) == 2)
    # Each holds its preferred tenants first (whatever the load did to who woke first)...
    submitted = settle(ledger_conn, ledger_settings, {t: a for t in FIRST} | {t: b for t in SECOND})
    before = leases(ledger_conn)
    submitted += fill(ledger_conn, ledger_settings, FIRST + SECOND, runs=20)

    # ...then both sequence at once, each its own: the same leases (same holder, same
    # acquired_at, lease intervals overlapping) ran more batches. The lease table says it.
    until("intake drained", lambda: pending(ledger_conn) == 0)
    after = leases(ledger_conn)
    for t in FIRST + SECOND:
        assert (after[t][0], after[t][2]) == (before[t][0], before[t][2]), (t, before, after)
        assert after[t][1] > before[t][1], (t, before, after)
    assert after["t1"][2] < after["t3"][3] and after["t3"][2] < after["t1"][3], after

    # b stops answering while its tenants have work; a may not take them while b's lease runs.
    b.proc.send_signal(signal.SIGSTOP)
    submitted += fill(ledger_conn, ledger_settings, FIRST + SECOND, runs=5)
    assert pending(ledger_conn, SECOND) > 0
    b.proc.send_signal(signal.SIGKILL)  # a real kill -9: no clean exit, no lease given back
    assert b.proc.wait(timeout=30) == -signal.SIGKILL

    until("a took over b's tenants", lambda: all(
        a.owns(holders(ledger_conn).get(t)) for t in SECOND))
    until("everything sequenced", lambda: pending(ledger_conn) == 0)
    assert sum(_log_is_whole(ledger_conn, t) for t in FIRST + SECOND) == submitted
    result = cli("verify")  # type: ignore[operator]
    assert result.exit_code == 0, result.stderr


def test_a_clean_exit_gives_the_leases_back_at_once(
    fleet: Fleet, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    a = fleet.start(*FIRST)
    until("a registered", lambda: registered(ledger_conn) == 1)
    fill(ledger_conn, ledger_settings, FIRST, runs=2)
    until("a leased its tenants", lambda: all(a.owns(holders(ledger_conn).get(t))
                                                  for t in FIRST))
    a.proc.send_signal(signal.SIGTERM)
    assert a.proc.wait(timeout=30) == 0
    assert holders(ledger_conn) == {}
    assert registered(ledger_conn) == 0
