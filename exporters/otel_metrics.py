"""OpenTelemetry metrics (OTLP/JSON) over a period: runs, tool calls, policy failures, spend.

Why a file in the OTLP JSON encoding: Datadog and Grafana users already run an OpenTelemetry
Collector, whose `otlpjsonfile` receiver ingests exactly this (one ExportMetricsServiceRequest
per line), so no network exporter or credentials are needed here. Each metric is a cumulative
monotonic Sum with one data point per attribute set over [since, until). Spend is summed as a
Decimal and emitted as a double (OTLP has no decimal type).

Beside the period's sums, three gauges give the intake backlog at export time (ledger.backlog,
the same figures `ledger verify` and `ledger db status` show): events waiting, the oldest one's
age in seconds, and whether a sequencer is running (1/0).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from ledger import ids
from ledger.backlog import Backlog

__all__ = ["BACKLOG_METRICS", "METRICS", "aggregate", "backlog_gauges", "to_otlp", "write"]

METRICS: dict[str, tuple[str, str]] = {
    "agent_ledger.runs": ("Runs ended in the period, by agent and status", "{run}"),
    "agent_ledger.tool_calls": ("Tool calls ended in the period, by tool and status", "{call}"),
    "agent_ledger.policy_failures": ("Guardrail verdicts fail/warn, by guardrail", "{verdict}"),
    "agent_ledger.spend": ("Model spend recorded by llm.call.ended, by model", "USD"),
}

BACKLOG_METRICS: dict[str, tuple[str, str]] = {
    "agent_ledger.intake.pending": ("Acknowledged events waiting in intake", "{event}"),
    "agent_ledger.intake.oldest_age": ("Age of the oldest event waiting in intake", "s"),
    "agent_ledger.sequencer.running": ("1 when a sequencer is running, else 0", "1"),
}

Key = tuple[tuple[str, str], ...]


def backlog_gauges(backlog: Backlog, at: str) -> list[dict[str, Any]]:
    """The intake backlog as three OTLP gauges at time `at` (nanoseconds since the epoch)."""
    values: dict[str, dict[str, Any]] = {
        "agent_ledger.intake.pending": {"asInt": str(backlog.count)},
        "agent_ledger.intake.oldest_age": {"asDouble": backlog.oldest_age_seconds or 0.0},
        "agent_ledger.sequencer.running": {"asInt": str(int(backlog.sequencer_running))},
    }
    return [
        {"name": name, "description": description, "unit": unit,
         "gauge": {"dataPoints": [{"attributes": [], "timeUnixNano": at, **values[name]}]}}
        for name, (description, unit) in BACKLOG_METRICS.items()
    ]


def aggregate(rows: Iterable[dict[str, Any]]) -> dict[str, dict[Key, Decimal]]:
    """Sum the four metrics per attribute set from flat event rows."""
    sums: dict[str, dict[Key, Decimal]] = {name: defaultdict(Decimal) for name in METRICS}
    for row in rows:
        kind = row["type"]
        agent = row["agent"] or "unknown"
        if kind == "run.ended":
            sums["agent_ledger.runs"][(("agent", agent), ("status", row["status"] or ""))] += 1
        elif kind == "tool.call.ended":
            key = (("tool", row["tool"] or ""), ("status", row["status"] or ""), ("agent", agent))
            sums["agent_ledger.tool_calls"][key] += 1
        elif kind == "guardrail.evaluated" and row["verdict"] in ("fail", "warn"):
            key = (("guardrail", row["name"] or ""), ("verdict", row["verdict"]), ("agent", agent))
            sums["agent_ledger.policy_failures"][key] += 1
        elif kind == "llm.call.ended" and row["amount_usd"]:
            key = (
                ("model", row["model"] or "unknown"),
                ("agent", agent),
                ("tenant", row["tenant"]),
            )
            sums["agent_ledger.spend"][key] += Decimal(row["amount_usd"])
    return sums


def _attrs(key: Key) -> list[dict[str, Any]]:
    return [{"key": k, "value": {"stringValue": v}} for k, v in key]


def to_otlp(
    sums: dict[str, dict[Key, Decimal]],
    since: str,
    until: str,
    origin: str,
    backlog: Backlog | None = None,
) -> dict[str, Any]:
    """An OTLP/JSON ExportMetricsServiceRequest for the aggregated sums."""
    start, end = str(ids.parse_timestamp(since)), str(ids.parse_timestamp(until))
    metrics = []
    for name, (description, unit) in METRICS.items():
        points = []
        for key, value in sorted(sums[name].items()):
            point: dict[str, Any] = {
                "attributes": _attrs(key),
                "startTimeUnixNano": start,
                "timeUnixNano": end,
            }
            if name == "agent_ledger.spend":
                point["asDouble"] = float(value)
            else:
                point["asInt"] = str(int(value))
            points.append(point)
        metrics.append(
            {
                "name": name,
                "description": description,
                "unit": unit,
                "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": points},
            }
        )
    if backlog is not None:
        metrics += backlog_gauges(backlog, str(ids.now_ns()))
    resource = [
        {"key": "service.name", "value": {"stringValue": "agent-ledger"}},
        {"key": "agent_ledger.origin", "value": {"stringValue": origin}},
    ]
    return {
        "resourceMetrics": [
            {
                "resource": {"attributes": resource},
                "scopeMetrics": [
                    {
                        "scope": {"name": "agent-ledger.exporters.otel_metrics", "version": "1"},
                        "metrics": metrics,
                    }
                ],
            }
        ]
    }


def write(  # noqa: PLR0917 - positional since the first version; backlog is optional
    rows: Iterable[dict[str, Any]],
    out: Path,
    since: str,
    until: str,
    origin: str,
    backlog: Backlog | None = None,
) -> int:
    """Write one OTLP/JSON line to `out`; return the number of data points."""
    doc = to_otlp(aggregate(rows), since, until, origin, backlog)
    out.write_text(json.dumps(doc, sort_keys=True) + "\n", encoding="utf-8")
    metrics = doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    return sum(len((m.get("sum") or m["gauge"])["dataPoints"]) for m in metrics)
