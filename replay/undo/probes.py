"""Read-only probes and the context compensators run in.

Probes answer "is the resource still as the agent left it?" before a plan is generated, during
dry run and again right before each step executes. They run inside a READ ONLY transaction that
is always rolled back, so a buggy probe cannot change the system it inspects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import psycopg

from replay.undo.contracts import Contract, render
from replay.undo.model import ProbeCheck, UndoPlan, UndoStep

__all__ = [
    "PROBES",
    "UndoContext",
    "capture_pre_state",
    "plan_probes",
    "probe",
    "recheck",
    "run_probes",
]

ProbeFn = Callable[[dict[str, Any], "UndoContext"], Any]
F = TypeVar("F", bound=ProbeFn)
PROBES: dict[str, ProbeFn] = {}


@dataclasses.dataclass
class UndoContext:
    """What probes and compensators get: the target system's connection and settings.

    `conn` is an autocommit psycopg connection to the system being repaired (in the demo, the
    CRM tables); `extra` holds other endpoints (e.g. `smtp_host`, `smtp_port`). `target` names
    where it points (host:port) and `default_target` says no target was given (the ledger's own
    database): what turns a probe error into a fix (replay.undo.diagnose).
    """

    conn: psycopg.Connection
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    target: str = "the undo target"
    default_target: bool = False
    idempotency_key: str = ""
    attempt: int = 0
    step: UndoStep | None = None


def probe(name: str) -> Callable[[F], F]:
    """Register a read-only probe under `name` (the name contracts use)."""

    def register(fn: F) -> F:
        PROBES[name] = fn
        return fn

    return register


def _run_one(name: str, args: dict[str, Any], ctx: UndoContext) -> Any:
    fn = PROBES.get(name)
    if fn is None:
        return {"__error__": f"no probe registered named {name!r}"}
    try:
        with ctx.conn.transaction(force_rollback=True):
            ctx.conn.execute("SET TRANSACTION READ ONLY")
            value = fn(args, ctx)
    except Exception as exc:  # a failing probe is an observation ("error"), never a crash
        return {
            "__error__": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        }
    return value


def run_probes(checks: Iterable[ProbeCheck], ctx: UndoContext) -> dict[str, Any]:
    """Run each distinct probe once; returns probe key -> observed value (or {"__error__": ...})."""
    results: dict[str, Any] = {}
    for check in checks:
        if check.key not in results:
            results[check.key] = _run_one(check.probe, dict(check.args), ctx)
    return results


def recheck(step: UndoStep, results: Mapping[str, Any]) -> list[ProbeCheck]:
    """The step's preconditions with fresh observations."""
    out: list[ProbeCheck] = []
    for check in step.preconditions:
        observed = results.get(check.key)
        if isinstance(observed, dict) and "__error__" in observed:
            status = "error"
        else:
            status = "match" if observed == check.expect else "mismatch"
        out.append(check.model_copy(update={"status": status, "observed": observed}))
    return out


def plan_probes(plan: UndoPlan, ctx: UndoContext) -> dict[str, Any]:
    """Run every precondition probe of a plan now."""
    return run_probes((c for s in plan.steps for c in s.preconditions), ctx)


def capture_pre_state(contract: Contract, args: Any, ctx: UndoContext) -> Any:
    """What hooks put in tool.call.ended `pre_state`: the contract's pre-state probe, run
    read-only *before* the tool call. None when the contract captures nothing."""
    spec = contract.pre_state
    if spec.capture == "none" or spec.probe is None:
        return None
    rendered = render(spec.args_template, {"args": args if args is not None else {}})
    return _run_one(spec.probe, rendered, ctx)
