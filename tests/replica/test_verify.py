"""`ledger verify` on a hot standby: the same report as on the primary, nothing written there.

Why it can: verify reads in one REPEATABLE READ READ ONLY snapshot, which a standby serves, and
its connection is `read_connection` (never migrated, read-only session), so nothing it does on
connect or after can be a write the standby would refuse.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from ledger.db.connect import read_connection
from ledger.errors import DatabaseUnavailable
from ledger.store.door import append, single_event
from tests.replica.conftest import GROUP, Cli, Replicated

pytestmark = GROUP


def report(result_stdout: str) -> dict[str, object]:
    """The verify report without the backlog (intake is the primary's business)."""
    found = json.loads(result_stdout)
    found.pop("backlog", None)
    return dict(found)


def test_verify_on_the_replica_reports_what_the_primary_does(
    replicated: Replicated, cli: Cli
) -> None:
    replicated.pair.caught_up()
    on_primary = cli("verify", "--json", record=False)
    on_replica = cli("verify", "--json", replica=True)
    by_option = cli("--read-dsn", replicated.pair.dsn("replica"), "verify", record=False)
    assert (on_primary.exit_code, on_replica.exit_code, by_option.exit_code) == (0, 0, 0), (
        on_replica.stderr + by_option.stderr)
    assert report(on_replica.stdout) == report(on_primary.stdout)
    assert report(on_replica.stdout)["status"] == "ok"
    assert sum(report(on_replica.stdout)["origins"].values()) >= 3 * 4  # type: ignore[union-attr]
    assert by_option.stdout.startswith("OK")


def test_a_read_connection_never_migrates(replicated: Replicated, cli: Cli) -> None:
    """An unmigrated database read through the replica is refused with what to do; no DDL is
    tried there (or anywhere): the primary's copy stays empty."""
    pair = replicated.pair
    pair.query("primary", "CREATE DATABASE blank", db="postgres")
    pair.caught_up()
    result = cli("--read-dsn", pair.dsn("replica", "blank"), "verify", record=False)
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines() == [
        "error: the ledger database is at schema version 0, this ledger needs "
        f"{result.stderr.split('needs ')[1].split(':')[0]}: run `ledger db migrate` "
        "(or any command that writes) first"]
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
    assert pair.query("primary", tables, db="blank") == 0
    assert pair.query("replica", tables, db="blank") == 0


def test_a_write_through_the_read_connection_is_never_made(replicated: Replicated) -> None:
    settings = replicated.replica_settings
    event = single_event("annotation", {"kind": "note", "text": "never stored", "author": "t"},
                         tenant="default")  # fmt: skip
    with read_connection(settings) as conn, pytest.raises(
        (psycopg.errors.ReadOnlySqlTransaction, DatabaseUnavailable)
    ):
        append(conn, [event], settings, sequence=False)
    where = f"WHERE event_id = '{event.event_id}'"
    seen = replicated.pair.query("primary", f"SELECT (SELECT count(*) FROM ledger_intake {where})"
                                 f" + (SELECT count(*) FROM ledger_events {where})")  # fmt: skip
    assert seen == 0
