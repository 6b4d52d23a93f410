"""Crash safety: kill -9 writers and sequencers at random points, then check nothing was lost.

Each iteration starts one writer and two competing sequencers as real processes, kills all of
them with SIGKILL after a random short delay, and checks that checkpoints never went backwards.
At the end every event the writer acknowledged (its receipt line is fsynced only after the
intake commit returned) is in the log exactly once, and `verify` passes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import psycopg

from ledger.config import Settings
from ledger.store.sequencer import try_sequence
from ledger.verify import verify_ledger
from tests.conftest import REPO

WRITER = """
import os, sys
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.append import submit
from tests.ledgerkit import chained_run
settings = Settings.from_env()
conn = connect(settings)
out = open(sys.argv[1], "a")
print("ready", flush=True)
while True:
    for event in chained_run(3):
        receipt = submit(conn, [event], settings)[0]
        out.write(f"{receipt.event_id} {receipt.leaf_hash.hex()}\\n")
        out.flush()
        os.fsync(out.fileno())
"""

SEQUENCER = """
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.sequencer import try_sequence
settings = Settings(home=Settings.from_env().home, dsn=Settings.from_env().dsn, batch_size=7)
conn = connect(settings)
print("ready", flush=True)
while True:
    try_sequence(conn, settings, wait=False)
"""


def _spawn(code: str, settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LEDGER_DSN": settings.dsn or "",
        "LEDGER_HOME": str(settings.home),
        "PYTHONPATH": str(REPO),
    }
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _max_size(conn: psycopg.Connection) -> int:
    return int(
        conn.execute("SELECT coalesce(max(tree_size), 0) FROM ledger_checkpoints").fetchone()[0]  # type: ignore[index]
    )


def test_kill_9_at_random_points(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    rng = random.Random(20261124)
    receipts = tmp_path / "receipts.txt"
    receipts.touch()
    try_sequence(ledger_conn, ledger_settings)  # creates the log key before the races start
    sizes = [0]
    for _ in range(20):
        procs = [
            _spawn(WRITER, ledger_settings, str(receipts)),
            _spawn(SEQUENCER, ledger_settings),
            _spawn(SEQUENCER, ledger_settings),
        ]
        for proc in procs:  # the random delay starts once every process is connected
            assert proc.stdout is not None
            proc.stdout.readline()
        delay = rng.uniform(0.2, 1.5)
        try:
            procs[0].wait(timeout=delay)
        except subprocess.TimeoutExpired:
            pass
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            _out, errors = proc.communicate()
            assert proc.returncode == -signal.SIGKILL, errors[-2000:]
        sizes.append(_max_size(ledger_conn))
        assert sizes[-1] >= sizes[-2], f"checkpoint went backwards: {sizes}"
    try_sequence(ledger_conn, ledger_settings, wait=True)
    acked = [line.split() for line in receipts.read_text().splitlines() if line.strip()]
    assert len(acked) >= 10, "the writer never got going"
    rows = ledger_conn.execute(
        "SELECT event_id::text, leaf_hash FROM ledger_events WHERE event_id = ANY(%s::uuid[])",
        ([a[0] for a in acked],),
    ).fetchall()
    stored = {eid: bytes(leaf).hex() for eid, leaf in rows}
    missing = [a[0] for a in acked if stored.get(a[0]) != a[1]]
    assert missing == [], f"{len(missing)} acknowledged events lost"
    assert ledger_conn.execute(
        "SELECT count(*) = count(DISTINCT event_id) FROM ledger_events"
    ).fetchone() == (True,)
    report = verify_ledger(ledger_conn, ledger_settings)
    assert report.status == "ok", report.reason
    assert _max_size(ledger_conn) >= len(acked) >= 10
    cps = [
        r[0]
        for r in ledger_conn.execute("SELECT tree_size FROM ledger_checkpoints ORDER BY created_at")
    ]
    assert cps == sorted(cps)
