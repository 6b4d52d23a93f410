"""`ledger import phoenix` against a real Phoenix server fed by OpenInference instrumentation."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from ledger.events import args_hash
from ledger.importers.source import record_digest, run_uuid

from .conftest import SPANS_SENT, PhoenixServer
from .kit import events, report, shape

pytestmark = pytest.mark.xdist_group("phoenix")


def _run(server: PhoenixServer, user: str) -> Any:
    return run_uuid("phoenix", server.project, server.traces[user])


def test_import_phoenix_project(phoenix_server: PhoenixServer, cli: Any,
                                ledger_conn: psycopg.Connection) -> None:
    res = cli("import", "phoenix", "--url", phoenix_server.url, "--project", "support", "--json")
    assert res.exit_code == 0, res.stderr
    rep = report(res)
    assert (rep["seen"], rep["imported"], rep["already_present"], rep["skipped"], rep["runs"],
            rep["gaps"]) == (SPANS_SENT, SPANS_SENT, 0, 0, 2, [])
    alice = _run(phoenix_server, "alice")
    assert shape(ledger_conn, alice) == [
        ("run.started", ""),
        ("llm.call.started", shape(ledger_conn, alice)[1][1]),
        ("llm.call.ended", shape(ledger_conn, alice)[1][1]),
        ("tool.call.started", "refund"),
        ("tool.call.ended", "ok"),
        ("llm.call.started", shape(ledger_conn, alice)[5][1]),
        ("llm.call.ended", shape(ledger_conn, alice)[5][1]),
        ("custom", "phoenix.agent"),
        ("run.ended", "succeeded"),
    ]
    evs = events(ledger_conn, alice)
    assert {e.trust for e in evs} == {"imported"}
    assert {e.principal.initiating_user for e in evs} == {"alice"}
    assert {e.correlation.trace_id for e in evs} == {phoenix_server.traces["alice"]}
    assert evs[0].agent.name == "support-agent"
    tool = evs[3].data
    assert (tool.tool_call_id, tool.args) == ("call-A1", {"order": "A1", "amount": 40})
    assert tool.args_hash == args_hash({"order": "A1", "amount": 40})
    assert evs[4].data.result == {"ok": True, "order": "A1"}
    llm = evs[2].data
    assert (llm.response_model, llm.usage.input_tokens, llm.usage.output_tokens) == (
        "scripted-1", 100, 10)
    assert llm.cost is None  # Phoenix recorded no price: unknown, never $0
    ended = evs[4].raw.payload
    assert ended["source_sha256"] == record_digest(ended["record"])
    assert ended["source"]["trace_id"] == phoenix_server.traces["alice"]
    assert evs[1].source.schema_ == "openinference@0.1"
    totals = evs[-1].data.totals
    assert (totals.llm_calls, totals.tool_calls, totals.input_tokens, totals.output_tokens) == (
        2, 1, 150, 15)
    bob = events(ledger_conn, _run(phoenix_server, "bob"))
    assert {e.principal.initiating_user for e in bob} == {"bob"}
    refused = [e for e in bob if e.type == "tool.call.ended"]
    assert [(e.data.status, e.data.error.message) for e in refused] == [
        ("error", "card declined")]
    assert bob[-1].data.status == "failed"

    again = cli("import", "phoenix", "--url", phoenix_server.url, "--project", "support",
                "--json")
    assert again.exit_code == 0, again.stderr
    rep2 = report(again)
    assert (rep2["seen"], rep2["imported"], rep2["already_present"]) == (
        SPANS_SENT, 0, SPANS_SENT)
    assert len(events(ledger_conn, alice)) == len(evs)

    check = cli("check", "--run", str(alice), "--json")
    verdict = json.loads(check.stdout)
    assert check.exit_code == 0, check.stdout + check.stderr
    assert verdict["runs"][0]["run_id"] == str(alice)

    # one test, so the suite starts one Phoenix server: an empty window is an error
    res = cli("import", "phoenix", "--url", phoenix_server.url, "--project", "support",
              "--until", "2001-01-01T00:00:00Z")
    assert res.exit_code == 1
    assert "0 seen" in res.stderr and "nothing to import in this window" in res.stderr
