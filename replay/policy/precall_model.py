"""What the pre-call evaluator decides on: the call about to run (`Proposed`), what was known
before it (`LiveBasis`) and the approval granted for it (`ApprovalGrant`).

Plain data in their own module so the evaluator (replay.policy.precall), its rules
(replay.policy.precall_rules) and the record's recount (replay.policy.basis) share them without
importing each other; `replay.policy.precall` re-exports all three.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ledger.canonical import content_hash as _args_hash

__all__ = ["CEL_NAMES", "ApprovalGrant", "LiveBasis", "Proposed"]

CEL_NAMES = frozenset(("call", "args", "principal", "run", "totals", "versions"))


@dataclasses.dataclass(frozen=True, slots=True)
class ApprovalGrant:
    """An approval decided for this (tool_call_id, args_hash) before the call."""

    approval_id: str
    decided_event_id: str | None = None
    approver: str | None = None
    roles: tuple[str, ...] = ()
    signed: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class LiveBasis:
    """What is known before the call (counts exclude the proposed call itself)."""

    tool_calls: int = 0
    tool_calls_of_tool: int = 0
    identical_calls: int = 0
    cost_usd: Decimal = Decimal(0)
    total_tokens: int = 0
    unknown_cost_calls: int = 0
    elapsed_seconds: float = 0.0
    # untrusted message input, or a result of a flow's `from.tools` (CompiledPreCall.taint_tools)
    untrusted_input: bool = False
    approval: ApprovalGrant | None = None

    def to_json(self) -> dict[str, Any]:
        """The `basis` of policy.decided (cost as decimal text)."""
        out = dataclasses.asdict(self)
        out["cost_usd"] = format(self.cost_usd, "f")
        if self.approval is not None:
            out["approval"]["roles"] = list(self.approval.roles)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LiveBasis:
        """Back from a recorded basis (the inverse of to_json)."""
        a = data.get("approval")
        grant = None
        if a:
            did = a.get("decided_event_id")
            grant = ApprovalGrant(str(a["approval_id"]), str(did) if did else None,
                                  a.get("approver"), tuple(a.get("roles") or ()),
                                  bool(a.get("signed")))
        return cls(
            int(data.get("tool_calls", 0)), int(data.get("tool_calls_of_tool", 0)),
            int(data.get("identical_calls", 0)), Decimal(str(data.get("cost_usd", "0"))),
            int(data.get("total_tokens", 0)), int(data.get("unknown_cost_calls", 0)),
            float(data.get("elapsed_seconds", 0.0)), bool(data.get("untrusted_input")), grant,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Proposed:
    """The call about to run, and the run facts the rules may use."""

    tool: str
    args: Any
    args_hash: str = ""
    tool_call_id: str = ""
    contract_digest: str | None = None
    side_effect: bool = True
    attempt: int = 1
    run_id: str | None = None
    agent: str | None = None
    version: str | None = None
    tenant: str | None = None
    model: str | None = None
    user: str | None = None
    roles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.args_hash:
            object.__setattr__(self, "args_hash", _args_hash(self.args))

    def call_facts(self) -> dict[str, Any]:
        """`call` as the after-the-fact CEL rules see it (no status or duration yet)."""
        return {"id": self.tool_call_id, "tool": self.tool, "args": self.args, "status": None,
                "attempt": self.attempt, "side_effect": self.side_effect,
                "duration_seconds": None}

    def cel_facts(self, basis: LiveBasis, names: frozenset[str] = CEL_NAMES) -> dict[str, Any]:
        """The facts of a `scope: tool_call` CEL rule before the call (engine names), built
        only for the `names` the expression uses (converting facts is most of CEL's cost)."""
        out: dict[str, Any] = {}
        if "call" in names:
            out["call"] = self.call_facts()
        if "args" in names:
            out["args"] = self.args
        if "principal" in names:
            out["principal"] = {"initiating_user": self.user, "roles": list(self.roles)}
        if "run" in names:
            out["run"] = {"id": self.run_id, "agent": self.agent, "version": self.version,
                          "tenant": self.tenant, "elapsed_seconds": basis.elapsed_seconds,
                          "imported": False}  # a call the hooks see is witnessed, never imported
        if "totals" in names:
            out["totals"] = {"tool_calls": basis.tool_calls, "total_tokens": basis.total_tokens,
                             "cost_usd": float(basis.cost_usd)}
        if "versions" in names:
            out["versions"] = {"model": self.model}
        return out
