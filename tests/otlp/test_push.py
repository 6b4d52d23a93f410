"""The OTLP push (exporters/otlp_push.py) into Datadog's own test agent, over HTTP and gRPC.

Runs are recorded through the real hooks into a real PostgreSQL; the push reads the samples the
metrics source holds (exporters/metrics: the counters seeded from the log, the database
gauges; the same names and values Prometheus scrapes) and the real OpenTelemetry SDK and
exporters send them; the agent's `/test/session/metrics` is what we assert on: names,
attributes and exact values, cumulative by default, differences under delta.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from exporters.metrics.snapshot import Sample
from exporters.otlp_push import OtlpPush, PushConfig, metrics_url
from ledger.config import Settings

from .conftest import EXPECTED, DdAgent, attrs, counters, ledger_samples, record_runs, series


def _push_once(source: Callable[[], Sequence[Sample]], config: PushConfig) -> None:
    push = OtlpPush(source, config)
    try:
        assert push.push().error is None
    finally:
        push.close()


def test_recorded_runs_arrive_over_http_and_grpc_with_names_attributes_and_values(
    test_agent: DdAgent, ledger_settings: Settings
) -> None:
    record_runs(ledger_settings)
    samples = ledger_samples(ledger_settings)
    for config in (PushConfig(test_agent.http), PushConfig(test_agent.grpc, protocol="grpc")):
        test_agent.start_session()
        _push_once(lambda: samples, config)
        [payload] = test_agent.payloads()
        got = series(payload)
        assert counters(got) == EXPECTED, config.protocol
        assert got[("agent_ledger_sequencer_backlog_events", frozenset())] == 0.0
        [rm] = payload["resource_metrics"]
        resource = {a["key"]: a["value"]["string_value"] for a in rm["resource"]["attributes"]}
        assert resource["service.name"] == "agent-ledger"
        sums = [m["sum"] for sm in rm["scope_metrics"] for m in sm["metrics"] if "sum" in m]
        assert {s["aggregation_temporality"] for s in sums} == {
            "AGGREGATION_TEMPORALITY_CUMULATIVE"}
        assert all(s["is_monotonic"] for s in sums)


def test_counters_are_cumulative_over_the_log_and_delta_counts_from_the_first_push(
    test_agent: DdAgent, ledger_settings: Settings
) -> None:
    def source() -> list[Sample]:
        return ledger_samples(ledger_settings)

    pushes = [OtlpPush(source, PushConfig(test_agent.http)),
              OtlpPush(source, PushConfig(test_agent.http, temporality="delta"))]
    try:
        for _ in range(2):
            record_runs(ledger_settings)
            for push in pushes:
                assert push.push().error is None
    finally:
        for push in pushes:
            push.close()
    runs = ("agent_ledger_runs_total", attrs(agent="refunder", version="", status="succeeded"))
    seen: dict[str, list[float]] = {}
    for payload in test_agent.payloads():
        metrics = payload["resource_metrics"][0]["scope_metrics"][0]["metrics"]
        [kind] = {m["sum"]["aggregation_temporality"] for m in metrics if "sum" in m}
        seen.setdefault(kind, []).append(series(payload)[runs])
    assert seen == {"AGGREGATION_TEMPORALITY_CUMULATIVE": [1.0, 2.0],
                    "AGGREGATION_TEMPORALITY_DELTA": [0.0, 1.0]}  # from the first push on


def _wait(total: float, buckets: tuple[int, int, int]) -> Sample:
    cumulative = tuple(sum(buckets[:i + 1]) for i in range(3))
    bounds = (1.0, 10.0, float("inf"))
    return Sample("agent_ledger_approval_wait_seconds", "histogram", "Approval wait",
                  {"agent": "refunder"}, buckets=tuple(zip(bounds, cumulative, strict=True)),
                  count=cumulative[-1], sum=total)


def _histogram_points(agent: DdAgent) -> list[dict[str, Any]]:
    points = []
    for payload in agent.payloads():
        [metric] = [m for sm in payload["resource_metrics"][0]["scope_metrics"]
                    for m in sm["metrics"]]
        assert metric["name"] == "agent_ledger_approval_wait_seconds"
        [point] = metric["histogram"]["data_points"]
        assert point["attributes"] == [{"key": "agent", "value": {"string_value": "refunder"}}]
        assert point["explicit_bounds"] == [1.0, 10.0]
        points.append({  # proto3 JSON leaves zero scalars out
            "temporality": metric["histogram"]["aggregation_temporality"],
            "count": point.get("count", "0"), "sum": point.get("sum", 0.0),
            "buckets": point["bucket_counts"]})
    return points


@pytest.mark.parametrize(("temporality", "second"), [
    ("cumulative", {"count": "6", "sum": 50.0, "buckets": ["1", "3", "2"]}),
    ("delta", {"count": "2", "sum": 7.5, "buckets": ["0", "1", "1"]}),
])
def test_histogram_samples_are_pushed_as_otlp_histograms(
    test_agent: DdAgent, temporality: str, second: dict[str, Any]
) -> None:
    samples = [_wait(42.5, (1, 2, 1))]
    config = PushConfig(test_agent.http, temporality=temporality)  # type: ignore[arg-type]
    push = OtlpPush(lambda: samples, config)
    try:
        assert push.push().ok
        samples[0] = _wait(50.0, (1, 3, 2))
        assert push.push().ok
    finally:
        push.close()
    kind = f"AGGREGATION_TEMPORALITY_{temporality.upper()}"
    first = ({"count": "4", "sum": 42.5, "buckets": ["1", "2", "1"]} if temporality ==
             "cumulative" else {"count": "0", "sum": 0.0, "buckets": ["0", "0", "0"]})
    assert _histogram_points(test_agent) == [{"temporality": kind, **first},
                                             {"temporality": kind, **second}]


def test_a_refused_endpoint_is_a_failed_push_with_one_reason() -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        push = OtlpPush(lambda: [Sample("agent_ledger_x", "counter", "x", {}, 1.0)],
                        PushConfig(url, timeout=3.0))  # room for the exporter's first retry
        try:
            result = push.push()
        finally:
            push.close()
    assert (result.ok, result.error) == (False, "[Errno 111] Connection refused")


def test_the_http_path_is_added_only_when_missing() -> None:
    assert metrics_url("http://127.0.0.1:4318") == "http://127.0.0.1:4318/v1/metrics"
    assert metrics_url("http://127.0.0.1:4318/") == "http://127.0.0.1:4318/v1/metrics"
    assert metrics_url("https://otlp.example/api/v1/metrics") == (
        "https://otlp.example/api/v1/metrics")
