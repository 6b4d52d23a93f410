"""The one pre-call policy evaluator: the hooks ask it live, replay asks it again afterwards.

`decide(compiled, basis, proposed)` is a pure function of the pack, of what was known before
the call (`LiveBasis`: counters, running totals, untrusted input seen, the approval granted for
this exact call) and of the call itself (`Proposed`). Because it is pure, the decision recorded
in `policy.decided` (with its basis) can be re-evaluated after the fact by
`replay.policy.enforcement`, which also checks the basis against the record.

Modes: a rule's mode is the first `rule_modes` entry matching its id (exact id first, then globs
in file order), else the pack's `mode`. Enforced objections decide; shadow objections are
recorded and only change `would_be`. Rules in mode `off` are not evaluated.
"""

from __future__ import annotations

import dataclasses
from fnmatch import fnmatchcase
from typing import Any, Literal

from replay.policy import precall_rules as r
from replay.policy.cel_fast import fast_cel
from replay.policy.detectors import compile_detectors
from replay.policy.loader import LoadedPack
from replay.policy.precall_model import CEL_NAMES, ApprovalGrant, LiveBasis, Proposed
from replay.policy.ruleparts import SCRUBBED, approval_ids
from replay.policy.schema import PolicyPack

__all__ = [
    "PRECALL_VERSION",
    "ApprovalGrant",
    "CompiledPreCall",
    "LiveBasis",
    "PreCallDecision",
    "Proposed",
    "compile_precall",
    "decide",
    "rule_mode",
]

PRECALL_VERSION = "precall/1"
Decision = Literal["allow", "deny", "require_approval"]
Mode = Literal["enforce", "shadow", "off"]


@dataclasses.dataclass(frozen=True, slots=True)
class PreCallDecision:
    """The decision, every objection `(rule_id, outcome, reason, mode)`, and under what."""

    decision: Decision
    would_be: Decision
    mode: Literal["enforce", "shadow"]
    hits: tuple[tuple[str, str, str, str], ...]
    pack_hash: str
    evaluator: str = PRECALL_VERSION

    @property
    def blocks(self) -> bool:
        return self.decision != "allow"

    def event_data(
        self, proposed: Proposed, basis: LiveBasis, approval_id: str | None = None
    ) -> dict[str, Any]:
        """The `data` of the policy.decided event recording this decision."""
        return {
            "tool_call_id": proposed.tool_call_id, "tool": proposed.tool,
            "args_hash": proposed.args_hash, "decision": self.decision,
            "would_be": self.would_be, "mode": self.mode, "pack_hash": self.pack_hash,
            "rules": [{"id": i, "outcome": o, "reason": why, "mode": m}
                      for i, o, why, m in self.hits],
            "approval_id": approval_id, "basis": basis.to_json(), "evaluator": self.evaluator,
            "model": proposed.model,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class CompiledPreCall:
    """A pack's pre-call rules, resolved once: (rule id, mode, function)."""

    pack_hash: str
    rules: tuple[tuple[str, Mode, r.RuleFn], ...]
    approval_wait_seconds: float = 0.0
    # tools whose results count as untrusted input for the flows (`from.tools`)
    taint_tools: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """True when some rule is evaluated (enforce or shadow) before calls."""
        return bool(self.rules)

    @property
    def enforcing(self) -> bool:
        return any(mode == "enforce" for _, mode, _ in self.rules)


def rule_mode(pack: PolicyPack, rule_id: str) -> Mode:
    """`rule_modes[rule_id]`, else the first glob that matches, else the pack's mode."""
    if rule_id in pack.rule_modes:
        return pack.rule_modes[rule_id]
    for pattern, mode in pack.rule_modes.items():
        if fnmatchcase(rule_id, pattern):
            return mode
    return pack.mode


def _tool_rules(pack: PolicyPack) -> list[tuple[str, r.RuleFn]]:
    out: list[tuple[str, r.RuleFn]] = []
    if pack.tools is not None and pack.tools.allow is not None:
        out.append(("tools.allow", r.bind(r.tool_allow, allow=pack.tools.allow)))
    if pack.tools is not None and pack.tools.pinned:
        out.append(("tools.pinned", r.bind(r.pinned, table=dict(pack.tools.pinned))))
    out += [(f"recipients.{x.tool}.{x.argument}", r.bind(r.recipients, rule=x))
            for x in pack.recipients]
    e = pack.egress
    for kind, det in (("pii", e.pii), ("secrets", e.secrets)) if e is not None else ():
        if det is not None and e is not None:
            found = compile_detectors(det.detectors, dict(det.custom))
            found += SCRUBBED if kind == "secrets" else ()
            out.append((f"egress.{kind}",
                        r.bind(r.egress, kind=kind, tools=e.tools, detectors=found)))
    out += [(f"flows.{x.id}", r.bind(r.flow, rule=x, signed=pack.schema_version == 2))
            for x in pack.flows]
    rules = pack.policies.require_approval_for if pack.policies else ()
    for rule_id, rule in zip(approval_ids(pack), rules, strict=True):
        signed = rule.require_signed if rule.require_signed is not None else (
            pack.schema_version == 2)
        cel = fast_cel(rule.when) if rule.when else None
        out.append((rule_id, r.bind(r.approval, rule=rule, cel=cel, signed=signed)))
    return out


def _limit_rules(pack: PolicyPack) -> list[tuple[str, r.RuleFn]]:
    out: list[tuple[str, r.RuleFn]] = []
    if pack.max_tool_calls is not None:
        out.append(("max_tool_calls", r.bind(r.limit, key="tool_calls",
                                             bound=pack.max_tool_calls)))
    out += [(f"max_tool_calls_per_tool.{tool}",
             r.bind(r.limit, key="per_tool", bound=n, tool=tool))
            for tool, n in sorted(pack.max_tool_calls_per_tool.items())]
    if pack.loops is not None:
        out.append(("loops.max_identical_calls",
                    r.bind(r.limit, key="identical", bound=pack.loops.max_identical_calls)))
    b = pack.budgets
    if b is not None and b.max_usd_per_run is not None:
        out.append(("budgets.max_usd_per_run", r.bind(
            r.budget, bound=b.max_usd_per_run, on_unknown=b.on_unknown_cost)))
    if pack.max_total_tokens is not None:
        out.append(("max_total_tokens", r.bind(r.limit, key="tokens",
                                               bound=pack.max_total_tokens)))
    if pack.timeouts is not None and pack.timeouts.overall_seconds is not None:
        out.append(("timeouts.overall_seconds",
                    r.bind(r.limit, key="seconds", bound=pack.timeouts.overall_seconds)))
    out += [(f"rules.{x.id}", r.bind(r.cel_rule, text=x.expr, program=fast_cel(x.expr),
                                     tools=x.tools,
                                     names=frozenset(n for n in CEL_NAMES if n in x.expr)))
            for x in pack.rules if x.scope == "tool_call"]
    return out


_CACHE: dict[str, CompiledPreCall] = {}


def compile_precall(loaded: LoadedPack) -> CompiledPreCall:
    """The pack's pre-call rules with their modes, compiled once per pack hash (cached)."""
    found = _CACHE.get(loaded.policy_hash)
    if found is not None:
        return found
    pack = loaded.pack
    live = pack.mode != "off" or any(m != "off" for m in pack.rule_modes.values())
    rules = tuple(
        (rule_id, mode, fn)
        for rule_id, fn in (_tool_rules(pack) + _limit_rules(pack) if live else ())
        if (mode := rule_mode(pack, rule_id)) != "off"
    )
    wait = pack.policies.approval_wait_seconds if pack.policies else 0.0
    taint = tuple(dict.fromkeys(t for f in pack.flows for t in f.from_.tools))
    compiled = _CACHE[loaded.policy_hash] = CompiledPreCall(
        loaded.policy_hash, rules, wait, taint)
    return compiled


def _verdict(objections: list[str]) -> Decision:
    if "deny" in objections:
        return "deny"
    return "require_approval" if objections else "allow"


def decide(compiled: CompiledPreCall, basis: LiveBasis, proposed: Proposed) -> PreCallDecision:
    """Evaluate every pre-call rule of the pack; enforced objections decide, shadow ones only
    change `would_be`. Deny beats require_approval beats allow."""
    hits: list[tuple[str, str, str, str]] = []
    enforced: list[str] = []
    every: list[str] = []
    for rule_id, mode, fn in compiled.rules:
        hit = fn(basis, proposed)
        if hit is None:
            continue
        outcome, reason = hit
        hits.append((rule_id, outcome, reason, mode))
        every.append(outcome)
        if mode == "enforce":
            enforced.append(outcome)
    return PreCallDecision(
        _verdict(enforced), _verdict(every), "enforce" if compiled.enforcing else "shadow",
        tuple(hits), compiled.pack_hash,
    )
