"""The incremental state on a real PostgreSQL: what the seed's SQL aggregates count and what
the follower folds event by event agree exactly (one projection, ledger_metric_rows), for every
kind of row (runs, tool calls with their side effect, enforcement decisions, spend and tokens,
approval waits); a malformed body counts for nothing; labels are capped ("other")."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import psycopg

from exporters.metrics.collector import state_samples
from exporters.metrics.state import MetricsState
from ledger.config import Settings
from ledger.events import EventBase, args_hash, leaf_hash, make_event
from ledger.store.append import encode_for_intake, submit
from ledger.store.sequencer import try_sequence

NOWHERE = Settings(home=__import__("pathlib").Path("/nonexistent"))


def chained(kinds: list[tuple[str, dict[str, Any]]], agent: str = "triage") -> list[EventBase]:
    """One run's events, hash-chained as a writer would."""
    run_id, prev, out = uuid.uuid4(), None, []
    for i, (kind, data) in enumerate(kinds):
        event = make_event(kind, run_id=run_id, run_seq=i, prev_run_hash=prev, data=data,
                           agent={"name": agent, "version": "7"})  # fmt: skip
        prev = leaf_hash(encode_for_intake(event, NOWHERE).body).hex()
        out.append(event)
    return out


def a_run(tool: str = "crm.update", status: str = "stopped") -> list[EventBase]:
    h = args_hash({"x": 1})
    return chained([
        ("run.started", {"task": "t"}),
        ("policy.decided", {"tool_call_id": "c1", "tool": tool, "args_hash": h,
                            "decision": "require_approval", "mode": "enforce",
                            "pack_hash": "a" * 64, "evaluator": "precall/1",
                            "rules": [{"id": "r", "outcome": "require_approval",
                                       "reason": "x"}]}),
        ("approval.requested", {"approval_id": "ap1", "tool_call_id": "c1", "tool": tool,
                                "args_hash": h}),
        ("approval.decided", {"approval_id": "ap1", "tool_call_id": "c1", "args_hash": h,
                              "decision": "approved", "approver": {"id": "boss"}}),
        ("tool.call.started", {"tool_call_id": "c1", "tool": tool, "args_hash": h,
                               "side_effect": True}),
        ("tool.call.ended", {"tool_call_id": "c1", "tool": tool, "status": "ok"}),
        ("llm.call.ended", {"call_id": "l1", "usage": {"input_tokens": 40, "output_tokens": 2},
                            "cost": {"amount_usd": "0.25", "price_table_version": "t"}}),
        ("run.ended", {"status": status, "event_count": 8}),
    ])  # fmt: skip


def write(conn: psycopg.Connection, settings: Settings, events: list[EventBase]) -> None:
    submit(conn, events, settings)
    try_sequence(conn, settings, wait=True)


def counts(state: MetricsState) -> dict[tuple[str, tuple[tuple[str, str], ...]], Any]:
    return {(s.name, tuple(sorted(s.labels.items()))): (s.value, s.buckets, s.count)
            for s in state_samples(state)}  # fmt: skip


def test_seed_and_follow_agree(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> None:
    followed = MetricsState()
    followed.seed(ledger_conn)  # an empty ledger: nothing seeded, every log followed
    assert followed.positions == {} and counts(followed) == {}
    write(ledger_conn, ledger_settings, a_run() + a_run(status="succeeded"))
    assert followed.catch_up(ledger_conn) == 2 * 5
    seeded = MetricsState()
    seeded.seed(ledger_conn)
    assert counts(seeded) == counts(followed)
    assert seeded.runs == {("triage", "7", "stopped"): 1, ("triage", "7", "succeeded"): 1}
    assert seeded.tool_calls == {("crm.update", "true", "ok"): 2}
    assert seeded.decisions == {("require_approval", "enforce"): 2}
    assert seeded.spend == {"triage": Decimal("0.50")}
    assert seeded.tokens == {("triage", "input"): 80, ("triage", "output"): 4}
    assert seeded.waits["approved"].counts[0] == 2  # decided within a second of the request
    assert seeded.catch_up(ledger_conn) == 0  # the seed's position: nothing counted twice
    write(ledger_conn, ledger_settings, a_run())
    assert seeded.catch_up(ledger_conn) == followed.catch_up(ledger_conn) == 5
    assert counts(seeded) == counts(followed)
    assert seeded.runs[("triage", "7", "stopped")] == 2


def test_labels_are_capped_and_malformed_bodies_count_nothing(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    write(ledger_conn, ledger_settings, a_run("a") + a_run("a") + a_run("b") + a_run("c"))
    state = MetricsState(max_values=2)
    state.seed(ledger_conn)  # the most frequent first: a, then one of b and c, the other "other"
    tools = {tool for tool, _, _ in state.tool_calls}
    assert "a" in tools and "other" in tools and len(tools) == 3
    assert sum(state.tool_calls.values()) == 4
    write(ledger_conn, ledger_settings, a_run("d"))
    state.catch_up(ledger_conn)
    assert {tool for tool, _, _ in state.tool_calls} == tools  # sticky: d is "other"
    assert state.tool_calls[("other", "true", "ok")] == 2


def test_counters_are_left_out_until_seeded(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    """Serve starts before the seed ends: a snapshot then says so and exposes no counter (a
    counter at 0 that later jumps to the log's total would be a false burst to rate())."""
    from exporters.metrics.source import MetricsSource

    write(ledger_conn, ledger_settings, a_run())
    source = MetricsSource(ledger_settings)  # not started: as in the first moments of serve
    source.state.seed(ledger_conn)
    names = {s.name: s.value for s in source.samples()}
    assert names == {"agent_ledger_metrics_seeded": 0.0}
    source.seeded.set()
    names = {s.name: s.value for s in source.samples()}
    assert names["agent_ledger_metrics_seeded"] == 1.0 and "agent_ledger_runs" in names
