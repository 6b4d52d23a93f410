"""The OTLP push (exporters/otlp_push.py) into Datadog's own test agent, over HTTP and gRPC.

Runs are recorded through the real hooks into a real PostgreSQL; the push reads them with the
real feed (exporters/otlp_feed.py, otel_metrics' aggregation) and the real OpenTelemetry SDK
and exporters send them; the agent's `/test/session/metrics` is what we assert on: names,
attributes and exact values, cumulative by default, differences under delta.
"""

from __future__ import annotations

import socket

from exporters.metrics.snapshot import Sample
from exporters.otlp_feed import LedgerSamples
from exporters.otlp_push import OtlpPush, PushConfig, metrics_url
from ledger.config import Settings

from .conftest import EXPECTED, DdAgent, attrs, counters, record_runs, series


def _push_once(source: LedgerSamples, config: PushConfig) -> None:
    push = OtlpPush(source, config)
    try:
        assert push.push().error is None
    finally:
        push.close()


def test_recorded_runs_arrive_over_http_and_grpc_with_names_attributes_and_values(
    test_agent: DdAgent, ledger_settings: Settings
) -> None:
    record_runs(ledger_settings)
    source = LedgerSamples(ledger_settings)
    try:
        for config in (PushConfig(test_agent.http),
                       PushConfig(test_agent.grpc, protocol="grpc")):
            test_agent.start_session()
            _push_once(source, config)
            [payload] = test_agent.payloads()
            got = series(payload)
            assert counters(got) == EXPECTED, config.protocol
            assert got[("agent_ledger_intake_pending_events", frozenset())] == 0.0
            [rm] = payload["resource_metrics"]
            resource = {a["key"]: a["value"]["string_value"]
                        for a in rm["resource"]["attributes"]}
            assert resource["service.name"] == "agent-ledger"
            sums = [m["sum"] for sm in rm["scope_metrics"] for m in sm["metrics"] if "sum" in m]
            assert {s["aggregation_temporality"] for s in sums} == {
                "AGGREGATION_TEMPORALITY_CUMULATIVE"}
            assert all(s["is_monotonic"] for s in sums)
    finally:
        source.close()


def test_counters_are_cumulative_over_the_log_and_delta_sends_the_change(
    test_agent: DdAgent, ledger_settings: Settings
) -> None:
    sources = [LedgerSamples(ledger_settings), LedgerSamples(ledger_settings)]
    pushes = [OtlpPush(sources[0], PushConfig(test_agent.http)),
              OtlpPush(sources[1], PushConfig(test_agent.http, temporality="delta"))]
    try:
        for _ in range(2):
            record_runs(ledger_settings)
            for push in pushes:
                assert push.push().error is None
    finally:
        for push, source in zip(pushes, sources, strict=True):
            push.close()
            source.close()
    runs = ("agent_ledger_runs_total", attrs(agent="refunder", status="succeeded"))
    seen: dict[str, list[float]] = {}
    for payload in test_agent.payloads():
        metrics = payload["resource_metrics"][0]["scope_metrics"][0]["metrics"]
        [kind] = {m["sum"]["aggregation_temporality"] for m in metrics if "sum" in m}
        seen.setdefault(kind, []).append(series(payload)[runs])
    assert seen == {"AGGREGATION_TEMPORALITY_CUMULATIVE": [1.0, 2.0],
                    "AGGREGATION_TEMPORALITY_DELTA": [1.0, 1.0]}


def test_histogram_samples_are_pushed_as_otlp_histograms(test_agent: DdAgent) -> None:
    wait = Sample("agent_ledger_approval_wait_seconds", "histogram", "Approval wait",
                  {"agent": "refunder"}, 42.5, ((1.0, 1), (10.0, 3), (float("inf"), 4)))
    push = OtlpPush(lambda: [wait], PushConfig(test_agent.http))
    try:
        assert push.push().ok
    finally:
        push.close()
    [payload] = test_agent.payloads()
    [metric] = [m for sm in payload["resource_metrics"][0]["scope_metrics"]
                for m in sm["metrics"]]
    assert metric["name"] == "agent_ledger_approval_wait_seconds"
    [point] = metric["histogram"]["data_points"]
    assert (point["count"], point["sum"]) == ("4", 42.5)
    assert point["bucket_counts"] == ["1", "2", "1"]
    assert point["explicit_bounds"] == [1.0, 10.0]
    assert point["attributes"] == [{"key": "agent", "value": {"string_value": "refunder"}}]


def test_a_refused_endpoint_is_a_failed_push_with_one_reason() -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        push = OtlpPush(lambda: [Sample("agent_ledger_x_total", "counter", "x", {}, 1.0)],
                        PushConfig(url, timeout=1.0))
        try:
            result = push.push()
        finally:
            push.close()
    assert not result.ok
    assert result.error is not None and "\n" not in result.error


def test_the_http_path_is_added_only_when_missing() -> None:
    assert metrics_url("http://127.0.0.1:4318") == "http://127.0.0.1:4318/v1/metrics"
    assert metrics_url("http://127.0.0.1:4318/") == "http://127.0.0.1:4318/v1/metrics"
    assert metrics_url("https://otlp.example/api/v1/metrics") == (
        "https://otlp.example/api/v1/metrics")
