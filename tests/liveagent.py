"""A busy agent in its own process, for the kill-switch tests (hooks CLI stop, TUI Stop panel).

Real PostgreSQL; the agent is a real subprocess (one decorated tool call every ~50 ms, each body
writes a marker file), so a stop recorded from another process (`ledger stop`, the TUI) must
reach it through the ledger alone. Conditions are waited on with deadlines; nothing sleeps
except those polling loops.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.store.sequencer import try_sequence
from tests.hooks.conftest import stored as _stored

REPO = Path(__file__).resolve().parents[1]

AGENT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import ledger, ledger.hooks as hooks
    from ledger.config import Settings

    home, dsn, marks, version = sys.argv[1:5]
    hooks.configure(Settings(home=Path(home), dsn=dsn))
    marks = Path(marks)

    @ledger.tool(name="refund")
    def refund(i: int) -> int:
        (marks / f"{i}").touch()  # one marker per body that ran
        return i

    deadline = time.monotonic() + 60
    try:
        with ledger.run(agent="looper", agent_version=version) as run:
            print(run.run_id, flush=True)
            i = 0
            while time.monotonic() < deadline:
                refund(i)
                i += 1
                time.sleep(0.05)  # the agent's own pace: one refund every ~50 ms
    except ledger.RunStopped as exc:
        print("STOPPED", repr(exc.stop.target), time.time(), flush=True)
        hooks.shutdown()
        sys.exit(3)
    sys.exit(0)
""")

Started = tuple[subprocess.Popen[str], uuid.UUID, Path]


def wait_until(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what or check}")


def sequenced(conn: psycopg.Connection, settings: Settings, run_id: Any) -> list[Any]:
    """The run's events once whatever is in intake is sequenced (the agent does not sequence:
    `ledger serve` would)."""
    try_sequence(conn, settings)
    return _stored(conn, run_id)


def busy_agents(settings: Settings, tmp_path: Path) -> Iterator[Callable[[str], Started]]:
    """Body of an `agent` fixture: `start(version)` runs the busy agent until it is busy."""
    procs: list[subprocess.Popen[str]] = []

    def start(version: str = "1.0") -> Started:
        marks = tmp_path / f"marks-{len(procs)}"
        marks.mkdir()
        proc = subprocess.Popen(
            [sys.executable, "-c", AGENT, str(settings.home), settings.dsn or "",
             str(marks), version], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "LEDGER_LIVE_POLL": "1.0"})
        procs.append(proc)
        assert proc.stdout is not None
        run_id = uuid.UUID(proc.stdout.readline().strip())
        wait_until(lambda: len(list(marks.iterdir())) >= 3, what="the agent to be busy")
        return proc, run_id, marks

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def halted(proc: subprocess.Popen[str], marks: Path, stopped_at: float,
           conn: psycopg.Connection, settings: Settings, run_id: uuid.UUID, target: str,
           requested_by: str = "ops@example") -> None:
    """The agent got RunStopped, the refused call's body never ran, the run ended stopped."""
    bodies_when_stopped = len(list(marks.iterdir()))
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 3, err
    assert out.startswith("STOPPED") and repr(target) in out
    assert float(out.split()[-1]) - stopped_at < 1.0  # halted within a second of the stop
    # at most the body already past its ack when the stop returned; never one after
    assert len(list(marks.iterdir())) - bodies_when_stopped <= 1
    wait_until(lambda: any(e.type == "run.ended" for e in sequenced(conn, settings, run_id)),
               what="run.ended")
    events = sequenced(conn, settings, run_id)
    ended = {e.data.tool_call_id: e.data.status for e in events if e.type == "tool.call.ended"}
    started = {e.data.tool_call_id: e.data.args["i"] for e in events
               if e.type == "tool.call.started"}
    refused = [started[c] for c, status in ended.items() if status == "refused"]
    assert len(refused) == 1 and not (marks / str(refused[0])).exists()
    assert sorted(int(p.name) for p in marks.iterdir()) == sorted(
        started[c] for c, status in ended.items() if status == "ok")
    assert set(ended) == set(started)  # no call left open
    run_end = events[-1]
    assert run_end.type == "run.ended" and run_end.data.status == "stopped"
    assert run_end.data.stopped_by.target == target
    assert run_end.data.stopped_by.requested_by == requested_by
