"""The hooks writer for the DB-backed enforcement tests (as in tests/replay/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.hooks.writer import Writer


@pytest.fixture
def writer(ledger_settings: Settings) -> Iterator[Writer]:
    w = hooks.configure(ledger_settings, sequence=True, retry_interval=0.05, sequence_interval=0.0)
    yield w
    hooks.shutdown()
