"""Write built runs through the ingest path, a bounded chunk at a time, and count outcomes.

Why ingest and not a private writer: ingest already validates, scrubs secrets, checks run
continuity and recognises a repeat (`already present`) by event id and bytes; imported events
get every one of those guarantees. Chunks end on trace boundaries and each chunk is a fresh
ingest call, so memory stays flat however many runs an import has.
"""

from __future__ import annotations

import uuid

import orjson
import psycopg

from ledger.config import Settings
from ledger.importers.build import BuiltRun, build_run
from ledger.importers.report import (
    ALREADY_PRESENT,
    IMPORTED,
    SKIPPED,
    Gap,
    ImportReport,
    Outcome,
    RecordOutcome,
)
from ledger.importers.staging import Staging
from ledger.ingest import REJECTED
from ledger.ingest import ingest as ingest_lines
from ledger.store.read import receipt_states

__all__ = ["CHUNK_EVENTS", "store_staged"]

CHUNK_EVENTS = 2000
_RANK = {ALREADY_PRESENT: 0, IMPORTED: 1, SKIPPED: 2}


def _stored_by_another(conn: psycopg.Connection, body: bytes) -> bool:
    """A line refused because another import of the same history stored it first (two
    imports at once): the ledger holds exactly our bytes under our id, so it is present."""
    event_id = uuid.UUID(orjson.loads(body)["event_id"])
    state = receipt_states(conn, [event_id]).get(event_id)
    return state is not None and body in (state.logged_body, state.pending_body)


def _flush(conn: psycopg.Connection, settings: Settings, runs: list[BuiltRun],
           report: ImportReport) -> None:
    lines = [line for run in runs for line in run.lines]
    result = ingest_lines(conn, (body for _, body in lines), settings)
    per_record: dict[str, tuple[Outcome, str]] = {}
    for (label, body), outcome in zip(lines, result.lines, strict=True):
        if label is None:
            continue
        refused = outcome.outcome == REJECTED and not _stored_by_another(conn, body)
        mine: tuple[Outcome, str] = (
            (SKIPPED, outcome.reason) if refused
            else (ALREADY_PRESENT, "") if outcome.outcome in ("already present", REJECTED)
            else (IMPORTED, ""))
        before = per_record.get(label)
        if before is None or _RANK[mine[0]] > _RANK[before[0]]:
            per_record[label] = mine
    for label, (kind, reason) in per_record.items():
        report.add(RecordOutcome(label, kind, reason))


def store_staged(conn: psycopg.Connection, settings: Settings, staging: Staging,
                 report: ImportReport) -> None:
    """Build and store every staged trace into `settings.tenant`'s log; gaps and outcomes go
    to `report`."""
    pending: list[BuiltRun] = []
    size = 0
    for meta, spans in staging.traces():
        if not spans:
            if meta.declared:
                report.gaps.append(Gap(f"trace {meta.trace_id}", meta.declared, 0,
                                       "the source lists observations for this trace; none read"))
            continue
        try:
            built = build_run(meta, spans, settings.tenant)
        except ValueError as exc:  # a record no event can hold (too large, bad values)
            reason = f"cannot be imported: {str(exc).splitlines()[0]}"
            for span in spans:
                report.add(RecordOutcome(span.label, SKIPPED, reason))
            continue
        report.runs += 1
        report.gaps.extend(built.gaps)
        pending.append(built)
        size += len(built.lines)
        if size >= CHUNK_EVENTS:
            _flush(conn, settings, pending, report)
            pending, size = [], 0
    if pending:
        _flush(conn, settings, pending, report)

