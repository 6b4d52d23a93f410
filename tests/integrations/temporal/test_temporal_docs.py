"""docs/hooks.md "Temporal": the example runs as the reader runs it (a script, against the
session's dev server and this test's ledger), and records what the section says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence

from .conftest import stored

pytestmark = pytest.mark.xdist_group("temporal")
DOC = Path(__file__).resolve().parents[3] / "docs" / "hooks.md"


def _example() -> str:
    section = DOC.read_text(encoding="utf-8").split("### Temporal\n", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert found is not None
    return found.group(1)


def test_the_temporal_example_runs_and_records(
        temporal_address: str, writer: Writer, ledger_conn: psycopg.Connection,
        ledger_settings: Settings, tmp_path: Path) -> None:
    script = tmp_path / "refund_worker.py"
    script.write_text(_example(), encoding="utf-8")
    env = {**os.environ, "TEMPORAL_ADDRESS": temporal_address,
           "LEDGER_DSN": str(ledger_settings.dsn), "LEDGER_HOME": str(ledger_settings.home)}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "refunded A-17"
    writer.flush()
    try_sequence(ledger_conn, ledger_settings, wait=True)  # the script's events, from intake
    rows = ledger_conn.execute(
        "SELECT DISTINCT run_id FROM ledger_events WHERE type = 'run.started'").fetchall()
    assert len(rows) == 1
    events = stored(ledger_conn, rows[0][0])
    assert [e.type for e in events] == [
        "run.started", "run.suspended", "run.resumed", "tool.call.started", "tool.call.ended",
        "run.suspended", "run.resumed", "run.ended"]
    assert events[0].agent.name == "billing"
    assert events[0].correlation.workflow_id is not None
    assert events[0].correlation.workflow_id.startswith("refund-")
    assert events[4].data.result == "refunded A-17"
    assert events[-1].data.status == "succeeded"
