"""Detaching: a finished tenant (recorded first, refused while intake holds its events, verify
still OK for the rest) and whole seq ranges of a tenant's own partition (contract 1)."""

from __future__ import annotations

import json

import psycopg
import pytest

from ledger.config import Settings
from ledger.store.append import submit
from tests.ledgerkit import append, chained_run
from tests.partitions.conftest import Main
from tests.partitions.partkit import figures, fill

pytestmark = pytest.mark.xdist_group("partitions")


def test_detach_a_finished_tenant(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, main: Main
) -> None:
    assert main("tenants", "add", "acme", "--own-partition").exit_code == 0
    fill(ledger_conn, ledger_settings, {"acme": 1, "globex": 1})
    submit(ledger_conn, chained_run(1, tenant="acme"), ledger_settings)  # not sequenced yet
    refused = main("tenants", "detach", "acme", "--reason", "contract ended")
    assert (refused.exit_code, refused.stderr.strip()) == (1, (
        "error: intake still holds 4 events of acme: sequence or reject them first "
        "(ledger serve)"))
    append(ledger_conn, ledger_settings, [])
    size = figures(ledger_conn, ledger_settings)["origins"][ledger_settings.origin("acme")]
    done = main("tenants", "detach", "acme", "--reason", "contract ended", "--json")
    assert done.exit_code == 0, done.stderr
    detached = json.loads(done.stdout)
    assert detached["size"] == size + 1  # the partition.detached record is its last event
    events = next(t for t in detached["tables"] if t.startswith("ledger_events_"))
    last = ledger_conn.execute(f"SELECT type, seq FROM {events} ORDER BY seq DESC LIMIT 1")
    assert last.fetchone() == ("partition.detached", size)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        ledger_conn.execute(f"DELETE FROM {events}")  # still append-only, outside the log
    after = figures(ledger_conn, ledger_settings)  # verifies what is left
    assert set(after["origins"]) == {ledger_settings.origin("globex")}
    verify = main("verify")
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    listed = {r["tenant"]: r for r in json.loads(main("tenants", "list", "--json").stdout)}
    assert listed["acme"]["detached_at"] and listed["globex"]["own_partition"] is False
    again = main("tenants", "detach", "acme", "--reason", "twice")
    assert (again.exit_code, again.stderr.strip()) == (1, (
        "error: tenant acme has no attached partition of its own "
        "(give it one first: ledger tenants add acme --own-partition)"))


def test_detach_range_takes_whole_old_partitions_only(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    from ledger.partitions import add_tenant, detach_seq_range
    from ledger.store.partitions import PartitionError, detach_range, seq_ranges

    add_tenant(ledger_conn, ledger_settings, "acme", own=True, range_size=4)
    fill(ledger_conn, ledger_settings, {"acme": 2, "globex": 1})  # acme: 25 events
    acme, globex = ledger_settings.origin("acme"), ledger_settings.origin("globex")
    for lo, hi, origin, message in [
        (0, 6, acme, "range [0, 6) is not covered exactly by whole partitions"),
        (2, 8, acme, "range [2, 8) is not covered exactly by whole partitions"),
        (20, 28, acme, "range [20, 28) holds the newest checkpoint's tail (seq 24)"),
        (0, 4, globex, "origin agent-ledger.local/globex has no partition of its own: ranges "
                       "of the shared DEFAULT partition hold other tenants' events"),
    ]:
        with pytest.raises(PartitionError) as refused:
            detach_range(ledger_conn, origin, lo, hi, drop=False)
        assert str(refused.value) == message
    with pytest.raises(PartitionError, match=r"range \[2, 8\) is not covered exactly"):
        detach_seq_range(ledger_conn, ledger_settings, "acme", 2, 8, drop=False)
    done = detach_seq_range(ledger_conn, ledger_settings, "acme", 0, 8, drop=False,
                            reason="archived")
    tables = list(done.tables)
    assert len(tables) == 2 and done.authority.startswith("asserted (")
    body = ledger_conn.execute("SELECT type, body FROM ledger_events WHERE event_id = %s",
                               (done.event_id,)).fetchone()
    assert body is not None and body[0] == "partition.detached"
    assert json.loads(bytes(body[1]))["data"]["seq_to"] == 8
    dropped = detach_range(ledger_conn, acme, 8, 12, drop=True)
    ranges = seq_ranges(ledger_conn, acme)
    assert [(r.lo, r.hi, r.attached) for r in ranges[:3]] == [
        (0, 8, False), (8, 12, False), (12, 16, True)]
    assert ledger_conn.execute("SELECT min(seq) FROM ledger_events WHERE origin = %s",
                               (acme,)).fetchone() == (12,)
    assert ledger_conn.execute("SELECT to_regclass(%s)", (dropped[0],)).fetchone() == (None,)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        ledger_conn.execute(f"DELETE FROM {tables[0]}")
