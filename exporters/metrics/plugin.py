"""The `agent_ledger.serve` plug-in behind `ledger serve --metrics-addr HOST:PORT`.

It serves prometheus_client's HTTP server over its own registry, whose one collector reads the
process's shared metrics source (source.py: the follower and refresher threads, shared with
the OTLP push). start() returns at once: the seed runs in the source's follower thread, and
until it is done /metrics says so (`agent_ledger_metrics_seeded 0`). Without --metrics-addr it
does nothing."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, start_http_server

from exporters.metrics.collector import LedgerCollector
from exporters.metrics.source import MetricsSource, acquire, release
from ledger.serve import ServeContext, parse_metrics_addr

__all__ = ["MetricsPlugin"]


class MetricsPlugin:
    """Serves /metrics while `ledger serve` runs (when `context.metrics_addr` is set)."""

    def __init__(self) -> None:
        self.source: MetricsSource | None = None
        self._server: Any = None

    def start(self, context: ServeContext) -> None:
        if context.metrics_addr is None:
            return
        host, port = parse_metrics_addr(context.metrics_addr)
        self.source = acquire(context.settings)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(LedgerCollector(self.source.snapshot))
        try:
            self._server, _ = start_http_server(port, host, registry=registry)
        except BaseException:
            release(self.source)
            self.source = None
            raise

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.source is not None:
            release(self.source)
            self.source = None
