"""Circuit breakers in `ledger serve` (replay.policy.breakers), on a real PostgreSQL.

The real `serve` loop runs in a thread with the real plug-in (found through the
`agent_ledger.serve` entry point). Decisions are written as an agent's run through the real
write path (submit, then the serving sequencer orders them). Three denials of
`budgets.max_usd_per_run` by one agent@version within the window stop `agent:NAME@VERSION`
once, `asserted` on a fresh ledger; `ledger resume` lifts it and the window starts over; two
trips, or trips further apart than the window, stop nothing; a writer cannot forge the stop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql

from ledger.config import Settings
from ledger.db.connect import connect
from ledger.events import EventBase, args_hash, leaf_hash, make_event
from ledger.keys import load_or_create_signer
from ledger.serve import installed_plugins, serve
from ledger.service_key import create_service_key
from ledger.stops import active_stops
from ledger.store.append import encode_for_intake, submit
from ledger.store.breakers import try_lead
from ledger.store.door import single_event
from ledger.store.roles import add_writer
from replay.policy import load_pack_text
from replay.policy.breakers import Breakers
from replay.policy.published import publish_policy
from tests.registrykit import Authority

RULE = "budgets.max_usd_per_run"
AGENT, VERSION = "refunder", "1.2"
TARGET = f"agent:{AGENT}@{VERSION}"
LEDGER_BIN = str(Path(sys.executable).with_name("ledger"))
PACK = f"""
policy: {{id: breakers, version: "1"}}
mode: enforce
budgets: {{max_usd_per_run: 1}}
breakers: [{{rule: {RULE}, trips: 3, window_seconds: WINDOW, stop: agent_version}}]
"""


def _pack_hash(window: float = 600) -> str:
    """The content address of PACK with this window: decisions name the pack in force."""
    return load_pack_text(PACK.replace("WINDOW", f"{window:g}"), "breakers.yaml").policy_hash


PACK_HASH = _pack_hash()


def _until(what: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll `what` until it is truthy (condition polling with a deadline, never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while not (got := what()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
    return got


def _decisions(
    n: int, *, tenant: str = "default", outcome: str = "deny", rule: str = RULE,
    pack_hash: str = PACK_HASH, cost_usd: str = "5", agent_name: str = AGENT,
) -> list[EventBase]:
    """An agent's run: run.started and `n` pre-call decisions naming the budget rule, under
    the pack in force and with a basis over budget (the breakers re-evaluate each claim)."""
    run_id, events, prev = uuid.uuid4(), [], None
    agent = {"name": agent_name, "version": VERSION}
    settings = Settings(home=__import__("pathlib").Path("/nonexistent"))
    for i in range(n + 1):
        data: dict[str, Any] = {"task": "refunds"} if i == 0 else {
            "tool_call_id": f"t{i}", "tool": "refund", "args_hash": args_hash({"i": i}),
            "decision": outcome, "mode": "enforce", "pack_hash": pack_hash, "evaluator": "test",
            "basis": {"cost_usd": cost_usd},
            "rules": [] if outcome == "allow" else [
                {"id": rule, "outcome": outcome, "reason": "over budget"}],
        }  # fmt: skip
        kind = "run.started" if i == 0 else "policy.decided"
        event = make_event(kind, run_id=run_id, run_seq=i, prev_run_hash=prev, data=data,
                           tenant=tenant, agent=agent)  # fmt: skip
        prev = leaf_hash(encode_for_intake(event, settings).body).hex()
        events.append(event)
    return events


class Served:
    """The ledger, its serving thread and the breakers plug-in."""

    def __init__(self, conn: psycopg.Connection, settings: Settings, plugin: Breakers) -> None:
        self.conn, self.settings, self.plugin = conn, settings, plugin
        self.pack_hash = PACK_HASH

    def publish(self, window: float = 600) -> None:
        pack = load_pack_text(PACK.replace("WINDOW", f"{window:g}"), "breakers.yaml")
        publish_policy(self.conn, self.settings, pack)
        self.pack_hash = pack.policy_hash

    def write(self, events: list[EventBase], conn: psycopg.Connection | None = None) -> None:
        """Submit, then wait until the breakers have read past the last decision."""
        submit(conn or self.conn, events, self.settings)
        last = events[-1].event_id
        row = _until(lambda: self.conn.execute(
            "SELECT origin, seq FROM ledger_events WHERE event_id = %s", (last,)).fetchone())
        follower = self.plugin.follower
        assert follower is not None
        _until(lambda: follower.positions.get(row[0], 0) > row[1])

    def stops(self) -> list[Any]:
        return [s for s in active_stops(self.conn, self.settings) if s.target == TARGET]


@contextmanager
def _serving(conn: psycopg.Connection, settings: Settings) -> Iterator[Served]:
    """The real serve loop in a thread with the installed breakers plug-in, until the block ends."""
    [plugin] = [p for p in installed_plugins() if isinstance(p, Breakers)]
    plugin.poll_seconds = 0.2
    serving, stop = connect(settings), threading.Event()
    thread = threading.Thread(target=serve, args=(serving, settings, stop),
                              kwargs={"plugins": [plugin]}, daemon=True)  # fmt: skip
    thread.start()
    try:
        assert plugin.ready.wait(10)
        yield Served(conn, settings, plugin)
    finally:
        stop.set()
        thread.join(10)
        serving.close()


@pytest.fixture
def served(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> Iterator[Served]:
    with _serving(ledger_conn, ledger_settings) as done:
        yield done


def test_three_denials_stop_the_agent_version_once_and_resume_starts_over(
    served: Served, cli: Any
) -> None:
    served.publish()
    served.write(_decisions(2))
    assert served.stops() == []  # two trips do not stop
    served.write(_decisions(1))
    [stop] = served.stops()
    assert (stop.requested_by, stop.authority) == ("ledger-service", "asserted")
    assert stop.reason == (
        f"breaker {{rule: {RULE}, trips: 3, window_seconds: 600, stop: agent_version}}: "
        f"3 trips of {RULE} within 600 s"
    )
    served.write(_decisions(4))  # in force: no second stop
    assert [s.stop_event_id for s in served.stops()] == [stop.stop_event_id]
    assert served.conn.execute(
        "SELECT count(*) FROM ledger_stops WHERE target = %s", (TARGET,)).fetchone() == (1,)

    res = cli("resume", "--agent", f"{AGENT}@{VERSION}", "--reason", "fixed", "--as", "oncall")
    origin = served.settings.origin("default")
    assert (res.exit_code, res.stdout) == (
        0, f"resumed {TARGET} in {origin} (asserted, unsigned): lifted 1 stop(s)\n")
    assert served.stops() == []
    served.write(_decisions(2))  # the window started over at the lift
    assert served.stops() == []
    # a budget objection is a deny: a require_approval claim of it is not what the pack gives
    # (test_claims_the_pack_in_force_would_not_make_do_not_trip)
    served.write(_decisions(1))
    [again] = served.stops()
    assert again.stop_event_id != stop.stop_event_id


def test_trips_further_apart_than_the_window_do_not_stop(served: Served) -> None:
    served.publish(window=0.3)
    served.write(_decisions(2, pack_hash=served.pack_hash))
    first = served.conn.execute(
        "SELECT max(recorded_at) FROM ledger_events WHERE type = 'policy.decided'").fetchone()
    _until(lambda: served.conn.execute(
        "SELECT now() - %s > interval '0.4 s'", (first[0],)).fetchone()[0])  # fmt: skip
    served.write(_decisions(1, pack_hash=served.pack_hash))
    assert served.stops() == []


def test_allowed_calls_and_other_rules_do_not_trip(served: Served) -> None:
    served.publish()
    served.write(_decisions(3, outcome="allow") + _decisions(3, rule="tools.allow")
                 + _decisions(2))  # fmt: skip
    assert served.stops() == []


def test_claims_the_pack_in_force_would_not_make_do_not_trip(served: Served) -> None:
    """Each decision is the writer's claim: counted only under the pack in force and when the
    shared evaluator gives the same objection from the recorded basis."""
    served.publish()
    served.write(_decisions(3, cost_usd="0")  # under budget: the pack would allow
                 + _decisions(3, outcome="require_approval")  # the pack says deny
                 + _decisions(3, pack_hash="a" * 64))  # another pack  # fmt: skip
    assert served.stops() == []


def test_a_tenant_wide_breaker_needs_trips_from_two_agents(served: Served) -> None:
    """One agent's writer may overstate its own basis and stop itself, never by itself its
    whole tenant: a tenant (or tool) stop needs trips from at least two distinct agents."""
    pack = load_pack_text(PACK.replace("WINDOW", "600").replace("agent_version", "tenant"),
                          "tenant.yaml")  # fmt: skip
    publish_policy(served.conn, served.settings, pack)

    def tenant_stops() -> list[str]:
        return [s.target for s in active_stops(served.conn, served.settings)]

    served.write(_decisions(4, pack_hash=pack.policy_hash))  # one agent, over the count
    assert tenant_stops() == []
    served.write(_decisions(1, pack_hash=pack.policy_hash, agent_name="payer"))
    assert tenant_stops() == ["tenant:default"]


def test_a_writer_cannot_forge_a_breaker_stop(served: Served) -> None:
    role = f"w_brk_{uuid.uuid4().hex[:8]}"
    add_writer(served.conn, role, "default", None, "pw")
    dsn = conninfo.make_conninfo(served.settings.dsn or "", user=role, password="pw")
    forged = single_event("run.stop.requested", {
        "requested_by": "ledger-service", "target": TARGET, "authority": "asserted",
        "reason": f"breaker {{rule: {RULE}, trips: 3}}: 3 trips",
    })  # fmt: skip
    try:
        with psycopg.connect(dsn, autocommit=True) as writer:
            submit(writer, [forged], served.settings)
        reason = _until(lambda: served.conn.execute(
            "SELECT reason FROM ledger_rejects WHERE event_id = %s",
            (forged.event_id,)).fetchone())  # fmt: skip
        assert reason == (
            f"control-plane event run.stop.requested from writer role {role!r} refused: only "
            "ledger_operator roles may write it (no registry-authorised signature)",
        )
        assert served.stops() == []
    finally:
        served.conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _registry(authority: Authority, service_key: str) -> None:
    authority.publish(principals=[authority.person("oncall", "sre")], service_key=service_key,
                      stop=[{"roles": ["sre"], "scopes": ["*"]}],
                      resume=[{"roles": ["sre"], "scopes": ["*"]}])  # fmt: skip


def test_under_a_registry_the_stop_is_signed_with_the_service_key(
    authority: Authority, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    made = cli("keys", "service")
    path = authority.settings.keys_dir / "service.key"
    assert (made.exit_code, made.stderr) == (0, f"created: {path}\n")
    assert made.stdout.startswith("ledger-service+")
    assert (path.stat().st_mode & 0o777) == 0o600
    monkeypatch.setenv("LEDGER_TRUST_ROOT", str(authority.root_file))
    _registry(authority, made.stdout.strip())
    with _serving(authority.conn, authority.settings) as served:
        served.publish()
        served.write(_decisions(3))
        [stop] = served.stops()
    assert (stop.requested_by, stop.authority) == ("ledger-service", "registry")
    body = authority.conn.execute(
        "SELECT convert_from(body, 'UTF8')::jsonb -> 'data' FROM ledger_events "
        "WHERE event_id = %s", (stop.stop_event_id,)).fetchone()[0]  # fmt: skip
    assert (body["scope"], body["signing_key"].split("+")[0]) == ("service", "ledger-service")
    assert body["signature"]


def test_a_key_other_than_the_registrys_service_key_never_signs(
    authority: Authority, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    monkeypatch.setenv("LEDGER_TRUST_ROOT", str(authority.root_file))
    impostor = load_or_create_signer(tmp_path / "other" / "ledger-service.key", "ledger-service")
    _registry(authority, impostor.vkey)  # the registry lists another key than the ledger holds
    create_service_key(authority.settings)
    with _serving(authority.conn, authority.settings) as served:
        served.publish()
        served.write(_decisions(3))
        assert served.stops() == []
    [line] = [r.getMessage() for r in caplog.records if r.name == "ledger.serve.breakers"]
    assert line.startswith(f"breaker did not stop {TARGET} in ")
    assert line.endswith("is not the service_key of registry acme v1")


def test_one_serve_leads_the_breakers_the_others_stand_by(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    with connect(ledger_settings) as first, connect(ledger_settings) as second:
        assert (try_lead(first), try_lead(second)) == (True, False)
        first.close()  # the leader's serve ends: its session lock goes with its backend
        _until(lambda: try_lead(second))  # (the backend exits a moment after the close)


def test_the_real_ledger_serve_process_runs_the_breakers(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    """`ledger serve` as its own process finds the plug-in through its entry point. It counts
    only what is sequenced after it starts, so the agent keeps tripping until the stop shows."""
    Served(ledger_conn, ledger_settings, Breakers()).publish()
    env = {**os.environ, "LEDGER_DSN": ledger_settings.dsn or "",
           "LEDGER_HOME": str(ledger_settings.home)}  # fmt: skip
    proc = subprocess.Popen([LEDGER_BIN, "serve"], env=env, stderr=subprocess.PIPE)
    try:

        def stopped() -> list[Any]:
            submit(ledger_conn, _decisions(3), ledger_settings)
            return [s for s in active_stops(ledger_conn, ledger_settings) if s.target == TARGET]

        [stop] = _until(stopped, timeout=30)
        assert (stop.requested_by, stop.authority) == ("ledger-service", "asserted")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
