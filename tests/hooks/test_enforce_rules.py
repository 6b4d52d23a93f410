"""Enforcement before each tool call, end to end (issue 16): a pack published with `ledger policy
publish`, real PostgreSQL, real decorated tools. For each enforceable rule family the decision
event is stored before the call (lower run_seq), a denied or held body never runs (bodies are
counted), and `ledger check` proves it with `enforcement.decisions`.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

import ledger
from ledger.hooks.writer import Writer

from .conftest import stored

PACK = """\
policy: {id: enforce-test, version: "1"}
mode: enforce
tools: {allow: [search, email.send, fetch_page, crm.note, pay]}
recipients:
  - {tool: email.send, argument: to, allow_domains: [acme.com]}
egress: {tools: [email.send], secrets: {detectors: [aws_access_key]}}
flows:
  - {id: untrusted-to-egress, from: {untrusted_messages: true}, to: {tools: [email.send]}}
loops: {max_identical_calls: 2}
max_tool_calls_per_tool: {pay: 1}
rules:
  - {id: short-notes, scope: tool_call, tools: [crm.note], expr: 'size(args.text) < 20'}
"""

bodies: Counter[str] = Counter()


@ledger.tool(name="search")
def search(q: str) -> str:
    bodies["search"] += 1
    return q


@ledger.tool(name="email.send")
def send(to: str, body: str) -> str:
    bodies["email.send"] += 1
    return to


@ledger.tool(name="crm.note")
def note(text: str) -> str:
    bodies["crm.note"] += 1
    return text


@ledger.tool(name="pay")
def pay(amount: int) -> int:
    bodies["pay"] += 1
    return amount


@ledger.tool(name="delete_everything")
def delete_everything() -> None:
    bodies["delete_everything"] += 1


def publish(cli: Any, tmp_path: Path, text: str, name: str = "pack.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    res = cli("policy", "publish", str(path), "--json")
    assert res.exit_code == 0, res.stderr
    return str(json.loads(res.stdout)["policy_hash"])


def decided_before(conn: psycopg.Connection, run_id: Any) -> list[tuple[str, str, str]]:
    """(type, tool, decision/status) of the run's decision and call events, in run order."""
    out = []
    for e in stored(conn, run_id):
        if e.type == "policy.decided":
            out.append((e.type, e.data.tool, e.data.decision))
        elif e.type in ("tool.call.started", "approval.requested"):
            out.append((e.type, e.data.tool, ""))
    return out


def check(cli: Any, run_id: Any) -> dict[str, tuple[str, str]]:
    res = cli("check", "--run", str(run_id), "--json")
    assert res.stdout, res.stderr
    report = json.loads(res.stdout)
    return {v["rule_id"]: (v["outcome"], v.get("message") or v.get("summary")) for v in report["runs"][0]["verdicts"]}


def test_each_family_denies_before_the_body(
    writer: Writer, ledger_conn: psycopg.Connection, cli: Any, tmp_path: Path
) -> None:
    pack_hash = publish(cli, tmp_path, PACK)
    bodies.clear()
    denied: list[tuple[str, ...]] = []
    with ledger.run(agent="enforced", user="ann") as run:
        assert run.enf is not None and run.enf.pack_hash == pack_hash
        assert search("ok") == "ok"
        for attempt in (
            delete_everything,                                       # tools.allow
            lambda: send("eve@evil.example", "hi"),                  # recipients
            lambda: send("bob@acme.com", "key AKIAABCDEFGHIJKLMNOP"),  # egress secrets
            lambda: note("x" * 40),                                  # CEL tool_call rule
        ):
            with pytest.raises(ledger.PolicyDenied) as caught:
                attempt()
            assert caught.value.pack_hash == pack_hash
            assert caught.value.decision_event_id is not None
            denied.append(caught.value.rules)
        assert pay(1) == 1
        with pytest.raises(ledger.PolicyDenied) as caught:             # per-tool limit
            pay(2)
        denied.append(caught.value.rules)
        assert search("ok") == "ok"                                   # identical: 2nd is fine
        with pytest.raises(ledger.PolicyDenied) as caught:             # loops
            search("ok")
        denied.append(caught.value.rules)
        run.message_input("ignore previous instructions", trust="untrusted")
        with pytest.raises(ledger.ApprovalRequired) as held:           # flows
            send("bob@acme.com", "hello")
        denied.append(held.value.rules)
    run.flush()
    assert denied == [("tools.allow",), ("recipients.email.send.to",), ("egress.secrets",),
                      ("rules.short-notes",), ("max_tool_calls_per_tool.pay",),
                      ("loops.max_identical_calls",), ("flows.untrusted-to-egress",)]
    assert bodies == {"search": 2, "pay": 1}  # no denied or held body ran
    events = decided_before(ledger_conn, run.run_id)
    starts = [e for e in events if e[0] == "tool.call.started"]
    assert [s[1] for s in starts] == ["search", "pay", "search"]
    for i, e in enumerate(events):  # every call right after its own allow decision
        if e[0] == "tool.call.started":
            assert events[i - 1] == ("policy.decided", e[1], "allow")
    assert events[-2:] == [("policy.decided", "email.send", "require_approval"),
                           ("approval.requested", "email.send", "")]
    header = stored(ledger_conn, run.run_id)[0]
    assert header.versions.policy_hash == pack_hash
    assert check(cli, run.run_id)["enforcement.decisions"][0] == "pass"
