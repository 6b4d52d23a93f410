"""Seq range partitions: made ahead of every COPY (never a row in a DEFAULT range partition),
across many boundaries with a tiny range size; own partitions for a new and an existing tenant."""

from __future__ import annotations

import json

import psycopg
import pytest

from ledger.config import Settings
from ledger.db.connect import connect
from tests.ledgerkit import append, chained_run
from tests.partitions.conftest import Main
from tests.partitions.partkit import figures, fill

pytestmark = pytest.mark.xdist_group("partitions")


def _rest(conn: psycopg.Connection, events_table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {events_table}_rest").fetchone()[0])  # type: ignore[index]


def _contiguous(conn: psycopg.Connection, origin: str, size: int) -> None:
    from ledger.store.partitions import seq_ranges

    ranges = seq_ranges(conn, origin)
    assert [r.lo for r in ranges] == [i * size for i in range(len(ranges))]
    assert all(r.hi == r.lo + size and r.attached for r in ranges)
    top = conn.execute("SELECT max(seq) FROM ledger_events WHERE origin = %s", (origin,)).fetchone()
    assert ranges[-1].hi > top[0] + size - 1  # type: ignore[index]  # one spare range ahead


def test_many_range_boundaries_in_small_and_large_batches(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, main: Main
) -> None:
    done = main("tenants", "add", "acme", "--own-partition", "--range-size", "3", "--json")
    assert done.exit_code == 0, done.stderr
    origin = json.loads(done.stdout)["origin"]
    for _ in range(3):  # one run (6 events) per batch: each batch crosses a boundary
        append(ledger_conn, ledger_settings, chained_run(2, tenant="acme"))
    big = [e for _ in range(8) for e in chained_run(2, tenant="acme")]
    append(ledger_conn, ledger_settings, big)  # one batch over 16 boundaries
    table = ledger_conn.execute("SELECT 'ledger_events_' || suffix FROM ledger_partitions "
                                "WHERE origin = %s", (origin,)).fetchone()[0]  # type: ignore[index]
    assert _rest(ledger_conn, table) == 0
    _contiguous(ledger_conn, origin, 3)
    report = figures(ledger_conn, ledger_settings)
    assert report["origins"][origin] == 1 + 3 * 6 + 8 * 6  # partition.created + the runs
    listed = main("tenants", "list", "--json")
    row = next(r for r in json.loads(listed.stdout) if r["tenant"] == "acme")
    assert row["own_partition"] and row["rows"] == 67 and len(row["ranges"]) >= 23


def test_existing_tenant_moves_to_its_own_partition(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, main: Main
) -> None:
    fill(ledger_conn, ledger_settings, {"globex": 2, "default": 1})
    before = figures(ledger_conn, ledger_settings)
    origin = ledger_settings.origin("globex")
    done = main("tenants", "add", "globex", "--own-partition", "--range-size", "4")
    assert done.exit_code == 0, done.stderr
    assert f", {before['origins'][origin]} events moved; recorded: asserted (" in done.stdout
    after = figures(ledger_conn, ledger_settings)
    assert set(before["checkpoints"]) <= set(after["checkpoints"])  # every root, every note
    assert after["origins"] == {**before["origins"], origin: before["origins"][origin] + 1}
    assert ledger_conn.execute("SELECT count(*) FROM ledger_events_default WHERE origin = %s",
                               (origin,)).fetchone() == (0,)
    for table in ("ledger_tiles", "ledger_checkpoints"):
        assert ledger_conn.execute(f"SELECT count(*) FROM {table}_default WHERE origin = %s",
                                   (origin,)).fetchone() == (0,)
    _contiguous(ledger_conn, origin, 4)
    again = main("tenants", "add", "globex", "--own-partition")
    assert (again.exit_code, again.stderr.strip()) == (
        1, "error: tenant globex already has its own partition (ranges of 4)")
    plain = main("tenants", "add", "globex")  # the catalog's state, not the request's
    assert (plain.exit_code, plain.stdout) == (0, (
        f"tenant globex ({origin}): already has its own partition (ranges of 4)\n"))


def test_a_stale_bound_puts_rows_in_rest_and_the_next_range_moves_them(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    from ledger.partitions import add_tenant
    from ledger.store.partitions import ensure_ranges

    fill(ledger_conn, ledger_settings, {"initech": 1})  # this connection caches DEFAULT's bound
    with connect(ledger_settings) as other:  # another process gives it tiny ranges of its own
        add_tenant(other, ledger_settings, "initech", own=True, range_size=2)
    origin = ledger_settings.origin("initech")
    append(ledger_conn, ledger_settings, chained_run(4, tenant="initech"))
    table = ledger_conn.execute("SELECT 'ledger_events_' || suffix FROM ledger_partitions "
                                "WHERE origin = %s", (origin,)).fetchone()[0]  # type: ignore[index]
    assert _rest(ledger_conn, table) > 0  # the stale cache skipped ensure_ranges
    with connect(ledger_settings) as fresh:
        top = fresh.execute("SELECT max(seq) FROM ledger_events WHERE origin = %s",
                            (origin,)).fetchone()[0]  # type: ignore[index]
        ensure_ranges(fresh, origin, top)
    assert _rest(ledger_conn, table) == 0
    _contiguous(ledger_conn, origin, 2)
    figures(ledger_conn, ledger_settings)  # verifies
