"""`ledger.gate_task(...)`: tag every run an agent starts as one attempt of a gate task.

Why a context manager and not a run argument: the gate runs the agent as it ships, through its
own entrypoint and its framework integrations, which open their runs themselves. A ContextVar
(like the run in force, ledger/hooks/context.py) follows the agent into asyncio tasks and
`contextvars.copy_context()` thread pools without the agent's code knowing about the gate, and
concurrent attempts in other threads or tasks never see each other's tag. Nested, the innermost
wins. Every `run.started` recorded inside carries

    data.attributes["gate"] = {"suite", "task", "attempt", "label", "suite_hash"}

(SQL: `body->'data'->'attributes'->'gate'`), and the context collects the ids of the runs
started inside (`.run_ids`), which is how `ledger gate run` knows the evidence of an attempt.
Teams with their own runner or pytest use the same context manager, then `ledger gate check`.
"""

from __future__ import annotations

import re
import threading
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any
from uuid import UUID

__all__ = ["GateTask", "current_gate_task", "gate_attributes", "gate_task"]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MAX = 200  # a tag is identity, not payload: names stay short

_gate_var: ContextVar[GateTask | None] = ContextVar("ledger_gate_task", default=None)


def _name(what: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX:
        raise ValueError(f"gate_task: {what} must be a non-empty string of at most {_MAX} chars")
    return value


class GateTask:
    """One attempt of one gate task; enter it (sync or async) around the agent's call."""

    def __init__(self, suite: str, task: str, attempt: int, label: str | None = None,
                 suite_hash: str | None = None, *, policy_hash: str | None = None) -> None:
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
            raise ValueError("gate_task: attempt must be an integer >= 1")
        if suite_hash is not None and not (isinstance(suite_hash, str)
                                           and _HEX64.match(suite_hash)):
            raise ValueError("gate_task: suite_hash must be 64 lowercase hex digits (SHA-256)")
        if policy_hash is not None and not (isinstance(policy_hash, str)
                                            and _HEX64.match(policy_hash)):
            raise ValueError("gate_task: policy_hash must be 64 lowercase hex digits")
        self.policy_hash = policy_hash
        self.suite = _name("suite", suite)
        self.task = _name("task", task)
        self.attempt = attempt
        self.label = None if label is None else _name("label", label)
        self.suite_hash = suite_hash
        self._ids: list[UUID] = []
        self._lock = threading.Lock()  # runs may start in several threads of one attempt
        self._tokens: list[Token[GateTask | None]] = []

    @property
    def run_ids(self) -> tuple[UUID, ...]:
        """The runs started inside, in the order they started."""
        with self._lock:
            return tuple(self._ids)

    def tag(self) -> dict[str, Any]:
        """What `run.started.data.attributes["gate"]` records."""
        tag = {"suite": self.suite, "task": self.task, "attempt": self.attempt,
               "label": self.label, "suite_hash": self.suite_hash}
        if self.policy_hash is not None:  # the pack in force the gate judges the run by
            tag["policy_hash"] = self.policy_hash
        return tag

    def _started(self, run_id: UUID) -> dict[str, Any]:
        with self._lock:
            self._ids.append(run_id)
        return self.tag()

    def __enter__(self) -> GateTask:
        self._tokens.append(_gate_var.set(self))
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        token = self._tokens.pop()
        try:
            _gate_var.reset(token)
        except ValueError:  # exited in another context (another task): leave that one alone
            pass

    async def __aenter__(self) -> GateTask:
        return self.__enter__()

    async def __aexit__(self, et: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__(et, exc, tb)

    def __repr__(self) -> str:
        return (f"GateTask(suite={self.suite!r}, task={self.task!r}, attempt={self.attempt}, "
                f"label={self.label!r})")


def gate_task(suite: str, task: str, attempt: int, label: str | None = None, *,
              suite_hash: str | None = None, policy_hash: str | None = None) -> GateTask:
    """`with ledger.gate_task(suite=..., task=..., attempt=N, label=..., suite_hash=...):` —
    every run started inside is tagged as this attempt (see the module docstring).
    `policy_hash`: the pack in force the gate judges by, recorded as the run's policy when its
    own envelope names none (`ledger gate run` passes it)."""
    return GateTask(suite, task, attempt, label, suite_hash, policy_hash=policy_hash)


def current_gate_task() -> GateTask | None:
    """The innermost gate attempt in force in this context, or None."""
    return _gate_var.get()


def gate_attributes(run_id: UUID, attributes: dict[str, Any]) -> dict[str, Any]:
    """For `Run.begin`: the run.started attributes with the tag of the gate attempt in force
    (collecting `run_id` into it); unchanged outside any `gate_task`."""
    current = _gate_var.get()
    return attributes if current is None else {**attributes, "gate": current._started(run_id)}
