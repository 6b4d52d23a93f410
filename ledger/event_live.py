"""The `data` of the live-control events (DESIGN §14): stops, their lifts, pre-call decisions.

Their own module because they belong together (what `ledger stop`, `ledger resume` and the
enforcing hooks record) and to keep ledger.event_data small; `ledger.events` re-exports every
name, so `from ledger.events import PolicyDecidedData` works like the other payload models.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from ledger.event_data import Amount, Frozen, Hash

__all__ = [
    "DecidedRule",
    "DecisionApproval",
    "DecisionBasis",
    "PolicyDecidedData",
    "StopData",
    "StopLiftedData",
]


class DecidedRule(Frozen):
    """One rule that objected to a proposed call, and under which mode it was evaluated."""

    id: str
    outcome: Literal["deny", "require_approval"]
    reason: str
    mode: Literal["enforce", "shadow"] = "enforce"


class DecisionApproval(Frozen):
    """The approval the decision relied on (granted for this tool_call_id and args_hash)."""

    approval_id: str
    decided_event_id: uuid.UUID | None = None
    approver: str | None = None
    roles: tuple[str, ...] = ()
    signed: bool = False


class DecisionBasis(Frozen):
    """What the in-process decision knew before the call: replay re-evaluates from it and checks
    that the record before the decision shows no more than this (replay.policy.enforcement)."""

    tool_calls: int = Field(default=0, ge=0)
    tool_calls_of_tool: int = Field(default=0, ge=0)
    identical_calls: int = Field(default=0, ge=0)
    cost_usd: Amount = "0"
    total_tokens: int = Field(default=0, ge=0)
    unknown_cost_calls: int = Field(default=0, ge=0)
    elapsed_seconds: float = Field(default=0.0, ge=0)
    untrusted_input: bool = False
    approval: DecisionApproval | None = None


class PolicyDecidedData(Frozen):
    """A pre-call policy decision (replay.policy.precall), recorded before the tool body runs.

    `decision` is what the hooks acted on (enforced rules only); `would_be` also counts rules in
    shadow mode. A writer may record it (it is the hook's own claim): replay re-evaluates it."""

    tool_call_id: str
    tool: str
    args_hash: Hash
    decision: Literal["allow", "deny", "require_approval"]
    would_be: Literal["allow", "deny", "require_approval"] | None = None
    mode: Literal["enforce", "shadow"]
    pack_hash: Hash
    rules: tuple[DecidedRule, ...] = ()
    approval_id: str | None = None
    basis: DecisionBasis = DecisionBasis()
    evaluator: str
    # the model in use when the hook decided (the CEL `versions.model` it was decided with)
    model: str | None = None


class StopData(Frozen):
    """A stop request, and the authority it was recorded under (issue 14).

    `authority` is `registry` when the registry in force granted the requester a `stop` scope
    (`scope`, `registry_hash`, `authorised: true`), `asserted` when there was no trust root or
    no registry to judge by (`authority_reason` says which): a stop is never blocked by missing
    configuration, but an asserted one is labelled as such. Absent on stops recorded before."""

    requested_by: str
    reason: str = ""
    target_tool_call_id: str | None = None
    authority: Literal["registry", "asserted"] | None = None
    authorised: bool | None = None
    registry_hash: str | None = None
    scope: str | None = None
    authority_reason: str | None = None
    target: str | None = None
    target_run_id: uuid.UUID | None = None
    signature: str | None = None
    signing_key: str | None = None
    issued_at: str | None = None


class StopLiftedData(Frozen):
    """A `ledger resume`: the stops of one target it lifts (`lifts`, their event ids), who
    lifted them and under what authority (same fields and meaning as StopData's; a signed lift
    carries the principal's Ed25519 signature over the agent-ledger/stop/v1 claim)."""

    lifted_by: str
    reason: str = ""
    target: str
    lifts: tuple[uuid.UUID, ...] = ()
    authority: Literal["registry", "asserted"] | None = None
    authorised: bool | None = None
    registry_hash: str | None = None
    scope: str | None = None
    authority_reason: str | None = None
    signature: str | None = None
    signing_key: str | None = None
    issued_at: str | None = None
