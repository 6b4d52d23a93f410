"""Fixtures for the replay tests that record runs through the public hooks API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.hooks.writer import Writer


@pytest.fixture
def writer(ledger_settings: Settings) -> Iterator[Writer]:
    """The process-wide hooks writer pointed at this test's ledger (as in tests/hooks)."""
    w = hooks.configure(ledger_settings, sequence=True, retry_interval=0.05, sequence_interval=0.0)
    yield w
    hooks.shutdown()
