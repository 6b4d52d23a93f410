"""Fold a run's events into a `RunState` (DESIGN §7).

The fold is a single pass in `seq` order that keeps small mutable builders and freezes them at
the end, so replay costs a few microseconds per event. It never trusts summary fields it can
recompute: totals come from the individual LLM calls, durations from paired start/end events
when the writer did not report one, and gaps from holes in `run_seq` as well as explicit
`ledger.gap` events. The same input always yields the same output (no clocks, no set order).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

from replay.fold_continuity import run_resumed, run_suspended
from replay.fold_records import approval_decided as _decided
from replay.fold_records import tool_started as _tool_started
from replay.model import (
    ApprovalRecord,
    GapRecord,
    LlmCallRecord,
    MessageRecord,
    PolicyDecidedRecord,
    PromptRecord,
    RunInfo,
    RunState,
    RunTotals,
    TimelineEntry,
    ToolCallRecord,
    VersionsInForce,
)
from replay.timefmt import fast_ns, record_ns

if TYPE_CHECKING:
    from ledger.events import EventBase

__all__ = ["StoredEventLike", "fold", "stored"]


class StoredEventLike(Protocol):
    """What replay needs from a stored event: its log position, the event, when recorded."""

    @property
    def seq(self) -> int: ...

    @property
    def event(self) -> EventBase: ...

    @property
    def recorded_at(self) -> datetime | None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class _Stored:
    seq: int
    event: EventBase
    recorded_at: datetime | None = None


def stored(events: Sequence[EventBase], first_seq: int = 0) -> list[_Stored]:
    """Wrap plain events as stored events with consecutive seqs (tests, benchmarks, imports)."""
    return [_Stored(first_seq + i, e) for i, e in enumerate(events)]


def _seen(values: list[str], value: str | None) -> None:
    if value is not None and value not in values:
        values.append(value)


class _Fold:
    """The mutable builders of one fold; `_HANDLERS` update them, `_freeze` freezes them."""

    __slots__ = (
        "approvals",
        "decided",
        "eid",
        "expected_run_seq",
        "gaps",
        "last_seq",
        "latest",
        "latest_attempt",
        "llms",
        "messages",
        "ns",
        "prompts",
        "rec",
        "run",
        "seen",
        "seq",
        "timeline",
        "tools",
    )

    def __init__(self) -> None:
        self.run: dict[str, Any] = {}
        self.timeline: list[TimelineEntry] = []
        self.tools: dict[tuple[str, int], dict[str, Any]] = {}
        self.latest_attempt: dict[str, int] = {}
        self.llms: dict[str, dict[str, Any]] = {}
        self.approvals: dict[str, dict[str, Any]] = {}
        self.messages: list[MessageRecord] = []
        self.prompts: list[PromptRecord] = []
        self.gaps: list[GapRecord] = []
        self.decided: list[PolicyDecidedRecord] = []
        self.seen: dict[str, list[str]] = {"p": [], "m": [], "h": [], "t": []}
        self.latest: dict[str, str | None] = {"p": None, "m": None, "h": None, "t": None}
        self.expected_run_seq = 0
        self.last_seq: int | None = None
        self.eid, self.seq, self.ns = "", 0, 0  # the event being folded
        self.rec: int | None = None  # its sequencer recorded_at (ns), None without the record

    def start_run(self, event: EventBase, ns: int) -> None:
        """The run's identity, from its first event."""
        self.run.update(
            run_id=str(event.run_id),
            tenant=event.tenant,
            first_ns=ns,
            initiating_user=event.principal.initiating_user,
            roles=event.principal.roles,
            agent=event.agent.name if event.agent else None,
            agent_version=event.agent.version if event.agent else None,
        )

    def versions(self, in_force: tuple[str | None, ...]) -> None:
        """Versions in force changed: remember the latest of each and every one seen."""
        for key, value in zip(("p", "m", "h", "t"), in_force, strict=True):
            if value is not None:
                self.latest[key] = value
                _seen(self.seen[key], value)


# One handler per event type: (fold, event, data) -> the event's one-line timeline summary. The
# fold carries the event's id, seq, occurred and record time (f.eid, f.seq, f.ns, f.rec). Types
# without a handler only get a timeline entry with an empty summary.
Handler = Callable[[_Fold, "EventBase", Any], str]


def _tool_ended(f: _Fold, event: EventBase, data: Any) -> str:
    attempt = f.latest_attempt.get(data.tool_call_id)
    builder = f.tools.get((data.tool_call_id, attempt)) if attempt is not None else None
    if builder is None or "ended_event_id" in builder:
        reason = f"tool.call.ended {data.tool_call_id} without start"
        f.gaps.append(GapRecord(f.eid, reason, None, None))
        return f"{data.tool} {data.status}"
    took = data.duration_ns if data.duration_ns is not None else f.ns - builder["started_ns"]
    builder.update(
        ended_event_id=f.eid,
        ended_seq=f.seq,
        ended_ns=f.ns,
        ended_rec_ns=f.rec,
        status=data.status,
        result=data.result,
        error=f"{data.error.type}: {data.error.message}" if data.error else None,
        duration_ns=took,
    )
    return f"{data.tool} {data.status}"


def _llm_started(f: _Fold, event: EventBase, data: Any) -> str:
    f.llms[data.call_id] = {
        "call_id": data.call_id,
        "started_event_id": f.eid,
        "ended_event_id": None,
        "started_seq": f.seq,
        "provider": data.provider,
        "request_model": data.request_model,
        "_ns": f.ns,
    }
    _seen(f.seen["m"], data.request_model)
    return str(data.call_id)


def _total_tokens(usage: Any) -> int | None:
    if usage is None:
        return None
    total: int | None = usage.total_tokens
    if total is None and usage.input_tokens is not None and usage.output_tokens is not None:
        total = usage.input_tokens + usage.output_tokens
    return total


def _llm_ended(f: _Fold, event: EventBase, data: Any) -> str:
    b = f.llms.setdefault(
        data.call_id, {"call_id": data.call_id, "started_event_id": None, "started_seq": f.seq}
    )
    usage, cost = data.usage, data.cost
    started_ns = b.pop("_ns", None)
    took = data.duration_ns
    if took is None and started_ns is not None:
        took = f.ns - started_ns
    b.update(
        ended_event_id=f.eid,
        response_model=data.response_model,
        input_tokens=usage.input_tokens if usage else None,
        output_tokens=usage.output_tokens if usage else None,
        total_tokens=_total_tokens(usage),
        cost_usd=cost.amount_usd if cost else None,
        price_table_version=cost.price_table_version if cost else None,
        duration_ns=took,
        finish_reason=data.finish_reason,
        error=f"{data.error.type}: {data.error.message}" if data.error else None,
    )
    _seen(f.seen["m"], data.response_model)
    return str(data.call_id)


def _approval_requested(f: _Fold, event: EventBase, data: Any) -> str:
    f.approvals.setdefault(data.approval_id, {}).update(
        approval_id=data.approval_id,
        tool_call_id=data.tool_call_id,
        tool=data.tool,
        args_hash=data.args_hash,
        requested_event_id=f.eid,
        requested_seq=f.seq,
        requested_ns=f.ns,
        required_roles=data.required_roles,
        amount_usd=data.amount_usd,
    )
    return str(data.tool_call_id)


def _approval_decided(f: _Fold, event: EventBase, data: Any) -> str:
    _decided(f.approvals, data, f.eid, f.seq, f.ns, from_run=None, rec=f.rec,
             imported=event.trust == "imported")
    return f"{data.tool_call_id} {data.decision} by {data.approver.id}"


def _message(f: _Fold, event: EventBase, data: Any) -> str:
    direction: Literal["input", "output"] = "input" if event.type == "message.input" else "output"
    f.messages.append(
        MessageRecord(
            f.eid, f.seq, direction, data.role, data.content, data.content_trust, data.origin, f.ns
        )
    )
    return f"{data.role} ({data.content_trust})"


def _prompt(f: _Fold, event: EventBase, data: Any) -> str:
    f.prompts.append(PromptRecord(f.eid, data.name, data.version, data.template_hash))
    _seen(f.seen["p"], data.version)
    return ""


def _run_started(f: _Fold, event: EventBase, data: Any) -> str:
    f.run.update(
        started_event_id=f.eid, started_ns=f.ns, started_rec_ns=f.rec, task=data.task
    )
    return ""


def _run_ended(f: _Fold, event: EventBase, data: Any) -> str:
    f.run.update(
        ended_event_id=f.eid,
        ended_ns=f.ns,
        ended_rec_ns=f.rec,
        status=data.status,
        declared_event_count=data.event_count,
    )
    return str(data.status)


def _gap(f: _Fold, event: EventBase, data: Any) -> str:
    f.gaps.append(GapRecord(f.eid, data.reason, data.missing_events, data.from_run_seq))
    return str(data.reason)


def _policy_decided(f: _Fold, event: EventBase, data: Any) -> str:
    model = getattr(data, "model", None) or (event.versions.model if event.versions else None)
    f.decided.append(PolicyDecidedRecord(f.eid, f.seq, event.run_seq, data, f.ns, model))
    return f"{data.decision} {data.tool} ({data.tool_call_id})"


_HANDLERS: dict[str, Handler] = {
    "policy.decided": _policy_decided,
    "tool.call.started": _tool_started,
    "tool.call.ended": _tool_ended,
    "llm.call.started": _llm_started,
    "llm.call.ended": _llm_ended,
    "approval.requested": _approval_requested,
    "approval.decided": _approval_decided,
    "message.input": _message,
    "message.output": _message,
    "prompt.resolved": _prompt,
    "run.started": _run_started,
    "run.ended": _run_ended,
    "run.suspended": run_suspended,
    "run.resumed": run_resumed,
    "ledger.gap": _gap,
}


def _ordered(
    events: Sequence[StoredEventLike],
    at_seq: int | None,
    decisions: Sequence[StoredEventLike],
) -> tuple[list[StoredEventLike], str | None]:
    """The run's events and the decisions recorded elsewhere, in seq order; the run's id."""
    ordered = sorted(events, key=lambda s: s.seq)
    own_run = str(ordered[0].event.run_id) if ordered else None
    if decisions:
        joined = [
            d
            for d in decisions
            if d.event.type == "approval.decided" and str(d.event.run_id) != own_run
        ]
        ordered = sorted([*ordered, *joined], key=lambda s: s.seq)
    if at_seq is not None:
        ordered = [s for s in ordered if s.seq <= at_seq]
    return ordered, own_run


def fold(
    events: Sequence[StoredEventLike],
    at_seq: int | None = None,
    decisions: Sequence[StoredEventLike] = (),
    authority: Any = None,
    identity: Any = None,
) -> RunState:
    """Replay `events` (one run, any order) into its state, stopping after `at_seq` if given.

    `authority` (a `replay.authority.RunAuthority`) is attached to the state for the approval
    checks: which registry judged the run's decisions; `identity` (a `replay.identity.RunIdentity`)
    says who the run acted for, verified or asserted. Neither changes the fold.

    `decisions` are approval.decided events recorded in *other* runs (a decision made in another
    process is a single-event run bound by tool_call_id); they are merged in `seq` order (same
    log, so seqs are comparable) and only update approvals: they are not part of this run's
    timeline, totals or run_seq chain. Anything else in `decisions` is ignored.

    The loop does what every event of the run contributes (chain, run, versions, timeline) with
    local variables, because it is the hot path of `ledger check`; what each type adds is in
    its handler (`_HANDLERS`).
    """
    ordered, own_run = _ordered(events, at_seq, decisions)
    f = _Fold()
    handlers, add_entry, run = _HANDLERS, f.timeline.append, f.run
    expected, last_seq = 0, None
    last_versions: tuple[str | None, ...] = (None, None, None, None)
    last_rec: datetime | None = None
    rec_text: str | None = None
    rec_ns: int | None = None
    last_eid: str | None = None
    for item in ordered:
        event, seq = item.event, item.seq
        data: Any = getattr(event, "data", None)
        kind, eid, ns = event.type, str(event.event_id), fast_ns(event.occurred_at)
        if decisions and str(event.run_id) != own_run:
            # a decision naming another run's call (call_run_id) is not about this run, even
            # when a writer reused the tool_call_id (it would shadow the genuine decision)
            if data.call_run_id is None or str(data.call_run_id) == own_run:
                _decided(f.approvals, data, eid, seq, ns, from_run=str(event.run_id),
                         rec=record_ns(item.recorded_at), imported=event.trust == "imported")
            continue
        last_seq = seq
        if event.run_seq != expected:
            f.gaps.append(
                GapRecord(None, "run_seq discontinuity", event.run_seq - expected, expected)
            )
        expected = event.run_seq + 1
        if not run:
            f.start_run(event, ns)
        run["last_ns"] = ns
        if event.trust == "imported":
            run["imported"] = True
        v = event.versions
        in_force = (v.prompt_version, v.model, v.policy_hash, v.tool_contract_digest)
        if in_force != last_versions:  # re-applying the same versions changes nothing
            last_versions = in_force
            f.versions(in_force)
        rec = item.recorded_at
        if rec is None:
            last_rec = rec_text = rec_ns = None
        elif last_rec is None or rec != last_rec or rec.utcoffset() != last_rec.utcoffset():
            last_rec = rec  # rows sequenced together share a record time: format it once
            rec_text, rec_ns = rec.isoformat(), record_ns(rec)
        last_eid = eid
        handler = handlers.get(kind)
        summary = ""
        if handler is not None:
            f.eid, f.seq, f.ns, f.rec = eid, seq, ns, rec_ns
            summary = handler(f, event, data)
        add_entry(
            TimelineEntry(seq, event.run_seq, eid, kind, event.occurred_at, ns, rec_text, summary)
        )
    f.expected_run_seq, f.last_seq = expected, last_seq
    if run:
        run.update(last_event_id=last_eid, last_rec_ns=rec_ns)
    return _freeze(f, authority, identity)


def _freeze(f: _Fold, authority: Any = None, identity: Any = None) -> RunState:
    """The immutable RunState of a finished fold (totals recomputed from the calls)."""
    run, timeline, llms, seen, latest = f.run, f.timeline, f.llms, f.seen, f.latest
    declared = run.get("declared_event_count")
    if declared is not None and declared != f.expected_run_seq:
        f.gaps.append(
            GapRecord(
                run.get("ended_event_id"),
                f"run.ended declares {declared} events, {f.expected_run_seq} seen",
                declared - f.expected_run_seq,
                None,
            )
        )
    tool_records = tuple(ToolCallRecord(**b) for b in f.tools.values())
    for b in llms.values():
        b.pop("_ns", None)
    llm_records = tuple(LlmCallRecord(**b) for b in llms.values())
    cost = Decimal(0)
    totals: dict[str, int] = {
        "input_tokens": 0,
        "output_tokens": 0,
        "total_tokens": 0,
        "llm_calls_without_usage": 0,
        "llm_calls_without_cost": 0,
    }
    for call in llm_records:
        if call.ended_event_id is None:
            continue
        if call.total_tokens is None:
            totals["llm_calls_without_usage"] += 1
        else:
            totals["total_tokens"] += call.total_tokens
            totals["input_tokens"] += call.input_tokens or 0
            totals["output_tokens"] += call.output_tokens or 0
        if call.cost_usd is None:
            totals["llm_calls_without_cost"] += 1
        else:
            cost += Decimal(call.cost_usd)
    return RunState(
        run=RunInfo(**run),
        at_seq=f.last_seq,
        timeline=tuple(timeline),
        tool_calls=tool_records,
        llm_calls=llm_records,
        approvals=tuple(ApprovalRecord(**a) for a in f.approvals.values()),
        messages=tuple(f.messages),
        prompts=tuple(f.prompts),
        gaps=tuple(f.gaps),
        versions=VersionsInForce(
            latest["p"],
            latest["m"],
            latest["h"],
            latest["t"],
            tuple(seen["p"]),
            tuple(seen["m"]),
            tuple(seen["h"]),
            tuple(seen["t"]),
        ),
        totals=RunTotals(
            events=len(timeline),
            llm_calls=len(llm_records),
            tool_calls=len(tool_records),
            cost_usd=format(cost, "f"),
            **totals,
        ),
        open_tool_calls=tuple(f"{t.tool_call_id}#{t.attempt}" for t in tool_records if t.open),
        open_llm_calls=tuple(c.call_id for c in llm_records if c.ended_event_id is None),
        authority=authority,
        identity=identity,
        decided=tuple(f.decided),
    )
