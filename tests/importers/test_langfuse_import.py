"""`ledger import langfuse`: blob-export JSONL and public-API pages, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from ledger.events import args_hash
from ledger.importers.source import record_digest

from .kit import FIXTURES, events, langfuse_run, report, shape

BLOB = FIXTURES / "langfuse" / "blob-export.jsonl"
API = FIXTURES / "langfuse" / "api"


def test_blob_export_becomes_imported_runs(cli: Any, ledger_conn: psycopg.Connection,
                                           tmp_path: Path) -> None:
    res = cli("import", "langfuse", str(BLOB), "--json")
    assert res.exit_code == 0, res.stderr
    rep = report(res)
    assert (rep["seen"], rep["imported"], rep["already_present"], rep["skipped"],
            rep["runs"], rep["gaps"]) == (5, 5, 0, 0, 2, [])
    run_id = langfuse_run("t-refund")
    assert shape(ledger_conn, run_id) == [
        ("run.started", ""),
        ("llm.call.started", "o-gen1"),
        ("llm.call.ended", "o-gen1"),
        ("tool.call.started", "refund"),
        ("tool.call.ended", "ok"),
        ("llm.call.started", "o-gen2"),
        ("llm.call.ended", "o-gen2"),
        ("custom", "langfuse.agent"),
        ("run.ended", "succeeded"),
    ]
    evs = events(ledger_conn, run_id)
    assert {e.trust for e in evs} == {"imported"}
    assert {e.run_id for e in evs} == {run_id}
    assert {e.principal.initiating_user for e in evs} == {"alice"}
    assert evs[0].agent.name == "support-agent"
    tool = evs[3]
    assert tool.data.tool_call_id == "call_1"
    assert tool.data.args == {"order": "A1", "amount": 40}
    assert tool.data.args_hash == args_hash({"order": "A1", "amount": 40})
    assert (tool.correlation.trace_id, tool.correlation.span_id,
            tool.correlation.parent_span_id, tool.correlation.conversation_id) == (
        "t-refund", "o-refund", "o-root", "sess-1")
    record = json.loads(BLOB.read_text().splitlines()[4])
    ended = evs[4]
    assert ended.raw.payload["record"] == record
    assert ended.raw.payload["source_sha256"] == record_digest(record)
    assert ended.raw.payload["source"] == {"system": "langfuse", "project": "proj-acme",
                                           "trace_id": "t-refund", "span_id": "o-refund"}
    assert ended.source.integration == "import"
    gen = evs[2].data
    assert (gen.usage.input_tokens, gen.usage.output_tokens, gen.cost.amount_usd) == (
        120, 30, "0.00036")
    assert evs[6].data.cost is None  # Langfuse had no cost for it: unknown, not $0
    totals = evs[-1].data.totals
    assert (totals.llm_calls, totals.tool_calls, totals.input_tokens, totals.output_tokens) == (
        2, 1, 280, 42)
    assert evs[-1].data.event_count == 9
    failed = events(ledger_conn, langfuse_run("t-lookup"))
    assert [e.type for e in failed] == ["run.started", "llm.call.started", "llm.call.ended",
                                        "run.ended"]
    assert failed[2].data.error.message == "rate limited"
    assert (failed[-1].data.status, failed[-1].principal.initiating_user) == ("failed", "bob")
    pack = tmp_path / "pack.yaml"
    pack.write_text('policy: {id: imported, version: "1"}\nmax_tool_calls: 1\n'
                    "tools: {allow: [refund]}\n")
    check = cli("check", "--policy", str(pack), "--run", str(run_id), "--json")
    assert check.exit_code == 0, check.stdout + check.stderr
    verdicts = json.loads(check.stdout)["runs"][0]["verdicts"]
    assert {v["rule_id"]: v["outcome"] for v in verdicts} == {
        "max_tool_calls": "pass", "tools.allow": "pass"}


def test_reimport_is_idempotent(cli: Any, ledger_conn: psycopg.Connection) -> None:
    assert cli("import", "langfuse", str(BLOB)).exit_code == 0
    before = ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone()
    res = cli("import", "langfuse", str(BLOB), "--json")
    assert res.exit_code == 0, res.stderr
    rep = report(res)
    assert (rep["seen"], rep["imported"], rep["already_present"], rep["skipped"]) == (5, 0, 5, 0)
    after = ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone()
    assert before == after


def test_api_pages_reconcile_with_meta(cli: Any, ledger_conn: psycopg.Connection) -> None:
    res = cli("import", "langfuse", str(API), "--json")
    assert res.exit_code == 0, res.stderr
    rep = report(res)
    assert (rep["seen"], rep["imported"], rep["runs"], rep["gaps"]) == (2, 2, 1, [])
    evs = events(ledger_conn, langfuse_run("t-api"))
    assert [e.type for e in evs] == ["run.started", "llm.call.started", "llm.call.ended",
                                     "tool.call.started", "tool.call.ended", "run.ended"]
    assert {e.principal.initiating_user for e in evs} == {"carol"}
    assert evs[0].agent.name == "billing-agent"


def test_missing_page_is_a_gap(cli: Any, ledger_conn: psycopg.Connection,
                               tmp_path: Path) -> None:
    """A page lost from the export: meta.totalItems and the trace's list disagree with what
    was read; the run records a ledger.gap and the import exits 1, naming both counts."""
    for name in ("traces.json", "observations-1.json"):
        (tmp_path / name).write_bytes((API / name).read_bytes())
    res = cli("import", "langfuse", str(tmp_path), "--json")
    assert res.exit_code == 1
    rep = report(res)
    assert (rep["seen"], rep["imported"]) == (1, 1)
    assert {(g["scope"], g["expected"], g["seen"]) for g in rep["gaps"]} == {
        ("trace t-api", 2, 1), ("langfuse observations", 2, 1)}
    assert "gap in langfuse observations: expected 2, read 1" in res.stderr
    gap = [e for e in events(ledger_conn, langfuse_run("t-api")) if e.type == "ledger.gap"]
    assert [(g.data.missing_events, g.trust) for g in gap] == [(1, "imported")]


def test_empty_window_is_loud(cli: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    res = cli("import", "langfuse", str(empty))
    assert res.exit_code == 1
    assert "0 seen" in res.stderr and "nothing to import" in res.stderr
    assert cli("import", "langfuse", str(empty), "--allow-empty").exit_code == 0


def test_bad_records_are_skipped_with_reasons(cli: Any, tmp_path: Path) -> None:
    lines = BLOB.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([lines[1], "{not json", lines[1],
                              json.dumps({"id": "x", "traceId": "t", "startTime": "yesterday"})]))
    res = cli("import", "langfuse", str(bad), "--json")
    assert res.exit_code == 1
    rep = report(res)
    assert (rep["seen"], rep["imported"], rep["skipped"]) == (4, 1, 3)
    assert sorted(s["reason"] for s in rep["skipped_records"]) == [
        "duplicate of an earlier record in the input", "not JSON",
        "startTime/endTime is not an RFC 3339 timestamp"]
