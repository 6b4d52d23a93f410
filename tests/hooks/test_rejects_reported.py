"""A hooked run whose event the sequencer rejects: the writer says so (issue 15 item 3).

The attack sits below the hooks' validation: the submit step is replaced so that `run.ended`
reaches intake with an `origin` column that contradicts its body (what a tampering proxy or a
hostile writer library could do). The sequencer sends it to `ledger_rejects`; the agent developer
must see a WARNING naming the event and the reason, a count in the writer's stats and in
`ledger spool status`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.store.append import EncodedEvent
from ledger.store.door import append_encoded
from ledger.store.read import run_events
from ledger.store.sequencer import log_signer


def _poisoning(conn: Any, items: Sequence[EncodedEvent]) -> object:
    bad = [
        dataclasses.replace(e, origin="attacker/other") if b'"type":"run.ended"' in e.body else e
        for e in items
    ]
    return append_encoded(conn, bad).receipts


def test_rejected_event_is_warned_counted_and_shown(
    ledger_settings: Settings, ledger_conn: psycopg.Connection, cli: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = hooks.configure(ledger_settings, submit=_poisoning, sequence=True,
                             retry_interval=0.05, sequence_interval=0.0)
    try:
        with caplog.at_level(logging.WARNING, logger="ledger.hooks"), hooks.run(agent="a") as run:
            pass
        assert writer.flush()
    finally:
        hooks.shutdown()
    row = ledger_conn.execute("SELECT event_id, reason FROM ledger_rejects").fetchone()
    assert row is not None and row[1] == "intake columns do not match the event body"
    assert [e.seq for e in run_events(ledger_conn, run.run_id)] == [0]  # run.started got in
    assert writer.stats.rejected == 1
    assert [r.getMessage() for r in caplog.records if r.name == "ledger.hooks"] == [
        f"ledger: event {row[0]} was rejected by the sequencer: {row[1]}"
    ]
    res = cli("spool", "status")
    assert "rejected by the sequencer after submit: 1 events (reasons in rejected.log)" in (
        res.stdout
    ), res.stdout


def test_bad_log_key_is_warned_and_the_retry_stores_each_event_once(
    ledger_settings: Settings, ledger_conn: psycopg.Connection, caplog: pytest.LogCaptureFixture,
) -> None:
    """Hooks keep recording (the receipt is "durable in intake", so a tool is not refused for a
    sequencing problem); the key problem is said at once and nothing is stored twice."""
    log_signer(ledger_settings)  # the ledger has its key; then the file is damaged
    key = ledger_settings.log_key_path
    good = key.read_bytes()
    key.write_bytes(b"this is not a key\n")
    writer = hooks.configure(ledger_settings, sequence=True, retry_interval=0.05,
                             sequence_interval=0.0)
    try:
        with caplog.at_level(logging.WARNING, logger="ledger.hooks"), hooks.run(agent="a") as run:
            pass
        assert writer.flush()
        warned = [r.getMessage() for r in caplog.records if r.name == "ledger.hooks"]
        assert len(warned) == 1 and warned[0].startswith(
            "ledger: events are durable in intake but cannot be sequenced: "
        ) and str(key) in warned[0], warned
        key.write_bytes(good)
        assert writer.flush()
    finally:
        hooks.shutdown()
    assert [e.seq for e in run_events(ledger_conn, run.run_id)] == [0, 1]
    assert ledger_conn.execute("SELECT count(*) FROM ledger_intake").fetchone() == (0,)
