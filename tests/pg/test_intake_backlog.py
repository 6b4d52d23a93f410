"""The intake backlog (issue 15 item 3), from the operator's side: acknowledged events that wait
with nobody to sequence them make `ledger verify` exit 6 (STALLED) and show in `ledger db status`.

Ages are made, not waited for: the owner back-dates `received_at` of an intake row. The waiting
events are a run's tail without its `run.started`, so not even a live sequencer can take them and
the same backlog is seen with and without `ledger serve`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from exporters.bundle import ExportParams
from exporters.registry import get
from ledger.backlog import read_backlog
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.serve import serve
from ledger.store.append import submit
from tests.ledgerkit import append, chained_run

STALLED_LINE = re.compile(
    r"intake backlog: 2 events, oldest 72\d\ds, no sequencer running \(STALLED: over 60s\)"
)


def make_waiting(conn: psycopg.Connection, settings: Settings) -> None:
    """One sequenced run and two acknowledged events waiting for two hours (owner back-dates)."""
    append(conn, settings, chained_run(1))
    submit(conn, chained_run(1)[1:3], settings)  # no run.started: held in intake
    conn.execute("UPDATE ledger_intake SET received_at = now() - interval '2 hours'")


@pytest.fixture
def waiting(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> psycopg.Connection:
    make_waiting(ledger_conn, ledger_settings)
    return ledger_conn


@pytest.fixture
def live_serve(ledger_settings: Settings) -> Iterator[None]:
    """The real `serve` loop on its own connection, until the test ends.

    Held rows older than the held bound are rejected (issue 15 item 1): the two-hour-old waiting
    events stay held under a three-hour bound.
    """
    settings = dataclasses.replace(
        ledger_settings, extra={**ledger_settings.extra, "held_max_age": "3h"}
    )
    conn, stop = connect(settings), threading.Event()
    thread = threading.Thread(target=serve, args=(conn, settings, stop), daemon=True)
    thread.start()
    probe = connect(ledger_settings)
    while not read_backlog(probe, 60).sequencer_running:
        stop.wait(0.01)
    probe.close()
    yield
    stop.set()
    thread.join(10)
    conn.close()


def test_verify_exits_stalled_when_old_events_wait_unsequenced(waiting: Any, cli: Any) -> None:
    res = cli("verify")
    assert res.exit_code == 6, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("OK: 4 events in 1 log(s)") and STALLED_LINE.fullmatch(lines[1])
    res = cli("verify", "--json", "--max-backlog-age", "3h")  # the bound by option...
    assert res.exit_code == 0 and json.loads(res.stdout)["backlog"] == {
        "count": 2, "oldest_age_seconds": pytest.approx(7200, abs=120),
        "sequencer_running": False, "max_age_seconds": 10800.0, "stalled": False,
    }
    assert cli("verify", env={"LEDGER_MAX_BACKLOG_AGE": "3h"}).exit_code == 0  # ...or by env
    res = cli("db", "status")
    lines = res.stdout.splitlines()
    at = lines.index("intake pending: 2")
    assert res.exit_code == 0 and STALLED_LINE.fullmatch(lines[at + 1]), res.stdout


def test_metrics_export_carries_the_backlog(
    waiting: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    params = ExportParams(since="2020-01-01T00:00:00Z", until="2100-01-01T00:00:00Z",
                          out=tmp_path / "m")
    get("otel-metrics").run(waiting, ledger_settings, params, None)
    doc = json.loads((tmp_path / "m/metrics.otlp.json").read_text())
    gauges = {
        m["name"]: m["gauge"]["dataPoints"][0]
        for m in doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"] if "gauge" in m
    }
    assert gauges["agent_ledger.intake.pending"]["asInt"] == "2"
    assert gauges["agent_ledger.intake.oldest_age"]["asDouble"] == pytest.approx(7200, abs=120)
    assert gauges["agent_ledger.sequencer.running"]["asInt"] == "0"


@pytest.mark.usefixtures("live_serve")
def test_a_running_serve_is_seen_and_verify_passes(waiting: Any, cli: Any) -> None:
    res = cli("verify")
    assert res.exit_code == 0, res.stderr
    assert re.fullmatch(
        r"intake backlog: 2 events, oldest 72\d\ds, sequencer running", res.stdout.splitlines()[1]
    )

