"""Resume across processes with no sequencer running (issue 17, fixruns): the default set-up
where processes only write to intake and nobody has run `ledger serve` yet. A run suspended in
one process is found by its key and resumed in another (same run_id, the chain continued), a
resumed or ended run still in intake is no longer found, and another tenant's suspension in
intake stays invisible. Real subprocesses, real PostgreSQL, documented API only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.store.sequencer import try_sequence
from ledger.verify import verify_ledger

from .conftest import stored

_SCRIPT = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    import ledger
    from ledger.hooks.continuity import open_run

    ledger.configure(dsn=sys.argv[1], home=Path(sys.argv[2]), sequence=False)
    step, key = sys.argv[3], sys.argv[4]
    found = ledger.find_suspended(key)
    with open_run(key, agent="graph-bot", user="alice") as run:
        run.llm_call(model="gpt-4o", input_tokens=10, output_tokens=1)
        if step == "suspend":
            run.suspend("interrupt")
    assert ledger.flush(30)
    print(json.dumps({"found": found and str(found), "run_id": str(run.run_id)}))
''')


def _process(settings: Settings, home: Path, step: str, key: str,
             tenant: str = "acme") -> dict[str, Any]:
    env = {**os.environ, "LEDGER_TENANT": tenant}
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, settings.dsn or "", str(home), step, key],
        capture_output=True, text=True, timeout=120, check=False, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_a_run_suspended_in_intake_is_resumed_by_another_process_without_a_sequencer(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    first = _process(ledger_settings, tmp_path / "p1", "suspend", "langgraph:t-1")
    assert first["found"] is None
    assert ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone() == (0,)
    other = _process(ledger_settings, tmp_path / "p2", "end", "langgraph:t-1", tenant="zeta")
    assert other["found"] is None and other["run_id"] != first["run_id"]  # tenant-scoped
    second = _process(ledger_settings, tmp_path / "p3", "suspend", "langgraph:t-1")
    assert second == {"found": first["run_id"], "run_id": first["run_id"]}
    third = _process(ledger_settings, tmp_path / "p4", "end", "langgraph:t-1")
    assert third == {"found": first["run_id"], "run_id": first["run_id"]}
    fourth = _process(ledger_settings, tmp_path / "p5", "end", "langgraph:t-1")
    assert fourth["found"] is None and fourth["run_id"] != first["run_id"]  # ended in intake
    assert ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone() == (0,)

    assert try_sequence(ledger_conn, ledger_settings) > 0  # what `ledger serve` does later
    assert ledger_conn.execute("SELECT count(*) FROM ledger_rejects").fetchone() == (0,)
    events = stored(ledger_conn, first["run_id"])
    assert [e.type for e in events] == [
        "run.started", "llm.call.started", "llm.call.ended", "run.suspended",
        "run.resumed", "llm.call.started", "llm.call.ended", "run.suspended",
        "run.resumed", "llm.call.started", "llm.call.ended", "run.ended"]
    assert [e.run_seq for e in events] == list(range(12))
    assert {e.tenant for e in events} == {"acme"}
    assert events[-1].data.totals.llm_calls == 3 and events[-1].data.event_count == 12
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"
