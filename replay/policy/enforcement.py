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

from dataclasses import replace
from decimal import Decimal

from replay.authority import judge_approval
from replay.model import PolicyDecidedRecord, RunState, ToolCallRecord
from replay.policy.checks import matches
from replay.policy.engine import _registry_roles
from replay.policy.outcome import Findings
from replay.policy.precall import ApprovalGrant, CompiledPreCall, LiveBasis, Proposed, decide
from replay.policy.recorded import args_identity, recorded_args_hash
from replay.policy.verdict import Verdict

__all__ = ["decisions", "observed_basis", "would_block"]

RULE = "enforcement.decisions"
_COUNTS = ("tool_calls", "tool_calls_of_tool", "identical_calls", "total_tokens",
           "unknown_cost_calls")


def _proposed(state: RunState, call: ToolCallRecord) -> Proposed:
    run = state.run
    return Proposed(
        tool=call.tool, args=call.args, args_hash=recorded_args_hash(call) or call.args_hash,
        tool_call_id=call.tool_call_id, contract_digest=call.contract_digest,
        side_effect=call.side_effect, attempt=call.attempt, run_id=run.run_id, agent=run.agent,
        version=run.agent_version, tenant=run.tenant, model=state.versions.model,
        user=run.initiating_user,
        roles=tuple(run.roles),
    )


def observed_basis(
    state: RunState, call: ToolCallRecord, before_seq: int, seqs: dict[str, int],
    untrusted_tools: tuple[str, ...] = (),
) -> LiveBasis:
    """What the record shows before `before_seq` (the approval is left to the caller), counted
    as the after-the-fact rules count: `tool_calls` and `tool_calls_of_tool` every
    tool.call.started (retries included, as max_tool_calls), `identical_calls` first attempts
    of other calls with the same tool and recorded args (as loops)."""
    earlier = [c for c in state.tool_calls if c.started_seq < before_seq]  # retries count
    firsts = [c for c in earlier if c.attempt == 1 and c.tool_call_id != call.tool_call_id]
    ident = args_identity(call)
    ended = [x for x in state.llm_calls if x.ended_event_id is not None
             and seqs.get(x.ended_event_id, before_seq) < before_seq]
    untrusted = any(m.direction == "input" and m.trust == "untrusted" and m.seq < before_seq
                    for m in state.messages) or any(
        c.ended_seq is not None and c.ended_seq < before_seq and matches(c.tool, untrusted_tools)
        for c in state.tool_calls)
    return LiveBasis(
        tool_calls=len(earlier),
        tool_calls_of_tool=sum(1 for c in earlier if c.tool == call.tool),
        identical_calls=sum(1 for c in firsts if c.tool == call.tool
                            and args_identity(c) == ident),
        cost_usd=sum((Decimal(x.cost_usd) for x in ended if x.cost_usd is not None), Decimal(0)),
        total_tokens=sum(x.total_tokens or 0 for x in ended),
        unknown_cost_calls=sum(1 for x in ended if x.cost_usd is None),
        untrusted_input=untrusted,
    )


def _understated(recorded: LiveBasis, seen: LiveBasis) -> list[str]:
    out = [f"{k} {getattr(recorded, k)} < {getattr(seen, k)}" for k in _COUNTS
           if getattr(recorded, k) < getattr(seen, k)]
    if recorded.cost_usd < seen.cost_usd:
        out.append(f"cost_usd {recorded.cost_usd} < {seen.cost_usd}")
    if seen.untrusted_input and not recorded.untrusted_input:
        out.append("untrusted input seen but not recorded")
    return out


def _approved_before(state: RunState, call: ToolCallRecord, after_seq: int) -> bool:
    want = recorded_args_hash(call)
    return any(
        a.tool_call_id == call.tool_call_id and a.decision in ("approved", "edited")
        and a.decided_seq is not None and after_seq < a.decided_seq < call.started_seq
        and want in (a.decided_args_hash, a.edited_args_hash)
        for a in state.approvals
    )


def _cited(state: RunState, call: ToolCallRecord, grant: ApprovalGrant,
           seq: int) -> str | None:
    """Why the approval the basis names does not stand as cited (None: it does; a text
    starting "unknown:" when it cannot be told). It must be decided for this call before the
    decision, by the approver it names, signed if it says so, and hold the roles it declares:
    for a signed decision the roles of the registry in force at the decision (the event records
    none, and a writer's word is no role), judged over the claim rebuilt from the record; for an
    unsigned one at most the roles it recorded. (Whether the signature holds otherwise is the
    approval rules' question.)"""
    found = [a for a in state.approvals
             if a.approval_id == grant.approval_id and a.tool_call_id == call.tool_call_id
             and a.decision in ("approved", "edited") and a.decided_seq is not None
             and a.decided_seq < seq and grant.approver in (None, a.approver_id)
             and (a.signature is not None or not grant.signed)]
    if not found:
        return "which the record does not show granted for this call before it"
    why = "unknown"
    for a in found:
        if a.signature is None:
            held = set(a.approver_roles)
        elif grant.roles:
            judged = judge_approval(state, call, a, recorded_args_hash(call))
            registry = judged.in_force.registry
            if judged.in_force.status == "no_trust_root":
                why = f"unknown: its roles cannot be judged ({judged.in_force.reason})"
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


def _body_ran(f: Findings, call: ToolCallRecord, ev: tuple[str | None, ...], what: str) -> None:
    if call.status is None:
        f.unknown(ev, f"{what}; the call never ended, cannot tell whether its body ran")
    elif call.status != "refused":
        f.fail(ev, f"{what}, and its body ran (ended {call.status})")


def _judge(
    f: Findings, state: RunState, compiled: CompiledPreCall, call: ToolCallRecord,
    d: PolicyDecidedRecord, *, seqs: dict[str, int],
) -> None:
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
    short = _understated(basis, observed_basis(state, call, d.seq, seqs, compiled.taint_tools))
    if short:
        f.fail(ev, f"decision for {what} understates the record: {'; '.join(short)}")
    again = decide(compiled, basis, _proposed(state, call))
    hits = {(i, o) for i, o, _, _ in again.hits}
    if again.decision != data.decision or hits != {(x.id, x.outcome) for x in data.rules}:
        f.fail(ev, f"decision for {what} re-evaluates to {again.decision} "
                   f"({', '.join(sorted(i for i, _ in hits)) or 'no objection'}), "
                   f"recorded {data.decision}")
    if data.mode == "shadow" or data.decision == "allow":
        return
    if data.decision == "require_approval" and _approved_before(state, call, d.seq):
        return
    _body_ran(f, call, ev, f"{what} was decided {data.decision}")


def decisions(state: RunState, compiled: CompiledPreCall) -> Verdict:
    """Every side-effecting call follows a decision under the pack in force that permits it,
    re-evaluates the same, and does not understate the record."""
    f = Findings(RULE, "unknown")
    seqs = {e.event_id: e.seq for e in state.timeline}
    run_seqs = {e.event_id: e.run_seq for e in state.timeline}
    by_call: dict[str, list[PolicyDecidedRecord]] = {}
    for d in state.decided:
        by_call.setdefault(d.data.tool_call_id, []).append(d)
    checked = 0
    for call in state.tool_calls:
        if not call.side_effect:
            continue
        checked += 1
        at = run_seqs.get(call.started_event_id, -1)
        mine = by_call.get(call.tool_call_id, [])
        before = [d for d in mine if d.run_seq < at and d.seq <= call.started_seq]
        if not before:
            late = [d.event_id for d in mine]
            why = "only after it" if late else "none"
            f.fail((call.started_event_id, *late),
                   f"{call.tool} ({call.tool_call_id}) ran without a policy decision before "
                   f"it ({why})")
            continue
        _judge(f, state, compiled, call, before[-1], seqs=seqs)
    return f.verdict(state, f"{checked} side-effecting call(s), each decided before it ran "
                            f"under pack {compiled.pack_hash[:12]}")


def would_block(state: RunState, compiled: CompiledPreCall) -> Verdict:
    """What-if: the calls this pack would have denied or held, from the record alone (a
    `fail` listing them; approvals decided before a call count as granted)."""
    f = Findings("enforcement.would_block", "unknown")
    seqs = {e.event_id: e.seq for e in state.timeline}
    held = 0
    for call in state.tool_calls:
        basis = observed_basis(state, call, call.started_seq, seqs, compiled.taint_tools)
        basis = _with_approval(state, basis, call)
        got = decide(compiled, basis, _proposed(state, call))
        if got.would_be != "allow":
            held += 1
            rules = ", ".join(i for i, _, _, _ in got.hits)
            f.fail((call.started_event_id,),
                   f"{call.tool} ({call.tool_call_id}) would be {got.would_be}: {rules}")
    return f.verdict(state, f"no call of {len(state.tool_calls)} would be blocked",
                     need_complete=False)


def _with_approval(state: RunState, basis: LiveBasis, call: ToolCallRecord) -> LiveBasis:
    """The basis with the approval decided for the call before it, if any (a signed one with
    the registry's roles of its approver, as the hooks cite them; an unsigned one with its
    recorded roles: what-if shows what the pack would block; the after-the-fact approval rules
    judge authority)."""
    want = recorded_args_hash(call)
    for a in state.approvals:
        if (a.tool_call_id == call.tool_call_id and a.decision in ("approved", "edited")
                and a.decided_seq is not None and a.decided_seq < call.started_seq
                and want in (a.decided_args_hash, a.edited_args_hash)):
            roles = (tuple(_registry_roles(state, a)) if a.signature is not None
                     else a.approver_roles)
            grant = ApprovalGrant(a.approval_id, a.decided_event_id, a.approver_id,
                                  roles, a.signature is not None)
            return replace(basis, approval=grant)
    return basis
