"""The Go reader (tests/tiles_static/goreader) built once per session, and a ledger crossing a
tile boundary: what the static tlog-tiles tests share."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from tests.ledgerkit import append, chained_run

GOREADER_SRC = Path(__file__).parent / "goreader" / "main.go"
GOCODE = Path("/usr/share/gocode")  # Debian's golang-golang-x-mod-dev


@dataclass(frozen=True)
class Reading:
    """One run of the Go reader: exit code, stdout lines, stderr."""

    code: int
    lines: list[str]
    stderr: str


GoReader = Callable[..., Reading]


@pytest.fixture(scope="session")
def goreader(tmp_path_factory: pytest.TempPathFactory) -> GoReader:
    """Build goreader offline in GOPATH mode (GO111MODULE=off, x/mod from /usr/share/gocode)
    once per session; skip, saying why, without Go (.ci/run installs it)."""
    go = shutil.which("go")
    if go is None or not (GOCODE / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        pytest.skip("Go or golang-golang-x-mod-dev is not installed "
                    "(apt-get install golang-go golang-golang-x-mod-dev; .ci/run does)")
    work = tmp_path_factory.mktemp("goreader")
    binary = work / "goreader"
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": f"{work / 'gopath'}:{GOCODE}",
           "GOCACHE": str(work / "cache"), "GOFLAGS": "", "CGO_ENABLED": "0"}
    subprocess.run([go, "build", "-o", str(binary), str(GOREADER_SRC)], env=env, check=True,
                   capture_output=True, timeout=300)

    def read(log_dir: Path, vkey: str, *leaves: int | str, old: Path | None = None) -> Reading:
        """Leaves are indexes to prove; strings are flags (-audit, -no-entries)."""
        args = [str(binary), "-dir", str(log_dir), "-vkey", vkey]
        args += [a for i in leaves if isinstance(i, str) for a in (i,)]
        args += [a for i in leaves if isinstance(i, int) for a in ("-leaf", str(i))]
        args += ["-old", str(old)] if old is not None else []
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        return Reading(proc.returncode, proc.stdout.splitlines(), proc.stderr)

    return read


def grow(conn: psycopg.Connection, settings: Settings, events: int) -> int:
    """Append complete runs of about `events` events (one batch each); the new log size."""
    total = 0
    while total < events:
        tools = min(100, max(0, (events - total - 2) // 2))
        total += append(conn, settings, chained_run(n_tools=tools))
    row = conn.execute("SELECT count(*) FROM ledger_events").fetchone()
    assert row is not None
    return int(row[0])
