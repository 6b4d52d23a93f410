"""The tenant-scoped read API (migrations 0010, 0012) attacked by its own callers.

Each hostile caller is a real LOGIN role connecting by password: a writer bound to tenant "a",
a writer bound to tenant "a" and agent "bot", and a reader mapped to tenant "a". Tenant "b" has
a logged event, a pending one and a rejected one; tenant "a" has events of agent "bot" and of
agent "other". What each caller gets back must not change whatever it does in its own session
(temp tables shadowing catalogs or the binding tables) and must never name another tenant's
(or, for an agent-bound writer, another agent's) events, reasons or bindings.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import conninfo, sql

from ledger.config import Settings
from ledger.events import EventBase
from ledger.store.append import submit
from ledger.store.backlog import reject_reasons
from ledger.store.read import receipt_states, run_head
from tests.ledgerkit import append, chained_run

RECEIPTS = "SELECT event_id, state, body IS NOT NULL, reason FROM ledger_receipts(%s)"
SHADOWS = [
    "CREATE TEMP TABLE pg_roles (rolname name, rolsuper boolean)",
    "INSERT INTO pg_temp.pg_roles VALUES (session_user, true)",
    "CREATE TEMP TABLE pg_class (oid oid, relowner oid)",
    "INSERT INTO pg_temp.pg_class SELECT 'public.ledger_events'::regclass::oid, oid"
    " FROM pg_catalog.pg_roles WHERE rolname = session_user",
    "CREATE TEMP TABLE ledger_writer_bindings (role_name name, tenant text, agent text)",
    "INSERT INTO pg_temp.ledger_writer_bindings VALUES (session_user, '*', NULL)",
    "CREATE TEMP TABLE ledger_tenant_roles (role_name name, tenant text)",
    "INSERT INTO pg_temp.ledger_tenant_roles VALUES (session_user, '*')",
    "CREATE TEMP TABLE ledger_rejects (event_id uuid, origin text, body bytea, reason text,"
    " rejected_at timestamptz)",
]


@dataclass
class World:
    """Tenant b's logged, pending and rejected events; tenant a's events of two agents."""

    owner: psycopg.Connection
    b_logged: EventBase
    b_pending: EventBase
    b_rejected: uuid.UUID
    a_bot: EventBase
    a_other: EventBase
    a_other_pending: EventBase
    a_rejected: uuid.UUID
    roles: list[str]

    def login(self, settings: Settings, kind: str, tenant: str, agent: str | None) -> (
            psycopg.Connection):
        """A fresh LOGIN role of `kind` bound (writer) or mapped (reader) to `tenant`."""
        role = f"api_{kind}_{uuid.uuid4().hex[:8]}"
        ident = sql.Identifier(role)
        self.owner.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw' IN ROLE {}").format(
            ident, sql.Identifier(f"ledger_{kind}")))
        self.roles.append(role)
        if kind == "writer":
            self.owner.execute("INSERT INTO ledger_writer_bindings VALUES (%s, %s, %s)",
                               (role, tenant, agent))
        else:
            self.owner.execute("INSERT INTO ledger_tenant_roles VALUES (%s, %s)", (role, tenant))
        dsn = conninfo.make_conninfo(settings.dsn or "", user=role, password="pw")
        return psycopg.connect(dsn, autocommit=True)


def _reject(owner: psycopg.Connection, tenant: str, agent: str) -> uuid.UUID:
    event_id = uuid.uuid4()
    body = f'{{"agent":{{"name":"{agent}"}}}}'.encode()
    owner.execute("INSERT INTO ledger_rejects (intake_id, event_id, origin, body, reason)"
                  " VALUES (0, %s, %s, %s, 'refused: test')",
                  (event_id, f"agent-ledger.local/{tenant}", body))
    return event_id


@pytest.fixture
def world(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> Iterator[World]:
    b_logged = chained_run(1, tenant="b")
    a_bot = chained_run(1, tenant="a", agent={"name": "bot"})
    a_other = chained_run(1, tenant="a", agent={"name": "other"})
    append(ledger_conn, ledger_settings, b_logged + a_bot + a_other)
    b_pending = chained_run(1, tenant="b")
    a_other_pending = chained_run(1, tenant="a", agent={"name": "other"})
    submit(ledger_conn, b_pending + a_other_pending, ledger_settings)
    w = World(ledger_conn, b_logged[0], b_pending[0], _reject(ledger_conn, "b", "bot"),
              a_bot[0], a_other[0], a_other_pending[0], _reject(ledger_conn, "a", "bot"), [])
    try:
        yield w
    finally:
        for role in w.roles:
            ledger_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _sees(conn: psycopg.Connection, w: World) -> dict[str, object]:
    """Everything the read API tells `conn` about tenant b and about tenant a's agents."""
    b_ids = [w.b_logged.event_id, w.b_pending.event_id, w.b_rejected]
    a_ids = [w.a_bot.event_id, w.a_other.event_id, w.a_other_pending.event_id, w.a_rejected]
    return {
        "b_receipts": sorted(r[1:] for r in conn.execute(RECEIPTS, (b_ids,)).fetchall()),
        "b_heads": [run_head(conn, e.run_id) for e in (w.b_logged, w.b_pending)],
        "b_registries": conn.execute(
            "SELECT count(*) FROM ledger_registries('agent-ledger.local/b')").fetchone(),
        "b_reasons": reject_reasons(conn, b_ids),
        "a_states": {k: v.seq is not None for k, v in receipt_states(conn, a_ids).items()},
        "a_other_head": run_head(conn, w.a_other_pending.run_id) is not None,
        "a_reasons": reject_reasons(conn, a_ids),
    }


NOTHING_OF_B = {
    "b_receipts": [("unknown", False, None)] * 3,
    "b_heads": [None, None],
    "b_registries": (0,),
    "b_reasons": {},
}


@pytest.mark.parametrize("kind", ["writer", "reader"])
def test_temp_tables_shadowing_catalogs_change_nothing(
    world: World, ledger_settings: Settings, kind: str
) -> None:
    conn = world.login(ledger_settings, kind, "a", None)
    try:
        before = _sees(conn, world)
        for statement in SHADOWS:
            conn.execute(statement)
        after = _sees(conn, world)
    finally:
        conn.execute("DISCARD TEMP")  # else DROP ROLE races the backend's temp cleanup
        conn.close()
    assert after == before
    assert {k: after[k] for k in NOTHING_OF_B} == NOTHING_OF_B
    assert after["a_states"] == {world.a_bot.event_id: True, world.a_other.event_id: True,
                                 world.a_other_pending.event_id: False}
    assert after["a_other_head"] is True
    assert after["a_reasons"] == {world.a_rejected: "refused: test"}


def test_agent_bound_writer_sees_only_its_agents_events(
    world: World, ledger_settings: Settings
) -> None:
    conn = world.login(ledger_settings, "writer", "a", "bot")
    try:
        seen = _sees(conn, world)
    finally:
        conn.close()
    assert {k: seen[k] for k in NOTHING_OF_B} == NOTHING_OF_B
    assert seen["a_states"] == {world.a_bot.event_id: True}  # agent "other": unknown
    assert seen["a_other_head"] is False
    assert seen["a_reasons"] == {world.a_rejected: "refused: test"}  # its agent's reject


def test_writer_cannot_probe_bindings_or_call_internals(
    world: World, ledger_settings: Settings
) -> None:
    conn = world.login(ledger_settings, "writer", "a", None)
    try:
        with pytest.raises(psycopg.errors.UndefinedFunction):
            conn.execute("SELECT ledger_writer_may_write('x/b', NULL, 'postgres')")
        # the two-argument form answers for the caller's own binding only
        assert conn.execute("SELECT ledger_writer_may_write('x/b', NULL),"
                            " ledger_writer_may_write('x/a', NULL)").fetchone() == (False, True)
        for call in ("ledger_api_visible('x/b', NULL)", "ledger_body_agent('\\x7b7d')",
                     "ledger_visible_origin('x/b', 'postgres')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT {call}")
    finally:
        conn.close()
