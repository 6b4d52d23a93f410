"""Compile a pack once into a list of checks, then run them over any number of RunStates.

Compilation resolves everything that does not depend on the run: CEL programs, detector
regexes, per-tool limit tables and rule ids. Checking a run is then a handful of passes over
already-folded records, which is what makes whole-ledger checks cheap. `EVALUATOR_VERSION` is
stored with every derived verdict so a change in semantics here is visible next to old results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any

from replay.model import RunState
from replay.policy import checks as c
from replay.policy import checks_flow as cf
from replay.policy.cel import CelProgram, compile_expression
from replay.policy.detectors import compile_detectors
from replay.policy.loader import LoadedPack
from replay.policy.outcome import Findings
from replay.policy.ruleparts import SCRUBBED, approval_ids, registry_roles
from replay.policy.schema import CustomRule, PerToolTimeouts, PolicyPack
from replay.policy.timebounds import DEFAULT_SKEW_NS, Bounds, run_duration
from replay.policy.verdict import Outcome, Verdict

__all__ = ["EVALUATOR_VERSION", "CompiledPack", "check_run", "compile_pack", "run_facts"]

EVALUATOR_VERSION = "replay-policy/2"  # 2: time rules bounded by recorded_at (timebounds)
_NS = 1_000_000_000

Check = Callable[[RunState], Verdict]


@dataclasses.dataclass(frozen=True, slots=True)
class CompiledPack:
    """A pack ready to evaluate: one callable per rule, in a stable order."""

    policy_hash: str
    name: str
    version: str
    checks: tuple[Check, ...]


def run_facts(
    state: RunState, names: frozenset[str], skew_ns: int = DEFAULT_SKEW_NS
) -> dict[str, Any]:
    """The CEL fact model of a run, built only for the names an expression uses. Durations
    come only from writer times inside the record's bounds (timebounds), else null."""
    run = state.run
    facts: dict[str, Any] = {}
    if "run" in names:
        span = run_duration(state, skew_ns)[0] if run.ended_ns is not None else None
        duration = span / _NS if span is not None else None
        facts["run"] = {
            "id": run.run_id,
            "status": run.status,
            "ended": run.ended,
            "task": run.task,
            "events": state.totals.events,
            "duration_seconds": duration,
            "gaps": len(state.gaps),
            "imported": run.imported,
        }
    if "principal" in names:
        facts["principal"] = _principal_facts(state)
    if "totals" in names:
        t = state.totals
        facts["totals"] = {
            "llm_calls": t.llm_calls,
            "tool_calls": t.tool_calls,
            "input_tokens": t.input_tokens,
            "output_tokens": t.output_tokens,
            "total_tokens": t.total_tokens,
            "cost_usd": float(t.cost_usd),
            "llm_calls_without_usage": t.llm_calls_without_usage,
        }
    if "versions" in names:
        v = state.versions
        facts["versions"] = {
            "prompt_version": v.prompt_version,
            "model": v.model,
            "policy_hash": v.policy_hash,
            "tool_contract_digest": v.tool_contract_digest,
        }
    if "tool_calls" in names:
        facts["tool_calls"] = [cf.call_facts(call, state, skew_ns) for call in state.tool_calls]
    if "llm_calls" in names:
        facts["llm_calls"] = [
            {
                "id": x.call_id,
                "model": x.response_model or x.request_model,
                "total_tokens": x.total_tokens,
                "cost_usd": x.cost_usd,
            }
            for x in state.llm_calls
        ]
    if "approvals" in names:
        facts["approvals"] = [
            {
                "tool_call_id": a.tool_call_id,
                "decision": a.decision,
                "approver": a.approver_id,
                "roles": registry_roles(state, a),
                "imported": a.imported,
            }
            for a in state.approvals
        ]
    if "messages" in names:
        facts["messages"] = [
            {
                "direction": m.direction,
                "role": m.role,
                "content": m.content,
                "trust": m.trust,
                "origin": m.origin,
            }
            for m in state.messages
        ]
    return {k: v for k, v in facts.items() if v is not None}


def _principal_facts(state: RunState) -> dict[str, Any]:
    """`principal`: what the writer recorded, plus `user` / `agent` as replay verified them
    (`principal.user.verified`, `.id`, `.issuer`, `.subject`, `.email`, `.actors`)."""
    run = state.run
    facts: dict[str, Any] = {"initiating_user": run.initiating_user, "roles": list(run.roles)}
    if state.identity is not None:
        facts["user"] = state.identity.user.facts()
        facts["agent"] = state.identity.agent.facts()
    else:
        facts["user"] = {"verified": False, "id": run.initiating_user}
        facts["agent"] = {"verified": False, "id": None}
    return facts


_FACT_NAMES = (
    "run",
    "principal",
    "totals",
    "versions",
    "tool_calls",
    "llm_calls",
    "approvals",
    "messages",
)


def _custom(
    state: RunState,
    rule: CustomRule,
    program: CelProgram,
    names: frozenset[str],
    on_missing: Outcome,
    *,
    skew_ns: int = DEFAULT_SKEW_NS,
) -> Verdict:
    f = Findings(f"rules.{rule.id}", on_missing)
    what = rule.description or rule.expr
    if rule.principals is not None and rule.principals.require_verified:
        cf.verified_user(f, (state.run.started_event_id,), state)
    if rule.scope == "run":
        result = program.evaluate(run_facts(state, names, skew_ns))
        if result is None:
            f.unknown((), f"cannot evaluate {rule.expr!r} (missing data)")
        elif not result:
            f.fail((state.run.started_event_id, state.run.ended_event_id), f"violated: {what}")
        return f.verdict(state, f"holds: {what}")
    base = run_facts(state, names, skew_ns)
    for call in state.tool_calls:
        if rule.tools and not c.matches(call.tool, rule.tools):
            continue
        call_view = cf.call_facts(call, state, skew_ns)
        result = program.evaluate({**base, "call": call_view, "args": call.args})
        if result is None:
            f.unknown(
                (call.started_event_id,),
                f"cannot evaluate {rule.expr!r} for {call.tool} ({call.tool_call_id})",
            )
        elif not result:
            f.fail((call.started_event_id,), f"{call.tool} ({call.tool_call_id}) violates: {what}")
    return f.verdict(state, f"holds for every call: {what}")


def _limits(pack: PolicyPack, miss: Outcome) -> list[Check]:
    """Token, call-count, time and budget limits, as operators write guardrails today."""
    out: list[Check] = []
    if pack.max_total_tokens is not None:
        out.append(partial(c.max_total_tokens, on_missing=miss, limit=pack.max_total_tokens))
    if pack.max_tool_calls is not None:
        out.append(partial(c.max_tool_calls, on_missing=miss, limit=pack.max_tool_calls))
    for tool, limit in sorted(pack.max_tool_calls_per_tool.items()):
        out.append(partial(c.max_tool_calls_per_tool, on_missing=miss, tool=tool, limit=limit))
    out += _timeouts(pack, miss)
    if pack.budgets is not None and pack.budgets.max_usd_per_run is not None:
        out.append(partial(c.max_usd_per_run, on_missing=miss, limit=pack.budgets.max_usd_per_run))
    return out


def _skew_ns(pack: PolicyPack) -> int:
    """`defaults.clock_skew_seconds`: how far a writer time may lead its record, carrying
    `defaults.max_record_lag_seconds`, how far it may trail it (timebounds)."""
    d = pack.defaults
    lag = d.max_record_lag_seconds
    return Bounds(int(d.clock_skew_seconds * _NS), None if lag is None else int(lag * _NS))


def _timeouts(pack: PolicyPack, miss: Outcome) -> list[Check]:
    t = pack.timeouts
    if t is None:
        return []
    out: list[Check] = []
    skew = _skew_ns(pack)
    if t.overall_seconds is not None:
        out.append(
            partial(c.overall_timeout, on_missing=miss, seconds=t.overall_seconds, skew_ns=skew)
        )
    per = t.per_tool_seconds
    if isinstance(per, PerToolTimeouts):
        tools = dict(per.tools)
        out.append(partial(c.per_tool_timeout, on_missing=miss, default=per.default,
                           per_tool=tools, skew_ns=skew))
    elif per is not None:
        out.append(
            partial(c.per_tool_timeout, on_missing=miss, default=per, per_tool={}, skew_ns=skew)
        )
    return out


def _approvals_and_tools(pack: PolicyPack, miss: Outcome) -> list[Check]:
    """Approval requirements (CEL conditions compiled here), tool allowlist and pinning."""
    out: list[Check] = []
    rules = pack.policies.require_approval_for if pack.policies else ()
    for rule_id, rule in zip(approval_ids(pack), rules, strict=True):
        cel = compile_expression(rule.when) if rule.when else None
        signed = rule.require_signed
        if signed is None:
            signed = pack.schema_version == 2
        out.append(
            partial(
                cf.approvals,
                on_missing=miss,
                rule_id=rule_id,
                rule=rule,
                cel=cel,
                require_signed=signed,
                strict_identity=pack.schema_version == 2,
                skew_ns=_skew_ns(pack),
            )
        )
    if pack.tools is not None and pack.tools.allow is not None:
        out.append(partial(c.tool_allowlist, on_missing=miss, allow=pack.tools.allow))
    if pack.tools is not None and pack.tools.pinned:
        out.append(partial(c.tool_pinning, on_missing=miss, pinned=dict(pack.tools.pinned)))
    return out




def _data_flows(pack: PolicyPack, miss: Outcome) -> list[Check]:
    """Recipients, PII/secret egress (detectors compiled here) and untrusted-input flows."""
    out: list[Check] = [partial(cf.recipients, on_missing=miss, rule=r) for r in pack.recipients]
    e = pack.egress
    if e is not None:
        for kind, det in (("pii", e.pii), ("secrets", e.secrets)):
            if det is not None:
                out.append(
                    partial(
                        cf.egress,
                        on_missing=miss,
                        rule_id=f"egress.{kind}",
                        tools=e.tools,
                        detectors=compile_detectors(det.detectors, dict(det.custom))
                        + (SCRUBBED if kind == "secrets" else ()),
                        outputs=e.include_output_messages,
                    )
                )
    out += [partial(cf.flow, on_missing=miss, rule=rule) for rule in pack.flows]
    return out


def _provenance(pack: PolicyPack, miss: Outcome) -> list[Check]:
    """Model allowlist, registered prompts, loops and capture completeness."""
    out: list[Check] = []
    if pack.models is not None:
        out.append(partial(c.model_allowlist, on_missing=miss, allow=pack.models.allow))
    if pack.prompts is not None:
        registered = dict(pack.prompts.registered)
        out.append(partial(c.prompt_registry, on_missing=miss, registered=registered))
    if pack.loops is not None:
        out.append(partial(c.loops, on_missing=miss, limit=pack.loops.max_identical_calls))
    cap = pack.capture
    if cap is not None:
        for enabled, fn in (
            (cap.require_run_ended, c.capture_run_ended),
            (cap.forbid_open_calls, c.capture_open_calls),
            (cap.forbid_gaps, c.capture_gaps),
        ):
            if enabled:
                out.append(partial(fn, on_missing=miss))
    return out


def _custom_rules(pack: PolicyPack, miss: Outcome) -> list[Check]:
    """The pack's own CEL rules, each compiled once."""
    return [
        partial(
            _custom,
            rule=custom,
            program=compile_expression(custom.expr),
            names=frozenset(n for n in _FACT_NAMES if n in custom.expr),
            on_missing=custom.on_missing or miss,
            skew_ns=_skew_ns(pack),
        )
        for custom in pack.rules
    ]


def _enforcement(loaded: LoadedPack, what_if: bool) -> list[Check]:
    """`enforcement.decisions` when the pack has a rule in enforce or shadow mode (issue 16);
    for a what-if pack instead `enforcement.would_block` (the calls it would deny or hold).
    Imported here: precall builds on this module."""
    from replay.policy.enforcement import decisions, would_block
    from replay.policy.precall import compile_precall

    pre = compile_precall(loaded)
    if not pre.active:
        return []
    if what_if:  # it was not in force: no decisions to prove, only what it would block
        return [partial(would_block, compiled=pre)]
    return [partial(decisions, compiled=pre)]


_SECTIONS = (_limits, _approvals_and_tools, _data_flows, _provenance, _custom_rules)


def compile_pack(loaded: LoadedPack, *, what_if: bool = False) -> CompiledPack:
    """Resolve every rule of the pack into a ready-to-run check (CEL compiled here, once), in
    a stable order: limits, approvals and tools, data flows, provenance, custom rules, then
    enforcement (`what_if`: also what the pack would have blocked before each call)."""
    pack = loaded.pack
    miss: Outcome = pack.defaults.on_missing
    out = [check for section in _SECTIONS for check in section(pack, miss)]
    out += _enforcement(loaded, what_if)
    return CompiledPack(loaded.policy_hash, loaded.name, loaded.version, tuple(out))


def check_run(compiled: CompiledPack, state: RunState) -> list[Verdict]:
    """Every rule of the pack applied to one run, in pack order."""
    return [check(state) for check in compiled.checks]
