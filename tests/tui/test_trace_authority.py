"""The console answers "who can trace it / who can stop it" with the registry's and replay's word.

INCIDENT18 #1: the Stop pane's "who may stop" is the signed registry's `stop` grants (the
judgement `ledger stop` makes: a grant on the target or its tenant, and an approver key), not the
roles the writer recorded; without a registry it says "asserted, no registry". #5: the Trace tab
prints the initiator's verdict exactly as `ledger replay` does. #14: the board's footer shows
`enter Timeline` and, at 80 columns, `?` Help. #15/#16: no `model=None`, no `agent: - asserted`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import psycopg
from joserfc.jwk import Key
from textual.widgets import DataTable
from textual.widgets._footer import FooterKey

import ledger.hooks as hooks
from ledger.authority.registry import Provider
from ledger.config import Settings
from ledger.store.sequencer import try_sequence
from tests.authority.jose_kit import ISS, claims, sign
from tests.registrykit import Authority
from tests.tui.conftest import settle
from tests.tui.pilotkit import play, text_of
from tui.rows import row_from_stored
from tui.screens.tsu import TraceStopUndoScreen

RUN = "00000000-0000-4000-8000-000000000001"
WHO = ("user:", "agent:")
AGENT = "agent support-agent@1.4.0, agent support-agent, tenant default"


def test_who_may_stop_is_the_registry_in_force(
    cli: Any, seeded: dict[str, str], make_app: Any, authority: Authority, tmp_path: Path
) -> None:
    run = seeded["incident"]
    authority.publish(
        principals=[
            authority.person("ivan@example.com", "oncall"),
            authority.person("dana@example.com", "oncall", key=False),  # cannot sign: refused
            authority.person("erin@example.com", "ops"),
            authority.person("alice@example.com", "support"),  # the initiator: no grant
        ],
        stop=[
            {"roles": ["oncall"], "scopes": ["tenant:default"]},
            {"principals": ["erin@example.com"], "scopes": ["agent:support-agent*"]},
        ],
    )
    shown: list[str] = []

    async def scenario(pilot: Any) -> None:
        pilot.app.push_screen(TraceStopUndoScreen(run, tab="stop"))
        await settle(pilot)
        shown.append(text_of(pilot, "#stop-who"))

    play(make_app(trust_root=authority.root), scenario)
    lines = shown[0].splitlines()
    assert lines[0] == "Who may stop this run (stop grants of registry acme v1):"
    assert lines[1:3] == [
        f"  • erin@example.com (ops): {AGENT.rsplit(', tenant', maxsplit=1)[0]}",
        f"  • ivan@example.com (oncall): this run, {AGENT}",
    ]
    # the CLI's judgement agrees: the initiator, listed by the old log-roles guess, is refused
    root = str(authority.root_file)
    res = cli("stop", run, "--reason", "x", "--as", "alice@example.com", "--trust-root", root)
    assert res.exit_code != 0
    assert f"alice@example.com may not stop run:{run}: no stop grant" in res.stderr


def test_trace_prints_the_initiator_verdict_as_replay_does(
    cli: Any, keys: dict[str, Key], provider: Provider, authority: Authority,
    ledger_conn: psycopg.Connection, ledger_settings: Settings, make_app: Any,
) -> None:  # fmt: skip
    dana = {"id": "dana@example.com", "identities": [{"issuer": ISS, "subject": "u-123"}]}
    authority.publish(providers=[provider.model_dump()], principals=[dana])
    now = int(time.time())
    token = sign(keys["RS256"], "RS256", claims(iat=now - 5, exp=now + 600))
    writer = hooks.configure(ledger_settings, sequence=True, retry_interval=0.05,
                             sequence_interval=0.0)  # fmt: skip
    try:
        with hooks.run(agent="support-bot", user="mallory", user_token=token) as run:
            run.custom("note")
        assert writer.flush()
    finally:
        hooks.shutdown()
    try_sequence(ledger_conn, ledger_settings, wait=True)
    run_id = str(run.run_id)
    verdicts: dict[str, list[str]] = {}
    for label, root in (("root", str(authority.root_file)), ("none", None)):
        res = cli("replay", run_id, *(("--trust-root", root) if root else ()))
        assert res.exit_code == 0, res.stderr
        verdicts[label] = [ln for ln in res.stdout.splitlines() if ln.startswith(WHO)]
    assert verdicts["root"][0].startswith("user: dana@example.com VERIFIED (")
    assert verdicts["root"][1].startswith("agent: support-bot asserted (")  # #16: named
    assert verdicts["none"][0].startswith("user: mallory asserted (user: token not verifiable")
    traced: list[str] = []

    async def scenario(pilot: Any) -> None:
        pilot.app.push_screen(TraceStopUndoScreen(run_id))
        await settle(pilot)
        traced.append(text_of(pilot, "#trace-body"))

    for label, trust in (("root", authority.root), ("none", None)):
        play(make_app(trust_root=trust), scenario, size=(240, 48))
        body = [ln.strip() for ln in traced[-1].splitlines()]
        assert "mallory (roles recorded by the writer, asserted: -)" in traced[-1]
        assert [ln for ln in body if ln.startswith(WHO)] == verdicts[label]


def test_board_footer_shows_timeline_and_help_at_80_columns(
    seeded: dict[str, str], make_app: Any
) -> None:
    seen: list[tuple[str, str, int]] = []

    async def scenario(pilot: Any) -> None:
        assert isinstance(pilot.app.screen.focused, DataTable)
        for key in pilot.app.screen.query(FooterKey):
            seen.append((key.key, key.description, key.region.right))

    play(make_app(), scenario, size=(80, 24))
    visible = [(k, d) for k, d, right in seen if right <= 80]
    first = [("enter", "Timeline"), ("s", "Trace/Stop/Undo"), ("question_mark", "Help")]
    assert visible[:3] == first
    assert ("e", "Export") in visible


def test_timeline_summary_omits_absent_fields() -> None:
    def summary(kind: str, data: dict[str, Any]) -> str:
        body = orjson.dumps({"type": kind, "run_id": RUN, "run_seq": 0, "data": data})
        return row_from_stored("o", 1, None, body).summary

    assert summary("llm.call.started", {"call_id": "c1"}) == ""
    assert summary("llm.call.started", {"call_id": "c1", "request_model": "m"}) == "model=m"
    assert summary("llm.call.ended", {"call_id": "c1"}) == "proposes []"
    assert summary("run.ended", {"status": "ok"}) == "status=ok"
