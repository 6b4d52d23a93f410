"""Hostile review r16a: what a writer's policy.decided must not do to `ledger serve`'s breakers.

The attacker holds a real LOGIN writer role and INSERTs into intake what it may (policy.decided
is writer-writable, and the sequencer only checks its head). One malformed body must not end
the breakers' thread: good decisions after it must still trip the breaker and stop the scope.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import psycopg
import pytest
from psycopg import conninfo, sql

from ledger.events import to_json
from ledger.store.append import submit
from ledger.store.roles import add_writer
from tests.policy.test_breakers import Served, _decisions, _until, served  # noqa: F401


def _raw(conn: psycopg.Connection, origin: str, body: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body) "
        "VALUES (%s, %s, %s, %s, %s)",
        (body["event_id"], origin, body["run_id"], body["run_seq"], orjson.dumps(body)),
    )


@pytest.mark.parametrize("poison", [
    {"rules": ["deny"]},                                   # a rule that is not an object
    {"rules": [{"id": ["x"], "outcome": "deny"}]},          # an unhashable rule id
    {"rules": {"id": "budgets.max_usd_per_run"}},            # rules an object
])
def test_a_malformed_policy_decided_does_not_end_the_breakers(
    served: Served, poison: dict[str, Any]  # noqa: F811
) -> None:
    served.publish()
    role = f"w_r16a_{uuid.uuid4().hex[:8]}"
    add_writer(served.conn, role, "default", None, "pw")
    dsn = conninfo.make_conninfo(served.settings.dsn or "", user=role, password="pw")
    try:
        with psycopg.connect(dsn, autocommit=True) as writer:
            started, decided = _decisions(1)
            submit(writer, [started], served.settings)
            body = to_json(decided)
            body["data"] = {**body["data"], **poison}
            _raw(writer, served.settings.origin(), body)
        row = _until(lambda: served.conn.execute(
            "SELECT origin, seq FROM ledger_events WHERE event_id = %s",
            (decided.event_id,)).fetchone())  # fmt: skip
        follower = served.plugin.follower
        assert follower is not None
        thread = served.plugin._thread
        assert thread is not None
        # the follower reads past the poison (or its thread died: then it never does)
        _until(lambda: follower.positions.get(row[0], 0) > row[1] or not thread.is_alive(), 5)
        assert thread.is_alive(), "the breakers' thread died on a writer's policy.decided"
        served.write(_decisions(3))  # three real denials: the breaker must still stop
        assert [s.target for s in served.stops()] == ["agent:refunder@1.2"]
    finally:
        served.conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        served.conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


TENANT_PACK = """
policy: {id: breakers-tenant, version: "1"}
budgets: {max_usd_per_run: 1}
breakers: [{rule: budgets.max_usd_per_run, trips: 3, window_seconds: 600, stop: tenant}]
"""


def test_an_agent_confined_writer_cannot_stop_its_whole_tenant_with_forged_decisions(
    served: Served  # noqa: F811
) -> None:
    """A writer bound to agent `refunder` (0010's agent binding: it cannot write for other
    agents) submits three policy.decided that claim a budget denial under a pack hash that is
    not the pack in force and with no cost at all. The breaker must not count claims the pack in
    force would not make: no `tenant:default` stop, which would halt every other agent."""
    from replay.policy import load_pack_text
    from replay.policy.published import publish_policy

    publish_policy(served.conn, served.settings, load_pack_text(TENANT_PACK, "t.yaml"))
    role = f"w_r16a_{uuid.uuid4().hex[:8]}"
    add_writer(served.conn, role, "default", "refunder", "pw")
    dsn = conninfo.make_conninfo(served.settings.dsn or "", user=role, password="pw")
    try:
        with psycopg.connect(dsn, autocommit=True) as writer:
            served.write(_decisions(3), writer)  # pack_hash 'aaaa…', basis empty: forged
        active = [r[0] for r in served.conn.execute(
            "SELECT target FROM ledger_stops WHERE lifted_event_id IS NULL").fetchall()]
        assert active == []
    finally:
        served.conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        served.conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
