"""Record a tool call with its effect contract: digest on the intent, pre-state on the outcome.

`ledger.hooks` records intent and outcome; what it cannot know is which contract is in force
and what the resource looked like before the call. `call_with_contract` adds both, through the
public `Run` API, so an undo plan can later restore the exact pre-state (e.g. a CRM field's old
value). The pre-state probe runs read-only, before the tool, and the tool only runs once its
intent is acknowledged (fail closed, as `@ledger.tool` does).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ledger.hooks.runs import Run
from ledger.hooks.setup import ack_timeout
from replay.undo.contracts import ContractRegistry, render
from replay.undo.probes import UndoContext, capture_pre_state

__all__ = ["call_with_contract"]


def _resources(templates: tuple[str, ...], args: Any) -> tuple[str, ...]:
    out: list[str] = []
    for template in templates:
        try:
            out.append(str(render(template, {"args": args})))
        except KeyError:  # needs the result: the plan generator renders it later
            continue
    return tuple(out)


def call_with_contract(  # noqa: PLR0917 - mirrors run.tool_started
    run: Run,
    registry: ContractRegistry,
    ctx: UndoContext,
    tool: str,
    args: dict[str, Any],
    fn: Callable[..., Any],
    result_ids: Callable[[Any], tuple[str, ...]] | None = None,
) -> Any:
    """Run `fn(**args)` as tool `tool` of `run`, recording contract digest and pre-state."""
    contract = registry.in_force(tool)
    digest = contract.digest if contract else None
    pre = capture_pre_state(contract, args, ctx) if contract else None
    resources = _resources(contract.resources, args) if contract else ()
    side_effect = contract is None or contract.effect_class != "read_only"
    call = run.tool_started(
        tool,
        args,
        contract=digest,
        resources=resources,
        side_effect=side_effect,
        wait=True,
        require_db=True,
    )
    if call.ack is not None:
        call.ack.result(ack_timeout())
    started = time.monotonic_ns()
    base = {"tool_call_id": call.tool_call_id, "tool": tool, "pre_state": pre}
    try:
        result = fn(**args)
    except Exception as exc:
        run.record(
            "tool.call.ended",
            {
                **base,
                "status": "error",
                "error": {"type": type(exc).__name__, "message": str(exc)},
                "duration_ns": time.monotonic_ns() - started,
            },
        )
        raise
    ids = result_ids(result) if result_ids else ()
    run.record(
        "tool.call.ended",
        {
            **base,
            "status": "ok",
            "result": result,
            "result_ids": list(ids),
            "duration_ns": time.monotonic_ns() - started,
        },
    )
    return result
