"""One primary + streaming replica per test session, a ledger on it, runs recorded by the hooks.

Every test module here is in the xdist group "replica" (GROUP), so one worker runs them all
against one pair (started once, stopped at session end). The ledger commands run as real
`ledger` processes with LEDGER_DSN = the primary and, where a test says so, LEDGER_READ_DSN =
the replica; each command line is added to the pair's transcript as docs/scaling.md shows it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.sequencer import try_sequence
from tests.conftest import LEDGER_BIN, CliResult, run_main
from tests.replica.pair import Pair, start_pair

#: every test module here sets `pytestmark = GROUP`: one worker runs them all on the one pair
GROUP = pytest.mark.xdist_group("replica")


@dataclass
class Replicated:
    """The pair, the ledger's home, and how to run `ledger` against it."""

    pair: Pair
    home: Path
    #: the transcript of the set-up (servers, `ledger init`): docs/scaling.md's first block
    setup: tuple[str, ...] = ()

    @property
    def settings(self) -> Settings:
        """The primary's settings (writes)."""
        return Settings(home=self.home, dsn=self.pair.dsn("primary"))

    @property
    def replica_settings(self) -> Settings:
        """Reads from the replica, writes to the primary."""
        return Settings(home=self.home, dsn=self.pair.dsn("primary"),
                        read_dsn=self.pair.dsn("replica"))  # fmt: skip

    def ledger(self, *args: str, replica: bool = False, record: bool = True) -> CliResult:
        """`ledger ARGS` as a real process; with `replica`, LEDGER_READ_DSN names the replica.
        Most tests use the in-process `cli` fixture below (the same parsing and exit codes)."""
        env = {**os.environ, **self.env(replica)}
        if not replica:
            env.pop("LEDGER_READ_DSN", None)
        if record:
            self.note(args, replica)
        proc = subprocess.run([LEDGER_BIN, *args], capture_output=True, env=env, timeout=120,
                              check=False)  # fmt: skip
        return CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    def env(self, replica: bool) -> dict[str, str]:
        """The environment of a `ledger` command on this pair."""
        env = {"LEDGER_HOME": str(self.home), "LEDGER_DSN": self.pair.dsn("primary")}
        return {**env, "LEDGER_READ_DSN": self.pair.dsn("replica")} if replica else env

    def note(self, args: tuple[str, ...], replica: bool) -> None:
        """Add a command line to the transcript as docs/scaling.md shows it."""
        prefix = "LEDGER_READ_DSN=$REPLICA " if replica else ""
        self.pair.transcript.append(self.pair.shown(prefix + shlex.join(["ledger", *args])))

    def record_runs(self, n: int, agent: str = "replica-agent") -> list[str]:
        """`n` runs (one tool call each) through the real hooks, sequenced on the primary; their
        run ids."""
        settings, run_ids = self.settings, []
        hooks.configure(settings, sequence=True, sequence_interval=0.0)
        try:
            @hooks.tool(side_effect=False)
            def lookup(order_id: str) -> str:
                return f"order {order_id}: shipped"

            for i in range(n):
                with hooks.run(agent=agent, user="alice@example.com") as run:
                    lookup(f"A-{i}")
                run_ids.append(str(run.run_id))
            assert hooks.flush(30)
        finally:
            hooks.shutdown()
        with connect(settings) as conn:
            try_sequence(conn, settings, wait=True)
        return run_ids

    def paused(self) -> None:
        """Pause WAL replay on the replica and wait until it is in effect."""
        self.pair.sql("replica", "SELECT pg_wal_replay_pause()")
        self.wait_paused()

    def wait_paused(self) -> None:
        """Wait until a pause of WAL replay is in effect (it is asynchronous)."""
        deadline = time.monotonic() + 10
        with psycopg.connect(self.pair.dsn("replica", "postgres"), autocommit=True) as conn:
            while True:
                row = conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()
                if row is not None and row[0] == "paused":
                    return
                assert time.monotonic() < deadline, "replay never paused"
                time.sleep(0.02)  # polling with a deadline

    def resumed(self) -> None:
        """Resume WAL replay and wait until the replica has caught up."""
        self.pair.sql("replica", "SELECT pg_wal_replay_resume()")
        self.pair.caught_up()


@pytest.fixture(scope="session")
def replicated() -> Iterator[Replicated]:
    """The pair with a ledger: `ledger init` on the primary, 3 runs through the hooks, and the
    replica caught up. Both servers are stopped at session end."""
    pair = start_pair()
    home = Path(tempfile.mkdtemp(prefix="ledger-replica-home-"))
    try:
        ready = Replicated(pair, home)
        pair.transcript.append(pair.shown(f"export LEDGER_DSN={pair.dsn('primary')}"))
        pair.transcript.append(pair.shown(f"export REPLICA={pair.dsn('replica')}"))
        init = ready.ledger("init")
        assert init.exit_code == 0, init.stderr
        ready.setup = tuple(pair.transcript)
        ready.record_runs(3)
        pair.caught_up()
        yield ready
    finally:
        pair.stop()
        subprocess.run(["rm", "-rf", str(home)], check=False)


Cli = Callable[..., CliResult]


@pytest.fixture
def cli(replicated: Replicated, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    """`cli("verify", replica=True)`: `ledger ...` in this process (tests.conftest.run_main) on
    the pair, recorded in the transcript unless `record=False`."""

    def run(*args: str, replica: bool = False, record: bool = True) -> CliResult:
        monkeypatch.delenv("LEDGER_READ_DSN", raising=False)
        for name, value in replicated.env(replica).items():
            monkeypatch.setenv(name, value)
        if record:
            replicated.note(args, replica)
        return run_main(monkeypatch, capsys, *args)

    return run
