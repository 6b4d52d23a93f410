"""Reading commands with a writer credential (walk-through #14 of issue 19).

A `ledger_writer` role may insert into intake and never read the log. `gate check`, `gate
run`, `gate compare`, `ledger versions` and `ledger runs` run with one end in one line `error:
the database role may not do this (...)`, exit 3 (DATABASE), never "internal error" (70);
`gate run` stops before any attempt runs, so nothing is recorded for a gate it cannot judge."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql

from ledger import hooks
from ledger.config import Settings
from tests.gate.checkkit import run_cli, suite_file
from tests.gate.test_run_policy import SUITE


@pytest.fixture
def writer_dsn(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
               ledger_conn: psycopg.Connection, ledger_settings: Settings) -> Iterator[str]:
    role = f"w_g_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("W_PW", "pw-g")
    added = run_cli(monkeypatch, capsys, ledger_settings, "db", "writer", "add", role,
                    "--tenant", "default", "--password-env", "W_PW")
    assert added.exit_code == 0, added.stderr
    try:
        yield conninfo.make_conninfo(ledger_settings.dsn or "", user=role, password="pw-g")
    finally:
        ledger_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_reading_commands_with_a_writer_role_say_so_in_one_line(
    writer_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path, ledger_conn: psycopg.Connection, ledger_settings: Settings,
) -> None:
    path = str(suite_file(tmp_path, SUITE))
    as_writer = Settings(home=ledger_settings.home, dsn=writer_dsn)
    before = ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone()
    for args in (("gate", "check", path, "--runs", "v4"), ("gate", "run", path, "--label", "w"),
                 ("gate", "compare", "--baseline", "a", "--candidate", "b"),
                 ("versions", "flaky"), ("runs",)):
        try:
            res = run_cli(monkeypatch, capsys, as_writer, *args)
        finally:
            hooks.shutdown()
        assert res.exit_code == 3, (args, res.stderr)
        assert res.stdout == "" and res.stderr.startswith("error: the database role may not "
                                                          "do this (permission denied for "), args
        assert res.stderr.endswith("use the ledger owner, an operator or a reader role\n")
    after = ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone()
    intake = ledger_conn.execute("SELECT count(*) FROM ledger_intake").fetchone()
    assert before == after and intake == (0,)  # gate run ran no attempt
