"""Tenants: one log per origin in one database; RLS keeps a tenant's reader out of other tenants.

Real LOGIN roles with passwords connect over their own connections. The reader's tenant comes
from ledger_tenant_roles, which a reader cannot modify (a GUC would be settable by the reader).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import conninfo

from ledger.config import Settings
from ledger.verify import trusted_verifiers, verify_ledger
from tests.ledgerkit import append, chained_run


@pytest.fixture
def reader_a(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> Iterator[psycopg.Connection]:
    append(ledger_conn, ledger_settings, chained_run(1, tenant="a") + chained_run(2, tenant="b"))
    append(ledger_conn, ledger_settings, chained_run(1, tenant="a"))
    role = f"reader_a_{uuid.uuid4().hex[:8]}"
    ledger_conn.execute(
        psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw-a' IN ROLE ledger_reader").format(
            psycopg.sql.Identifier(role)
        )
    )
    ledger_conn.execute(
        "INSERT INTO ledger_tenant_roles (role_name, tenant) VALUES (%s, 'a')", (role,)
    )
    dsn = conninfo.make_conninfo(ledger_settings.dsn or "", user=role, password="pw-a")
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()
        ledger_conn.execute(psycopg.sql.SQL("DROP ROLE {}").format(psycopg.sql.Identifier(role)))


def test_each_tenant_has_its_own_log(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    append(ledger_conn, ledger_settings, chained_run(1, tenant="a") + chained_run(2, tenant="b"))
    report = verify_ledger(ledger_conn, ledger_settings)
    assert report.status == "ok"
    assert report.origins == {"agent-ledger.local/a": 4, "agent-ledger.local/b": 6}


def test_reader_sees_only_its_tenant(
    reader_a: psycopg.Connection, ledger_settings: Settings
) -> None:
    assert reader_a.execute("SELECT current_user").fetchone()[0].startswith("reader_a_")  # type: ignore[index]
    origins = reader_a.execute("SELECT DISTINCT origin FROM ledger_events").fetchall()
    assert origins == [("agent-ledger.local/a",)]
    assert reader_a.execute("SELECT count(*) FROM ledger_events").fetchone() == (8,)
    cps = reader_a.execute("SELECT DISTINCT origin FROM ledger_checkpoints").fetchall()
    assert cps == [("agent-ledger.local/a",)]
    assert reader_a.execute(
        "SELECT count(*) FROM ledger_tiles WHERE origin LIKE '%/b'"
    ).fetchone() == (0,)
    # the reader can verify its own tenant's log over its restricted connection
    report = verify_ledger(reader_a, ledger_settings, verifiers=trusted_verifiers(ledger_settings))
    assert (report.status, report.origins) == ("ok", {"agent-ledger.local/a": 8})


def test_reader_cannot_widen_its_view(reader_a: psycopg.Connection) -> None:
    reader_a.execute("SET ledger.tenant = 'b'")
    assert reader_a.execute(
        "SELECT count(*) FROM ledger_events WHERE origin LIKE '%/b'"
    ).fetchone() == (0,)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader_a.execute("INSERT INTO ledger_tenant_roles VALUES (current_user, 'b')")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader_a.execute("SELECT * FROM ledger_tenant_roles")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader_a.execute("ALTER TABLE ledger_events DISABLE ROW LEVEL SECURITY")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader_a.execute("SELECT key FROM ledger_subject_keys")


def test_unmapped_reader_sees_nothing_once_tenants_are_mapped(
    reader_a: psycopg.Connection, ledger_conn: psycopg.Connection
) -> None:
    role = f"reader_x_{uuid.uuid4().hex[:8]}"
    ident = psycopg.sql.Identifier(role)
    ledger_conn.execute(psycopg.sql.SQL("CREATE ROLE {} IN ROLE ledger_reader").format(ident))
    try:
        ledger_conn.execute(psycopg.sql.SQL("SET ROLE {}").format(ident))
        assert ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone() == (0,)
        ledger_conn.execute("RESET ROLE")
        ledger_conn.execute("INSERT INTO ledger_tenant_roles VALUES (%s, '*')", (role,))
        ledger_conn.execute(psycopg.sql.SQL("SET ROLE {}").format(ident))
        assert ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone() == (14,)
    finally:
        ledger_conn.execute("RESET ROLE")
        ledger_conn.execute("DELETE FROM ledger_tenant_roles WHERE role_name = %s", (role,))
        ledger_conn.execute(psycopg.sql.SQL("DROP ROLE {}").format(ident))
