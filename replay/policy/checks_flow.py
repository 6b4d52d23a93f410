"""Per-call checks: approvals, recipients, PII/secret egress and untrusted-input flows.

These look at individual tool calls in log order. Approval checks follow the binding rules of
DESIGN §7: a decision counts only for the same `tool_call_id` *and* `args_hash` (or the edited
args hash), decided before the call started, by an approver with a required role who is not the
initiating user, and not older than `max_age_seconds`.

Two things a writer controls are never trusted (issue 14): the `args_hash` field of
`tool.call.started` (the binding is recomputed from the call's recorded args with
`ledger.events.args_hash`), and the spelling of principals (approver and initiating user compare
through `ledger.identity.normalise_principal`, so a change of case is not another person).
Nor are the approver's roles or the approval itself: roles come from the principal registry in
force at the decision, and a signed approval is verified over a claim rebuilt from the record
(`replay.authority.judge_approval`); without a trust root or registry those parts are unknown.
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from ledger.errors import LedgerError
from ledger.identity import normalise_principal, principal_set
from ledger.ids import parse_timestamp
from replay.authority import judge_approval
from replay.model import ApprovalRecord, RunState, ToolCallRecord
from replay.policy.cel import CelProgram
from replay.policy.checks import matches
from replay.policy.detectors import scan
from replay.policy.outcome import Findings
from replay.policy.paused import paused
from replay.policy.recorded import recorded_args_hash
from replay.policy.schema import ApprovalRule, FlowRule, RecipientRule
from replay.policy.timebounds import DEFAULT_SKEW_NS, approval_age, call_duration, outside
from replay.policy.verdict import Outcome, Verdict

__all__ = ["approvals", "call_facts", "egress", "flow", "recipients", "verified_user"]

_NS = 1_000_000_000
_MISSING = object()


def call_facts(
    call: ToolCallRecord, state: RunState, skew_ns: int = DEFAULT_SKEW_NS
) -> dict[str, Any]:
    """The CEL view of one tool call; its duration only from writer times inside the record's
    bounds (replay.policy.timebounds), else null (so a rule using it is unknown)."""
    took = call_duration(state, call, skew_ns)[0] if call.duration_ns is not None else None
    return {
        "id": call.tool_call_id,
        "tool": call.tool,
        "args": call.args,
        "status": call.status,
        "attempt": call.attempt,
        "side_effect": call.side_effect,
        "duration_seconds": took / _NS if took is not None else None,
    }


def _by_call(state: RunState) -> dict[str, list[ApprovalRecord]]:
    table: dict[str, list[ApprovalRecord]] = defaultdict(list)
    for a in state.approvals:
        if a.decided_seq is not None:
            table[a.tool_call_id].append(a)
    return table


def _needs_approval(
    rule: ApprovalRule, cel: CelProgram | None, call: ToolCallRecord, state: RunState
) -> bool | None:
    """True/False, or None when the trigger cannot be decided from what was captured."""
    if rule.any:
        return True
    needed = True
    if rule.threshold_usd is not None:
        raw = (
            call.args.get(rule.amount_field, _MISSING) if isinstance(call.args, dict) else _MISSING
        )
        if raw is _MISSING or isinstance(raw, bool):
            return None
        try:
            needed = Decimal(str(raw)) >= Decimal(rule.threshold_usd)
        except InvalidOperation:
            return None
    if needed and cel is not None:
        decided = cel.evaluate(
            {
                "args": call.args,
                "call": call_facts(call, state),
                "principal": {
                    "initiating_user": state.run.initiating_user,
                    "roles": list(state.run.roles),
                },
            }
        )
        if decided is None:
            return None
        needed = decided
    return needed


def _bound(
    f: Findings,
    ev: tuple[str | None, ...],
    call: ToolCallRecord,
    a: ApprovalRecord,
    recorded: str | None,
) -> None:
    """`bind_args`: the approved hash must equal `recorded`, the hash recomputed from the
    recorded args (None when they are not all recorded).

    The event's own `args_hash` is checked too but never trusted: a writer can record a $9,999
    call whose field carries the hash of the $250 call that was approved.
    """
    approved = a.edited_args_hash if a.decision == "edited" else a.decided_args_hash
    what = f"{call.tool} ({call.tool_call_id})"
    if recorded is None:
        if approved != call.args_hash:
            f.fail(ev, f"{what} ran with args that differ from the approved args")
        else:
            f.unknown(
                ev,
                f"{what} args are not fully recorded (truncated, scrubbed or held privately); "
                f"approval {a.approval_id} binding cannot be recomputed",
            )
        return
    lie = (
        f"{what} records args_hash {call.args_hash} but its recorded args hash to {recorded}"
        if call.args_hash != recorded
        else None
    )
    if approved != recorded:
        f.fail(
            ev,
            f"{what} ran with args that differ from the approved args: approval "
            f"{a.approval_id} binds args_hash {approved} but the call's recorded args "
            f"hash to {recorded}" + (f"; and {lie}" if lie else ""),
        )
    elif lie:
        f.fail(ev, lie)


def _who(
    f: Findings,
    ev: tuple[str | None, ...],
    state: RunState,
    call: ToolCallRecord,
    a: ApprovalRecord,
    *,
    rule: ApprovalRule,
    require_signed: bool,
    recorded: str | None,
    strict_identity: bool = False,
) -> None:
    """Self-approval, signature and roles, judged by the registry in force at the decision.

    Roles come from the registry, never from the event; an unsigned or unverifiable approval
    fails a rule that needs authority, and is `unknown` (never pass) for `require_signed` alone.
    """
    what = f"{call.tool} ({call.tool_call_id})"
    if rule.forbid_self_approval:
        _self_approval(f, ev, state, a, what, strict=strict_identity)
    verified = rule.principals is not None and rule.principals.require_verified
    if verified:
        verified_user(f, ev, state)
    needs_authority = bool(rule.approver_roles) or rule.forbid_self_approval or verified
    if not needs_authority and not require_signed:
        return
    judged = judge_approval(state, call, a, recorded)
    registry = judged.in_force.registry
    if registry is None:
        f.unknown(ev, f"approval {a.approval_id} of {what} cannot be judged: {judged.problem}")
        return
    if judged.problem is not None:
        if needs_authority:
            f.fail(ev, f"approval {a.approval_id} of {what}: {judged.problem}")
        else:
            f.unknown(ev, f"{what}: {judged.problem}; the pack requires signed approvals")
        return
    if rule.approver_roles and not set(rule.approver_roles) & registry.roles_of(a.approver_id):
        f.fail(
            ev,
            f"approver {a.approver_id} is not granted a required role "
            f"({', '.join(rule.approver_roles)}) by the registry in force "
            f"(version {registry.version}, published at seq {judged.in_force.seq})",
        )


def _self_approval(  # noqa: PLR0917 - a helper of _who with its fixed order
    f: Findings, ev: tuple[str | None, ...], state: RunState, a: ApprovalRecord, what: str,
    strict: bool = False,
) -> None:
    """The approver may be neither the user the writer recorded nor the one a verified token
    names (a writer recording another name does not make a self-approval independent).

    `strict` (packs with `schema: 2`): independence must be proven, so an asserted initiating
    user leaves the rule `unknown` even when the recorded name differs from the approver."""
    user = state.run.initiating_user
    who = state.identity.user if state.identity is not None else None
    verified = who.key() if who is not None and who.is_verified else None
    if user is None and verified is None:
        f.unknown(ev, "initiating user not recorded; separation of duties undecidable")
        return
    approver = normalise_principal(a.approver_id) if a.approver_id else None
    if approver is not None and approver in {verified, *principal_set([user])}:
        name = who.facts()["id"] if verified == approver and who is not None else user
        f.fail(ev, f"{name} approved their own {what}")
    elif strict and verified is None:
        reason = who.reason if who is not None else "user: identity not resolved"
        f.unknown(ev, f"separation of duties not proven for {what}: the initiating user is "
                      f"asserted ({reason})")


def verified_user(f: Findings, ev: tuple[str | None, ...], state: RunState) -> None:
    """`principals.require_verified`: an asserted initiating user never satisfies the rule.

    Unknown when verification was impossible here (no trust root, no registry in force, the
    token erased or not openable); a fail when the run recorded no token or a refused one."""
    who = state.identity.user if state.identity is not None else None
    if who is not None and who.is_verified:
        return
    reason = who.reason if who is not None else "user: identity not resolved"
    undecidable = ("not verifiable", "erased", "cannot be opened")
    if any(part in reason for part in undecidable):
        f.unknown(ev, f"initiating user is asserted ({reason}); the rule requires verified")
    else:
        f.fail(ev, f"initiating user is asserted ({reason}); the rule requires verified")


def _expired(
    f: Findings, ev: tuple[str | None, ...], call: ToolCallRecord, a: ApprovalRecord,
    *, state: RunState, skew_ns: int,
) -> None:
    """An approval that names an expiry does not cover a call started after it (the call's
    start is writer time: usable only inside the record's bounds)."""
    if a.expires_at is None:
        return
    why = outside(("tool.call.started", call), call.started_event_id, call.started_ns,
                  call.started_rec_ns, state.run.started_ns, skew_ns)
    if why is not None:
        f.unknown(ev, f"approval {a.approval_id} expiry cannot be judged: {why}")
        return
    try:
        limit = parse_timestamp(a.expires_at)
    except (LedgerError, ValueError):
        f.fail(ev, f"approval {a.approval_id} has an unreadable expiry {a.expires_at!r}")
        return
    if call.started_ns > limit:
        f.fail(
            ev,
            f"approval {a.approval_id} expired at {a.expires_at} before the call "
            f"{call.tool} ({call.tool_call_id}) started",
        )


def approvals(  # noqa: PLR0917 - bound once with partial()
    state: RunState,
    on_missing: Outcome,
    rule_id: str,
    rule: ApprovalRule,
    cel: CelProgram | None,
    require_signed: bool = False,
    strict_identity: bool = False,
    skew_ns: int = DEFAULT_SKEW_NS,
) -> Verdict:
    f = Findings(rule_id, on_missing)
    table = _by_call(state)
    checked = 0
    for call in state.tool_calls:
        if not matches(call.tool, (rule.action,)):
            continue
        needed = _needs_approval(rule, cel, call, state)
        if needed is None:
            f.unknown(
                (call.started_event_id,),
                f"cannot tell whether {call.tool} "
                f"({call.tool_call_id}) needed approval: {rule.amount_field} or args "
                "not captured",
            )
            continue
        if not needed or paused(call, state):
            continue
        checked += 1
        start = (call.started_event_id,)
        before = [
            a
            for a in table.get(call.tool_call_id, ())
            if a.decided_seq is not None and a.decided_seq < call.started_seq
        ]
        if not before:
            f.fail(start, f"{call.tool} ({call.tool_call_id}) executed without an approval")
            continue
        a = before[-1]
        ev = (a.decided_event_id, call.started_event_id)
        if a.decision == "rejected":
            f.fail(
                ev, f"{call.tool} ({call.tool_call_id}) executed after {a.approver_id} rejected it"
            )
            continue
        recorded = recorded_args_hash(call)  # once per call: the binding and the signed claim
        if rule.bind_args:
            _bound(f, ev, call, a, recorded)
        _who(f, ev, state, call, a, rule=rule, require_signed=require_signed, recorded=recorded,
             strict_identity=strict_identity)
        _expired(f, ev, call, a, state=state, skew_ns=skew_ns)
        if rule.max_age_seconds is not None and a.decided_ns is not None:
            age_ns, why = approval_age(state, call, a, skew_ns)  # bounded by the record
            if age_ns is None:
                f.unknown(ev, f"approval age unknown: {why}")
            elif (age := age_ns / _NS) > rule.max_age_seconds:
                f.fail(
                    ev, f"approval was {age:.0f}s old at execution, limit {rule.max_age_seconds:g}s"
                )
    return f.verdict(state, f"{checked} call(s) needing approval, all properly approved")


def _recomputed(call: ToolCallRecord) -> str:
    """The recomputed args hash, or "" (matches no approval) when the args are not all recorded.

    Falling back to the event's field would let a writer regain trust in it by planting a
    truncation marker in the args.
    """
    return recorded_args_hash(call) or ""


def _get_path(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _domain(value: str) -> str:
    text = value.strip().lower()
    if "://" in text:
        return (urlsplit(text).hostname or "").rstrip(".")
    if "@" in text:
        return text.rsplit("@", 1)[1].strip(" >").rstrip(".")
    return text.split("/", 1)[0].rstrip(".")


def _recipient_ok(value: str, rule: RecipientRule) -> bool:
    if value in rule.allow or value.strip().lower() in (a.lower() for a in rule.allow):
        return True
    host = _domain(value)
    return any(host == d.lower() or host.endswith("." + d.lower()) for d in rule.allow_domains)


def recipients(state: RunState, on_missing: Outcome, rule: RecipientRule) -> Verdict:
    f = Findings(f"recipients.{rule.tool}.{rule.argument}", on_missing)
    seen = 0
    for call in state.tool_calls:
        if not matches(call.tool, (rule.tool,)):
            continue
        ev = (call.started_event_id,)
        value = _get_path(call.args, rule.argument)
        if value is _MISSING or value is None:
            f.unknown(
                ev, f"{call.tool} ({call.tool_call_id}) has no captured argument {rule.argument}"
            )
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            seen += 1
            if not isinstance(item, str):
                f.unknown(ev, f"{rule.argument} of {call.tool} is not a string")
            elif not _recipient_ok(item, rule):
                f.fail(ev, f"{call.tool} sent to {item!r}, outside the allowed recipients")
    return f.verdict(state, f"{seen} recipient(s) of {rule.tool}, all allowed")


def egress(  # noqa: PLR0917 - bound once with partial()
    state: RunState,
    on_missing: Outcome,
    rule_id: str,
    tools: tuple[str, ...],
    detectors: tuple[tuple[str, re.Pattern[str]], ...],
    outputs: bool,
) -> Verdict:
    f = Findings(rule_id, on_missing)
    kind = rule_id.rsplit(".", 1)[-1]
    scanned = 0
    for call in state.tool_calls:
        if not matches(call.tool, tools):
            continue
        if call.args is None:
            f.unknown(
                (call.started_event_id,),
                f"{call.tool} ({call.tool_call_id}) args not captured; cannot scan",
            )
            continue
        scanned += 1
        found = scan(call.args, detectors)
        if found:
            f.fail(
                (call.started_event_id,),
                f"{kind} ({', '.join(found)}) in args of {call.tool} ({call.tool_call_id})",
            )
    if outputs:
        for message in state.messages:
            if message.direction == "output":
                scanned += 1
                found = scan(message.content, detectors)
                if found:
                    f.fail((message.event_id,), f"{kind} ({', '.join(found)}) in output message")
    return f.verdict(state, f"no {kind} found in {scanned} egress payload(s)")


def flow(state: RunState, on_missing: Outcome, rule: FlowRule) -> Verdict:
    f = Findings(f"flows.{rule.id}", on_missing)
    sources: list[tuple[int, str, str]] = []  # (seq, event id, description)
    if rule.from_.untrusted_messages:
        sources.extend(
            (m.seq, m.event_id, f"untrusted {m.origin or m.role} input")
            for m in state.messages
            if m.direction == "input" and m.trust == "untrusted"
        )
    if rule.from_.tools:
        sources.extend(
            (c.ended_seq, c.ended_event_id, f"result of {c.tool}")
            for c in state.tool_calls
            if c.ended_seq is not None
            and c.ended_event_id is not None
            and matches(c.tool, rule.from_.tools)
        )
    sources.sort()
    table = _by_call(state)
    sinks = 0
    for call in state.tool_calls:
        if not matches(call.tool, rule.to.tools):
            continue
        sinks += 1
        earlier = [s for s in sources if s[0] < call.started_seq]
        if not earlier:
            continue
        last_seq, last_id, what = earlier[-1]
        if rule.unless_approved:
            ok = [
                a
                for a in table.get(call.tool_call_id, ())
                if a.decision in ("approved", "edited")
                and a.decided_seq is not None
                and last_seq < a.decided_seq < call.started_seq
                # the args the approval releases: the edited ones for an edit, never the original
                and _recomputed(call)
                == (a.edited_args_hash if a.decision == "edited" else a.decided_args_hash)
            ]
            if ok:
                continue
        f.fail(
            (earlier[0][1], last_id, call.started_event_id),
            f"{call.tool} ({call.tool_call_id}) ran after {what} without approval in between",
        )
    return f.verdict(
        state, f"{sinks} egress call(s), none tainted by untrusted input without approval"
    )
