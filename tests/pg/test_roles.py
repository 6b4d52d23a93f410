"""Append-only tables and least-privilege roles, checked against the real schema.

The triggers refuse UPDATE/DELETE/TRUNCATE even for a superuser (the cryptography is what
catches a determined one); the roles keep writers out of the log and readers read-only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from ledger.config import Settings
from tests.ledgerkit import append, chained_run

TABLES = ("ledger_events", "ledger_checkpoints")


@pytest.fixture
def filled(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> psycopg.Connection:
    append(ledger_conn, ledger_settings, chained_run(1))
    return ledger_conn


def _rows(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {} SET origin = origin",
        "DELETE FROM {}",
        "TRUNCATE {}",
    ],
)
def test_changes_are_refused_even_for_superuser(
    filled: psycopg.Connection, table: str, statement: str
) -> None:
    is_super = filled.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    row = is_super.fetchone()
    assert row is not None and row[0] is True
    before = _rows(filled, table)
    assert before > 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        filled.execute(sql.SQL(statement).format(sql.Identifier(table)))  # type: ignore[arg-type]
    assert _rows(filled, table) == before


def test_roles_exist(ledger_conn: psycopg.Connection) -> None:
    names = {r[0] for r in ledger_conn.execute(
        "SELECT rolname FROM pg_roles WHERE rolname LIKE 'ledger\\_%'").fetchall()}
    assert {"ledger_writer", "ledger_sequencer", "ledger_reader"} <= names


@pytest.fixture
def login_roles(ledger_conn: psycopg.Connection) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:10]
    roles = {"reader": f"t_reader_{suffix}", "writer": f"t_writer_{suffix}"}
    for kind, name in roles.items():
        ledger_conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        ledger_conn.execute(sql.SQL("GRANT {} TO {}").format(
            sql.Identifier(f"ledger_{kind}"), sql.Identifier(name)))
    yield roles
    ledger_conn.execute("RESET ROLE")
    for name in roles.values():
        ledger_conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        ledger_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def _as(conn: psycopg.Connection, role: str) -> None:
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))


def test_reader_can_select_but_not_write(
    filled: psycopg.Connection, login_roles: dict[str, str]
) -> None:
    before = _rows(filled, "ledger_events")
    _as(filled, login_roles["reader"])
    assert _rows(filled, "ledger_events") == before
    assert _rows(filled, "ledger_checkpoints") > 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        filled.execute(
            "INSERT INTO ledger_events (origin, seq, event_id, run_id, run_seq, type, occurred_at,"
            " body, leaf_hash) VALUES ('o', 999, gen_random_uuid(), gen_random_uuid(), 0, 'x',"
            " now(), '\\x00', '\\x00')"
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        filled.execute("UPDATE ledger_events SET type = type")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        filled.execute("SELECT count(*) FROM ledger_intake")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        filled.execute(
            "INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body)"
            " VALUES (gen_random_uuid(), 'o', gen_random_uuid(), 0, '\\x00')"
        )
    filled.execute("RESET ROLE")
    assert _rows(filled, "ledger_events") == before


def test_writer_can_use_intake_but_not_the_log(
    filled: psycopg.Connection, login_roles: dict[str, str]
) -> None:
    before = _rows(filled, "ledger_events")
    _as(filled, login_roles["writer"])
    filled.execute(
        "INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body)"
        " VALUES (gen_random_uuid(), 'o', gen_random_uuid(), 0, '\\x7b7d')"
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        filled.execute(
            "INSERT INTO ledger_events (origin, seq, event_id, run_id, run_seq, type, occurred_at,"
            " body, leaf_hash) VALUES ('o', 999, gen_random_uuid(), gen_random_uuid(), 0, 'x',"
            " now(), '\\x00', '\\x00')"
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        filled.execute("DELETE FROM ledger_intake")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        filled.execute("SELECT body FROM ledger_events")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        filled.execute(
            "INSERT INTO ledger_checkpoints (origin, tree_size, root_hash, note, frontier)"
            " VALUES ('o', 1, '\\x00', 'n', '\\x00')"
        )
    filled.execute("RESET ROLE")
    assert _rows(filled, "ledger_events") == before
    assert _rows(filled, "ledger_intake") == 1
