"""The pre-call guard: the one way a higher layer may veto a tool call before it runs.

A policy enforcer (replay's policy engine, a later issue) implements `Guard` and registers it
in its pyproject.toml under the entry-point group `agent_ledger.guards`; the hooks never import
it. This module only settles the contract and how guards are found and combined; nothing calls
them yet (enforcement is a later issue).

    [project.entry-points."agent_ledger.guards"]
    policy = "replay.policy.guard:PolicyGuard"
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Decision:
    """Allow or deny, with the reason a person reads in the ledger and the agent's error."""

    allowed: bool
    reason: str
    guard: str = ""

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
            return Decision.deny(decision.reason, decision.guard or name)
    return Decision.allow()
