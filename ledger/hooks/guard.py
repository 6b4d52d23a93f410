"""The pre-call guard: the one way a higher layer may veto a tool call before it runs.

A policy enforcer implements `Guard` and registers it under the entry-point group
`agent_ledger.guards`; the hooks never import it. Replay's `PolicyGuard` is registered so:

    [project.entry-points."agent_ledger.guards"]
    policy = "replay.policy.guard:PolicyGuard"

The contract is plain data, so the ledger layer knows nothing of policy packs:

- The hooks choose the pack for a run with `guard.pack_for(run_facts, published)` where
  `run_facts` = {"agent", "version", "tenant"} and `published` = [(seq, policy_hash,
  document)] of the run's origin (from `ledger_policies_since`): the latest whose `scope`
  matches, or None (no pack applies: the call is allowed, nothing is recorded).
- Before each tool call they pass a `ProposedCall` with `pack_hash` and `pack_document` (the
  published normalised document; the guard refuses one whose content hash differs),
  `basis` (the JSON form of the running counters: tool_calls, tool_calls_of_tool,
  identical_calls, cost_usd as decimal text, total_tokens, unknown_cost_calls, elapsed_seconds,
  untrusted_input, approval {approval_id, decided_event_id, approver, roles, signed} or null)
  and `facts` (args_hash, contract_digest, attempt, version, tenant, model, roles). Counted
  before this call, as replay recounts them: tool_calls / tool_calls_of_tool = every
  tool.call.started so far (retries included), identical_calls = earlier first attempts of
  other calls with the same tool and args hash, cost/tokens over llm.call.ended so far,
  unknown_cost_calls = those without cost, untrusted_input = an untrusted message.input or a
  result of a tool in `guard.taint_tools(pack_hash, document)`. Understating any of them fails
  `enforcement.decisions`; overstating is allowed (counts from other processes of the run).
- `check` returns a `Decision`: `outcome` is allow | deny | require_approval (`allowed` is
  True only for allow), `data` is the `policy.decided` event data to record (None when no
  rule is active), `approval_wait_seconds` how long the hooks may wait for a signed decision
  before raising `ApprovalRequired`. The hooks record `data` as `policy.decided` in the run,
  before its `tool.call.started` (lower run_seq) and inside the same durable acknowledgement
  (on require_approval first setting `data["approval_id"]` to the approval they request or
  reuse), then raise `PolicyDenied` / `ApprovalRequired` or run the body; a refused body's
  call ends `refused`. Shadow
  decisions come back as allow with `data["would_be"]` saying what enforcement would do.
  A pack chosen without its document, or a document not hashing to `pack_hash`, is a deny
  (fail closed).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ledger.plugins import GUARDS, PluginError, load_instances

__all__ = ["Decision", "Guard", "ProposedCall", "decide", "installed_guards"]


@dataclass(frozen=True)
class ProposedCall:
    """A tool call an agent is about to make, as the hooks know it before running it."""

    run_id: uuid.UUID
    tool: str
    args: Mapping[str, Any]
    side_effect: bool = True
    principal: str | None = None
    agent: str | None = None
    tool_call_id: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    # the pack chosen for the run (pack_for) and the published document it hashes to
    pack_hash: str | None = None
    pack_document: Mapping[str, Any] | None = None
    # the running counters before this call, as JSON (see the module docstring)
    basis: Mapping[str, Any] | None = None
    # further run and call facts: args_hash, contract_digest, attempt, version, tenant, model,
    # roles
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """Allow or deny, with the reason a person reads in the ledger and the agent's error."""

    allowed: bool
    reason: str
    guard: str = ""
    outcome: str = ""  # allow | deny | require_approval ("" : allow/deny from `allowed`)
    data: Mapping[str, Any] | None = None  # the policy.decided event data, when recorded
    approval_wait_seconds: float = 0.0

    @classmethod
    def allow(cls, reason: str = "no guard objected", guard: str = "") -> Decision:
        """The call may run."""
        return cls(True, reason, guard)

    @classmethod
    def deny(cls, reason: str, guard: str = "") -> Decision:
        """The call must not run; `reason` says which rule and why."""
        return cls(False, reason, guard)


@runtime_checkable
class Guard(Protocol):
    """What a pre-call policy enforcer implements: one decision per proposed call."""

    def check(self, call: ProposedCall) -> Decision:
        """Allow or deny `call`; must not raise for an ordinary deny."""
        ...


def installed_guards() -> list[tuple[str, Guard]]:
    """Every guard registered under `agent_ledger.guards`, by entry-point name."""
    guards: list[tuple[str, Guard]] = []
    for name, obj in load_instances(GUARDS):
        if not isinstance(obj, Guard):
            raise PluginError(f"guard {name!r} has no check(call) method: {obj!r}")
        guards.append((name, obj))
    return guards


def decide(guards: Sequence[tuple[str, Guard]], call: ProposedCall) -> Decision:
    """The first deny wins (named by its guard); with no deny the call is allowed."""
    for name, guard in guards:
        decision = guard.check(call)
        if not decision.allowed:
            return dataclasses.replace(decision, guard=decision.guard or name)
    return Decision.allow()
