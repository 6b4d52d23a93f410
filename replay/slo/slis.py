"""Behaviour SLIs from the ledger (issue 19, contract 7): one SQL aggregate, a few divisions.

Why SQL and not a replay fold: `ledger slo` must answer over a 1M-event log in seconds, so the
counts (sql/queries/slo.sql `slo_groups`) are grouped per agent and versions in the database
and Python only divides. Denominators are all eligible runs (an errored run is a failed run,
never dropped); no data is `unknown` (None), never a pass. Gate-tagged runs (contract 1) are
left out unless `include_gate`, and counted. Tool-call validity needs each tool's JSON Schema
(replay/toolvalid.py): those calls alone are read one by one, and only when a schema is known.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.event_gate import GateVersions
from replay.gate.selector import Selector
from replay.slo.model import Sli, SliReport, SliRow

__all__ = ["compute_slis"]

_Key = tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class _Calls:
    """Schema verdicts of the calls of one group (toolvalid): valid, invalid but not errored."""

    valid: int = 0
    invalid: int = 0
    contract: int = 0  # of valid + invalid: judged against a contract-declared schema


def compute_slis(
    conn: psycopg.Connection[Any], settings: Settings, *, agent: str | None = None,
    version: Selector | None = None, since: datetime | None = None,
    until: datetime | None = None, include_gate: bool = False,
    review_usd_per_hour: Decimal | None = None,
) -> SliReport:
    """The SLIs of runs started in [since, until) per agent and versions (contract 7).

    `version` narrows to the version sets it matches, to its tenant's log, and its since/until
    intersect the window (every key is honoured; gate keys are refused by `Selector.live`
    before this). Gate runs are the runs an operator's gate.result lists (replay/slo/gateruns):
    a writer's gate tag alone excludes nothing. `review_usd_per_hour` prices approval waits
    into the cost per resolved outcome (`costs.human_review_usd_per_hour` of the SLO file)."""
    from replay.slo.gateruns import judged_gate_runs, unjudged_tagged

    if version is not None:
        agent = agent or version.agent
        since, until = version.window(since, until)
    params = {"since": since, "until": until, "agent": agent,
              "tenant": version.tenant if version else None, "include_gate": include_gate,
              "gate_runs": judged_gate_runs(conn)}
    with conn.transaction():  # slo_parallel's settings last until this block ends
        conn.execute(query("slo_parallel"))
        found = conn.execute(query("slo_groups"), params).fetchall()
    schema_calls = _schema_verdicts(conn, settings, params)
    tagged = unjudged_tagged(conn, params)
    rows = []
    for raw in found:
        versions = _versions(raw[:6])
        if version is not None and not version.versions_match(versions):
            continue
        row = _row(versions, raw[6:], schema_calls.get(tuple(raw[:6]), _Calls()),
                   review_usd_per_hour)
        rows.append(replace(row, tagged_unjudged=tagged.get(tuple(raw[:6]), 0)))
    return SliReport(tuple(rows), since, until, include_gate)


def _versions(key: Sequence[Any]) -> GateVersions:
    """The version set of a row, unvalidated (recorded text: shown through printable)."""
    return GateVersions.model_construct(
        agent=key[0] or "", agent_version=key[1], prompt_version=key[2], model=key[3],
        policy_hash=key[4], tool_contract_digest=key[5])


def _schema_verdicts(
    conn: psycopg.Connection[Any], settings: Settings, params: dict[str, Any]
) -> dict[_Key, _Calls]:
    """Per group, calls judged valid / invalid against their JSON Schema (errors aside: the
    SQL counts them). Read only when a schema can exist: a tool whose effect contract
    declares `args_schema`, or a schema recorded in the log (one index probe)."""
    from replay.toolvalid import CallFacts, call_validity, load_schemas

    tools = _contract_tools(settings)
    if not tools and not conn.execute(query("slo_any_schema")).fetchone()[0]:  # type: ignore[index]
        return {}
    counts: dict[_Key, list[int]] = defaultdict(lambda: [0, 0, 0])
    per_origin: dict[str, Any] = {}
    for row in conn.execute(query("slo_tool_calls"), {**params, "tools": sorted(tools)}):
        origin = str(row[6])  # one row per distinct call, errored ones left out, and its count
        if origin not in per_origin:
            per_origin[origin] = load_schemas(conn, settings, origin)
        facts = CallFacts(row[7], row[8], row[9], row[10], "ok")
        verdict = call_validity(facts, per_origin[origin]).verdict
        if verdict != "unknown":
            counts[tuple(row[:6])][verdict == "invalid"] += row[11]
            if per_origin[origin].for_contract(facts.tool, facts.contract_digest) is not None:
                counts[tuple(row[:6])][2] += row[11]
    return {k: _Calls(v[0], v[1], v[2]) for k, v in counts.items()}


def _contract_tools(settings: Settings) -> set[str]:
    """Tools whose effect contract (the ones `ledger undo` reads) declares an args schema."""
    from replay.undo.service import contract_sources, load_registry

    try:
        registry = load_registry(contract_sources(settings))
    except Exception:  # a broken contracts file is `ledger undo`'s to report, not the SLI's
        return set()
    return {c.tool for c in registry.by_digest.values()
            if getattr(c, "args_schema", None) is not None}


def _ratio(name: str, num: int, den: int, note: str = "") -> Sli:
    return Sli(name, num / den if den else None, num, den, "ratio", note)


def _row(versions: GateVersions, c: Sequence[Any], calls: _Calls,
         review_rate: Decimal | None) -> SliRow:
    (gate_runs, runs, ended, succeeded, _stopped, needed, escalated, handoffs, n_calls,
     errors, checked, compliant, budgeted, within, spend, _asked, decided, wait_s, p50, p95,
     stops_timed, stop_p95) = c
    invalid = errors + calls.invalid
    judged = calls.valid + invalid
    n_calls = max(n_calls, judged)  # run.ended totals can under-count (a writer's claim)
    unknown_calls = n_calls - judged
    cost = Decimal(spend)
    review_s = float(wait_s)
    cost_note = "spend of every ended run (retries, failures) / succeeded runs"
    if review_rate is not None:
        cost += Decimal(str(review_s)) / 3600 * review_rate
        cost_note += f", + approval wait at {review_rate} USD/h"
    slis = (
        _ratio("task_completion", succeeded, ended, f"{runs - ended} still open"),
        _ratio("correct_escalation", escalated, needed, f"{handoffs} runs handed to a human"),
        _ratio("tool_call_validity", calls.valid, judged,
               f"{errors} tool errors, {unknown_calls} of {n_calls} calls without a schema, "
               f"{calls.contract} judged by a contract schema, "
               f"{judged - errors - calls.contract} by a writer-recorded one"),
        _ratio("policy_compliance", compliant, checked, f"unchecked {runs - checked}"),
        _ratio("spend_within_budget", within, budgeted,
               f"{ended - budgeted} ended runs without a budget in force"),
        _cost(cost, succeeded, cost_note),
        Sli("human_review_seconds", review_s / succeeded if succeeded else None, review_s,
            succeeded, "seconds", f"approval wait over {decided} decided approvals"
            " / succeeded runs"),
        Sli("run_latency_p50_seconds", _num(p50), None, ended, "seconds"),
        Sli("run_latency_p95_seconds", _num(p95), None, ended, "seconds"),
        Sli("time_to_stop_seconds", _num(stop_p95), None, stops_timed, "seconds",
            "p95, stop requested -> run.ended stopped"),
    )
    return SliRow(versions, runs, gate_runs, handoffs, slis,
                  schema_calls=(calls.contract, judged - errors - calls.contract))


def _cost(cost: Decimal, succeeded: int, note: str) -> Sli:
    """Cost per resolved outcome; unknown (never 0) when no spend was priced at all: a model
    without a price records no cost, and 0 USD would read as "free"."""
    if not cost:
        return Sli("cost_per_resolved_usd", None, None, succeeded, "usd",
                   "no priced spend recorded (model calls without a cost?)")
    return Sli("cost_per_resolved_usd", float(cost / succeeded) if succeeded else None,
               float(cost), succeeded, "usd", note)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)
