"""Fold a run's events into a `RunState` (DESIGN §7).

The fold is a single pass in `seq` order that keeps small mutable builders and freezes them at
the end, so replay costs a few microseconds per event. It never trusts summary fields it can
recompute: totals come from the individual LLM calls, durations from paired start/end events
when the writer did not report one, and gaps from holes in `run_seq` as well as explicit
`ledger.gap` events. The same input always yields the same output (no clocks, no set order).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from ledger.events import EventBase
from replay.model import (
    ApprovalRecord,
    GapRecord,
    LlmCallRecord,
    MessageRecord,
    PromptRecord,
    RunInfo,
    RunState,
    RunTotals,
    TimelineEntry,
    ToolCallRecord,
    VersionsInForce,
)
from replay.timefmt import fast_ns

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


def _summary(event: EventBase, data: Any) -> str:
    kind = event.type
    if kind.startswith("tool.call."):
        extra = f" attempt {data.attempt}" if kind.endswith("started") else f" {data.status}"
        return f"{data.tool}{extra}"
    if kind.startswith("llm.call."):
        return str(data.call_id)
    if kind.startswith("approval."):
        tail = f" {data.decision} by {data.approver.id}" if kind.endswith("decided") else ""
        return f"{data.tool_call_id}{tail}"
    if kind.startswith("message."):
        return f"{data.role} ({data.content_trust})"
    if kind == "run.ended":
        return str(data.status)
    if kind == "ledger.gap":
        return str(data.reason)
    return ""


def _seen(values: list[str], value: str | None) -> None:
    if value is not None and value not in values:
        values.append(value)


def _decided(
    approvals: dict[str, dict[str, Any]],
    data: Any,
    eid: str,
    seq: int,
    ns: int,
    *,
    from_run: str | None,
) -> None:
    a = approvals.setdefault(data.approval_id, {})
    a.setdefault("approval_id", data.approval_id)
    a.setdefault("tool_call_id", data.tool_call_id)
    a.setdefault("tool", None)
    a.setdefault("args_hash", data.args_hash)
    a.update(
        decision=data.decision,
        decided_event_id=eid,
        decided_seq=seq,
        decided_ns=ns,
        decided_args_hash=data.args_hash,
        edited_args_hash=data.edited_args_hash,
        approver_id=data.approver.id,
        approver_roles=data.approver.roles,
        reason=data.reason,
        decided_run_id=from_run,
    )


def fold(
    events: Sequence[StoredEventLike],
    at_seq: int | None = None,
    decisions: Sequence[StoredEventLike] = (),
) -> RunState:
    """Replay `events` (one run, any order) into its state, stopping after `at_seq` if given.

    `decisions` are approval.decided events recorded in *other* runs (a decision made in another
    process is a single-event run bound by tool_call_id); they are merged in `seq` order (same
    log, so seqs are comparable) and only update approvals: they are not part of this run's
    timeline, totals or run_seq chain. Anything else in `decisions` is ignored.
    """
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
    run: dict[str, Any] = {}
    timeline: list[TimelineEntry] = []
    tools: dict[tuple[str, int], dict[str, Any]] = {}
    latest_attempt: dict[str, int] = {}
    llms: dict[str, dict[str, Any]] = {}
    approvals: dict[str, dict[str, Any]] = {}
    messages: list[MessageRecord] = []
    prompts: list[PromptRecord] = []
    gaps: list[GapRecord] = []
    seen: dict[str, list[str]] = {"p": [], "m": [], "h": [], "t": []}
    latest: dict[str, str | None] = {"p": None, "m": None, "h": None, "t": None}
    expected_run_seq = 0
    last_seq: int | None = None
    last_versions: tuple[str | None, ...] = (None, None, None, None)
    last_rec: datetime | None = None
    rec_text: str | None = None

    for item in ordered:
        event = item.event
        data: Any = getattr(event, "data", None)
        kind = event.type
        eid = str(event.event_id)
        ns = fast_ns(event.occurred_at)
        seq = item.seq
        if decisions and str(event.run_id) != own_run:
            _decided(approvals, data, eid, seq, ns, from_run=str(event.run_id))
            continue
        last_seq = seq
        if event.run_seq != expected_run_seq:
            gaps.append(
                GapRecord(
                    None,
                    "run_seq discontinuity",
                    event.run_seq - expected_run_seq,
                    expected_run_seq,
                )
            )
        expected_run_seq = event.run_seq + 1
        if not run:
            run.update(
                run_id=str(event.run_id),
                tenant=event.tenant,
                first_ns=ns,
                initiating_user=event.principal.initiating_user,
                roles=event.principal.roles,
                agent=event.agent.name if event.agent else None,
            )
        run["last_ns"] = ns
        v = event.versions
        in_force = (v.prompt_version, v.model, v.policy_hash, v.tool_contract_digest)
        if in_force != last_versions:  # re-applying the same versions changes nothing
            last_versions = in_force
            for key, value in zip(("p", "m", "h", "t"), in_force, strict=True):
                if value is not None:
                    latest[key] = value
                    _seen(seen[key], value)
        rec = item.recorded_at
        if rec is None:
            last_rec = rec_text = None
        elif last_rec is None or rec != last_rec or rec.utcoffset() != last_rec.utcoffset():
            last_rec = rec  # rows sequenced together share a record time: format it once
            rec_text = rec.isoformat()
        timeline.append(
            TimelineEntry(
                seq,
                event.run_seq,
                eid,
                kind,
                event.occurred_at,
                ns,
                rec_text,
                _summary(event, data),
            )
        )

        if kind == "tool.call.started":
            tools[(data.tool_call_id, data.attempt)] = {
                "tool_call_id": data.tool_call_id,
                "tool": data.tool,
                "attempt": data.attempt,
                "args": data.args,
                "args_hash": data.args_hash,
                "side_effect": data.side_effect,
                "tool_version": data.tool_version,
                "contract_digest": data.contract_digest or v.tool_contract_digest,
                "started_event_id": eid,
                "started_seq": seq,
                "started_ns": ns,
            }
            latest_attempt[data.tool_call_id] = data.attempt
        elif kind == "tool.call.ended":
            attempt = latest_attempt.get(data.tool_call_id)
            builder = tools.get((data.tool_call_id, attempt)) if attempt is not None else None
            if builder is None or "ended_event_id" in builder:
                gaps.append(
                    GapRecord(eid, f"tool.call.ended {data.tool_call_id} without start", None, None)
                )
                continue
            builder.update(
                ended_event_id=eid,
                ended_seq=seq,
                ended_ns=ns,
                status=data.status,
                result=data.result,
                error=f"{data.error.type}: {data.error.message}" if data.error else None,
                duration_ns=data.duration_ns
                if data.duration_ns is not None
                else ns - builder["started_ns"],
            )
        elif kind == "llm.call.started":
            llms[data.call_id] = {
                "call_id": data.call_id,
                "started_event_id": eid,
                "ended_event_id": None,
                "started_seq": seq,
                "provider": data.provider,
                "request_model": data.request_model,
                "_ns": ns,
            }
            _seen(seen["m"], data.request_model)
        elif kind == "llm.call.ended":
            b = llms.setdefault(
                data.call_id,
                {"call_id": data.call_id, "started_event_id": None, "started_seq": seq},
            )
            usage = data.usage
            cost = data.cost
            total = None
            if usage is not None:
                total = usage.total_tokens
                if (
                    total is None
                    and usage.input_tokens is not None
                    and usage.output_tokens is not None
                ):
                    total = usage.input_tokens + usage.output_tokens
            started_ns = b.pop("_ns", None)
            b.update(
                ended_event_id=eid,
                response_model=data.response_model,
                input_tokens=usage.input_tokens if usage else None,
                output_tokens=usage.output_tokens if usage else None,
                total_tokens=total,
                cost_usd=cost.amount_usd if cost else None,
                price_table_version=cost.price_table_version if cost else None,
                duration_ns=data.duration_ns
                if data.duration_ns is not None
                else (ns - started_ns if started_ns is not None else None),
                finish_reason=data.finish_reason,
                error=f"{data.error.type}: {data.error.message}" if data.error else None,
            )
            _seen(seen["m"], data.response_model)
        elif kind == "approval.requested":
            approvals.setdefault(data.approval_id, {}).update(
                approval_id=data.approval_id,
                tool_call_id=data.tool_call_id,
                tool=data.tool,
                args_hash=data.args_hash,
                requested_event_id=eid,
                requested_seq=seq,
                requested_ns=ns,
                required_roles=data.required_roles,
                amount_usd=data.amount_usd,
            )
        elif kind == "approval.decided":
            _decided(approvals, data, eid, seq, ns, from_run=None)
        elif kind in ("message.input", "message.output"):
            messages.append(
                MessageRecord(
                    eid,
                    seq,
                    "input" if kind == "message.input" else "output",
                    data.role,
                    data.content,
                    data.content_trust,
                    data.origin,
                    ns,
                )
            )
        elif kind == "prompt.resolved":
            prompts.append(PromptRecord(eid, data.name, data.version, data.template_hash))
            _seen(seen["p"], data.version)
        elif kind == "run.started":
            run.update(started_event_id=eid, started_ns=ns, task=data.task)
        elif kind == "run.ended":
            run.update(
                ended_event_id=eid,
                ended_ns=ns,
                status=data.status,
                declared_event_count=data.event_count,
            )
        elif kind == "ledger.gap":
            gaps.append(GapRecord(eid, data.reason, data.missing_events, data.from_run_seq))

    declared = run.get("declared_event_count")
    if declared is not None and declared != expected_run_seq:
        gaps.append(
            GapRecord(
                run.get("ended_event_id"),
                f"run.ended declares {declared} events, {expected_run_seq} seen",
                declared - expected_run_seq,
                None,
            )
        )
    return _freeze(
        run, last_seq, timeline, tools, llms, approvals, messages, prompts, gaps, seen, latest
    )


def _freeze(  # noqa: PLR0917 - private, called once
    run: dict[str, Any],
    last_seq: int | None,
    timeline: list[TimelineEntry],
    tools: dict[tuple[str, int], dict[str, Any]],
    llms: dict[str, dict[str, Any]],
    approvals: dict[str, dict[str, Any]],
    messages: list[MessageRecord],
    prompts: list[PromptRecord],
    gaps: list[GapRecord],
    seen: dict[str, list[str]],
    latest: dict[str, str | None],
) -> RunState:
    tool_records = tuple(ToolCallRecord(**b) for b in tools.values())
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
        at_seq=last_seq,
        timeline=tuple(timeline),
        tool_calls=tool_records,
        llm_calls=llm_records,
        approvals=tuple(ApprovalRecord(**a) for a in approvals.values()),
        messages=tuple(messages),
        prompts=tuple(prompts),
        gaps=tuple(gaps),
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
    )
