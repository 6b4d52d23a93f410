"""Stand-ins for the hooks' live-control raises, shared by the framework tests.

Until slice "enforce" makes `@ledger.tool` raise `PolicyDenied` / `ApprovalRequired` itself, a
tool here is `@ledger.tool`-decorated over `gate(...)`, which raises what the hook will raise at
that point (after the intent is acknowledged, before the body): the integrations see the same
exception from the same place. Stops are end to end (a real `request_stop` and the hooks' own
raise, s16-hooks) in test_live_e2e.py; the stand-in stop remains only where a framework path
needs a stop at a precise point (the OpenAI formatter, a handler-owned LangGraph run, an MCP
server). `Switch` is the live state an operator would change (a stop, a pack in enforce).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from ledger.hooks.context import current_run
from ledger.hooks.errors import ApprovalRequired, PolicyDenied, RunStopped, StopInfo

P = ParamSpec("P")
R = TypeVar("R")

PACK = "c0ffee" * 10 + "abcd"


@dataclass
class Switch:
    """What is in force now: a stop of the current run, a denial or approval for a tool."""

    stopped: bool = False
    deny: set[str] = field(default_factory=set)
    approve: set[str] = field(default_factory=set)
    bodies: list[str] = field(default_factory=list)

    def stop_error(self, where: str) -> RunStopped:
        run = current_run()
        run_id = run.run_id if run is not None else None
        return RunStopped(run_id, StopInfo(target=f"run:{run_id}", requested_by="oncall",
                                           reason="refund storm"), where)

    def check(self, tool: str, call_id: str = "tc-1") -> None:
        """Raise as the hooks will before `tool`'s body."""
        if self.stopped:
            raise self.stop_error(f"tool {tool}")
        if tool in self.deny:
            raise PolicyDenied(tool=tool, tool_call_id=call_id, rules=("tools.allow",),
                               reasons=(f"tool {tool} is not allowed",), pack_hash=PACK,
                               decision_event_id=uuid.uuid4())
        if tool in self.approve:
            raise ApprovalRequired(tool=tool, tool_call_id=call_id, args_hash="ab" * 32,
                                   approval_id="appr-7", rules=("approvals.refund",),
                                   reasons=("refunds over 100 need finance_lead",),
                                   pack_hash=PACK)


def gate(switch: Switch, tool: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Put the stand-in check in front of a body (under `@ledger.tool`), counting body runs."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            switch.check(tool)
            switch.bodies.append(tool)
            return fn(*args, **kwargs)

        return wrapper

    return decorate


def texts(items: Any) -> str:
    """Everything a framework handed back, as one string to search."""
    return " ".join(str(getattr(i, "content", i)) for i in items)
