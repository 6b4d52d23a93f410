"""`ledger verify` reports the legal holds in force and what they cover (contract 7).

VerifyReport.held lists each hold in force with its scope and the seqs it covers now (a tenant
hold: the whole log; a run hold: its first to last event); the one-line summary counts them; a
released hold is no longer listed. Nothing archived: `archived` stays empty.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from ledger.config import Settings
from ledger.holds import add_hold, release_hold
from ledger.verify import report_line, verify_ledger
from tests.conftest import CliResult, run_main
from tests.ledgerkit import append, chained_run


def test_verify_reports_the_held_ranges(
    ledger_conn: psycopg.Connection, ledger_settings: Settings,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    events = chained_run(3)
    append(ledger_conn, ledger_settings, events)
    append(ledger_conn, ledger_settings, chained_run(2))
    run_hold, _ = add_hold(ledger_conn, ledger_settings, tenant="default", reason="case 1",
                           recorded_by="legal", run_id=events[0].run_id)  # fmt: skip
    tenant_hold, _ = add_hold(ledger_conn, ledger_settings, tenant="default", reason="case 2",
                              recorded_by="legal")  # fmt: skip
    report = verify_ledger(ledger_conn, ledger_settings)
    assert report.status == "ok", report.reason
    size = report.origins["agent-ledger.local/default"]
    assert [(h.hold_id, h.scope, h.seq_from, h.seq_to) for h in report.held] == [
        (str(run_hold), f"run {events[0].run_id} of tenant default", 0, len(events) - 1),
        (str(tenant_hold), "tenant default", 0, size - 1),
    ]
    assert report.archived == {}
    assert report_line(report).endswith("; 2 legal hold(s) in force")
    release_hold(ledger_conn, ledger_settings, tenant_hold, reason="done", recorded_by="legal")
    monkeypatch.setenv("LEDGER_DSN", ledger_settings.dsn or "")
    monkeypatch.setenv("LEDGER_HOME", str(ledger_settings.home))
    res: CliResult = run_main(monkeypatch, capsys, "verify", "--json")
    assert res.exit_code == 0, res.stderr
    held = json.loads(res.stdout)["held"]
    assert [(h["hold_id"], h["seq_to"]) for h in held] == [(str(run_hold), len(events) - 1)]
    line = run_main(monkeypatch, capsys, "verify").stdout
    assert line.startswith("OK: ") and line.endswith("; 1 legal hold(s) in force\n")
