"""Read a run for replay from PostgreSQL, joined with approval decisions recorded elsewhere.

A decision made in another process (or after the run ended) is its own single-event run, bound
to the call only by `data.tool_call_id` (docs/hooks.md). Folding just `run_events(run_id)` would
miss it and report "executed without an approval", so every DB-backed fold goes through here:
the run's rows, then the approval.decided events of *other* runs in the same log (seqs are
comparable only within one origin) that name one of the run's tool calls, found through the
expression index of migration 0006. Both lists come back in `seq` order, so folding twice gives
identical results, and the evidence ids are those of the real decision events.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.privacy import PayloadOpener
from ledger.store import read
from ledger.store.read import StoredEvent, run_events
from replay.authority import RunAuthority, load_authority
from replay.fastdecode import Row, decode_fast
from replay.identity import RunIdentity, identity_of
from replay.model import RunState
from replay.state import StoredEventLike, fold

__all__ = ["call_ids", "decisions_elsewhere", "fold_run", "load_run", "stored_identity"]

_CALL_TYPES = frozenset({"tool.call.started", "approval.requested"})


def call_ids(events: Iterable[StoredEventLike]) -> list[str]:
    """The tool_call_ids a run started or asked approval for, first-seen order, no repeats."""
    seen: dict[str, None] = {}
    for item in events:
        event = item.event
        if event.type in _CALL_TYPES:
            seen.setdefault(str(event.data.tool_call_id), None)
    return list(seen)


def decisions_elsewhere(
    conn: psycopg.Connection[Any], origin: str, run_id: uuid.UUID, calls: Sequence[str]
) -> list[StoredEvent]:
    """approval.decided events of other runs in `origin` that name one of `calls`, by seq."""
    return [e for rid, e in read.decisions_for_calls(conn, origin, calls) if rid != run_id]


def load_run(
    conn: psycopg.Connection[Any], run_id: uuid.UUID
) -> tuple[list[StoredEvent], list[StoredEvent]]:
    """(the run's own events in run order, decisions about its calls recorded elsewhere)."""
    own = run_events(conn, run_id)
    if not own:
        return [], []
    return own, decisions_elsewhere(conn, own[0].origin, run_id, call_ids(own))


def fold_run(
    conn: psycopg.Connection[Any],
    run_id: uuid.UUID,
    at_seq: int | None = None,
    *,
    trust_root: TrustRoot | None = None,
    settings: Settings | None = None,
) -> RunState | None:
    """The run's state from the database (None when the run has no events), with the registry
    history of its log under `trust_root` attached for the approval checks, and who it acted
    for (recorded identity tokens open with the key-encryption key `settings` names)."""
    own = _fast_rows(run_events(conn, run_id))
    if not own:
        return None
    joined = _fast_rows(decisions_elsewhere(conn, own[0].origin, run_id, call_ids(own)))
    authority = load_authority(conn, own[0].origin, trust_root)
    identity = stored_identity(conn, own[0], authority, settings)
    return fold(own, at_seq=at_seq, decisions=joined, authority=authority, identity=identity)


def _fast_rows(events: Sequence[StoredEvent]) -> list[Row]:
    """The rows decoded as `ledger check` decodes them (replay.fastdecode: msgspec, pydantic
    only for an odd event), so one run's replay folds the same state without building the
    event models (issue 18: `ledger replay`/`show` within 0.5 s); tests/replay/test_batch.py
    pins the two decodings to the same fold."""
    rows = []
    for stored in events:
        event = decode_fast(stored.body)
        rows.append(
            Row(uuid.UUID(str(event.run_id)), stored.origin, stored.seq, stored.recorded_at, event)
        )
    return rows


def stored_identity(
    conn: psycopg.Connection[Any],
    first: StoredEvent | Row,
    authority: RunAuthority,
    settings: Settings | None,
) -> RunIdentity:
    """Who the run whose first stored event is `first` acted for, judged as `ledger replay`
    judges it (the TUI's Trace tab calls this too, so both give the same verdict)."""
    opener = PayloadOpener(settings) if settings is not None else None
    return identity_of(conn, opener, authority, first)
