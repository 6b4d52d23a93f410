"""A process configured to sequence (`ledger.configure(sequence=True)`, or embedded mode)
leaves nothing in intake when it exits (fixruns): what its writer flushes at
`ledger.shutdown()` or at interpreter exit is sequenced too, also when several such processes
exit at once and another one holds the sequencer's leadership at that moment. Real
subprocesses, real PostgreSQL, documented API only."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import psycopg
import pytest

from ledger.config import Settings
from ledger.verify import verify_ledger

_SCRIPT = textwrap.dedent('''
    import sys
    from pathlib import Path
    import ledger

    ledger.configure(dsn=sys.argv[1], home=Path(sys.argv[2]), sequence=True)
    for i in range(int(sys.argv[4])):
        with ledger.run(agent="exit-bot", user=f"user-{i}") as run:
            run.llm_call(model="gpt-4o", input_tokens=10, output_tokens=1)
    if sys.argv[3] == "shutdown":
        ledger.shutdown()
    # else: nothing; the interpreter's exit flushes
''')


def _spawn(settings: Settings, how: str, runs: int) -> subprocess.Popen[str]:
    """One agent process on this ledger (its home too: the log key the sequencer signs with)."""
    return subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, settings.dsn or "", str(settings.home), how, str(runs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def _counts(conn: psycopg.Connection) -> tuple[int, int, int]:
    row = conn.execute("SELECT (SELECT count(*) FROM ledger_intake), "
                       "(SELECT count(*) FROM ledger_events WHERE type = 'run.ended'), "
                       "(SELECT count(*) FROM ledger_rejects)").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


@pytest.mark.parametrize("how", ["shutdown", "atexit"])
def test_a_sequencing_process_leaves_its_events_sequenced_when_it_exits(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, how: str
) -> None:
    proc = _spawn(ledger_settings, how, 3)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert _counts(ledger_conn) == (0, 3, 0)
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"


def test_processes_exiting_together_leave_intake_empty(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    procs = [_spawn(ledger_settings, ("shutdown", "atexit")[i % 2], 20)
             for i in range(6)]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
    assert _counts(ledger_conn) == (0, 120, 0)
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"


def test_a_process_exiting_while_another_sequences_still_sequences_its_events(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    """Another sequencer holds leadership while the process writes (its passes find the log
    busy); at exit the process waits for its turn instead of leaving its events in intake."""
    with ledger_conn.transaction():  # this test is "the other sequencer" for a moment
        ledger_conn.execute("SELECT 1 FROM ledger_sequencer_state FOR UPDATE")
        proc = _spawn(ledger_settings, "shutdown", 3)
        deadline = time.monotonic() + 120
        while _counts(ledger_conn)[0] < 12:  # 3 runs of 4 events, all durable in intake
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert _counts(ledger_conn) == (0, 3, 0)
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"
