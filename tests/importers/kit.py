"""Shared helpers of the importer tests: read a run back, run the CLI, parse its report."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg

from ledger.importers.source import run_uuid
from ledger.store.read import run_events

FIXTURES = Path(__file__).parent / "fixtures"


def events(conn: psycopg.Connection, run_id: uuid.UUID) -> list[Any]:
    """The typed events of a run, in run order."""
    return [s.event for s in run_events(conn, run_id)]


def shape(conn: psycopg.Connection, run_id: uuid.UUID) -> list[tuple[str, str]]:
    """(type, the one field that identifies it) per event: what a reader of the run sees."""
    out = []
    for e in events(conn, run_id):
        d = e.data
        key = {"llm.call.started": "call_id", "llm.call.ended": "call_id",
               "tool.call.started": "tool", "tool.call.ended": "status",
               "run.ended": "status", "custom": "name", "ledger.gap": "reason",
               "guardrail.evaluated": "verdict"}.get(e.type)
        out.append((e.type, str(getattr(d, key)) if key else ""))
    return out


def report(res: Any) -> dict[str, Any]:
    """The --json reconciliation report of a `ledger import` run."""
    assert res.stdout, res.stderr
    parsed: dict[str, Any] = json.loads(res.stdout)
    return parsed


def langfuse_run(trace_id: str, project: str = "proj-acme",
                 tenant: str = "default") -> uuid.UUID:
    return run_uuid("langfuse", project, trace_id, tenant)
