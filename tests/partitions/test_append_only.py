"""Append-only and privileges hold on the parents AND directly on every partition: the owner is
refused UPDATE/DELETE/TRUNCATE by the triggers (cloned or created per partition), the sequencer
and writers by their privileges; writers cannot read or insert any partition."""

from __future__ import annotations

import psycopg
import pytest

from ledger.config import Settings
from tests.partitions.partkit import TABLES, fill, partitions, role, writer

pytestmark = pytest.mark.xdist_group("partitions")

GUARDED = ("ledger_events", "ledger_checkpoints")  # the tables with append-only triggers
REFUSED = "append-only"


def _targets(conn: psycopg.Connection, tables: tuple[str, ...]) -> list[str]:
    return [name for table in tables for name in (table, *partitions(conn, table))]


@pytest.fixture
def layout(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> psycopg.Connection:
    """Default and own partitions (tiny ranges: several range partitions), with rows."""
    from ledger.partitions import add_tenant

    add_tenant(ledger_conn, ledger_settings, "acme", own=True, range_size=4)
    fill(ledger_conn, ledger_settings, {"acme": 2, "default": 1})
    return ledger_conn


def _refused(conn: psycopg.Connection, statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=REFUSED):
        with conn.transaction():
            conn.execute(statement)


def test_owner_is_refused_update_delete_truncate_everywhere(layout: psycopg.Connection) -> None:
    with_rows = 0
    for table in GUARDED:
        for name in (table, *partitions(layout, table)):
            _refused(layout, f"TRUNCATE {name}")
            enabled = layout.execute(
                "SELECT tgenabled FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s",
                (name, f"{table}_append_only")).fetchone()
            assert enabled == ("O",), name  # an empty partition fires no row trigger: it is there
            if layout.execute(f"SELECT EXISTS (SELECT 1 FROM {name})").fetchone() == (True,):
                with_rows += 1
                _refused(layout, f"UPDATE {name} SET origin = origin")
                _refused(layout, f"DELETE FROM {name}")
    assert with_rows >= 8  # parents, list partitions and several range partitions


def test_sequencer_role_cannot_change_any_partition(layout: psycopg.Connection) -> None:
    targets = _targets(layout, TABLES)
    with role(layout, "ledger_sequencer"):
        for name in targets:
            is_parent = name in TABLES
            for statement in (f"UPDATE {name} SET origin = origin WHERE false",
                              f"DELETE FROM {name} WHERE false", f"TRUNCATE {name}"):
                if is_parent and name == "ledger_tiles" and statement.startswith("UPDATE"):
                    continue  # partial tiles grow in place (as before 0026)
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with layout.transaction():
                        layout.execute(statement)
            if not is_parent:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with layout.transaction():
                        layout.execute(f"SELECT 1 FROM {name} LIMIT 1")


def test_writer_cannot_select_or_insert_any_partition(
    layout: psycopg.Connection, ledger_settings: Settings
) -> None:
    targets = [n for n in _targets(layout, TABLES) if n not in TABLES]
    with writer(layout, ledger_settings, "acme") as acme, \
            psycopg.connect(acme.dsn or "", autocommit=True) as conn:
        for name in targets:
            for statement in (f"SELECT 1 FROM {name} LIMIT 1",
                              f"INSERT INTO {name} SELECT * FROM {name} WHERE false",
                              f"UPDATE {name} SET origin = origin WHERE false",
                              f"TRUNCATE {name}"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission"):
                    conn.execute(statement)  # type: ignore[call-overload]
        for statement in ("SELECT 1 FROM ledger_event_keys", "SELECT 1 FROM ledger_partitions",
                          "SELECT ledger_ensure_ranges('agent-ledger.local/acme', 100)",
                          "SELECT ledger_detach_tenant('agent-ledger.local/acme')",
                          "SELECT ledger_own_partition('agent-ledger.local/x', 'x', 4)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission"):
                conn.execute(statement)  # type: ignore[call-overload]
