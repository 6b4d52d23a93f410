"""Tool call events: intent recorded and acknowledged before a tool runs; outcome after.

The `@ledger.tool` decorator that uses them lives in ledger/hooks/tooldeco.py.

The decorated function's behaviour is unchanged from the agent's point of view: it gets the
tool's own return value or exception, never a ledger traceback. The single exception is fail
closed: when a tool's intent cannot be made durable in the database, the body does not run and
`LedgerUnavailable` is raised instead (unless the tool is declared `fail_open=True`, typically a
read-only tool, in which case the intent in the local spool is enough).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger import ids
from ledger.canonical import content_hash
from ledger.events import ProposedToolCall
from ledger.events import args_hash as hash_args
from ledger.hooks.enforce import pin
from ledger.hooks.errors import LedgerUnavailable
from ledger.hooks.precheck import Intent, decide_and_start
from ledger.hooks.sanitize import error_info, json_safe
from ledger.hooks.setup import ack_timeout
from ledger.hooks.toolschema import ToolSchema, schema_fields
from ledger.hooks.writer import Ack, Pending

if TYPE_CHECKING:
    from ledger.hooks.runs import Run

__all__ = ["LEDGER_TOOL", "ToolCall", "proposed_calls", "record_tool_ended",
           "record_tool_started", "seed_attempts"]

log = logging.getLogger("ledger.hooks")
# set on every `@ledger.tool` wrapper (its value: the tool's ledger name), so a framework
# integration can tell that the wrapper records and decides the call itself
LEDGER_TOOL = "__ledger_tool__"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A recorded tool call in flight: pass it to `run.tool_ended`."""

    tool_call_id: str
    tool: str
    started_ns: int
    ack: Future[Ack] | None = None


async def acknowledged(call: ToolCall) -> Ack:
    """Wait (without blocking the event loop) for a call's intent to be acknowledged, at most
    the configured `LEDGER_ACK_TIMEOUT`; the one wait every async integration shares. Raises
    what the ack raised (a stop or a denial at the gate, LedgerUnavailable) or TimeoutError."""
    assert call.ack is not None, "tool_started(wait=True) gives every call an ack"
    return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(call.ack)), ack_timeout())


def proposed_calls(calls: Iterable[Any]) -> list[dict[str, Any]]:
    """LLM-proposed tool calls in the event form (objects, mappings or ProposedToolCall)."""
    out = []
    for call in calls:
        if isinstance(call, ProposedToolCall):
            out.append(call.model_dump(mode="json"))
            continue
        get = call.get if isinstance(call, Mapping) else (lambda k, c=call: getattr(c, k, None))
        args = get("args")
        if args is None:
            args = get("arguments")
        out.append({"tool_call_id": get("tool_call_id") or get("id"), "name": str(get("name")),
                    "args": args})
    return out


def _side_effect(value: bool | str) -> bool:
    if isinstance(value, str):
        return value.lower() not in {"none", "read", "read_only", "readonly", "false"}
    return bool(value)


def _contract_digest(contract: Any) -> str | None:
    if contract is None or isinstance(contract, str):
        return contract
    return content_hash(json_safe(contract))


def record_tool_started(
    run: Run, tool: str, args: Any, *, tool_call_id: str | None = None,
    side_effect: bool | str = True, contract: Any = None, version: str | None = None,
    resources: tuple[str, ...] = (), wait: bool = False, require_db: bool = False,
    raw: tuple[str, Any] | None = None, source: dict[str, str] | None = None,
    correlation: dict[str, Any] | None = None, check_stop: bool = True, attempt: int = 1,
    args_schema: ToolSchema | None = None,
) -> ToolCall:
    """Queue tool.call.started; binds to an approved call with the same tool and args_hash.

    With `wait=True` the ack is gated by the live stop cache (ledger/hooks/live.py): if a stop
    covers the run or this tool once the intent is acknowledged, the call is recorded as
    `refused` and whoever waits on the ack gets `RunStopped` instead, before any body runs.
    With `wait=False` (observing integrations, manual calls) the cache is checked here, no round
    trip: a stop already known is recorded as the call's refusal and raised as `RunStopped`.
    `check_stop=False` is for recorders that cannot stop the tool (a span already ended, an
    OpenTelemetry observer): recording it refused would be false. `attempt` > 1 is a retry of
    the same `tool_call_id` (a workflow engine's retry: one start per attempt).
    `args_schema` is the tool's argument schema (ledger/hooks/toolschema.py): its digest is
    recorded on every call, the schema on the first call of that digest in the run.
    """
    call = _record_started(run, tool, args, tool_call_id=tool_call_id, side_effect=side_effect,
                           contract=contract, version=version, resources=resources, wait=wait,
                           require_db=require_db, raw=raw, source=source,
                           correlation=correlation, attempt=attempt, args_schema=args_schema)
    if not wait and check_stop:
        stop = run.writer.live.find(run, tool=tool)
        if stop is not None:
            stopped = run.stopped(stop, f"before tool {tool}")
            record_tool_ended(run, call, status="refused", error=stopped)
            raise stopped
    return call


def _attempt(run: Run, tool_call_id: str, at_least: int = 1) -> int:
    """Which attempt of the call this start is: a framework that runs a call again under the
    same id (LangGraph resuming a tool an interrupt paused, a retry) records attempt 2, 3...;
    an engine's own number (`at_least`, Temporal's) wins when higher, and later starts follow
    it. A resumed run starts from the ledger's counts (`seed_attempts`)."""
    with run._lock:
        seen: dict[str, int] = run.__dict__.setdefault("_attempts", {})
        seen[tool_call_id] = max(seen.get(tool_call_id, 0) + 1, at_least)
        return seen[tool_call_id]


def seed_attempts(run: Run, attempts: Mapping[str, int]) -> None:
    """The attempts a run recorded before it was resumed (read from the ledger by
    `ledger.resume`, any process): the next start of one of these calls is attempt N+1."""
    with run._lock:
        seen: dict[str, int] = run.__dict__.setdefault("_attempts", {})
        for call_id, count in attempts.items():
            seen[str(call_id)] = max(seen.get(str(call_id), 0), int(count))


def _record_started(
    run: Run, tool: str, args: Any, *, tool_call_id: str | None, side_effect: bool | str,
    contract: Any, version: str | None, resources: tuple[str, ...], wait: bool,
    require_db: bool, raw: tuple[str, Any] | None, source: dict[str, str] | None,
    correlation: dict[str, Any] | None, attempt: int = 1, args_schema: ToolSchema | None = None,
) -> ToolCall:
    """record_tool_started without the cache check of a call not waited for."""
    if run.enf is not None or (run.pack_unknown and wait and require_db):
        return _enforced(run, tool, args, tool_call_id=tool_call_id, side_effect=side_effect,
                         digest=_contract_digest(contract), version=version,
                         resources=resources, wait=wait, require_db=require_db, raw=raw,
                         source=source, correlation=correlation, attempt=attempt,
                         args_schema=args_schema)
    if tool_call_id is None and run.approved:
        tool_call_id = run.approved.pop((tool, hash_args(json_safe(args))), None)
    tool_call_id = tool_call_id or str(ids.new_id())
    digest = _contract_digest(contract)
    attempt = _attempt(run, tool_call_id, attempt)

    def build() -> dict[str, Any]:
        safe = json_safe(args)
        return {"tool_call_id": tool_call_id, "tool": tool, "tool_version": version,
                "attempt": attempt,
                "side_effect": _side_effect(side_effect), "args": safe,
                "args_hash": hash_args(safe), "contract_digest": digest,
                "resources": list(resources), **schema_fields(run, args_schema)}

    with run._lock:
        run.tool_calls += 1
    started = ToolCall(tool_call_id, tool, time.monotonic_ns())
    ref = run.record("tool.call.started", build, raw=raw, source=source, correlation=correlation,
                     wait=wait, require_db=require_db,
                     gate=_stop_gate(run, started, require_db) if wait else None)
    return ToolCall(tool_call_id, tool, started.started_ns, ref.ack)


def _enforced(
    run: Run, tool: str, args: Any, *, tool_call_id: str | None, side_effect: bool | str,
    digest: str | None, version: str | None, resources: tuple[str, ...], wait: bool,
    require_db: bool, raw: tuple[str, Any] | None, source: dict[str, str] | None,
    correlation: dict[str, Any] | None, attempt: int = 1, args_schema: ToolSchema | None = None,
) -> ToolCall:
    """record_tool_started in a run with an active pack: a waited call is decided first
    (ledger/hooks/precheck.py); every call feeds the run's basis."""
    if run.enf is None:  # the packs could not be read at run start: read them now or refuse
        origin = run.writer.settings.origin(run.tenant)
        if run.writer.live.confirm(origin):
            run.pack_unknown = False
            run.enf = pin(run, resumed=True)
            if run.enf is not None:
                run.chain.totals = run.enf.totals
        if run.pack_unknown:  # refused, and the attempt kept (spool): nothing lost
            refused = LedgerUnavailable(f"cannot confirm the pack in force for tool {tool!r}: "
                                        "the ledger is unreachable; the tool was not run")
            call = _record_started(run, tool, args, tool_call_id=tool_call_id,
                                   side_effect=side_effect, contract=digest, version=version,
                                   resources=resources, wait=False, require_db=False, raw=raw,
                                   source=source, correlation=correlation,
                                   args_schema=args_schema)
            record_tool_ended(run, call, status="error", error=refused)
            raise refused
        if run.enf is None:
            return record_tool_started(run, tool, args, tool_call_id=tool_call_id,
                                       side_effect=side_effect, contract=digest,
                                       version=version, resources=resources, wait=wait,
                                       require_db=require_db, raw=raw, source=source,
                                       correlation=correlation, attempt=attempt,
                                       args_schema=args_schema)
    enf = run.enf
    safe = json_safe(args)
    digest_args = hash_args(safe)
    if tool_call_id is None and run.approved:
        tool_call_id = run.approved.pop((tool, digest_args), None)
    started_ns = time.monotonic_ns()

    def build(call_id: str) -> dict[str, Any]:
        return {"tool_call_id": call_id, "tool": tool, "tool_version": version,
                "attempt": _attempt(run, call_id, attempt),
                "side_effect": _side_effect(side_effect), "args": safe,
                "args_hash": digest_args, "contract_digest": digest,
                "resources": list(resources), **schema_fields(run, args_schema)}

    def pending(call_id: str, data: dict[str, Any]) -> Pending:
        gate = _stop_gate(run, ToolCall(call_id, tool, started_ns), require_db)
        return run.pending_event("tool.call.started", data, raw=raw, source=source,
                                 correlation=correlation, wait=True, require_db=require_db,
                                 gate=gate)

    # every start of an enforced run is decided, waited or not, read-only or not (the
    # side_effect flag is the writer's word; enforcement.decisions requires one decision per
    # start): an un-waited start queues decision + intent without waiting for the ack
    intent = Intent(tool, safe, digest_args, _side_effect(side_effect), digest, build, pending)
    call_id, started = decide_and_start(run, enf, intent, tool_call_id, require_db,
                                        may_wait=wait)
    ack = started.ack
    with run._lock:
        run.tool_calls += 1
    enf.note_started(tool, digest_args)
    return ToolCall(call_id, tool, started_ns, ack)


def _stop_gate(run: Run, call: ToolCall,
               require_db: bool = False) -> Callable[[Ack], BaseException | None]:
    """The check run on the writer thread after the intent is kept (cache refreshed first if
    the ack's version was ahead); a hit records the refusal, so no call stays open. A call
    that requires the database fails closed when the ack showed stops the cache could not
    read (the refresh failed): it must not run on a cache known to be stale."""

    def gate(ack: Ack) -> BaseException | None:
        live = run.writer.live
        stop = live.find(run, tool=call.tool)
        if stop is None:
            if require_db and ack.durable and live.stale(ack.live_version):
                return LedgerUnavailable(f"the stop state changed and could not be read; the "
                                         f"tool {call.tool!r} was not run")
            return None
        # (phase 2, slice "enforce": a policy decision or an approval wait hooks in here)
        stopped = run.stopped(stop, f"before tool {call.tool}")
        record_tool_ended(run, call, status="refused", error=stopped)
        return stopped

    return gate


def record_tool_ended(
    run: Run, call: ToolCall, *, status: str = "ok", result: Any = None,
    error: BaseException | str | None = None, result_ids: tuple[str, ...] = (),
    raw: tuple[str, Any] | None = None, source: dict[str, str] | None = None,
    correlation: dict[str, Any] | None = None,
) -> None:
    """Queue tool.call.ended with the outcome and the duration since `record_tool_started`."""
    if run.enf is not None:
        run.enf.note_result(call.tool)
    data = {"tool_call_id": call.tool_call_id, "tool": call.tool, "status": status,
            "result": result, "result_ids": list(result_ids),
            "error": error_info(error) if error is not None else None,
            "duration_ns": max(0, time.monotonic_ns() - call.started_ns)}
    run.record("tool.call.ended", data, raw=raw, source=source, correlation=correlation)
