"""The samples of the metrics (from the incremental state, and from the database for the
background refresh of source.py) and a prometheus_client custom Collector over a snapshot.

A scrape reads memory only: `state_samples` under the state's lock; `db_samples` (backlog,
checkpoint age, newest witness cosignature, stops) and `slow_samples` (SLIs, stored verdicts)
run in source.py's refresher thread, never per scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from exporters.metrics.snapshot import PREFIX, MetricsSnapshot, Sample
from exporters.metrics.state import WAIT_BOUNDS, MetricsState
from ledger.backlog import read_backlog
from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.terminal import printable

__all__ = ["LedgerCollector", "db_samples", "families", "slow_samples", "state_samples"]


def _c(name: str, help_: str, labels: dict[str, str], value: float) -> Sample:
    return Sample(PREFIX + name, "counter", help_, labels, value)


def _g(name: str, help_: str, labels: dict[str, str], value: float) -> Sample:
    return Sample(PREFIX + name, "gauge", help_, labels, value)


def state_samples(state: MetricsState) -> list[Sample]:
    """The counters and the approval-wait histogram, from memory."""
    out: list[Sample] = []
    with state.lock:
        for (agent, version, status), n in sorted(state.runs.items()):
            out.append(_c("runs", "Runs ended, by agent, version and status.",
                          {"agent": agent, "version": version, "status": status}, n))
        for (tool, side, outcome), n in sorted(state.tool_calls.items()):
            out.append(_c("tool_calls", "Tool calls ended, by tool, side effect and outcome.",
                          {"tool": tool, "side_effect": side, "outcome": outcome}, n))
        for (decision, mode), n in sorted(state.decisions.items()):
            out.append(_c("enforcement_decisions",
                          "Pre-call policy decisions (policy.decided), by outcome and mode.",
                          {"outcome": decision, "mode": mode}, n))
        for agent, usd in sorted(state.spend.items()):
            out.append(_c("spend_usd", "Model spend recorded on LLM calls, in USD, by agent.",
                          {"agent": agent}, float(usd)))
        for (agent, direction), n in sorted(state.tokens.items()):
            out.append(_c("tokens", "Model tokens recorded on LLM calls, by agent and "
                          "direction (input, output).", {"agent": agent, "direction": direction},
                          n))
        for decision, hist in sorted(state.waits.items()):
            cumulative, running = [], 0
            for bound, n in zip((*WAIT_BOUNDS, float("inf")), hist.counts, strict=True):
                running += n
                cumulative.append((float(bound), running))
            out.append(Sample(PREFIX + "approval_wait_seconds", "histogram",
                              "Seconds from an approval request to its decision (sequencer "
                              "clock), by decision.", {"decision": decision},
                              buckets=tuple(cumulative), count=running, sum=hist.total))
    return out


def db_samples(conn: psycopg.Connection) -> list[Sample]:
    """Backlog, checkpoint age, newest cosignature and stops (the refresher's, not a scrape's)."""
    backlog = read_backlog(conn)
    out = [
        _g("sequencer_backlog_events", "Acknowledged events not yet sequenced (intake).", {},
           backlog.count),
        _g("sequencer_oldest_pending_age_seconds", "Age of the oldest event waiting in intake "
           "(0 when none).", {}, backlog.oldest_age_seconds or 0.0),
        _g("sequencer_up", "1 when a sequencer heartbeat is fresh (ledger serve runs).", {},
           1.0 if backlog.sequencer_running else 0.0),
    ]
    row = conn.execute(query("metrics_gauges")).fetchone()
    if row is not None and row[0] is not None:
        out.append(_g("checkpoint_age_seconds", "Seconds since the newest signed checkpoint "
                      "of any log.", {}, float(row[0])))
    if row is not None and row[1] is not None:
        out.append(_g("last_cosigned_timestamp_seconds", "Unix time of the newest witness "
                      "cosignature (a witness verified the log's consistency).", {},
                      float(row[1])))
    for kind, recorded, active in conn.execute(query("metrics_stops")):
        labels = {"scope": str(kind)}
        out.append(_c("stops", "Stops recorded, by scope kind.", labels, int(recorded)))
        out.append(_g("stops_active", "Stops in force (not lifted), by scope kind.", labels,
                      int(active)))
    return out


def slow_samples(conn: psycopg.Connection, settings: Settings, max_rules: int = 50) -> list[Sample]:
    """SLI gauges and stored verdict counts (top `max_rules` rules; the rest as "other")."""
    from replay.slo.gauges import sli_gauges

    out = [Sample(PREFIX + "sli", "gauge", "Behaviour SLIs (ledger slo), by sli, agent, version.",
                  {"sli": g.name, "agent": g.labels.get("agent", ""),
                   "version": g.labels.get("version", "")}, g.value)
           for g in sli_gauges(conn, settings)]  # fmt: skip
    counts: dict[tuple[str, str], int] = {}
    rules: list[str] = []
    for rule, outcome, n in conn.execute(query("metrics_verdicts")):
        name = printable(str(rule))[:128]
        if name not in rules and len(rules) >= max_rules:
            name = "other"
        elif name not in rules:
            rules.append(name)
        counts[(name, str(outcome))] = counts.get((name, str(outcome)), 0) + int(n)
    out += [Sample(PREFIX + "policy_verdicts", "gauge", "Stored rule verdicts (ledger check), "
                   "by rule and outcome.", {"rule": rule, "outcome": outcome}, n)
            for (rule, outcome), n in sorted(counts.items())]  # fmt: skip
    return out


def families(snap: MetricsSnapshot) -> Iterator[Metric]:
    """Prometheus metric families of a snapshot (a counter `x` is exposed as `x_total`)."""
    for name in snap.names():
        samples = snap.of(name)
        first = samples[0]
        keys = list(first.labels)
        family: Any
        if first.kind == "counter":
            family = CounterMetricFamily(name, first.help, labels=keys)
        elif first.kind == "gauge":
            family = GaugeMetricFamily(name, first.help, labels=keys)
        else:
            family = HistogramMetricFamily(name, first.help, labels=keys)
        for s in samples:
            values = [s.labels[k] for k in keys]
            if s.kind == "histogram":
                buckets = [("+Inf" if b == float("inf") else f"{b:g}", n) for b, n in s.buckets]
                family.add_metric(values, buckets, s.sum)
            else:
                family.add_metric(values, s.value)
        yield family


class LedgerCollector(Collector):
    """A prometheus_client Collector: each collect() is one snapshot (memory only)."""

    def __init__(self, snapshot: Callable[[], MetricsSnapshot]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from families(self.snapshot())
