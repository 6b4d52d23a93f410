"""Helpers for tests: build chained runs of events and append them through the real path."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from ledger.config import Settings
from ledger.events import EventBase, args_hash, leaf_hash, make_event
from ledger.store.append import encode_for_intake, submit
from ledger.store.sequencer import try_sequence


def chained_run(n_tools: int = 2, tenant: str = "default", **envelope: Any) -> list[EventBase]:
    """A complete run (run.started, tool calls, run.ended) with a correct hash chain."""
    run_id = uuid.uuid4()
    events: list[EventBase] = []
    prev: str | None = None
    settings = Settings(home=__import__("pathlib").Path("/nonexistent"))

    def add(type_name: str, data: dict[str, Any]) -> None:
        nonlocal prev
        event = make_event(
            type_name,
            run_id=run_id,
            run_seq=len(events),
            prev_run_hash=prev,
            data=data,
            tenant=tenant,
            **envelope,
        )
        prev = leaf_hash(encode_for_intake(event, settings).body).hex()
        events.append(event)

    add("run.started", {"task": "test"})
    for i in range(n_tools):
        args = {"i": i}
        add(
            "tool.call.started",
            {
                "tool_call_id": f"t{i}",
                "tool": "crm.update",
                "args": args,
                "args_hash": args_hash(args),
                "side_effect": True,
            },
        )
        add("tool.call.ended", {"tool_call_id": f"t{i}", "tool": "crm.update", "status": "ok"})
    add("run.ended", {"status": "succeeded", "event_count": len(events) + 1, "last_hash": prev})
    return events


def append(conn: psycopg.Connection, settings: Settings, events: list[EventBase]) -> int:
    """Submit and sequence events; returns how many were sequenced."""
    submit(conn, events, settings)
    return try_sequence(conn, settings, wait=True)


def append_one_per_checkpoint(
    conn: psycopg.Connection, settings: Settings, events: list[EventBase]
) -> None:
    """Sequence each event in its own batch, so every size has a signed checkpoint."""
    for event in events:
        append(conn, settings, [event])


@contextmanager
def attacker(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """A superuser session with the append-only triggers bypassed (for tamper tests)."""
    conn.execute("SET session_replication_role = replica")
    try:
        yield conn
    finally:
        conn.execute("SET session_replication_role = DEFAULT")


def assert_bulk_pass_agrees(conn: psycopg.Connection, settings: Settings) -> None:
    """The bulk verify pass must flag every log the row pass flags while scanning it (so no
    attack slips through the fast path), and must agree on the size of every other log."""
    from ledger.store.read import origins
    from ledger.verify import VerifyReport, trusted_verifiers
    from ledger.verify_bulk import Suspect, bulk_scan
    from ledger.verify_common import checked_checkpoints
    from ledger.verify_rows import Invalid, row_scan

    for origin in origins(conn):
        try:
            targets = dict(checked_checkpoints(conn, origin, trusted_verifiers(settings)))
        except Invalid:
            continue  # refused before any row is read, by code both passes share
        try:
            size = row_scan(conn, origin, targets, None, None, VerifyReport())
        except Invalid:
            with pytest.raises(Suspect):
                bulk_scan(conn, origin, targets, None)
        else:
            assert bulk_scan(conn, origin, targets, None) == size


@contextmanager
def without_body_rules() -> Iterator[None]:
    """Ingest and sequence in this process as before issue 17: no body rules
    (ledger/bodyrules.py: args_hash against inline args, strict token counts). Logs written then
    may hold such bodies, so replay keeps its own defences; tests that use this assert what the
    door does now beside it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("ledger.ingest.body_problem", lambda *_: None)
        patch.setattr("ledger.store.sequencer.body_problem", lambda *_: None)
        yield
