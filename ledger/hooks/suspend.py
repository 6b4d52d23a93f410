"""Suspending a run (issue 17): the run stays open, waiting for a person or a workflow.

Mixed into `Run` (kept apart so runs.py stays readable). `run.suspend(...)` marks the run;
when its context exits (cleanly, or with the framework's interrupt exception passed through),
`Run.end` records `run.suspended` with the totals so far instead of `run.ended`. A run resumed
later, in this or another process (`ledger.resume`), continues the chain from the ledger's head
and those totals, so its final `run.ended` covers the whole run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.hooks.pricing import decimal_text

if TYPE_CHECKING:
    from ledger.hooks.runs import EventRef

__all__ = ["ResumeFrom", "Suspendable", "Suspension"]

log = logging.getLogger("ledger.hooks")


@dataclass(frozen=True, slots=True)
class Suspension:
    """What `run.suspend(...)` asked for: recorded when the run's context exits."""

    reason: str
    resume_key: str | None
    pending: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResumeFrom:
    """Where a resumed run continues: the suspension it follows (None: the head was not one)."""

    suspended_event: UUID | None
    resume_key: str | None


class Suspendable:
    """Mixed into `Run`: `suspend`, and the totals `run.ended` / `run.suspended` carry."""

    _lock: threading.Lock
    llm_calls: int
    tool_calls: int
    input_tokens: int
    output_tokens: int
    cost: Decimal
    resume_key: str | None
    suspension: Suspension | None
    record: Callable[..., EventRef]

    def suspend(self, reason: str = "interrupt", *, resume_key: str | None = None,
                pending: Iterable[str] = ()) -> None:
        """Record `run.suspended` instead of `run.ended` when this run's context exits.

        `resume_key` (default: the key the run was opened or resumed with) is what
        `ledger.find_suspended` finds it by; `pending` names the approval ids it waits for.
        A run stopped meanwhile still ends `stopped`."""
        key = resume_key if resume_key is not None else self.resume_key
        if key is not None and len(key) > 1000:  # ledger/store/continuity.MAX_KEY
            log.warning("ledger: resume key of %d characters is too long to find the run by "
                        "(at most 1000); resume it by its run id", len(key))
        self.suspension = Suspension(str(reason), key, tuple(str(p) for p in pending))

    def totals(self) -> dict[str, Any]:
        """The run's totals so far (a resumed run's include those before its suspension)."""
        with self._lock:
            return {"llm_calls": self.llm_calls, "tool_calls": self.tool_calls,
                    "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                    "cost_usd": decimal_text(self.cost)}

    def continue_totals(self, totals: dict[str, Any]) -> None:
        """Start from a suspension's totals (malformed parts count from zero)."""

        def count(name: str) -> int:
            value = totals.get(name)
            return value if type(value) is int and value >= 0 else 0

        with self._lock:
            self.llm_calls, self.tool_calls = count("llm_calls"), count("tool_calls")
            self.input_tokens, self.output_tokens = count("input_tokens"), count("output_tokens")
            try:
                self.cost = Decimal(str(totals.get("cost_usd", "0")))
            except ArithmeticError:
                self.cost = Decimal(0)
            if not self.cost.is_finite() or self.cost < 0:
                self.cost = Decimal(0)

    def record_suspended(self) -> None:
        """Record `run.suspended` (called by `Run.end` in place of run.ended)."""
        s = self.suspension
        assert s is not None
        self.record("run.suspended", {"reason": s.reason, "resume_key": s.resume_key,
                                      "pending_approvals": list(s.pending),
                                      "totals": self.totals()})
