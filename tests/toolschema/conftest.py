"""Tool schema tests share the hook fixtures (a real writer on a fresh ledger database) and
read the recorded calls back as `CallFacts`, the way the SLO computation does."""

from __future__ import annotations

from typing import Any

import psycopg

from replay.toolvalid import CallFacts
from tests.hooks.conftest import FlakyDatabase, flaky, stored, writer

__all__ = ["FlakyDatabase", "calls_of", "flaky", "starts_of", "stored", "writer"]


def starts_of(conn: psycopg.Connection, run_id: Any) -> list[Any]:
    """The tool.call.started data of a run, in order."""
    return [e.data for e in stored(conn, run_id) if e.type == "tool.call.started"]


def calls_of(conn: psycopg.Connection, run_id: Any) -> list[CallFacts]:
    """Each recorded call of a run with its outcome (None while open)."""
    events = stored(conn, run_id)
    ended = {e.data.tool_call_id: e.data for e in events if e.type == "tool.call.ended"}
    out = []
    for e in events:
        if e.type != "tool.call.started":
            continue
        end = ended.get(e.data.tool_call_id)
        out.append(CallFacts(e.data.tool, e.data.args, e.data.args_schema_digest,
                             e.data.contract_digest, end.status if end else None,
                             end.error if end else None))
    return out
