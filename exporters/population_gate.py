"""The CC8.1 gate population's columns and the gate evidence the CC6 populations leave out.

Why apart from exporters/populations.py: a release gate's attempts are test traffic (refunds of
a scripted world, approvals nobody gave in production). A gate.result lists them as its
evidence (`data.tasks[].run_ids`); the bundle shows them there, in CC8.1, and leaves them out
of the production populations (CC6.x), in Python while streaming and in the shipped SQL alike.
Only the operator-recorded result can do that, never a run's own gate tag (a writer's claim).
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["GATE_COLUMNS", "GATE_SQL", "NOT_GATE_SQL", "gate_columns", "gate_evidence_in",
           "gate_evidence_runs"]

Row = dict[str, Any]

def gate_evidence_runs(body: Any) -> list[str]:
    """The run ids a gate.result body lists as evidence (`data.tasks[].run_ids[]`): the gate's
    attempts, test traffic. Read from the operator-recorded result, never from a run's own gate
    tag (a writer tagging its production runs cannot take them out of the populations)."""
    try:
        event = orjson.loads(body)
    except (orjson.JSONDecodeError, TypeError):
        return []
    return gate_evidence_in(event.get("data") if isinstance(event, dict) else None)


def gate_evidence_in(data: Any) -> list[str]:
    """`gate_evidence_runs` of an already decoded gate.result `data`."""
    tasks = data.get("tasks") if isinstance(data, dict) else None
    found: list[str] = []
    for task in tasks if isinstance(tasks, list) else ():
        runs = task.get("run_ids") if isinstance(task, dict) else None
        found += [r for r in (runs if isinstance(runs, list) else ()) if isinstance(r, str)]
    return found


# the SQL twin of `gate_evidence_runs` over the bundle's own gate.result events: a fragment of
# the populations' shipped WHERE clauses (bundle SQL for DuckDB/SQLite, written into the
# bundle like the `where` of every population in exporters/populations.py)
NOT_GATE_SQL = (
    "\n  AND run_id NOT IN (SELECT t.value ->> ('$.run_ids[' || r.key || ']')\n"
    "    FROM events g, json_each(g.body, '$.data.tasks') t, json_each(t.value, '$.run_ids') r\n"
    "    WHERE g.type = 'gate.result'\n"
    "      AND t.value ->> ('$.run_ids[' || r.key || ']') IS NOT NULL)")
_EVIDENCE_SQL = ("(SELECT count(*) FROM json_each(body, '$.data.tasks') t, "
                 "json_each(t.value, '$.run_ids') r) AS evidence_runs")


_GATE = ("suite", "suite_hash", "kind", "label", "authority")
# which release: the versions the result judged (a compare: its candidate's; one per result
# since `gate check` refuses mixed versions, so the first is the one)
_GATE_VERSIONS = ("agent_version", "prompt_version", "model", "policy_hash",
                  "tool_contract_digest")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def gate_columns(row: Row) -> Row:
    """A gate result's agent, suite, hash, kind, label, authority and judged versions, from its
    body (the same values the population's SQL reads with `->>`)."""
    try:
        data = orjson.loads(row["body"]).get("data")
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        data = None  # not an event body: the verifier reports the row, this must not crash
    if not isinstance(data, dict):
        data = {}
    versions = data.get("versions")
    first = versions[0] if isinstance(versions, list) and versions else None
    if not isinstance(first, dict):
        first = {}
    out: Row = {c: _text(data.get(c)) for c in _GATE}
    out.update({c: _text(first.get(c)) for c in _GATE_VERSIONS})
    out["agent"] = _text(first.get("agent"))
    out["evidence_runs"] = len(gate_evidence_runs(row["body"]))
    return out


GATE_SQL = ",\n  ".join([
    *(f"body ->> '$.data.{c}' AS {c}" for c in _GATE),
    *(f"body ->> '$.data.versions[0].{c}' AS {c}" for c in _GATE_VERSIONS),
    _EVIDENCE_SQL,
])


GATE_COLUMNS = (*_GATE, *_GATE_VERSIONS, "evidence_runs")
