"""Several `ledger import` processes on the same history at once: each record stored once."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import psycopg

from ledger.config import Settings
from tests.conftest import LEDGER_BIN

from .kit import FIXTURES, events, langfuse_run

BLOB = FIXTURES / "langfuse" / "blob-export.jsonl"


def test_concurrent_imports_store_each_record_once(ledger_settings: Settings,
                                                   ledger_conn: psycopg.Connection) -> None:
    env = {**os.environ, "LEDGER_DSN": ledger_settings.dsn or "",
           "LEDGER_HOME": str(ledger_settings.home)}
    procs = [subprocess.Popen([LEDGER_BIN, "import", "langfuse", str(BLOB), "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
             for _ in range(4)]
    reports: list[dict[str, Any]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode()
        reports.append(json.loads(out))
    assert all(r["seen"] == 5 and r["imported"] + r["already_present"] == 5 for r in reports)
    # Ingest cannot tell "sequenced by me" from "sequenced by a racing writer with the same
    # bytes", so more than one report may count a record imported; the ledger holds it once.
    assert sum(r["imported"] for r in reports) >= 5
    assert [len(events(ledger_conn, langfuse_run(t))) for t in ("t-refund", "t-lookup")] == [9, 4]
    count = ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone()
    assert count == (13 + _other_events(ledger_conn),)


def _other_events(conn: psycopg.Connection) -> int:
    """Events the ledger writes itself (keys, policy) beside the imported runs."""
    row = conn.execute("SELECT count(*) FROM ledger_events WHERE type NOT IN ('run.started', "
                       "'run.ended', 'llm.call.started', 'llm.call.ended', 'tool.call.started',"
                       " 'tool.call.ended', 'custom')").fetchone()
    return int(row[0]) if row else 0
