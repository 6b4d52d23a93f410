"""SOC 2 control populations: the SQL an auditor re-runs, and the same rule in Python.

Why both: the auditor must be able to re-derive each population from `ledger/events.parquet`
with a tool they trust (DuckDB: `CREATE VIEW events AS SELECT * FROM 'ledger/events.parquet'`),
so each population ships its SQL text. The writer and the offline verifier evaluate the equivalent
Python predicate while streaming (no SQL engine needed); a test runs every SQL text in SQLite over
the exported rows and checks both give the same rows. The SQL text is a constant: no data is ever
formatted into it. CSV bytes are produced by one function so the verifier can re-create the file
and compare digests, which proves the shipped CSV is exactly the re-derived population.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from exporters.population_gate import (
    GATE_COLUMNS,
    GATE_SQL,
    NOT_GATE_SQL,
    gate_columns,
    gate_evidence_runs,
)
from exporters.rows import row_dicts

__all__ = [
    "CONTROLS",
    "POPULATIONS",
    "CsvLine",
    "Population",
    "csv_bytes",
    "gate_evidence_runs",
    "in_population",
    "population_rows",
    "project_rows",
    "select",
]

Row = dict[str, Any]

CONTROLS: dict[str, str] = {
    "CC6.1": "Logical access: agent identities and tool scopes used per tool call",
    "CC6.2": "Registration and credentials: key/identity announcements, rotations, revocations",
    "CC6.3": "Authorisation and segregation of duties: approvals with requester and approver",
    "CC6.6": "Boundary: side-effecting (egress) tool calls and blocked or failed calls",
    "CC7.2": "Monitoring: run-time guardrail verdicts (post-facto replay verdicts when available)",
    "CC7.3": "Evaluation of security events: triage notes, stop requests, ledger gaps",
    "CC7.4": "Response: stop requests, key revocations, undo plans and approvals",
    "CC7.5": "Recovery: compensation steps and runs that ended failed or stopped",
    "CC8.1": "Change management: policy publications, prompt versions, key rotations, "
    "release-gate results",
}

_BASE = ("seq", "occurred_at", "run_id", "event_id", "type", "agent", "initiating_user")


@dataclass(frozen=True)
class Population:
    """One control population: its SQL over `events`, its Python twin, and how to test it."""

    id: str
    control: str
    criterion: str
    title: str
    sql: str
    columns: tuple[str, ...]
    predicate: Callable[[Row], bool]
    procedure: str
    derived: Callable[[Row], Row] | None = None
    types: frozenset[str] = frozenset()
    """Event types the predicate can accept (it is False for every other type): a prefilter."""
    production: bool = False
    """Production activity: rows of runs a gate.result of the bundle judged (its evidence run
    ids) are left out, and listed as that result's evidence in CC8.1 instead."""

    @property
    def path(self) -> str:
        return f"populations/{self.control}/{self.id}.csv"

    @property
    def meta_path(self) -> str:
        return f"populations/{self.control}/{self.id}.population.json"

    def project(self, row: Row) -> Sequence[Any]:
        """The population row (column values in order) for a matching event row."""
        if self.derived is None:
            return self._pick(row)
        extra = self.derived(row)
        return [extra[c] if c in extra else row[c] for c in self.columns]

    @functools.cached_property
    def _pick(self) -> Callable[[Row], tuple[Any, ...]]:
        get = operator.itemgetter(*self.columns)
        return get if len(self.columns) > 1 else lambda row: (get(row),)


def _types(*names: str) -> Callable[[Row], bool]:
    wanted = frozenset(names)
    return lambda row: row["type"] in wanted


_TYPES_IN = re.compile(r"type (?:= '([^']+)'|IN \(([^)]*)\))")


def _where_types(where: str) -> frozenset[str]:
    """The event types named in a WHERE text (every population's WHERE tests `type` first)."""
    found: set[str] = set()
    for one, many in _TYPES_IN.findall(where):
        found.update([one] if one else re.findall(r"'([^']+)'", many))
    return frozenset(found)


def _sod(row: Row) -> Row:
    approver, user = row["approver"], row["initiating_user"]
    return {"sod_ok": 1 if approver is not None and approver != (user or "") else 0}


def _pop(  # noqa: PLR0917 (a table of definitions)
    pid: str,
    control: str,
    title: str,
    where: str,
    columns: Sequence[str],
    predicate: Callable[[Row], bool],
    procedure: str,
    select_cols: str | None = None,
    derived: Callable[[Row], Row] | None = None,
    *,
    production: bool = False,
) -> Population:
    cols = tuple(columns)
    sql = (
        "SELECT "
        + (select_cols or ", ".join(cols))
        + "\nFROM events\nWHERE "
        + (f"({where}){NOT_GATE_SQL}" if production else where)
        + "\nORDER BY seq"
    )
    return Population(
        pid,
        control,
        CONTROLS[control],
        title,
        sql,
        cols,
        predicate,
        procedure,
        derived,
        _where_types(where),
        production,
    )


POPULATIONS: tuple[Population, ...] = (
    _pop(
        "tool_calls_by_identity",
        "CC6.1",
        "Every tool call with the agent identity and scope",
        "type = 'tool.call.started'",
        (*_BASE, "agent_version", "roles", "tool", "contract_digest", "side_effect"),
        _types("tool.call.started"),
        "Sample tool calls; trace each to the agent identity, roles and tool contract in force.",
        production=True,
    ),
    _pop(
        "key_changes",
        "CC6.2",
        "Key and identity announcements, rotations and revocations",
        "type IN ('key.announced', 'key.rotated', 'key.revoked')",
        (*_BASE, "name"),
        _types("key.announced", "key.rotated", "key.revoked"),
        "Inspect every key change; confirm each was authorised before first use.",
    ),
    _pop(
        "approvals_sod",
        "CC6.3",
        "Approval decisions with requester, approver and SoD check",
        "type = 'approval.decided'",
        (*_BASE, "tool_call_id", "tool", "approver", "decision", "sod_ok"),
        _types("approval.decided"),
        "Sample approvals; confirm approver differs from requester (sod_ok = 1) and roles fit.",
        select_cols=", ".join((*_BASE, "tool_call_id", "tool", "approver", "decision"))
        + ",\n  CASE WHEN approver IS NOT NULL AND approver <> COALESCE(initiating_user, '')"
        " THEN 1 ELSE 0 END AS sod_ok",
        derived=_sod,
        production=True,
    ),
    _pop(
        "side_effecting_tool_calls",
        "CC6.6",
        "Tool calls with side effects (egress)",
        "type = 'tool.call.started' AND side_effect = TRUE",
        (*_BASE, "tool", "contract_digest"),
        lambda r: r["type"] == "tool.call.started" and r["side_effect"] is True,
        "Review destinations of side-effecting calls against the allowed tool inventory.",
        production=True,
    ),
    _pop(
        "blocked_or_failed_tool_calls",
        "CC6.6",
        "Tool calls that ended in error or cancelled",
        "type = 'tool.call.ended' AND status IN ('error', 'cancelled')",
        (*_BASE, "tool", "tool_call_id", "status"),
        lambda r: r["type"] == "tool.call.ended" and r["status"] in ("error", "cancelled"),
        "Sample blocked/failed calls; confirm each was expected or triaged.",
        production=True,
    ),
    _pop(
        "guardrail_verdicts",
        "CC7.2",
        "Run-time guardrail verdicts",
        "type = 'guardrail.evaluated'",
        (*_BASE, "name", "verdict"),
        _types("guardrail.evaluated"),
        "Sample fail/warn verdicts; confirm each was analysed (see CC7.3 population).",
    ),
    _pop(
        "triage_records",
        "CC7.3",
        "Triage notes, stop requests and declared ledger gaps",
        "type IN ('annotation', 'run.stop.requested', 'ledger.gap')",
        _BASE,
        _types("annotation", "run.stop.requested", "ledger.gap"),
        "Trace sampled security events to a triage record and decision.",
    ),
    _pop(
        "containment_and_undo",
        "CC7.4",
        "Stops, key revocations, undo plans and approvals",
        "type IN ('run.stop.requested', 'key.revoked', 'undo.plan.created', 'undo.plan.approved')",
        (*_BASE, "approver", "status"),
        _types("run.stop.requested", "key.revoked", "undo.plan.created", "undo.plan.approved"),
        "Sample incidents; confirm containment and an approved undo plan where needed.",
    ),
    _pop(
        "recoveries",
        "CC7.5",
        "Compensation steps and runs that ended failed or stopped",
        "type IN ('undo.step.started', 'undo.step.ended')\n"
        "   OR (type = 'run.ended' AND status IN ('failed', 'stopped'))",
        (*_BASE, "status"),
        lambda r: (
            r["type"] in ("undo.step.started", "undo.step.ended")
            or (r["type"] == "run.ended" and r["status"] in ("failed", "stopped"))
        ),
        "Sample recoveries; confirm completion and root-cause records.",
    ),
    _pop(
        "changes",
        "CC8.1",
        "Policy and principal registry publications, prompt versions and key rotations",
        "type IN ('policy.published', 'registry.published', 'prompt.resolved', 'key.rotated')",
        (*_BASE, "name", "policy_hash", "prompt_version", "model"),
        _types("policy.published", "registry.published", "prompt.resolved", "key.rotated"),
        "Sample changes; confirm approval before first use (CC8.1 population).",
    ),
    _pop(
        "gate_results",
        "CC8.1",
        "Release-gate results: the release passed (or failed) the gate, and under what authority",
        "type = 'gate.result'",
        (*_BASE, "decision", *GATE_COLUMNS),
        _types("gate.result"),
        "Sample releases (agent + prompt_version/model/policy_hash/agent_version); confirm a "
        "gate result with decision pass for exactly those versions, its suite_hash, and "
        "authority registry (signed with the registry's service key, re-checked in "
        "report.json) before first use. Its evidence_runs (the gate's attempts, listed in its "
        "body) are test traffic, left out of the CC6 populations.",
        select_cols=", ".join(c if c != "agent" else
                              "body ->> '$.data.versions[0].agent' AS agent"
                              for c in (*_BASE, "decision")) + ",\n  " + GATE_SQL,
        derived=gate_columns,
    ),
)


class _ColumnRow:
    """A row of a column batch read in place: `row[name]` without building a dict."""

    __slots__ = ("cols", "i")

    def __init__(self, cols: dict[str, list[Any]]) -> None:
        self.cols = cols
        self.i = 0

    def __getitem__(self, name: str) -> Any:
        return self.cols[name][self.i]


def population_rows(
    pops: Sequence[Population], cols: dict[str, list[Any]],
    gate_runs: frozenset[str] = frozenset(),
) -> list[list[int]]:  # fmt: skip
    """For a column batch, each population's matching row indices in order.

    Only rows whose type a population can accept (`Population.types`) are tested with its
    predicate, through a view of the columns (predicates only index the row by name). Rows of
    `gate_runs` (the bundle's gate evidence) are left out of `production` populations.
    """
    types = cols["type"]
    relevant = frozenset(t for pop in pops for t in pop.types) & set(types)
    if not relevant:
        return [[] for _ in pops]
    by_type: dict[str, list[int]] = {kind: [] for kind in relevant}
    for i, kind in enumerate(types):
        if kind in relevant:
            by_type[kind].append(i)
    view = _ColumnRow(cols)
    row = cast("Row", view)
    found = []
    for pop in pops:
        groups = [by_type[kind] for kind in pop.types if kind in by_type]
        if len(groups) > 1:
            idx = sorted(itertools.chain(*groups))
        else:
            idx = groups[0] if groups else []
        hits = []
        runs = cols["run_id"] if pop.production and gate_runs else None
        for i in idx:
            view.i = i
            if pop.predicate(row) and (runs is None or runs[i] not in gate_runs):
                hits.append(i)
        found.append(hits)
    return found


def in_population(pop: Population, row: Row, gate_runs: frozenset[str]) -> bool:
    """`population_rows` for one row (the verifier's row-by-row path)."""
    return pop.predicate(row) and not (pop.production and row["run_id"] in gate_runs)


def project_rows(
    pop: Population, cols: dict[str, list[Any]], idx: list[int]
) -> list[Sequence[Any]]:
    """`pop.project` of rows `idx` of a column batch (columnar unless the population derives)."""
    if pop.derived is not None or len(idx) < 2:
        return [pop.project(r) for r in row_dicts(cols, idx)]
    pick = operator.itemgetter(*idx)
    return list(zip(*[pick(cols[c]) for c in pop.columns], strict=True))


def select(controls: Sequence[str] | None) -> tuple[Population, ...]:
    """Populations for the given controls (all when None); unknown controls raise ValueError."""
    if not controls:
        return POPULATIONS
    unknown = sorted(set(controls) - set(CONTROLS))
    if unknown:
        raise ValueError(f"unknown control(s) {', '.join(unknown)}; known: {', '.join(CONTROLS)}")
    return tuple(p for p in POPULATIONS if p.control in controls)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


class CsvLine:
    """Reusable CSV line encoder (same dialect for the writer and the verifier)."""

    def __init__(self) -> None:
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, lineterminator="\n")

    def __call__(self, values: Sequence[Any]) -> bytes:
        self._buf.seek(0)
        self._buf.truncate()
        self._writer.writerow([_cell(v) for v in values])
        return self._buf.getvalue().encode("utf-8")

    def many(self, rows: Sequence[Sequence[Any]]) -> bytes:
        """The bytes of several lines at once (identical to joining `self(row)` for each)."""
        self._buf.seek(0)
        self._buf.truncate()
        # csv writes None as "" and str(v) for the rest: only booleans need `_cell`'s spelling
        self._writer.writerows(
            [[v if v.__class__ is not bool else _cell(v) for v in row] for row in rows]
        )
        return self._buf.getvalue().encode("utf-8")


def csv_bytes() -> CsvLine:
    """A callable turning one row (header or values) into its exact CSV line bytes."""
    return CsvLine()
