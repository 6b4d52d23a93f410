"""`ledger stop`, `ledger resume`, `ledger stops` through the real CLI (issue 16).

On a fresh ledger the local operator stops and resumes a scope (asserted, unsigned). With a
registry in force, a granted principal's stop is signed with its approver key (the signature
verifies against the claim rebuilt from the event), an ungranted principal is refused and
nothing is recorded, and lifting needs a `resume` grant. Stopping an ended run says there is
nothing to halt; a writer credential can never resume.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql

from ledger.authority.stops import SignedStop, StopClaim, verify_stop
from ledger.cli.stop_cmd import target_of
from ledger.config import Settings
from ledger.errors import InputError
from ledger.events import decode_event, leaf_hash, make_event
from ledger.note import Verifier
from ledger.stops import request_stop
from ledger.store.append import encode_for_intake
from ledger.store.read import event_by_id
from ledger.store.roles import add_writer
from ledger.store.stops import stops_since
from tests.ledgerkit import append, chained_run
from tests.registrykit import Authority


def _data(conn: psycopg.Connection, event_id: str) -> Any:
    stored = event_by_id(conn, uuid.UUID(event_id))
    assert stored is not None
    return decode_event(stored.body).data


def _count(conn: psycopg.Connection, kind: str) -> int:
    row = conn.execute("SELECT count(*) FROM ledger_events WHERE type = %s", (kind,)).fetchone()
    return int(row[0]) if row else 0


def test_stop_and_resume_a_scope_on_a_fresh_ledger(
    cli: Any, ledger_conn: psycopg.Connection
) -> None:
    res = cli("stop", "--agent", "support@1.2", "--reason", "refund storm", "--as", "alice",
              "--json")
    assert res.exit_code == 0, res.stderr
    done = json.loads(res.stdout)
    assert (done["target"], done["authority"], done["signed"], done["origin"]) == (
        "agent:support@1.2", "asserted", False, "agent-ledger.local/default",
    )
    data = _data(ledger_conn, done["event_id"])
    assert (data.target, data.requested_by, data.authority_reason) == (
        "agent:support@1.2", "alice", "no trust root given (set LEDGER_TRUST_ROOT or --trust-root)",
    )
    listed = json.loads(cli("stops", "--json").stdout)
    assert [(s["target"], s["requested_by"], s["authority"], s["reason"]) for s in listed] == [
        ("agent:support@1.2", "alice", "asserted", "refund storm")
    ]
    runs = cli("runs")
    assert runs.exit_code == 0, runs.stderr
    assert re.match(
        r"stopped: agent:support@1\.2 by alice \(asserted\) since \S+Z: refund storm\nRUN ",
        runs.stdout,
    ), runs.stdout
    with pytest.raises(InputError, match=r"^give exactly one target: RUN_ID, --agent, "):
        target_of(None, {"agent": "a", "tool": "b"})
    res = cli("resume", "--agent", "support@1.2", "--as", "alice", "--reason", "fixed")
    assert (res.exit_code, res.stdout.strip()) == (
        0, "resumed agent:support@1.2 in agent-ledger.local/default (asserted, unsigned): "
        "lifted 1 stop(s)",
    ), res.stderr
    assert stops_since(ledger_conn, None, 0)[1] == []
    again = cli("resume", "--agent", "support@1.2", "--as", "alice")
    assert (again.exit_code, again.stderr.strip()) == (
        2, "error: no active stop of agent:support@1.2 in tenant default: nothing to lift",
    )


def test_registry_stop_is_signed_ungranted_refused_resume_needs_its_grant(
    cli: Any, ledger_conn: psycopg.Connection, ledger_settings: Settings, authority: Authority
) -> None:
    ivan = authority.person("ivan", "sre")
    digest = authority.publish(
        principals=[ivan, authority.person("carol"), authority.person("dana")],
        stop=[{"roles": ["sre"], "scopes": ["tenant:default"]}],
        resume=[{"principals": ["dana"], "scopes": ["agent:*"]}],
    )
    root = ("--trust-root", str(authority.root_file))
    refused = cli("stop", "--agent", "support", "--reason", "x", "--as", "carol", *root)
    assert (refused.exit_code, refused.stderr.strip()) == (
        1, "refused: carol may not stop agent:support: no stop grant in registry acme v1",
    )
    assert _count(ledger_conn, "run.stop.requested") == 0
    res = cli("stop", "--agent", "support", "--reason", "refund storm", "--as", "ivan", "--json",
              *root)
    assert res.exit_code == 0, res.stderr
    done = json.loads(res.stdout)
    assert (done["authority"], done["signed"]) == ("registry", True)
    data = _data(ledger_conn, done["event_id"])
    assert (data.scope, data.registry_hash, data.authorised) == ("tenant:default", digest, True)
    claim = StopClaim("stop", ledger_settings.origin("default"), "agent:support", "refund storm",
                      "ivan", digest, str(data.issued_at))
    key = Verifier.from_vkey(ivan["approver_key"])
    signed = SignedStop(str(data.signing_key), str(data.signature))
    assert verify_stop(claim, signed, key) is None
    forged = StopClaim("stop", ledger_settings.origin("default"), "tenant:default",
                       "refund storm", "ivan", digest, str(data.issued_at))
    assert verify_stop(forged, signed, key) == (
        "stop signature does not match the target, reason or principal")
    nope = cli("resume", "--agent", "support", "--as", "ivan", *root)
    assert (nope.exit_code, nope.stderr.strip()) == (
        1, "refused: ivan may not resume agent:support: no resume grant in registry acme v1",
    )
    assert _count(ledger_conn, "run.stop.lifted") == 0
    ok = cli("resume", "--agent", "support", "--as", "dana", "--json", *root)
    assert ok.exit_code == 0, ok.stderr
    assert (json.loads(ok.stdout)["signed"], json.loads(ok.stdout)["lifts"]) == (
        True, [done["event_id"]])
    assert stops_since(ledger_conn, None, 0)[1] == []


def test_stop_of_an_ended_run_says_nothing_to_halt(
    cli: Any, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    run = chained_run(1)
    append(ledger_conn, ledger_settings, run)
    res = cli("stop", str(run[0].run_id), "--reason", "too late", "--as", "alice")
    assert res.exit_code == 0, res.stderr
    first, second = res.stdout.splitlines()
    assert first.startswith(f"stopped run:{run[0].run_id} in agent-ledger.local/default "
                            "(asserted, unsigned): ")
    assert re.fullmatch(r"already ended \d+ s ago: nothing to halt", second), second
    assert [s.target for s in stops_since(ledger_conn, None, 0)[1]] == [f"run:{run[0].run_id}"]
    runs = cli("runs")  # the stop of a run that has ended is moot: not listed above the runs
    assert runs.exit_code == 0 and runs.stdout.startswith("RUN "), runs.stdout
    tui = request_stop(ledger_conn, ledger_settings, target=f"run:{run[0].run_id}",
                       reason="this call", requested_by="bob", via="tui",
                       target_tool_call_id="t0", caused_by=run[1].event_id)  # the TUI's form
    stored = event_by_id(ledger_conn, tui.event_id)
    assert stored is not None
    event = decode_event(stored.body)
    assert (event.data.target_tool_call_id, event.correlation.caused_by, event.data.target,
            event.source.integration, tui.note is not None) == (
        "t0", run[1].event_id, f"run:{run[0].run_id}", "tui", True)
    with pytest.raises(InputError, match=r"^no run .* in the ledger$"):
        request_stop(ledger_conn, ledger_settings, target=f"run:{uuid.uuid4()}", reason="x",
                     requested_by="alice")


def test_a_writer_credential_can_never_resume(
    cli: Any, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    assert cli("stop", "--tenant", "a", "--reason", "incident", "--as", "alice").exit_code == 0
    role = f"w_resume_{uuid.uuid4().hex[:8]}"
    add_writer(ledger_conn, role, "a", None, "pw")
    dsn = conninfo.make_conninfo(ledger_settings.dsn or "", user=role, password="pw")
    try:
        res = cli("resume", "--tenant", "a", "--as", "mallory", "--reason", "let me go",
                  env={"LEDGER_DSN": dsn})
        assert (res.exit_code, res.stderr.strip()) == (
            1, f"refused: role {role} may not record stops or lifts: only the ledger owner or "
            "a ledger_operator role may (a writer never can)",
        )
    finally:
        ledger_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert _count(ledger_conn, "run.stop.lifted") == 0
    assert ledger_conn.execute("SELECT count(*) FROM ledger_intake").fetchone() == (0,)
    assert [s.target for s in stops_since(ledger_conn, None, 0)[1]] == ["tenant:a"]


def _stopped_run(stop_event_id: uuid.UUID, tenant: str = "default") -> list[Any]:
    """A run the hooks ended `stopped` by a scope stop (run.started, run.ended with stopped_by
    naming the recorded stop `stop_event_id`)."""
    settings = Settings(home=Path("/nonexistent"))
    run_id, events, prev = uuid.uuid4(), [], None
    ref = {"target": "agent:support@1.2", "requested_by": "alice", "reason": "refund \x1b[2J",
           "stop_event_id": str(stop_event_id), "authority": "asserted"}
    for kind, data in (("run.started", {"task": "refunds"}),
                       ("run.ended", {"status": "stopped", "event_count": 2, "stopped_by": ref})):
        event = make_event(kind, run_id=run_id, run_seq=len(events), prev_run_hash=prev,
                           data=data, tenant=tenant, agent={"name": "support", "version": "1.2"})
        prev = leaf_hash(encode_for_intake(event, settings).body).hex()
        events.append(event)
    return events


def test_runs_and_replay_show_a_run_ended_stopped_and_who_stopped_it(
    cli: Any, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    stop = request_stop(ledger_conn, ledger_settings, target="agent:support@1.2",
                        reason="refund \x1b[2J", requested_by="alice")  # the stop recorded
    run = _stopped_run(stop.event_id)
    append(ledger_conn, ledger_settings, run)
    runs = cli("runs")
    assert runs.exit_code == 0, runs.stderr
    assert re.search(rf"^{run[0].run_id} .* stopped +2$", runs.stdout, re.M), runs.stdout
    shown = cli("replay", str(run[0].run_id))
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.splitlines()[-1] == (
        "stopped by alice (asserted) via agent:support@1.2: refund \\x1b[2J"
    )
