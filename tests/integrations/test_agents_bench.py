"""The Agents SDK benchmark runs and records what it measured (no timing assertions)."""

from __future__ import annotations

from bench.integrations.openai_agents import measure


def test_measure_quick(writer, ledger_conn):
    (overhead,) = measure(quick=True)
    print(overhead, overhead.instrumented_s / overhead.plain_s)
    assert overhead.name == "openai-agents model call"
    assert overhead.plain_s > 0 and overhead.instrumented_s > 0
    assert writer.flush()
    ended = ledger_conn.execute(
        "SELECT count(*) FROM ledger_events WHERE type = 'llm.call.ended'").fetchone()[0]
    assert ended == 50
