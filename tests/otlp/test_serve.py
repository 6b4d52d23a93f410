"""`ledger serve` pushing over OTLP (exporters/otlp_serve.py, the `otlp` serve plug-in).

The real serve loop sequences runs recorded through the real hooks (the writers do not
sequence); the plug-in, found through its `agent_ledger.serve` entry point, pushes to Datadog's
test agent once the shared metrics source is seeded, every interval and once more at stop. With
`--metrics-addr` too, both read one source (one follower of the log) and agree. A refused
endpoint is one warning line and serve keeps sequencing.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from exporters.metrics.plugin import MetricsPlugin
from exporters.otlp_serve import OtlpPlugin
from ledger.config import Settings
from ledger.serve import ServeContext, installed_plugins, serve

from .conftest import (
    EXPECTED,
    DdAgent,
    all_sequenced,
    as_series,
    counters,
    free_port,
    record_runs,
    scraped,
    series,
    until,
)


def _plugin() -> OtlpPlugin:
    """The instance `ledger serve` would start (its entry point is registered)."""
    [plugin] = [p for p in installed_plugins() if isinstance(p, OtlpPlugin)]
    return plugin


def _followed(plugin: OtlpPlugin) -> bool:
    """The plug-in's source has followed record_runs()'s events (what the next push sends)."""
    return plugin.source is not None and counters(as_series(plugin.source.samples())) == EXPECTED


@contextmanager
def _serving(settings: Settings, *plugins: object, **options: object) -> Iterator[None]:
    stop = threading.Event()
    context = ServeContext(settings, stop, **options)  # type: ignore[arg-type]
    conn = psycopg.connect(settings.dsn or "", autocommit=True)
    thread = threading.Thread(target=serve, args=(conn, settings),
                              kwargs={"plugins": list(plugins), "context": context}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
        conn.close()
    assert not thread.is_alive()


def test_serve_pushes_at_start_and_once_more_at_stop(
    test_agent: DdAgent, ledger_settings: Settings
) -> None:
    plugin = _plugin()
    with _serving(ledger_settings, plugin, otlp_endpoint=test_agent.http, otlp_interval=3600):
        until(lambda: plugin.attempts == 1)  # the push at start (an empty ledger)
        record_runs(ledger_settings, sequence=False)
        until(lambda: _followed(plugin))
    first, last = test_agent.payloads()  # the interval never came: start and stop only
    assert counters(series(first)) == {}
    assert counters(series(last)) == EXPECTED
    assert (plugin.attempts, plugin.delivered) == (2, 2)


def test_serve_pushes_every_interval_over_grpc_in_delta(
    test_agent: DdAgent, ledger_settings: Settings
) -> None:
    plugin = _plugin()
    # 1 s: each push may take up to the interval; a push that fails loses its delta
    with _serving(ledger_settings, plugin, otlp_endpoint=test_agent.grpc, otlp_interval=1.0,
                  otlp_protocol="grpc", otlp_temporality="delta"):
        until(lambda: plugin.attempts >= 1)  # delta counts from the first push: after it
        record_runs(ledger_settings, sequence=False)
        until(lambda: _summed(test_agent) == EXPECTED)  # each push: the change since the last
    assert plugin.attempts >= 2 and plugin.delivered == plugin.attempts


def test_with_metrics_addr_both_read_one_source_and_agree(
    test_agent: DdAgent, ledger_settings: Settings
) -> None:
    otlp, prom, port = _plugin(), MetricsPlugin(), free_port()
    with _serving(ledger_settings, prom, otlp, otlp_endpoint=test_agent.http, otlp_interval=3600,
                  metrics_addr=f"127.0.0.1:{port}"):
        until(lambda: otlp.source is not None and prom.source is not None)  # serve started
        assert otlp.source is prom.source
        follow = [t for t in threading.enumerate() if t.name == "ledger-metrics-follow"]
        assert len(follow) == 1  # the log is followed once
        record_runs(ledger_settings, sequence=False)
        until(lambda: scraped(f"http://127.0.0.1:{port}/metrics") == EXPECTED)
    assert counters(series(test_agent.payloads()[-1])) == EXPECTED
    assert not any(t.name.startswith("ledger-metrics") for t in threading.enumerate())


def _summed(agent: DdAgent) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    total: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for payload in agent.payloads():
        for key, value in counters(series(payload)).items():
            total[key] = total.get(key, 0.0) + value
    return {k: round(v, 12) for k, v in total.items() if v}


def test_a_refused_endpoint_warns_once_and_serve_keeps_sequencing(
    ledger_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    plugin = _plugin()
    with socket.socket() as closed:  # bound, never listening: every connection is refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        with caplog.at_level(logging.INFO), _serving(ledger_settings, plugin,
                                                       otlp_endpoint=url, otlp_interval=0.05):
            record_runs(ledger_settings, sequence=False)
            until(lambda: all_sequenced(ledger_settings))
            until(lambda: plugin.attempts >= 3)
    assert plugin.delivered == 0
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry")
             or r.name == "ledger.serve.otlp"]
    assert len(lines) == 1, lines
    assert lines[0] == (f"warning: OTLP push to {url} failed (serve goes on, retrying every "
                        "interval quietly): no answer within 0.1 s (refused, unreachable or too "
                        "slow)")  # a 0.05 s interval: each push gives up within 0.1 s
    assert "\n" not in lines[0]


def test_without_an_endpoint_the_plugin_does_nothing(tmp_path: Path) -> None:
    plugin = _plugin()
    plugin.start(ServeContext(Settings(home=tmp_path), threading.Event()))
    plugin.stop()
    assert plugin.attempts == 0
    assert not any(t.name == "ledger-otlp-push" for t in threading.enumerate())
