"""A stand-in stop, shared by the framework tests that need one at a precise point.

Stops are end to end (a real `request_stop` and the hooks' own raise) in test_live_e2e.py, and
denials and holds (a real enforced pack, the hooks' own `PolicyDenied` / `ApprovalRequired`) in
test_enforced_e2e.py. The stand-in remains only where a framework path needs a stop at a precise
point: the OpenAI formatter's turn, a handler-owned LangGraph run, an MCP server's own tool. A
tool is `@ledger.tool`-decorated over `gate(...)`, which raises what the hooks raise before the
body; `Switch` is the live state an operator would change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from ledger.hooks.context import current_run
from ledger.hooks.errors import RunStopped, StopInfo

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Switch:
    """What is in force now: a stop of the current run; which bodies ran."""

    stopped: bool = False
    bodies: list[str] = field(default_factory=list)

    def stop_error(self, where: str) -> RunStopped:
        run = current_run()
        run_id = run.run_id if run is not None else None
        return RunStopped(run_id, StopInfo(target=f"run:{run_id}", requested_by="oncall",
                                           reason="refund storm"), where)

    def check(self, tool: str) -> None:
        """Raise as the hooks will before `tool`'s body."""
        if self.stopped:
            raise self.stop_error(f"tool {tool}")


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
