"""Which runs the SLIs leave out as gate runs: those an operator's gate result judged.

Why not the gate tag: `attributes.gate` on run.started is what the writer says, so an agent
(or whoever holds its credential) could tag its failing production runs as gate runs and make
them vanish from `ledger slo` and `ledger compare`. A gate.result is a control-plane event only
an operator can record, and it lists the runs it judged (data.tasks[].run_ids): those, and only
those, are excluded. A tagged run no gate result lists is counted as live traffic, and the
report says how many there were (sql/queries/slo_gate.sql).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from ledger.db.sqlfiles import query

__all__ = ["judged_gate_runs", "unjudged_tagged"]

_Key = tuple[str | None, ...]


def judged_gate_runs(conn: psycopg.Connection[Any]) -> list[uuid.UUID]:
    """The ids of every run a recorded gate.result lists as evidence (slo_gate_judged)."""
    return [row[0] for row in conn.execute(query("slo_gate_judged"))]


def unjudged_tagged(conn: psycopg.Connection[Any], params: dict[str, Any]) -> dict[_Key, int]:
    """Per version set (agent, agent_version, prompt, model, policy, tools), the runs of the
    window tagged as gate runs that no gate result lists (`params`: compute_slis' own)."""
    return {tuple(row[:6]): int(row[6]) for row in conn.execute(query("slo_gate_unjudged"),
                                                                 params)}
