"""Fixtures for the replay tests that record runs through the public hooks API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.hooks.writer import Writer
from tests.replay.authority_kit import PEOPLE, Kit, make_kit
from tests.replay.conftest_db import CURRENT


@pytest.fixture
def writer(ledger_settings: Settings) -> Iterator[Writer]:
    """The process-wide hooks writer pointed at this test's ledger (as in tests/hooks)."""
    w = hooks.configure(ledger_settings, sequence=True, retry_interval=0.05, sequence_interval=0.0)
    yield w
    hooks.shutdown()


@pytest.fixture
def signing(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> Iterator[Kit]:
    """A signed, published registry (tests/replay/authority_kit.PEOPLE with approver keys); while
    it is active, `conftest_db.approved` signs decisions and `conftest_db.verdicts` uses its
    trust root."""
    kit = make_kit(tmp_path, ledger_settings)
    kit.publish(ledger_conn, ledger_settings, PEOPLE)
    CURRENT[:] = [kit]
    yield kit
    CURRENT.clear()
