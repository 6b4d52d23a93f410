"""Fixtures of the incremental-verify and monitor tests: a ledger that grew after a pin.

`grown`: run A (8 events) and the first half of run B are sequenced (checkpoints at sizes 8
and 12) and the note at size 12 is pinned; then the rest of run B and a run C follow
(checkpoints at 16 and 20). Run B crosses the pin, so its chain must be continued from its
last leaf before seq 12, which an incremental verify never reads as part of the range.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo

from ledger.config import Settings
from ledger.db.connect import connect
from ledger.verify import verify_ledger
from ledger.verify_report import VerifyReport
from tests.conftest import CliResult, run_main
from tests.ledgerkit import append, chained_run

PIN = 12
SIZE = 20
Main = Callable[..., CliResult]


@dataclass(frozen=True)
class Grown:
    """The grown ledger: its connection, settings, origin and the note pinned at size 12."""

    conn: psycopg.Connection
    settings: Settings
    origin: str
    pin: bytes


def note_at(conn: psycopg.Connection, size: int) -> bytes:
    row = conn.execute(
        "SELECT note FROM ledger_checkpoints WHERE tree_size = %s", (size,)
    ).fetchone()
    assert row is not None
    return str(row[0]).encode()


@pytest.fixture(scope="session")
def grown_template(
    pg_admin_dsn: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, bytes]:
    """Build the grown ledger once (database name, home, pinned note); tests clone it."""
    name = f"grown_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    settings = Settings(home=tmp_path_factory.mktemp("grown") / "home",
                        dsn=conninfo.make_conninfo(pg_admin_dsn, dbname=name))
    with connect(settings) as conn:
        run_b = chained_run(3)
        for batch in (chained_run(3), run_b[:4], run_b[4:], chained_run(1)):
            append(conn, settings, batch)
        pin = note_at(conn, PIN)
        assert verify_ledger(conn, settings).status == "ok"
    return name, settings.home, pin


@pytest.fixture
def grown(
    pg_admin_dsn: str, grown_template: tuple[str, Path, bytes], tmp_path: Path
) -> Iterator[Grown]:
    """A fresh copy of the grown ledger: its own database and home (keys copied)."""
    template, home, pin = grown_template
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    shutil.copytree(home, tmp_path / "home")
    settings = Settings(home=tmp_path / "home",
                        dsn=conninfo.make_conninfo(pg_admin_dsn, dbname=name))
    conn = connect(settings)
    try:
        yield Grown(conn, settings, settings.origin(), pin)
    finally:
        conn.close()
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def verdict(report: VerifyReport) -> tuple[str, str | None, int | None, str | None]:
    return report.status, report.verdict, report.first_bad_seq, report.reason


@pytest.fixture
def main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], grown: Grown
) -> Main:
    """`ledger ARGS...` in this process against the grown ledger."""
    monkeypatch.setenv("LEDGER_DSN", grown.settings.dsn or "")
    monkeypatch.setenv("LEDGER_HOME", str(grown.settings.home))
    monkeypatch.delenv("LEDGER_VERIFY_STATE", raising=False)

    def run(*args: str) -> CliResult:
        return run_main(monkeypatch, capsys, *args)

    return run


def write_pin(tmp_path: Path, note: bytes, name: str = "pin.note") -> Path:
    path = tmp_path / name
    path.write_bytes(note)
    return path
