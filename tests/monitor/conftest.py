"""Fixtures of the incremental-verify and monitor tests: a ledger that grew after a pin.

`grown`: run A (8 events) and the first half of run B are sequenced (checkpoints at sizes 8
and 12) and the note at size 12 is pinned; then the rest of run B and a run C follow
(checkpoints at 16 and 20). Run B crosses the pin, so its chain must be continued from its
last leaf before seq 12, which an incremental verify never reads as part of the range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
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


@pytest.fixture
def grown(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> Grown:
    run_b = chained_run(3)
    for batch in (chained_run(3), run_b[:4], run_b[4:], chained_run(1)):
        append(ledger_conn, ledger_settings, batch)
    pin = note_at(ledger_conn, PIN)
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"
    return Grown(ledger_conn, ledger_settings, ledger_settings.origin(), pin)


def verdict(report: VerifyReport) -> tuple[str, str | None, int | None, str | None]:
    return report.status, report.verdict, report.first_bad_seq, report.reason


@pytest.fixture
def main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], ledger_settings: Settings
) -> Main:
    """`ledger ARGS...` in this process against the test's ledger."""
    monkeypatch.setenv("LEDGER_DSN", ledger_settings.dsn or "")
    monkeypatch.setenv("LEDGER_HOME", str(ledger_settings.home))
    monkeypatch.delenv("LEDGER_VERIFY_STATE", raising=False)

    def run(*args: str) -> CliResult:
        return run_main(monkeypatch, capsys, *args)

    return run


def write_pin(tmp_path: Path, note: bytes, name: str = "pin.note") -> Path:
    path = tmp_path / name
    path.write_bytes(note)
    return path
