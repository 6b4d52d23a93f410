"""Plan generation as a pure function: unknown tools, missing outcomes, live runs, read-only."""

from __future__ import annotations

import uuid
from typing import Any

from ledger import ids
from ledger.events import EventBase, args_hash, make_event
from replay.undo.contracts import load_contracts
from replay.undo.examples import CONTRACTS_DIR
from replay.undo.plan import generate_plan

NOW = ids.format_timestamp(ids.now_ns())


def events(calls: list[tuple[str, dict[str, Any], bool]], ended: bool = True) -> list[EventBase]:
    """A run with (tool, args, has_outcome) calls; digests omitted (contract inferred)."""
    rid, out = uuid.uuid4(), []
    out.append(make_event("run.started", run_id=rid, run_seq=0, data={}))
    for i, (tool, args, outcome) in enumerate(calls):
        out.append(
            make_event(
                "tool.call.started",
                run_id=rid,
                run_seq=len(out),
                data={
                    "tool_call_id": f"t{i}",
                    "tool": tool,
                    "args": args,
                    "args_hash": args_hash(args),
                    "side_effect": True,
                },
            )
        )
        if outcome:
            out.append(
                make_event(
                    "tool.call.ended",
                    run_id=rid,
                    run_seq=len(out),
                    data={
                        "tool_call_id": f"t{i}",
                        "tool": tool,
                        "status": "ok",
                        "pre_state": "old",
                    },
                )
            )
    if ended:
        out.append(
            make_event(
                "run.ended",
                run_id=rid,
                run_seq=len(out),
                data={"status": "succeeded", "event_count": len(out) + 1},
            )
        )
    return out


def test_unknown_tool_and_missing_outcome_are_manual_with_residue() -> None:
    reg = load_contracts([CONTRACTS_DIR])
    evs = events(
        [
            ("shell.exec", {"cmd": "x"}, True),
            ("crm.update_field", {"record_id": "c1", "field": "tier", "value": "v"}, False),
        ]
    )
    plan = generate_plan(evs, reg, now=NOW, scope={"runs": ["r"]})
    shell, crm = sorted(plan.steps, key=lambda s: s.step_id)
    assert (shell.strategy, shell.effect_class, shell.contract_source) == (
        "manual",
        "unknown",
        "undeclared",
    )
    assert "treated as irreversible" in (shell.residue or "")
    assert crm.strategy == "manual" and "intent without outcome" in crm.notes[-1]
    assert "contract inferred (no digest recorded)" in crm.notes
    assert {r.step_id for r in plan.residue} == {shell.step_id, crm.step_id}


def test_live_run_gets_a_containment_step_first() -> None:
    reg = load_contracts([CONTRACTS_DIR])
    evs = events(
        [("crm.update_field", {"record_id": "c1", "field": "tier", "value": "v"}, True)],
        ended=False,
    )
    plan = generate_plan(evs, reg, now=NOW, scope={"runs": ["r"]})
    first = plan.step(plan.groups[0][0])
    assert first.strategy == "contain" and first.phase == "containment"
    restore = plan.step(plan.groups[1][0])
    assert restore.strategy == "restore_pre_state" and restore.args == {
        "record_id": "c1",
        "field": "tier",
        "value": "old",
    }


def test_read_only_calls_produce_no_steps() -> None:
    reg = load_contracts([CONTRACTS_DIR])
    reg.add(
        reg.in_force("crm.update_field").model_copy(  # type: ignore[union-attr]
            update={"tool": "crm.get", "effect_class": "read_only", "compensation": None}
        )
    )
    plan = generate_plan(events([("crm.get", {"record_id": "c1"}, True)]), reg, now=NOW, scope={})
    assert plan.steps == () and plan.summary["side_effecting_calls"] == 0
