"""`ledger serve --metrics-addr` scraped by a real Prometheus: exact PromQL values after runs
recorded with the real hooks, before serve starts (seeded from SQL), while it runs (followed
through NOTIFY) and after a restart (the counters agree with the log, never reset); the
Grafana dashboard's queries all run, and its key panels return data."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal

import psycopg
import pytest

import ledger
from ledger import hooks
from ledger.config import Settings
from tests.metrics.conftest import ROOT, Prom, Serve, until

pytestmark = pytest.mark.xdist_group("prometheus")
AGENT = "m-agent"


@pytest.fixture
def recorder(ledger_settings: Settings) -> Iterator[None]:
    hooks.configure(ledger_settings, sequence=True)
    yield
    hooks.shutdown()


@ledger.tool(name="crm.refund", side_effect=True)
def refund(order: str) -> str:
    return f"refunded {order}"


@ledger.tool(name="crm.lookup", side_effect=False)
def lookup(order: str) -> str:
    raise LookupError(f"no order {order}")


def record(runs: int, *, fail: bool = False) -> None:
    """`runs` succeeded runs of AGENT@2 (a refund and one LLM call each); one failed run with
    a failing lookup when `fail`."""
    for i in range(runs):
        with ledger.run(agent=AGENT, agent_version="2", user="u") as run:
            run.llm_call(model="gpt-4o", input_tokens=100, output_tokens=10)
            refund(str(i))
    if fail:
        with pytest.raises(LookupError), ledger.run(agent=AGENT, agent_version="2"):
            lookup("x")
    ledger.flush()


def spend(conn: psycopg.Connection, calls: int) -> float:
    """The recorded model spend of AGENT, from the log itself, once its `calls` LLM calls are
    sequenced (a writer's flush means durable in intake, not yet in the log)."""
    query = "SELECT body FROM ledger_events WHERE type = 'llm.call.ended'"
    bodies = until(lambda: (rows := conn.execute(query).fetchall()) and len(rows) == calls
                   and rows, why=f"{calls} LLM calls sequenced")  # fmt: skip
    total = sum((Decimal(json.loads(bytes(b))["data"]["cost"]["amount_usd"]) for b, in bodies),
                Decimal(0))
    assert total > 0
    return float(total)


def expect(prom: Prom, succeeded: int, failed: int, spent: float) -> None:
    runs = f'agent_ledger_runs_total{{agent="{AGENT}",version="2",status="%s"}}'
    prom.eventually(runs % "succeeded", succeeded)
    prom.eventually(runs % "failed", failed)
    prom.eventually('agent_ledger_tool_calls_total{tool="crm.refund",side_effect="true",'
                    'outcome="ok"}', succeeded)
    prom.eventually('agent_ledger_tool_calls_total{tool="crm.lookup",side_effect="false",'
                    'outcome="error"}', failed)
    prom.eventually(f'agent_ledger_tokens_total{{agent="{AGENT}",direction="input"}}',
                    100 * succeeded)
    prom.eventually(f'agent_ledger_spend_usd_total{{agent="{AGENT}"}}', spent)


def test_seeded_followed_and_restarted(
    prometheus: Prom, serve_metrics: Callable[[], Serve], recorder: None,
    ledger_conn: psycopg.Connection,
) -> None:  # fmt: skip
    record(2, fail=True)  # before serve: seeded from SQL
    served = serve_metrics()
    prometheus.scraped_since(served.started_at)
    expect(prometheus, 2, 1, spend(ledger_conn, 2))
    record(3)  # while it runs: followed
    expect(prometheus, 5, 1, spend(ledger_conn, 5))
    prometheus.eventually("agent_ledger_sequencer_backlog_events", 0)
    prometheus.eventually("agent_ledger_sequencer_up", 1)
    assert (prometheus.value("agent_ledger_checkpoint_age_seconds") or -1) >= 0
    served = serve_metrics()  # a restart: the same numbers, from the log
    assert "agent_ledger_runs_total{" in served.text()  # seeded (Serve waits for it)
    prometheus.scraped_since(served.started_at)
    expect(prometheus, 5, 1, spend(ledger_conn, 5))
    dashboard_queries(prometheus)


def dashboard_queries(prom: Prom) -> None:
    """Every PromQL of the shipped dashboard runs without error; its key panels have data."""
    board = json.loads((ROOT / "deploy/grafana/agent-ledger.json").read_text())
    panels = [p for p in board["panels"] if p.get("targets")]
    assert panels
    for panel in panels:
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "1m").replace("$agent", ".*")
            result = prom.query(expr)
            if panel.get("description", "").startswith("key:"):
                assert result, f"panel {panel['title']!r} returned no data: {expr}"
