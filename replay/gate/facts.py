"""The CEL facts of one replayed run: what a suite's expectations read as `run` (contract 3).

Why from the replayed state and the policy verdicts, not from the agent's return value: the
gate judges what the ledger recorded (tool calls with their args and results, approvals,
messages, spend and tokens recomputed from the events, the verdicts `ledger check` gives), so
a passing gate is evidence anyone can re-check from the log. The shape is plain JSON (numbers,
strings, lists, maps, null) so it converts to CEL values without surprises; `spend_usd` is a
double for comparisons, budgets compare the exact decimal (replay.gate.evaluate).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from replay.model import RunState
from replay.policy.verdict import Verdict

__all__ = ["duration_ms", "run_facts"]


def duration_ms(state: RunState) -> int | None:
    """Start to end in milliseconds (None while the run is open or a bound is missing)."""
    start = state.run.started_ns if state.run.started_ns is not None else state.run.first_ns
    end = state.run.ended_ns
    if start is None or end is None:
        return None
    return max(0, (end - start) // 1_000_000)


def _approved_calls(state: RunState) -> set[str]:
    return {a.tool_call_id for a in state.approvals if a.decision == "approved"}


def run_facts(state: RunState, verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """`run` for the expectations: see docs/gate.md ("What an expectation can read")."""
    approved = _approved_calls(state)
    calls = [
        {
            "tool": c.tool, "args": c.args, "result": c.result, "status": c.status,
            "error": c.error, "side_effect": c.side_effect,
            "approved": c.tool_call_id in approved,
        }
        for c in state.tool_calls
    ]
    messages = [{"direction": m.direction, "text": m.content} for m in state.messages]
    outputs = [m.content for m in state.messages if m.direction == "output"]
    totals = state.totals
    v = state.versions
    status = state.run.status if state.run.ended and state.run.status else "open"
    return {
        "run_id": state.run.run_id,
        "status": status,
        "duration_ms": duration_ms(state),
        "tokens": {"input": totals.input_tokens, "output": totals.output_tokens,
                   "total": totals.total_tokens},
        "spend_usd": float(Decimal(totals.cost_usd)),
        "tool_calls": calls,
        "tools": [c.tool for c in state.tool_calls],
        "messages": messages,
        "output": outputs[-1] if outputs else "",
        "approvals": [
            {"tool": a.tool, "decision": a.decision, "approver": a.approver_id}
            for a in state.approvals
        ],
        "verdicts": {x.rule_id: x.outcome for x in verdicts},
        "failing_rules": [x.rule_id for x in verdicts if x.outcome == "fail"],
        "stopped": status == "stopped",
        "versions": {
            "agent_version": state.run.agent_version, "prompt_version": v.prompt_version,
            "model": v.model, "policy_hash": v.policy_hash,
            "tool_contract_digest": v.tool_contract_digest,
        },
    }
