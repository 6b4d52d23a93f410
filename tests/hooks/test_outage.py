"""The database going away mid-run and coming back; the spool; crash recovery; the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from typer.testing import CliRunner

import ledger.hooks as hooks
from ledger.cli.spool import app
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.verify import verify_ledger

from .conftest import FlakyDatabase, stored

REPO = Path(__file__).resolve().parents[2]


def test_db_away_mid_run_then_back_chain_intact(writer: Writer, flaky: FlakyDatabase,
                                                ledger_conn, ledger_settings):
    with hooks.run(agent="a", user="u") as run:
        run.custom("before")
        assert writer.flush()
        flaky.go_down()
        for i in range(50):
            run.custom("during", i=i)
        assert not writer.flush()  # only spooled
        assert writer.spool.status().events >= 50
        flaky.come_back()
        run.custom("after")
    assert writer.flush()
    assert writer.spool.status().files == 0
    events = stored(ledger_conn, run.run_id)
    assert len(events) == 1 + 1 + 50 + 1 + 1
    assert [e.run_seq for e in events] == list(range(len(events)))
    assert events[-1].data.event_count == len(events)
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"


def test_spool_survives_a_crash_and_torn_line_becomes_gap(ledger_settings: Settings,
                                                          ledger_conn):
    # A child process records while the database is unreachable, then dies without cleanup.
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from ledger.config import Settings
        from ledger.errors import DatabaseUnavailable
        import ledger.hooks as hooks

        def down():
            raise DatabaseUnavailable("down")

        hooks.configure(Settings(home=Path({str(ledger_settings.home)!r})), connect=down)
        run = hooks.run(agent="crashy").start()
        for i in range(10):
            run.custom("spooled", i=i)
        hooks.flush()
        print(run.run_id, flush=True)
        os._exit(9)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=REPO, check=False, timeout=120)
    assert proc.returncode == 9, proc.stderr
    run_id = proc.stdout.strip()
    spool_files = sorted((ledger_settings.home / "spool").glob("*.jsonl"))
    assert len(spool_files) == 1
    with spool_files[0].open("ab") as fh:
        fh.write(b'{"torn":')  # a crash mid-write
    env = {**os.environ, "LEDGER_HOME": str(ledger_settings.home),
           "LEDGER_DSN": ledger_settings.dsn}
    runner = CliRunner()
    status = runner.invoke(app, ["status", "--json"], env=env)
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["events"] == 12
    flushed = runner.invoke(app, ["flush"], env=env)
    assert flushed.exit_code == 0, flushed.output
    assert "delivered 12" in flushed.output
    import uuid

    events = stored(ledger_conn, uuid.UUID(run_id))
    assert [e.run_seq for e in events] == list(range(11))
    gaps = ledger_conn.execute(
        "SELECT count(*) FROM ledger_events WHERE type = 'ledger.gap'").fetchone()[0]
    assert gaps == 1
    assert runner.invoke(app, ["status", "--json"], env=env).output.count('"events": 0') == 1


def test_disk_and_db_both_down_keeps_events_in_memory(writer: Writer, flaky: FlakyDatabase,
                                                      ledger_conn, ledger_settings):
    spool_dir = ledger_settings.home / "spool"
    with hooks.run(agent="a") as run:
        assert writer.flush()
        flaky.go_down()
        spool_dir.parent.mkdir(parents=True, exist_ok=True)
        spool_dir.write_text("not a directory")  # the spool cannot be created
        for i in range(5):
            run.custom("kept-in-memory", i=i)
        assert not writer.flush()
        assert writer.stats.errors and any("spool" in e for e in writer.stats.errors)
        spool_dir.unlink()
        flaky.come_back()
    assert writer.flush()
    events = stored(ledger_conn, run.run_id)
    assert [e.run_seq for e in events] == list(range(7))  # started + 5 + ended
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"


def test_cli_status_text(ledger_settings: Settings):
    env = {**os.environ, "LEDGER_HOME": str(ledger_settings.home),
           "LEDGER_DSN": ledger_settings.dsn}
    result = CliRunner().invoke(app, ["status"], env=env)
    assert result.exit_code == 0 and "waiting: 0 events in 0 files" in result.output
