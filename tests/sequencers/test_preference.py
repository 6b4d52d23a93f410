"""`ledger serve --tenant` is a preference that applies (walk 20, finding 2): two real
processes, `--tenant acme` and `--tenant globex`, work arriving one tenant at a time. Whoever
woke first used to keep every lease (renewed each second, idle or not); now the holder that
does not prefer a tenant gives it back at its next renewal once the preferring process lives,
and each tenant ends leased to, and sequenced by, its own process. Asserted from the lease
table, polling with deadlines."""

from __future__ import annotations

import psycopg

from ledger.config import Settings

from .conftest import Fleet, fill, holders, leases, pending, registered, settle, until


def test_each_tenant_moves_to_the_process_that_prefers_it(
    fleet: Fleet, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    g = fleet.start("globex")
    until("globex's serve registered", lambda: registered(ledger_conn) == 1)
    fill(ledger_conn, ledger_settings, ["acme"], runs=2)  # nobody else lives: g takes acme
    until("g leased acme", lambda: g.owns(holders(ledger_conn).get("acme")))
    until("acme drained", lambda: pending(ledger_conn) == 0)

    a = fleet.start("acme")
    until("acme's serve registered", lambda: registered(ledger_conn) == 2)
    # No work for acme: g renews its idle leases each second, but not one a live holder prefers.
    until("g gave acme back", lambda: not g.owns(holders(ledger_conn).get("acme")))

    for _ in range(2):  # work arrives one tenant at a time
        for tenant in ("acme", "globex"):
            fill(ledger_conn, ledger_settings, [tenant], runs=5)
            until(f"{tenant} drained", lambda: pending(ledger_conn) == 0)
    settle(ledger_conn, ledger_settings, {"acme": a, "globex": g})
    rows = leases(ledger_conn)
    assert a.owns(rows["acme"][0]) and rows["acme"][1] >= 1, rows
    assert g.owns(rows["globex"][0]) and rows["globex"][1] >= 1, rows
