"""A larger export keeps memory flat; OCSF, JSONL and OTel exporters on a real ledger."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import psycopg
import pytest

from exporters import bundle as bundle_mod
from exporters.bundle import ExportParams, export_bundle
from exporters.bundle_verify import verify_bundle
from exporters.ocsf import validate
from exporters.registry import REGISTRY, get
from ledger import ids
from ledger.config import Settings
from tests.exporters.conftest import SINCE, UNTIL, rich_run
from tests.ledgerkit import append


def _peak(conn: psycopg.Connection, settings: Settings, out: Path, until: str) -> tuple[int, int]:
    tracemalloc.start()
    try:
        result = export_bundle(
            conn, settings, ExportParams(since=SINCE, until=until, out=out, record=False)
        )
        return result.events, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_large_export_memory_is_flat(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """~20k events: peak Python memory of the export does not grow with the period."""
    t0 = ids.parse_timestamp("2026-01-02T00:00:00Z")
    events = []
    for i in range(1850):
        events += rich_run(ids.format_timestamp(t0 + i * 60 * 10**9), n_tools=3)
    for lo in range(0, len(events), 5000):
        append(ledger_conn, ledger_settings, events[lo : lo + 5000])
    monkeypatch.setattr(bundle_mod, "BATCH", 2000)
    small_n, small = _peak(ledger_conn, ledger_settings, tmp_path / "s", "2026-01-02T06:00:00Z")
    big_n, big = _peak(ledger_conn, ledger_settings, tmp_path / "b", UNTIL)
    assert big_n == len(events) >= 20_000 and big_n >= 5 * small_n
    assert big < 64 * 2**20, f"peak {big / 2**20:.1f} MiB"
    assert big < 1.5 * small + 4 * 2**20, (small, big)
    assert verify_bundle(tmp_path / "b", None).valid


def test_registry_has_all_formats() -> None:
    assert set(REGISTRY) == {"bundle", "jsonl", "ocsf", "otel-metrics"}
    with pytest.raises(KeyError, match="unknown export format"):
        get("csv")


def test_ocsf_records_validate_against_schema(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    populated: dict[str, Any],
    tmp_path: Path,
) -> None:
    params = ExportParams(since=SINCE, until=UNTIL, out=tmp_path / "o")
    summary = get("ocsf").run(ledger_conn, ledger_settings, params, None)
    lines = (tmp_path / "o/api_activity.ocsf.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert summary["records"] == len(records) == 4 * (2 + 1)  # 2 tool calls + 1 model call/run
    for record in records:
        validate(record)
        assert record["class_uid"] == 6003 and record["actor"]["app_name"] == "billing-agent"
        assert record["unmapped"]["ai_agent"]["name"] == "billing-agent"
    failed = [r for r in records if r["status_id"] == 2]
    assert len(failed) == 4 and all(r["api"]["operation"] == "crm.update" for r in failed)
    broken = {**records[0], "class_uid": 3001}
    with pytest.raises(ValueError, match="6003"):
        validate(broken)
    with pytest.raises(ValueError, match="not in OCSF"):
        validate({**records[0], "agent_name": "x"})


def test_jsonl_and_otel_metrics(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    populated: dict[str, Any],
    tmp_path: Path,
) -> None:
    params = ExportParams(since=SINCE, until=UNTIL, out=tmp_path / "j")
    assert get("jsonl").run(ledger_conn, ledger_settings, params, None)["events"] == len(
        populated["inside"]
    )
    lines = (tmp_path / "j/events.jsonl").read_bytes().splitlines()
    assert [json.loads(line)["event_id"] for line in lines] == [
        str(e.event_id) for e in populated["inside"]
    ]
    params = ExportParams(since=SINCE, until=UNTIL, out=tmp_path / "m")
    get("otel-metrics").run(ledger_conn, ledger_settings, params, None)
    doc = json.loads((tmp_path / "m/metrics.otlp.json").read_text())
    metrics = {m["name"]: m for m in doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]}
    runs = metrics["agent_ledger.runs"]["sum"]["dataPoints"]
    assert [int(p["asInt"]) for p in runs] == [4]
    calls = {
        tuple(a["value"]["stringValue"] for a in p["attributes"]): int(p["asInt"])
        for p in metrics["agent_ledger.tool_calls"]["sum"]["dataPoints"]
    }
    assert calls == {
        ("crm.update", "error", "billing-agent"): 4,
        ("crm.update", "ok", "billing-agent"): 4,
    }
    fails = metrics["agent_ledger.policy_failures"]["sum"]["dataPoints"]
    assert [int(p["asInt"]) for p in fails] == [1]
    spend = metrics["agent_ledger.spend"]["sum"]["dataPoints"]
    assert spend[0]["asDouble"] == pytest.approx(0.05)
    assert metrics["agent_ledger.spend"]["unit"] == "USD"
