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
