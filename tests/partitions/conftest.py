"""Fixtures of the partition tests: `ledger ...` in this process against the test's ledger."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.config import Settings
from tests.conftest import CliResult, run_main

Main = Callable[..., CliResult]


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         ledger_settings: Settings) -> Main:
    """`ledger ARGS...` through `ledger.cli.main` with this test's LEDGER_DSN and LEDGER_HOME."""
    monkeypatch.setenv("LEDGER_DSN", ledger_settings.dsn or "")
    monkeypatch.setenv("LEDGER_HOME", str(ledger_settings.home))

    def run(*args: str) -> CliResult:
        return run_main(monkeypatch, capsys, *args)

    return run
