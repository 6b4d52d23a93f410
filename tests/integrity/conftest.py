"""Fixtures for the integrity suite: the real `ledger` CLI against the test's ledger."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

import pytest

from ledger.config import Settings
from tests.conftest import LEDGER_BIN, REPO, CliResult

Cli = Callable[..., CliResult]


@pytest.fixture
def icli(ledger_settings: Settings) -> Cli:
    """Run `ledger ARGS...` as a real subprocess against the test's ledger."""

    def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        full_env = {
            **os.environ,
            "LEDGER_DSN": ledger_settings.dsn or "",
            "LEDGER_HOME": str(ledger_settings.home),
            **(env or {}),
        }
        proc = subprocess.run(
            [LEDGER_BIN, *args],
            capture_output=True,
            env=full_env,
            timeout=120,
            check=False,
            cwd=REPO,
        )
        return CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    return run
