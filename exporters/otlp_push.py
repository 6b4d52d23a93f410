"""Push the ledger's metrics over OTLP (Datadog Agent, Grafana Alloy, any OTel Collector).

Why push, beside the Prometheus scrape: Datadog and Grafana Cloud users ingest OTLP through an
agent they already run (Datadog Agent `otlp_config`, Alloy `otelcol.receiver.otlp`), and a
push needs no inbound port on the ledger host. The OpenTelemetry SDK does the protocol work: a
MeterProvider with one observable instrument per metric name, read by our own MetricReader so
each push is one synchronous collect whose outcome we see (the SDK's periodic reader only logs
failures). Values come from a `Callable[[], Sequence[Sample]]` (exporters/metrics/snapshot.py),
called once per push before the collect, so a failing source is a failed push, not a callback
error inside the SDK.

Names are the ones Prometheus shows (`Sample.exposed`: a counter ends `_total`), so Datadog,
Alloy and a Prometheus scrape read the same series (docs/metrics.md). Counters are cumulative
over the whole log (the shared source's state, exporters/metrics/source.py) and exported with
cumulative temporality by default, so a restart of serve never resets them (Prometheus-bound
pipelines want this). `delta` (Datadog's preference) sends the change since the previous push,
counted from this process's first push: what was already in the log then is its baseline, so
a restarted serve does not send the whole history again as one spike. Histogram samples
(pre-aggregated buckets) have no observable instrument in the OTel API: they are added to each
collect's data as OTLP histograms, cumulative (or as differences under `delta`).
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.metrics.export import Histogram as HistogramData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from exporters.metrics.snapshot import Sample
from ledger import ids

__all__ = [
    "PROTOCOLS",
    "TEMPORALITIES",
    "OtlpProtocol",
    "OtlpPush",
    "PushConfig",
    "PushResult",
    "Temporality",
    "metrics_url",
]

OtlpProtocol = Literal["http/protobuf", "grpc"]
Temporality = Literal["cumulative", "delta"]
PROTOCOLS: tuple[OtlpProtocol, ...] = ("http/protobuf", "grpc")
TEMPORALITIES: tuple[Temporality, ...] = ("cumulative", "delta")
SCOPE = InstrumentationScope("agent-ledger.exporters.otlp_push", "1")
# the exporters' own loggers: their retry/failure lines are folded into our one warning
_EXPORTER_LOGGERS = ("opentelemetry.exporter.otlp.proto.http.metric_exporter",
                     "opentelemetry.exporter.otlp.proto.grpc.exporter")


@dataclass(frozen=True)
class PushConfig:
    """Where and how to push: `endpoint` is an http(s) URL (HTTP: the /v1/metrics path is
    added when the URL has none; gRPC: host and port, TLS for https)."""

    endpoint: str
    protocol: OtlpProtocol = "http/protobuf"
    temporality: Temporality = "cumulative"
    timeout: float = 10.0
    resource: tuple[tuple[str, str], ...] = (("service.name", "agent-ledger"),)


@dataclass(frozen=True)
class PushResult:
    """One push: whether the receiver took it, how many series, and why not (one line)."""

    ok: bool
    series: int
    error: str | None = None


def metrics_url(endpoint: str) -> str:
    """The OTLP/HTTP metrics URL: `http://host:4318` -> `http://host:4318/v1/metrics`."""
    parts = urlsplit(endpoint)
    if parts.path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/metrics"
    return endpoint


def _exporter(config: PushConfig) -> MetricExporter:
    timeout = config.timeout
    if config.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcExporter,
        )

        parts = urlsplit(config.endpoint)
        return GrpcExporter(endpoint=parts.netloc, insecure=parts.scheme == "http",
                            timeout=timeout)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(endpoint=metrics_url(config.endpoint), timeout=timeout)


class _Quiet(logging.Filter):
    """Drops the exporters' log records made on the pushing thread, keeping the gist of them:
    the push reports one line itself (a down endpoint must not print two lines per retry)."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(self.local, "active", False):
            found = _REASON.search(record.getMessage())
            if found:
                self.local.last = found.group(0)
            return False
        return True


# the useful part of the exporters' messages: an OS error (HTTP) or a gRPC status code
_REASON = re.compile(r"\[Errno \d+\] [^\"')]+|StatusCode\.[A-Z_]+|code: \d{3}, reason: [^.]+")
_QUIET = _Quiet()
for _name in _EXPORTER_LOGGERS:
    logging.getLogger(_name).addFilter(_QUIET)


class _PushReader(MetricReader):
    """Collect on demand, add the histogram samples, export, remember the outcome."""

    def __init__(self, exporter: MetricExporter, temporality: Temporality) -> None:
        kind = (AggregationTemporality.DELTA if temporality == "delta"
                else AggregationTemporality.CUMULATIVE)
        super().__init__(preferred_temporality={
            Counter: kind, ObservableCounter: kind, Histogram: kind})
        self.exporter = exporter
        self.histograms: list[Metric] = []
        self.resource = Resource.get_empty()
        self.result = MetricExportResult.SUCCESS
        self.received = False

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000,
                         **kwargs: Any) -> None:
        self.received = True
        data = _with_histograms(metrics_data, self.histograms, self.resource)
        self.result = self.exporter.export(data, timeout_millis=timeout_millis)

    def push(self, timeout_millis: float) -> None:
        """One collect and export; with no instrument (histograms only) the SDK's collect
        yields nothing, so the histograms are exported on their own."""
        self.received = False
        self.collect(timeout_millis=timeout_millis)
        if not self.received:
            self._receive_metrics(MetricsData([]), timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.exporter.shutdown(timeout_millis=timeout_millis)


def _with_histograms(data: MetricsData, extra: list[Metric], resource: Resource) -> MetricsData:
    if not extra:
        return data
    if not data.resource_metrics:
        scope = ScopeMetrics(SCOPE, extra, "")
        return MetricsData([ResourceMetrics(resource, [scope], "")])
    first = data.resource_metrics[0]
    scopes = list(first.scope_metrics) or [ScopeMetrics(SCOPE, [], "")]
    scopes[0] = ScopeMetrics(scopes[0].scope, [*scopes[0].metrics, *extra], scopes[0].schema_url)
    head = ResourceMetrics(first.resource, scopes, first.schema_url)
    return MetricsData([head, *data.resource_metrics[1:]])


SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


class OtlpPush:
    """One MeterProvider pushing `source()`'s samples to one endpoint, on each `push()`.

    Not thread-safe: one thread pushes (the serve plug-in's). `close()` shuts the exporter
    down; call `push()` first for a last export (serve does, at stop)."""

    def __init__(self, source: Callable[[], Sequence[Sample]], config: PushConfig) -> None:
        self.source = source
        self.config = config
        self.reader = _PushReader(_exporter(config), config.temporality)
        self.reader.resource = Resource.create(dict(config.resource))
        self.provider = MeterProvider(resource=self.reader.resource, metric_readers=[self.reader])
        self.meter = self.provider.get_meter(SCOPE.name, SCOPE.version)
        self._current: dict[str, list[Sample]] = {}
        self._kinds: dict[str, str] = {}
        self._previous: dict[SeriesKey, tuple[int, float, tuple[int, ...]]] = {}
        self._baseline: dict[SeriesKey, float] | None = None  # delta: the first push's values
        self._start_ns = self._last_ns = ids.now_ns()  # cumulative / delta start times

    def push(self) -> PushResult:
        """Read the samples, collect and export once; never raises for a failed push."""
        try:
            samples = list(self.source())
        except Exception as exc:  # any failure: a failing source is a failed push, one line
            return PushResult(False, 0, f"reading the metrics failed: {_one_line(exc)}")
        self._load(samples)
        _QUIET.local.active, _QUIET.local.last = True, None
        try:
            self.reader.push(self.config.timeout * 1000)
        except Exception as exc:  # the SDK raises on collect timeouts
            return PushResult(False, len(samples), _one_line(exc))
        finally:
            _QUIET.local.active = False
        if self.reader.result is MetricExportResult.SUCCESS:
            return PushResult(True, len(samples))
        # without a reason the exporter gave up before its first retry was due
        reason = _QUIET.local.last or (f"no answer within {self.config.timeout:g} s (refused, "
                                       "unreachable or too slow)")
        return PushResult(False, len(samples), reason)

    def close(self) -> None:
        """Shut the provider and exporter down (no further export)."""
        self.provider.shutdown()

    def _load(self, samples: Iterable[Sample]) -> None:
        current: dict[str, list[Sample]] = {}
        histograms: list[Sample] = []
        for sample in samples:
            if self._kinds.setdefault(sample.exposed, sample.kind) != sample.kind:
                continue  # a name keeps the kind it was first seen with
            if sample.kind == "histogram":
                histograms.append(sample)
            else:
                if sample.exposed not in current and sample.exposed not in self._current:
                    self._instrument(sample)
                current.setdefault(sample.exposed, []).append(sample)
        self._current = current
        first = self._baseline is None
        if first:
            self._baseline = {}
            if self.config.temporality == "delta":
                self._baseline = {_key(s): s.value or 0.0 for samples in current.values()
                                  for s in samples if s.kind == "counter"}
        self.reader.histograms = self._histograms(histograms, first=first)

    def _instrument(self, sample: Sample) -> None:
        def observe(_options: CallbackOptions, name: str = sample.exposed) -> list[Observation]:
            base = self._baseline or {}
            return [Observation((s.value or 0.0) - base.get(_key(s), 0.0), dict(s.labels))
                    for s in self._current.get(name, ())]

        if sample.kind == "counter":
            self.meter.create_observable_counter(sample.exposed, [observe],
                                                 description=sample.help)
        else:
            self.meter.create_observable_gauge(sample.exposed, [observe], description=sample.help)

    def _histograms(self, samples: list[Sample], *, first: bool) -> list[Metric]:
        delta = self.config.temporality == "delta"
        now, by_name = ids.now_ns(), dict[str, list[HistogramDataPoint]]()
        helps: dict[str, str] = {}
        for s in samples:
            key = _key(s)
            cumulative = tuple(c for _b, c in s.buckets)
            counts = tuple(b - a for a, b in zip((0, *cumulative), cumulative, strict=False))
            count, total = (cumulative[-1] if cumulative else 0), s.sum
            start = self._last_ns if delta else self._start_ns
            if delta:
                at_start = (count, total, counts) if first else (0, 0.0, ())
                last_count, last_sum, last_counts = self._previous.get(key, at_start)
                self._previous[key] = (count, total, counts)
                counts = tuple(c - p for c, p in zip(counts, last_counts or (0,) * len(counts),
                                                     strict=False))
                count, total = count - last_count, total - last_sum
            bounds = [b for b, _c in s.buckets if not math.isinf(b)]
            point = HistogramDataPoint(dict(s.labels), start, now, count, total, counts, bounds,
                                       min=None, max=None)  # type: ignore[arg-type]
            by_name.setdefault(s.name, []).append(point)
            helps[s.name] = s.help
        self._last_ns = now
        kind = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
        return [Metric(name, helps[name], "", HistogramData(points, kind))
                for name, points in by_name.items()]


def _key(sample: Sample) -> SeriesKey:
    return (sample.exposed, tuple(sorted(sample.labels.items())))


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
