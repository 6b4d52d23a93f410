"""Recorded tool calls paired with their contracts: the input every undo computation starts from.

A tool call is two events (intent and outcome) that may sit far apart or be missing one half;
pairing them, resolving the contract that was in force (by the digest stamped on the intent)
and rendering the resources it touched is shared by plan generation, probing and coverage.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ledger.canonical import content_hash
from ledger.events import EventBase
from replay.undo.contracts import Contract, ContractRegistry, render
from replay.undo.model import ProbeCheck

__all__ = ["Action", "collect_actions", "precondition", "probe_key", "probe_requests"]


@dataclasses.dataclass
class Action:
    """A recorded tool call (intent + outcome) with its contract resolved."""

    started: EventBase
    ended: EventBase | None
    contract: Contract
    how: str
    resources: tuple[str, ...]
    ctx: dict[str, Any]
    actor: str | None
    approvers: tuple[str, ...]
    index: int = 0
    digest: str | None = None
    action_id: str = ""

    def __post_init__(self) -> None:
        self.action_id = str(self.started.event_id)

    @property
    def tool(self) -> str:
        return str(self.ctx["tool"])

    @property
    def side_effect(self) -> bool:
        return self.contract.effect_class != "read_only"


def probe_key(probe: str, args: Any) -> str:
    """Stable key of one probe invocation (what probe results are keyed by)."""
    return content_hash({"probe": probe, "args": args})


def _actor(event: EventBase) -> str | None:
    if event.principal.initiating_user:
        return event.principal.initiating_user
    return event.agent.name if event.agent else None


def collect_actions(events: Iterable[EventBase], registry: ContractRegistry) -> list[Action]:
    """Pair tool.call.started/ended per (run, tool_call_id) and resolve each contract."""
    starts: dict[tuple[uuid.UUID, str], EventBase] = {}
    ends: dict[tuple[uuid.UUID, str], EventBase] = {}
    approvers: dict[tuple[uuid.UUID, str], list[str]] = defaultdict(list)
    order: list[tuple[uuid.UUID, str]] = []
    for e in events:
        data: Any = getattr(e, "data", None)
        if e.type == "tool.call.started":
            key = (e.run_id, data.tool_call_id)
            if key not in starts:
                order.append(key)
            starts[key] = e
        elif e.type == "tool.call.ended":
            ends[(e.run_id, data.tool_call_id)] = e
        elif e.type == "approval.decided" and data.decision != "rejected":
            approvers[(e.run_id, data.tool_call_id)].append(data.approver.id)
    actions: list[Action] = []
    for key in order:
        start = starts[key]
        sdata: Any = start.data
        end = ends.get(key)
        edata: Any = end.data if end is not None else None
        contract, how, digest = registry.resolve(sdata.tool, sdata.contract_digest)
        ctx: dict[str, Any] = {
            "args": sdata.args if sdata.args is not None else {},
            "result": edata.result if edata is not None and edata.result is not None else {},
            "pre_state": edata.pre_state if edata is not None else None,
            "run_id": str(start.run_id),
            "tool_call_id": sdata.tool_call_id,
            "action_id": str(start.event_id),
            "tool": sdata.tool,
        }
        resources: tuple[str, ...]
        try:
            resources = tuple(str(render(r, ctx)) for r in contract.resources)
        except KeyError:
            resources = ()
        resources = (
            resources or tuple(sdata.resources) or (f"call:{start.run_id}:{sdata.tool_call_id}",)
        )
        actions.append(
            Action(
                start,
                end,
                contract,
                how,
                resources,
                ctx,
                _actor(start),
                tuple(approvers.get(key, ())),
                digest=digest,
            )
        )
    actions.sort(key=lambda a: (a.started.occurred_ns(), str(a.started.run_id), a.started.run_seq))
    for i, action in enumerate(actions):
        action.index = i
    return actions


def precondition(action: Action) -> ProbeCheck | None:
    spec = action.contract.precondition
    if spec is None:
        return None
    try:
        args = render(spec.args_template, action.ctx)
        expect = render(spec.expect, action.ctx)
    except KeyError:
        return None
    return ProbeCheck(probe=spec.probe, args=args, expect=expect, key=probe_key(spec.probe, args))


def probe_requests(events: Iterable[EventBase], registry: ContractRegistry) -> list[ProbeCheck]:
    """The precondition probes a plan over `events` will want (latest action per resource)."""
    actions = collect_actions(events, registry)
    latest: dict[str, Action] = {}
    for a in actions:
        for r in a.resources:
            latest[r] = a
    wanted = {a.index: a for a in latest.values()}
    found = [precondition(a) for _, a in sorted(wanted.items())]
    return [p for p in found if p is not None]
