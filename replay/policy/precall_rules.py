"""The rules that can be decided before a tool call, each a function of (basis, proposed call).

Same ids, detectors, globs and approval triggers as the after-the-fact checks (replay.policy
.engine), so a pack means the same thing live and in replay. Where the after-the-fact check
would say `unknown` (an argument not there, a CEL expression that cannot be evaluated), the
pre-call rule fails closed: a call the pack cannot clear does not run unexamined.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from replay.policy.cel import CelProgram
from replay.policy.checks import matches

# the same recipient semantics, and the marker `_get_path` returns for a missing argument
from replay.policy.checks_flow import _MISSING, _get_path, _recipient_ok
from replay.policy.detectors import scan
from replay.policy.schema import ApprovalRule, FlowRule, RecipientRule

if TYPE_CHECKING:
    from replay.policy.precall_model import LiveBasis, Proposed

__all__ = [
    "Hit",
    "RuleFn",
    "approval",
    "cel_rule",
    "egress",
    "flow",
    "limit",
    "pinned",
    "recipients",
    "tool_allow",
]

Objection = Literal["deny", "require_approval"]
Hit = tuple[Objection, str] | None
RuleFn = Callable[["LiveBasis", "Proposed"], Hit]


def tool_allow(basis: LiveBasis, p: Proposed, allow: tuple[str, ...]) -> Hit:
    if matches(p.tool, allow):
        return None
    return "deny", f"tool {p.tool!r} is not on the allowlist"


def pinned(basis: LiveBasis, p: Proposed, table: dict[str, str]) -> Hit:
    want = table.get(p.tool)
    if want is None or p.contract_digest == want:
        return None
    if p.contract_digest is None:
        return "deny", f"{p.tool} has no contract digest; pinned {want[:16]}"
    return "deny", f"{p.tool} contract {p.contract_digest[:16]} is not the pinned {want[:16]}"


def recipients(basis: LiveBasis, p: Proposed, rule: RecipientRule) -> Hit:
    if not matches(p.tool, (rule.tool,)):
        return None
    value = _get_path(p.args, rule.argument)
    if value is _MISSING or value is None:
        return "deny", f"{p.tool} has no argument {rule.argument}: recipient cannot be cleared"
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, str):
            return "deny", f"{rule.argument} of {p.tool} is not a string"
        if not _recipient_ok(item, rule):
            return "deny", f"{p.tool} would send to {item!r}, outside the allowed recipients"
    return None


def egress(
    basis: LiveBasis, p: Proposed, kind: str, tools: tuple[str, ...],
    detectors: tuple[tuple[str, re.Pattern[str]], ...],
) -> Hit:
    if not matches(p.tool, tools):
        return None
    found = scan(p.args, detectors)
    if found:
        return "deny", f"{kind} ({', '.join(found)}) in args of {p.tool}"
    return None


def flow(basis: LiveBasis, p: Proposed, rule: FlowRule, signed: bool = False) -> Hit:
    """Untrusted input seen before a sink: approval needed (or deny without `unless_approved`).
    The approval clearing it passes the pack's approval judgement: signed where the pack's
    approvals must be (`schema: 2`), and never the run's own user approving their own call."""
    if not basis.untrusted_input or not matches(p.tool, rule.to.tools):
        return None
    if rule.unless_approved:
        a = basis.approval
        if a is not None and (a.signed or not signed) and (
                a.approver is None or a.approver != p.user):
            return None
        why = "" if a is None else f" (approval {a.approval_id} is unsigned or self-approved)"
        return "require_approval", f"{p.tool} after untrusted input needs an approval{why}"
    return "deny", f"{p.tool} after untrusted input"


def limit(basis: LiveBasis, p: Proposed, key: str, bound: Any, tool: str | None = None) -> Hit:
    """Counters and running totals: the proposed call would take the run past `bound`."""
    if key == "tool_calls" and basis.tool_calls + 1 > bound:
        return "deny", f"call {basis.tool_calls + 1} would exceed max_tool_calls {bound}"
    if key == "per_tool" and p.tool == tool and basis.tool_calls_of_tool + 1 > bound:
        return "deny", f"call {basis.tool_calls_of_tool + 1} to {tool} exceeds limit {bound}"
    if key == "identical" and basis.identical_calls + 1 > bound:
        return "deny", f"{p.tool} with identical args {basis.identical_calls + 1} times, " \
                       f"limit {bound}"
    if key == "tokens" and basis.total_tokens > bound:
        return "deny", f"{basis.total_tokens} tokens used, limit {bound}"
    if key == "seconds" and basis.elapsed_seconds > bound:
        return "deny", f"run running {basis.elapsed_seconds:.3f}s, limit {bound:g}s"
    return None


def budget(basis: LiveBasis, p: Proposed, bound: str, on_unknown: str) -> Hit:
    if basis.cost_usd > Decimal(bound):
        return "deny", f"spent ${basis.cost_usd}, limit ${bound}"
    if basis.unknown_cost_calls and on_unknown == "deny":
        return "deny", f"{basis.unknown_cost_calls} LLM call(s) of unknown cost; budget " \
                       f"${bound} cannot be confirmed (on_unknown_cost: deny)"
    return None


def _needed(rule: ApprovalRule, cel: CelProgram | None, p: Proposed) -> bool | None:
    """The trigger of an approval rule, as replay.policy.checks_flow decides it."""
    if rule.any:
        return True
    if rule.threshold_usd is not None:
        raw = p.args.get(rule.amount_field, _MISSING) if isinstance(p.args, dict) else _MISSING
        if raw is _MISSING or isinstance(raw, bool):
            return None
        try:
            if Decimal(str(raw)) < Decimal(rule.threshold_usd):
                return False
        except InvalidOperation:
            return None
    if cel is not None:
        return cel.evaluate({
            "args": p.args,
            "call": p.call_facts(),
            "principal": {"initiating_user": p.user, "roles": list(p.roles)},
        })
    return True


def approval(
    basis: LiveBasis, p: Proposed, rule: ApprovalRule, cel: CelProgram | None, signed: bool
) -> Hit:
    """Needs approval and none usable was granted for this (tool_call_id, args_hash)."""
    if not matches(p.tool, (rule.action,)):
        return None
    needed = _needed(rule, cel, p)
    if needed is False:
        return None
    why = "needs approval" if needed else "cannot tell whether it needs approval"
    a = basis.approval
    if a is None:
        return "require_approval", f"{p.tool} {why}"
    if signed and not a.signed:
        return "require_approval", f"{p.tool} {why}: approval {a.approval_id} is not signed"
    if rule.approver_roles and not set(rule.approver_roles) & set(a.roles):
        return "require_approval", (
            f"{p.tool} {why}: approver {a.approver} has none of "
            f"{', '.join(rule.approver_roles)}")
    if rule.forbid_self_approval and a.approver is not None and a.approver == p.user:
        return "deny", f"{a.approver} approved their own {p.tool}"
    return None


def cel_rule(
    basis: LiveBasis, p: Proposed, *, text: str, program: CelProgram, tools: tuple[str, ...],
    names: frozenset[str],
) -> Hit:
    if tools and not matches(p.tool, tools):
        return None
    result = program.evaluate(p.cel_facts(basis, names))
    if result is None:
        return "deny", f"cannot evaluate {text!r} for {p.tool}: fail closed"
    return None if result else ("deny", f"{p.tool} violates: {text}")


def bind(fn: Callable[..., Hit], **kw: Any) -> RuleFn:
    """A rule function with its pack parameters bound (compiled once per pack)."""
    return partial(fn, **kw)
