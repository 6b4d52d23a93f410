"""The embedded server starts once, safely, and stays up until stopped or idle.

Real servers in their own data directories (not the session's shared one); every test stops what
it started and checks that no postmaster is left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import psycopg
import pytest

from ledger.db.embedded import (
    DEFAULT_IDLE_SECONDS,
    IDLE_ENV,
    embedded_dsn,
    embedded_status,
    idle_policy,
    stop_embedded,
)
from ledger.errors import InputError
from tests.conftest import LEDGER_BIN, REPO

DEADLINE_SECONDS = 60.0


def postmasters(pgdata: Path) -> list[int]:
    """Live postmaster processes serving `pgdata` (children rename themselves, so only the
    postmaster still shows `-D <pgdata>` on its command line)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if (
            proc.info["name"] == "postgres"
            and proc.info["status"] != psutil.STATUS_ZOMBIE
            and str(pgdata) in cmdline
        ):
            found.append(proc.pid)
    return found


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll until `condition` holds, failing after a deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def kill_hard(pid: int | None, what: str) -> int:
    """kill -9 `pid` and wait until it is gone (or a zombie nobody reaps)."""
    assert pid is not None, f"no {what} to kill"
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: gone(pid), f"the {what} to die")
    return pid


def select_one(dsn: str) -> int:
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        row = conn.execute("SELECT 1").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def pgdata() -> Iterator[Path]:
    """A data directory of its own (short path, outside pytest's temp dirs); its server and
    watchdog are stopped and the directory removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="ledger-emb-"))
    data = (base / "pgdata").resolve()
    yield data
    stop_embedded(data)
    wait_for(lambda: not postmasters(data), "the test's server to stop")
    shutil.rmtree(base, ignore_errors=True)


def test_idle_policy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(IDLE_ENV, raising=False)
    assert idle_policy() == DEFAULT_IDLE_SECONDS == 900
    for text, seconds in [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("0.5", 0.5)]:
        monkeypatch.setenv(IDLE_ENV, text)
        assert idle_policy() == seconds
    for never in ("0", "never", "off"):
        monkeypatch.setenv(IDLE_ENV, never)
        assert idle_policy() == 0
    monkeypatch.setenv(IDLE_ENV, "soon")
    with pytest.raises(InputError, match=IDLE_ENV):
        idle_policy()


def test_eight_threads_start_one_server(pgdata: Path) -> None:
    barrier = threading.Barrier(8)
    results: list[str] = []
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            results.append(embedded_dsn(pgdata, idle=0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_SECONDS)
    assert errors == []
    assert len(results) == 8 and len(set(results)) == 1
    assert select_one(results[0]) == 1
    assert len(postmasters(pgdata)) == 1


CHILD = """
import sys, time
from pathlib import Path
from ledger.db.embedded import embedded_dsn
pgdata, go = Path(sys.argv[1]), Path(sys.argv[2])
Path(sys.argv[3]).touch()  # ready: imported, about to wait
while not go.exists():
    time.sleep(0.005)
print(embedded_dsn(pgdata, idle=0))
"""


def test_four_processes_start_one_server_that_outlives_them(pgdata: Path) -> None:
    go = pgdata.with_name("go")
    ready = [pgdata.with_name(f"ready-{i}") for i in range(4)]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(pgdata), str(go), str(mark)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mark in ready
    ]
    wait_for(lambda: all(mark.exists() for mark in ready), "the children to be ready")
    go.touch()
    outcomes = [child.communicate(timeout=DEADLINE_SECONDS) for child in children]

    assert [child.returncode for child in children] == [0, 0, 0, 0]
    assert [err for _, err in outcomes] == ["", "", "", ""]  # no traceback, no JSONDecodeError
    dsns = {out.strip() for out, _ in outcomes}
    assert len(dsns) == 1
    # The server stays up after the processes that started it have exited.
    assert embedded_status(pgdata).running
    assert select_one(dsns.pop()) == 1
    assert len(postmasters(pgdata)) == 1


def ledger(home: Path, *args: str, idle: str | None = None) -> str:
    """Run the real `ledger` command against the embedded server of `home`."""
    env = {k: v for k, v in os.environ.items() if k not in ("LEDGER_DSN", IDLE_ENV)}
    env["LEDGER_HOME"] = str(home)
    if idle is not None:
        env[IDLE_ENV] = idle
    proc = subprocess.run(
        [LEDGER_BIN, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_cli_keeps_the_server_up_until_db_stop(pgdata: Path) -> None:
    home = pgdata.parent
    first = ledger(home, "db", "status")
    assert "started by this command; stops after 15 min without clients" in first
    status = embedded_status(pgdata)
    assert status.running and status.idle_stop_seconds == DEFAULT_IDLE_SECONDS
    watchdog = status.watchdog_pid
    assert watchdog is not None

    assert f"pid {status.pid}, already running" in ledger(home, "db", "status")
    assert ledger(home, "db", "stop").startswith("stopped the embedded PostgreSQL")
    assert not embedded_status(pgdata).running
    assert postmasters(pgdata) == []
    wait_for(lambda: gone(watchdog), "the watchdog to exit")
    assert "was not running" in ledger(home, "db", "stop")

    again = ledger(home, "db", "status", idle="never")
    assert "started by this command; stays up until `ledger db stop`" in again
    restarted = embedded_status(pgdata)
    assert restarted.running and restarted.pid != status.pid
    assert restarted.watchdog_pid is None and len(postmasters(pgdata)) == 1


def test_idle_server_stops_itself_but_never_with_a_client(pgdata: Path) -> None:
    idle = 0.5
    dsn = embedded_dsn(pgdata, idle=idle)
    status = embedded_status(pgdata)
    watchdog = status.watchdog_pid
    assert status.idle_stop_seconds == idle and watchdog is not None
    with psycopg.connect(dsn) as client:
        # Watch for several idle periods: a connected client keeps the server up.
        until = time.monotonic() + 6 * idle
        while time.monotonic() < until:
            assert embedded_status(pgdata).running
            time.sleep(0.05)
        assert client.execute("SELECT 1").fetchone() == (1,)
    wait_for(lambda: postmasters(pgdata) == [], "the idle server to stop")
    assert not embedded_status(pgdata).running
    wait_for(lambda: gone(watchdog), "the watchdog to exit")
    # The next start brings it back.
    assert select_one(embedded_dsn(pgdata, idle=0)) == 1


def test_killed_server_is_restarted_cleanly(pgdata: Path) -> None:
    embedded_dsn(pgdata, idle=0)
    killed = kill_hard(embedded_status(pgdata).pid, "postmaster")
    assert not embedded_status(pgdata).running

    dsn = embedded_dsn(pgdata, idle=0)
    assert select_one(dsn) == 1
    assert embedded_status(pgdata).pid not in (None, killed)
    assert len(postmasters(pgdata)) == 1


def test_killed_watchdog_is_replaced_by_the_next_start(pgdata: Path) -> None:
    embedded_dsn(pgdata, idle=600)
    first = kill_hard(embedded_status(pgdata).watchdog_pid, "watchdog")
    assert embedded_status(pgdata).watchdog_pid is None  # a zombie is not a watchdog

    embedded_dsn(pgdata, idle=600)
    second = embedded_status(pgdata)
    assert second.watchdog_pid not in (None, first) and second.idle_stop_seconds == 600
