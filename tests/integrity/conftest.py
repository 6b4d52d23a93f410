"""Fixtures for the integrity suite: the real `ledger` CLI with this suite's command modules loaded.

Until the lead registers prove/witness/redact in `ledger.cli`, `icli` runs `python -m
tests.integrity._cli`, which imports those modules (they self-register on the root app) and then
calls the same `main()` as the installed `ledger` entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from ledger.config import Settings
from tests.conftest import REPO, CliResult

Cli = Callable[..., CliResult]


@pytest.fixture
def icli(ledger_settings: Settings) -> Cli:
    """Run `ledger ARGS...` as a real subprocess against the test's ledger."""

    def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        full_env = {
            **os.environ,
            "LEDGER_DSN": ledger_settings.dsn or "",
            "LEDGER_HOME": str(ledger_settings.home),
            "PYTHONPATH": str(REPO),
            **(env or {}),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "tests.integrity._cli", *args],
            capture_output=True,
            env=full_env,
            timeout=120,
            check=False,
            cwd=REPO,
        )
        return CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    return run
