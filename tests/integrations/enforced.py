"""A real enforced pack for the framework tests (issue 16): what each framework must surface.

The pack is published through the same service as `ledger policy publish` and scoped to the
test agents: `wire` is not in `tools.allow` (deny), `refund` at or over $100 needs an approval
(require_approval, a threshold), `refund` under $100 runs. `Script` is the order the scripted
models propose the calls in; each framework test checks the same facts with `assert_enforced`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg
import typer
from typer.testing import CliRunner

from ledger.config import Settings
from ledger.store.sequencer import try_sequence
from replay.policy import load_pack_text
from replay.policy.published import publish_policy

from .conftest import stored

AGENTS = ("lg-enforced", "oa-enforced", "oa-enforced-fmt", "mcp-enforced")
PACK = f"""\
policy: {{id: frameworks-enforced, version: "1"}}
mode: enforce
scope: {{agents: [{", ".join(AGENTS)}]}}
tools: {{allow: [refund, lookup]}}
policies:
  require_approval_for:
    - {{action: refund, threshold_usd: 100}}
"""

# (tool, args) the scripted model proposes, in order: denied, held, then allowed
SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("wire", {"to": "acct-9"}),
    ("refund", {"order_id": "7", "amount_usd": 150}),
    ("refund", {"order_id": "8", "amount_usd": 20}),
]


def publish(conn: psycopg.Connection, settings: Settings) -> str:
    """Put the pack in force (sequenced, so the agents' runs pin it at their start)."""
    loaded = load_pack_text(PACK, "frameworks.yaml")
    policy_hash = publish_policy(conn, settings, loaded).policy_hash
    try_sequence(conn, settings, wait=True)
    return policy_hash


def check(settings: Settings, run_id: Any) -> dict[str, tuple[str, Any]]:
    """`ledger check --run RUN --json` (the real command, in process: a subprocess would cost
    ~2 s of imports per run): rule id -> (outcome, the verdict)."""
    from replay.cli.check_cmd import app as check_app

    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = {"dsn": settings.dsn, "home": settings.home}

    root.add_typer(check_app)
    res = CliRunner().invoke(root, ["check", "--run", str(run_id), "--json"])
    assert res.stdout, (res.exit_code, res.exception)
    return {v["rule_id"]: (v["outcome"], v) for v in json.loads(res.stdout)["runs"][0]["verdicts"]}


def assert_enforced(conn: psycopg.Connection, settings: Settings, run_id: Any, pack_hash: str,
                    denied_text: str, held_text: str) -> None:
    """The decisions are stored before what they decide, the model read the rule ids (and the
    approval id of the hold), and `enforcement.decisions` passes on the stored run."""
    events = stored(conn, run_id)
    decided = [e for e in events if e.type == "policy.decided"]
    assert [(d.data.tool, d.data.decision) for d in decided] == [
        ("wire", "deny"), ("refund", "require_approval"), ("refund", "allow")]
    assert {d.data.pack_hash for d in decided} == {pack_hash}
    deny, hold, allow = (d.data for d in decided)
    assert [r.id for r in deny.rules] == ["tools.allow"]
    assert "tools.allow" in denied_text and "denied by policy" in denied_text
    assert "The call did not run" in denied_text
    (held_rule,) = [r.id for r in hold.rules]
    assert held_rule in held_text and hold.approval_id is not None
    assert re.search(rf"approval_id={re.escape(str(hold.approval_id))}\b", held_text)
    assert f"tool_call_id={hold.tool_call_id}" in held_text
    assert f"args_hash={hold.args_hash}" in held_text
    seq = {e.event_id: i for i, e in enumerate(events)}
    by_call: dict[str, list[tuple[int, str]]] = {}
    for i, e in enumerate(events):
        call_id = getattr(e.data, "tool_call_id", None)
        if call_id is not None:
            by_call.setdefault(str(call_id), []).append((i, e.type))
    for d in decided:  # each decision is the first thing recorded about its call
        first = by_call[str(d.data.tool_call_id)][0]
        assert first[1] == "policy.decided", by_call[str(d.data.tool_call_id)]
    started = [e for e in events if e.type == "tool.call.started"
               and e.data.tool_call_id == allow.tool_call_id]
    assert started and all(seq[s.event_id] > seq[decided[2].event_id] for s in started), [
        (e.type, getattr(e.data, "tool_call_id", None), getattr(e.data, "status", None))
        for e in events]
    assert not [e for e in events if e.type == "tool.call.started"
                and e.data.tool_call_id in (deny.tool_call_id, hold.tool_call_id)]
    assert events[-1].type == "run.ended" and events[-1].data.status == "succeeded"
    verdicts = check(settings, run_id)
    assert verdicts["enforcement.decisions"][0] == "pass", verdicts["enforcement.decisions"]
