"""Production roles: bind a writer credential to one tenant (and optionally one agent).

The binding lives in `ledger_writer_bindings` (migration 0010), which only the table owner can
change, and RLS checks every intake and payload row a writer inserts against it: the client
cannot widen its own scope. Creating a LOGIN role needs CREATEROLE (the operator's or owner's
connection); binding an existing role needs only ownership of the binding table.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from ledger.db.sqlfiles import query

__all__ = ["add_writer"]


def _ddl(name: str, role: str, password: str | None = None) -> sql.Composed:
    return sql.SQL(query(name)).format(role=sql.Identifier(role), password=sql.Literal(password))


def add_writer(
    conn: psycopg.Connection, role: str, tenant: str, agent: str | None, password: str | None
) -> list[str]:
    """Create (or reuse) a LOGIN role, make it a ledger_writer and bind it; say what was done."""
    done: list[str] = []
    with conn.transaction():
        row = conn.execute(query("role_exists"), (role,)).fetchone()
        if row is None and password is not None:
            conn.execute(_ddl("create_login_role_password", role, password))
            done.append(f"created LOGIN role {role} (with password)")
        elif row is None:
            conn.execute(_ddl("create_login_role", role))
            done.append(f"created LOGIN role {role} (no password: set one or use peer/cert auth)")
        else:
            done.append(f"role {role} exists" + ("" if row[0] else " (NOLOGIN)"))
        conn.execute(_ddl("grant_writer", role))
        done.append(f"granted ledger_writer to {role}")
        bound = conn.execute(query("bind_writer"), (role, tenant, agent)).fetchone()
        scope = f"tenant {tenant}" + (f", agent {agent}" if agent else "")
        verb = "re-bound" if bound and bound[0] else "bound"
        done.append(f"{verb} {role} to {scope}: it may insert only that tenant's events")
    return done
