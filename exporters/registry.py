"""One registry for every exporter: `ledger export --format NAME` looks the name up here.

Why: each format is a small module (bundle, jsonl, ocsf, otel-metrics) with the same calling
convention, so adding a format is one `register` call and the CLI never changes. The streaming
formats share `period_rows`, which yields the flat rows of a period in `seq` order, in batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

from exporters import jsonl, ocsf, otel_metrics
from exporters.bundle import BATCH, ExportParams, export_bundle, parse_ts
from exporters.bundle_scan import scope_batches
from ledger import ids
from ledger.config import Settings
from ledger.errors import InputError
from ledger.store.read import latest_checkpoint

__all__ = ["REGISTRY", "Exporter", "get", "period_rows", "register"]

Progress = Callable[[int, int], None] | None
Runner = Callable[[psycopg.Connection, Settings, ExportParams, Progress], dict[str, Any]]


@dataclass(frozen=True)
class Exporter:
    """A named export format and the function that writes it into `params.out`."""

    name: str
    description: str
    run: Runner


REGISTRY: dict[str, Exporter] = {}


def register(exporter: Exporter) -> Exporter:
    """Add (or replace) an exporter under its name."""
    REGISTRY[exporter.name] = exporter
    return exporter


def get(name: str) -> Exporter:
    """The exporter called `name`; KeyError names the known formats."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown export format {name!r}; known: {', '.join(REGISTRY)}") from None


def period_rows(
    conn: psycopg.Connection, settings: Settings, params: ExportParams, progress: Progress = None
) -> tuple[str, Iterator[dict[str, Any]]]:
    """(origin, flat rows of the period up to the latest checkpoint, in seq order)."""
    since, until = parse_ts(params.since, "since"), parse_ts(params.until, "until")
    if until <= since:
        raise InputError("--until must be later than --since (the period is [since, until))")
    origin = settings.origin(params.tenant)
    latest = latest_checkpoint(conn, origin)
    end = latest.tree_size if latest else 0

    def rows() -> Iterator[dict[str, Any]]:
        done = 0
        for batch in scope_batches(
            conn,
            origin,
            span=(0, end),
            index_bounds=(ids.format_timestamp(since - 1000), ids.format_timestamp(until + 1000)),
            period=(ids.format_timestamp(since), ids.format_timestamp(until)),
            step=BATCH,
        ):
            for i in range(len(batch)):
                yield batch.row(i)
            done += len(batch)
            if progress:
                progress(done, max(done, end))

    return origin, rows()


def _prepare(params: ExportParams) -> None:
    if params.out.exists() and any(params.out.iterdir()):
        raise InputError(f"{params.out} exists and is not empty; choose a new directory")
    params.out.mkdir(parents=True, exist_ok=True)


def _bundle(
    conn: psycopg.Connection, settings: Settings, params: ExportParams, progress: Progress
) -> dict[str, Any]:
    result = export_bundle(conn, settings, params, progress)
    summary = asdict(result)
    summary["out"] = str(result.out)
    summary["manifest_sha256"] = result.manifest_sha256
    return summary


def _jsonl(
    conn: psycopg.Connection, settings: Settings, params: ExportParams, progress: Progress
) -> dict[str, Any]:
    origin, rows = period_rows(conn, settings, params, progress)
    _prepare(params)
    n = jsonl.write(rows, params.out / "events.jsonl")
    return {"events": n, "file": str(params.out / "events.jsonl"), "origin": origin}


def _ocsf(
    conn: psycopg.Connection, settings: Settings, params: ExportParams, progress: Progress
) -> dict[str, Any]:
    origin, rows = period_rows(conn, settings, params, progress)
    _prepare(params)
    n = ocsf.write(rows, params.out / "api_activity.ocsf.jsonl", origin)
    return {
        "events": n,
        "records": n,
        "file": str(params.out / "api_activity.ocsf.jsonl"),
        "ocsf_version": ocsf.OCSF_VERSION,
        "origin": origin,
    }


def _otel(
    conn: psycopg.Connection, settings: Settings, params: ExportParams, progress: Progress
) -> dict[str, Any]:
    origin, rows = period_rows(conn, settings, params, progress)
    _prepare(params)
    counted = 0

    def counting() -> Iterator[dict[str, Any]]:
        nonlocal counted
        for row in rows:
            counted += 1
            yield row

    from ledger.backlog import read_backlog

    backlog = read_backlog(conn)
    points = otel_metrics.write(
        counting(), params.out / "metrics.otlp.json", params.since, params.until, origin, backlog
    )
    return {
        "events": counted,
        "data_points": points,
        "origin": origin,
        "file": str(params.out / "metrics.otlp.json"),
    }


register(Exporter("bundle", "SOC 2 evidence bundle (signed, offline-verifiable)", _bundle))
register(Exporter("jsonl", "canonical JSON Lines (the hashed bytes)", _jsonl))
register(Exporter("ocsf", "OCSF 1.7.0 API Activity JSON Lines for SIEMs", _ocsf))
register(Exporter("otel-metrics", "OpenTelemetry metrics as OTLP/JSON", _otel))
