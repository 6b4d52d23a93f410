"""Fixtures for the authority tests: the hooks' real writer against a fresh ledger database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.config import Settings
from ledger.hooks import configure, shutdown
from ledger.hooks.writer import Writer
from tests.hooks.conftest import FlakyDatabase


@pytest.fixture
def flaky(ledger_settings: Settings) -> FlakyDatabase:
    return FlakyDatabase(ledger_settings)


@pytest.fixture
def writer(ledger_settings: Settings, flaky: FlakyDatabase) -> Iterator[Writer]:
    w = configure(ledger_settings, connect=flaky, sequence=True, retry_interval=0.05,
                  sequence_interval=0.0)
    yield w
    shutdown()
