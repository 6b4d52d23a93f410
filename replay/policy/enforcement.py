"""`enforcement.decisions`: proof, from the record alone, that the pack was enforced live.

For a pack in force with some rule in `enforce` or `shadow` mode, every side-effecting
`tool.call.started` must follow (lower run_seq) a `policy.decided` for the same tool_call_id:
- under the pack in force (a decision naming another pack is forged or stale),
- for the same tool and the args the call recorded (args hash recomputed, never trusted),
- whose recorded basis does not understate what the record shows before the decision (tool
  calls, calls of the tool, identical calls, tokens and cost of LLM calls ended before it,
  LLM calls without cost, untrusted input): the hooks cannot buy an allow with a smaller count,
- which re-evaluated with `replay.policy.precall.decide` from that basis gives the same
  decision and the same objections (a hook cannot record an allow the pack would not give),
- and which permits the call: allow, or require_approval followed by an approval of that call;
  after a deny (or an unapproved hold) the body must not have run (the call ended `refused`).

A decision recorded after the call is late; none at all is missing: both fail with evidence.
Elapsed time is the writer's clock and is re-evaluated as recorded, not checked against it.
What-if: `enforcement.would_block` lists the calls the pack would have denied or held, from a
basis rebuilt from the record (for runs recorded without enforcement).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from typing import Any

from replay.authority import judge_approval
from replay.model import ApprovalRecord, PolicyDecidedRecord, RunState, ToolCallRecord
from replay.policy.basis import StartSeen, walk
from replay.policy.outcome import Findings
from replay.policy.precall import ApprovalGrant, CompiledPreCall, LiveBasis, Proposed, decide
from replay.policy.recorded import recorded_args_hash
from replay.policy.ruleparts import registry_roles
from replay.policy.timebounds import DEFAULT_SKEW_SECONDS
from replay.policy.verdict import Verdict

__all__ = ["decisions", "observed_basis", "would_block"]

RULE = "enforcement.decisions"
_COUNTS = ("tool_calls", "tool_calls_of_tool", "identical_calls", "total_tokens",
           "unknown_cost_calls")


def _proposed(state: RunState, call: ToolCallRecord, model: str | None = None) -> Proposed:
    run = state.run
    return Proposed(
        tool=call.tool, args=call.args, args_hash=recorded_args_hash(call) or call.args_hash,
        tool_call_id=call.tool_call_id, contract_digest=call.contract_digest,
        side_effect=call.side_effect, attempt=call.attempt, run_id=run.run_id, agent=run.agent,
        version=run.agent_version, tenant=run.tenant, model=model or state.versions.model,
        user=run.initiating_user,
        roles=tuple(run.roles),
    )


def observed_basis(
    state: RunState, call: ToolCallRecord, before_seq: int | None = None,
    seqs: dict[str, int] | None = None, untrusted_tools: tuple[str, ...] = (),
) -> LiveBasis:
    """What the record shows immediately before `call` started (replay.policy.basis; the
    approval is left to the caller). `before_seq`/`seqs` are kept for callers; the basis is
    always measured at the start."""
    for seen in walk(state, untrusted_tools):
        if seen.call is call:
            return seen.basis
    return LiveBasis()


def _understated(recorded: LiveBasis, seen: LiveBasis) -> list[str]:
    out = [f"{k} {getattr(recorded, k)} < {getattr(seen, k)}" for k in _COUNTS
           if getattr(recorded, k) < getattr(seen, k)]
    if recorded.cost_usd < seen.cost_usd:
        out.append(f"cost_usd {recorded.cost_usd} < {seen.cost_usd}")
    if seen.untrusted_input and not recorded.untrusted_input:
        out.append("untrusted input seen but not recorded")
    return out


def _elapsed(state: RunState, d: PolicyDecidedRecord, recorded: float) -> str | None:
    """The decision's elapsed_seconds against its own recorded time minus the run's start
    (both the writer's clock, bounded by timebounds), within the clock skew."""
    at = d.occurred_ns
    if at is None or state.run.first_ns is None:
        return None
    seen = (at - state.run.first_ns) / 1e9
    if recorded + DEFAULT_SKEW_SECONDS < seen:
        return f"elapsed_seconds {recorded:g} < {seen:.3f} (run start to decision)"
    return None


def _timed(compiled: CompiledPreCall) -> bool:
    """Some rule reads the elapsed time (the timeout, or a CEL rule that may read `run`)."""
    return any(i == "timeouts.overall_seconds" or i.startswith("rules.")
               for i, _, _ in compiled.rules)


def _verified_grant(
    state: RunState, call: ToolCallRecord, a: ApprovalRecord
) -> ApprovalGrant:
    """The grant as replay.authority verifies it: signed only if the signature verifies
    against the registry in force at its seq; roles from that registry when one is in force
    (else as recorded: without a trust root the roles are asserted, as the approval rules say)."""
    judged = judge_approval(state, call, a, recorded_args_hash(call))
    roles = tuple(registry_roles(state, a)) if a.signature is not None else a.approver_roles
    return ApprovalGrant(a.approval_id, a.decided_event_id, a.approver_id, roles,
                         a.signature is not None and judged.problem is None)


def _effective(a: ApprovalRecord) -> str | None:
    """The args an approval releases: the edited args for an edit, never the original."""
    return a.edited_args_hash if a.decision == "edited" else a.decided_args_hash


def _granted(state: RunState, call: ToolCallRecord, after: int, before: int) -> list[Any]:
    want = recorded_args_hash(call) or call.args_hash
    return [a for a in state.approvals
            if a.tool_call_id == call.tool_call_id and a.decision in ("approved", "edited")
            and a.decided_seq is not None and after < a.decided_seq < before
            and _effective(a) == want]


def _approved_before(
    state: RunState, compiled: CompiledPreCall, call: ToolCallRecord, seen: LiveBasis,
    d: PolicyDecidedRecord,
) -> bool:
    """An approval of this call's args decided after the hold and before the call, which
    re-evaluated as the grant (verified signature, registry roles) gives allow."""
    for a in _granted(state, call, d.seq, call.started_seq):
        basis = replace(seen, approval=_verified_grant(state, call, a))
        if decide(compiled, basis, _proposed(state, call, d.model)).decision == "allow":
            return True
    return False


def _malformed(a: ApprovalRecord) -> str | None:
    """A signature that cannot be an Ed25519 signature at all (judged without any registry)."""
    try:
        raw = base64.b64decode(a.signature or "", validate=True)
    except (binascii.Error, ValueError):
        return "whose signature is not base64"
    return None if len(raw) == 64 else f"whose signature is {len(raw)} bytes, not 64"


def _cited(state: RunState, call: ToolCallRecord, grant: ApprovalGrant,
           seq: int) -> str | None:
    """Why the approval the basis names does not stand as cited (None: it does; a text
    starting "unknown:" when it cannot be told). It must be decided for this call and these
    args (its effective hash: the edited args for an edit) before the decision, by the approver
    it names, signed if it says so (a signature that verifies against the registry in force),
    and hold the roles it declares: for a signed decision the roles of the registry in force at
    the decision (the event records none, and a writer's word is no role), judged over the claim
    rebuilt from the record; for an unsigned one at most the roles it recorded."""
    found = [a for a in _granted(state, call, -1, seq)
             if a.approval_id == grant.approval_id and grant.approver in (None, a.approver_id)
             and (a.signature is not None or not grant.signed)]
    if not found:
        return "which the record does not show granted for this call before it"
    why = "unknown"
    for a in found:
        if a.signature is None:
            held = set(a.approver_roles)
        elif grant.roles or grant.signed:
            judged = judge_approval(state, call, a, recorded_args_hash(call))
            registry = judged.in_force.registry
            if judged.in_force.status == "no_trust_root":
                what = "roles" if grant.roles else "signature"
                bad = _malformed(a) if grant.signed else None
                why = bad or f"unknown: its {what} cannot be judged ({judged.in_force.reason})"
                continue
            if grant.signed and not grant.roles and judged.problem is not None:
                why = f"whose signature does not stand ({judged.problem})"
                continue
            held = (set(registry.roles_of(a.approver_id))
                    if judged.problem is None and registry is not None else set())
        else:
            held = set()
        if set(grant.roles) <= held:
            return None
        missing = ", ".join(sorted(set(grant.roles) - held))
        why = why if why.startswith("unknown:") else (
            f"whose approver {a.approver_id!r} does not hold the role(s) {missing} it cites")
    return why


def _body_ran(f: Findings, state: RunState, call: ToolCallRecord, ev: tuple[str | None, ...],
              what: str) -> None:
    if call.status is None:
        if state.run.ended_event_id is not None:
            f.fail(ev, f"{what}; it started and never ended in an ended run")
        else:
            f.unknown(ev, f"{what}; the call never ended, cannot tell whether its body ran")
    elif call.status != "refused":
        f.fail(ev, f"{what}, and its body ran (ended {call.status})")


def _hits(rules: Any) -> set[tuple[str, str, str]]:
    return {(x.id, x.outcome, getattr(x, "mode", None) or "") for x in rules}


def _judge(
    f: Findings, state: RunState, compiled: CompiledPreCall, seen: StartSeen,
    d: PolicyDecidedRecord,
) -> None:
    call = seen.call
    data, what = d.data, f"{call.tool} ({call.tool_call_id})"
    ev = (d.event_id, call.started_event_id)
    if data.pack_hash != compiled.pack_hash:
        f.fail(ev, f"{what} was decided under pack {data.pack_hash[:12]}, pack in force "
                   f"is {compiled.pack_hash[:12]}")
        return
    recorded = recorded_args_hash(call)
    if data.tool != call.tool or (recorded is not None and data.args_hash != recorded):
        f.fail(ev, f"decision {d.event_id} is for {data.tool} args {data.args_hash[:12]}, "
                   f"not the call that ran ({what})")
        return
    basis = LiveBasis.from_json(data.basis.model_dump(mode="json"))
    cited = None if basis.approval is None else _cited(state, call, basis.approval, d.seq)
    if cited is not None and basis.approval is not None:
        said = f"decision for {what} relies on approval {basis.approval.approval_id}"
        if cited.startswith("unknown: "):
            f.unknown(ev, f"{said}: {cited.removeprefix('unknown: ')}")
        else:
            f.fail(ev, f"{said}, {cited}")
    short = _understated(basis, seen.basis)
    late = _elapsed(state, d, basis.elapsed_seconds) if _timed(compiled) else None
    if short or late:
        f.fail(ev, f"decision for {what} understates the record: "
                   f"{'; '.join([*short, *([late] if late else [])])}")
    again = decide(compiled, basis, _proposed(state, call, d.model))
    hits = {(i, o, m) for i, o, _, m in again.hits}
    if (again.decision, again.would_be, again.mode) != (
            data.decision, data.would_be or data.decision, data.mode) or not _same(
            hits, _hits(data.rules)):
        modes = "" if again.mode == data.mode else f"; mode {again.mode}, recorded {data.mode}"
        f.fail(ev, f"decision for {what} re-evaluates to {again.decision} "
                   f"({', '.join(sorted(i for i, _, _ in hits)) or 'no objection'}), "
                   f"recorded {data.decision}{modes}")
    if again.decision == "allow":
        return
    if again.decision == "require_approval" and _approved_before(
            state, compiled, call, seen.basis, d):
        return
    _body_ran(f, state, call, ev, f"{what} was decided {again.decision}")


def _same(again: set[tuple[str, str, str]], recorded: set[tuple[str, str, str]]) -> bool:
    """Same objections and modes (a recorded hit without a mode is compared without one)."""
    return again == recorded or ({(i, o) for i, o, _ in again} == {
        (i, o) for i, o, m in recorded if not m} and all(not m for _, _, m in recorded))


def _agree(f: Findings, seen: StartSeen) -> None:
    """Several decisions before one start citing the same grant (or none) must agree (the
    hook's deny is not overwritten by a later allow of the host's)."""
    answers: dict[Any, set[Any]] = {}
    for d in seen.decisions:  # a hold, then an allow citing its approval, is one story
        a = d.data.basis.approval
        cited = (a.approval_id, a.roles, a.signed) if a is not None else None
        answers.setdefault(cited, set()).add(
            (d.data.decision, frozenset((x.id, x.outcome) for x in d.data.rules)))
    if any(len(a) > 1 for a in answers.values()):
        call = seen.call
        f.fail((*(d.event_id for d in seen.decisions), call.started_event_id),
               f"{len(seen.decisions)} decisions for {call.tool} ({call.tool_call_id}) "
               f"disagree: {', '.join(sorted({d.data.decision for d in seen.decisions}))}")


def decisions(state: RunState, compiled: CompiledPreCall) -> Verdict:
    """Every tool.call.started (read-only ones too: `side_effect` is the writer's word) follows
    its own decision under the pack in force that permits it, re-evaluates the same, and does
    not understate the record at the start."""
    f = Findings(RULE, "unknown")
    by_call: dict[str, list[str]] = {}
    for d in state.decided:
        by_call.setdefault(d.data.tool_call_id, []).append(d.event_id)
    checked = 0
    for seen in walk(state, compiled.taint_tools):
        call = seen.call
        checked += 1
        if not seen.decisions:
            late = by_call.get(call.tool_call_id, [])
            why = "only after it" if late else "none"
            f.fail((call.started_event_id, *late),
                   f"{call.tool} ({call.tool_call_id}) ran without a policy decision before "
                   f"it ({why})")
            continue
        _judge(f, state, compiled, seen, seen.decisions[-1])
        _agree(f, seen)
    for fault in state.gaps:
        if "reuses" in fault.reason:
            f.fail((fault.event_id,), fault.reason)
    return f.verdict(state, f"{checked} call(s), each decided before it ran "
                            f"under pack {compiled.pack_hash[:12]}")


def would_block(state: RunState, compiled: CompiledPreCall) -> Verdict:
    """What-if: the calls this pack would have denied or held, from the record alone (a
    `fail` listing them; approvals decided before a call count as granted)."""
    f = Findings("enforcement.would_block", "unknown")
    held = 0
    for seen in walk(state, compiled.taint_tools):
        call = seen.call
        basis = _with_approval(state, seen.basis, call)
        got = decide(compiled, basis, _proposed(state, call))
        if got.would_be != "allow":
            held += 1
            rules = ", ".join(i for i, _, _, _ in got.hits)
            f.fail((call.started_event_id,),
                   f"{call.tool} ({call.tool_call_id}) would be {got.would_be}: {rules}")
    return f.verdict(state, f"no call of {len(state.tool_calls)} would be blocked",
                     need_complete=False)


def _with_approval(state: RunState, basis: LiveBasis, call: ToolCallRecord) -> LiveBasis:
    """The basis with the approval decided for the call's args before it, if any, as replay
    verifies it (a signed one with the registry's roles of its approver, as the hooks cite
    them; an unsigned one with its recorded roles: what-if shows what the pack would block; the
    after-the-fact approval rules judge authority)."""
    for a in _granted(state, call, -1, call.started_seq):
        return replace(basis, approval=_verified_grant(state, call, a))
    return basis
