"""Reading release-gate results back: every `gate.result` of some logs, newest first.

Why a store module: `ledger gate compare`, `ledger versions` and the evidence bundle all ask
"which gate results are recorded" and must see the same rows; the SQL (sql/queries/gates.sql)
reaches them through the (origin, type, seq) index, so a log of millions of run events costs a
probe per origin, not a scan.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from ledger.db.sqlfiles import query

__all__ = ["GateRow", "VersionRow", "gate_rows", "version_rows"]


@dataclass(frozen=True, slots=True)
class GateRow:
    """One stored gate.result: where it sits in the log, and its canonical bytes."""

    event_id: uuid.UUID
    seq: int
    recorded_at: datetime
    origin: str
    body: bytes


def gate_rows(conn: psycopg.Connection, origins: Sequence[str] | None = None) -> list[GateRow]:
    """Every gate.result of `origins` (None: every log), newest first."""
    params = {"origins": None if origins is None else list(origins)}
    rows = conn.execute(query("gate_results"), params).fetchall()
    return [GateRow(e, int(s), r, str(o), bytes(b)) for e, s, r, o, b in rows]


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One version tuple an agent's runs started under, with how often and when."""

    agent_version: str | None
    prompt_version: str | None
    model: str | None
    policy_hash: str | None
    tool_contract_digest: str | None
    runs: int
    first_seen: datetime
    last_seen: datetime


def version_rows(conn: psycopg.Connection, agent: str) -> list[VersionRow]:
    """Every version tuple of `agent`'s runs (from run.started envelopes), newest first."""
    rows = conn.execute(query("agent_versions"), {"agent": agent}).fetchall()
    return [VersionRow(a, p, m, h, t, int(n), first, last) for a, p, m, h, t, n, first, last
            in rows]  # fmt: skip
