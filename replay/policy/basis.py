"""The basis the record shows at each tool.call.started, in one pass (running counters).

Why at the start and not at the decision: the hooks record the decision in the same durable
acknowledgement as the intent, so honestly nothing sits between them; a host that records
its decisions ahead of the calls (or burns LLM spend between a decision and its call) would
otherwise be judged on a basis that was true only when the decision was written. The basis is
therefore measured immediately before each start: tool starts (retries included, every start
counts, as max_tool_calls), calls of the tool, first attempts of other calls with the same
tool and recorded args (as loops), tokens and cost of LLM calls ended before it, LLM calls of
unknown cost (no cost recorded, or started and not ended yet: their spend is invisible), and
untrusted input (untrusted messages, results of the flows' `from.tools`).

One pass in seq order: a 5,000-call run is checked in well under a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from replay.model import PolicyDecidedRecord, RunState, ToolCallRecord
from replay.policy.checks import matches
from replay.policy.precall_model import LiveBasis
from replay.policy.recorded import args_identity

__all__ = ["StartSeen", "walk"]


@dataclass(slots=True)
class StartSeen:
    """One tool.call.started, the basis before it, the decisions for its tool_call_id recorded
    since that id's previous start (in run order), and the decisions recorded only after it."""

    call: ToolCallRecord
    basis: LiveBasis
    decisions: list[PolicyDecidedRecord] = field(default_factory=list)


@dataclass(slots=True)
class _Counters:
    calls: int = 0
    of_tool: dict[str, int] = field(default_factory=dict)
    ident: dict[tuple[str, Any], int] = field(default_factory=dict)
    ident_own: dict[tuple[str, Any, str], int] = field(default_factory=dict)
    cost: Decimal = Decimal(0)
    tokens: int = 0
    unknown: int = 0
    open_llm: int = 0
    untrusted: bool = False

    def basis(self, call: ToolCallRecord, ident: Any) -> LiveBasis:
        key = (call.tool, ident)
        same = self.ident.get(key, 0) - self.ident_own.get((*key, call.tool_call_id), 0)
        return LiveBasis(
            tool_calls=self.calls, tool_calls_of_tool=self.of_tool.get(call.tool, 0),
            identical_calls=same, cost_usd=self.cost, total_tokens=self.tokens,
            unknown_cost_calls=self.unknown + self.open_llm, untrusted_input=self.untrusted)

    def started(self, call: ToolCallRecord, ident: Any) -> None:
        self.calls += 1
        self.of_tool[call.tool] = self.of_tool.get(call.tool, 0) + 1
        if call.attempt == 1:
            key = (call.tool, ident)
            self.ident[key] = self.ident.get(key, 0) + 1
            own = (*key, call.tool_call_id)
            self.ident_own[own] = self.ident_own.get(own, 0) + 1


def _cost(text: str | None) -> Decimal | None:
    """A recorded cost; a negative one (refused at intake since issue 16) is unknown."""
    if text is None:
        return None
    value = Decimal(text)
    return value if value >= 0 else None


def _events(state: RunState, taint: tuple[str, ...]) -> list[tuple[int, int, Any]]:
    seqs = {e.event_id: e.seq for e in state.timeline}
    out: list[tuple[int, int, Any]] = [(c.started_seq, 5, c) for c in state.tool_calls]
    out += [(d.seq, 4, d) for d in state.decided]
    out += [(x.started_seq, 1, ("llm+", x)) for x in state.llm_calls]
    out += [(seqs[x.ended_event_id], 2, ("llm-", x)) for x in state.llm_calls
            if x.ended_event_id is not None and x.ended_event_id in seqs]
    out += [(m.seq, 3, ("msg", m)) for m in state.messages
            if m.direction == "input" and m.trust == "untrusted"]
    out += [(c.ended_seq, 3, ("msg", c)) for c in state.tool_calls
            if c.ended_seq is not None and matches(c.tool, taint)]
    out.sort(key=lambda x: (x[0], x[1]))
    return out


def walk(state: RunState, taint: tuple[str, ...] = ()) -> Iterator[StartSeen]:
    """Every start in seq order with the basis the record shows just before it."""
    n = _Counters()
    pending: dict[str, list[PolicyDecidedRecord]] = {}
    for _, kind, item in _events(state, taint):
        if kind == 5:
            ident = args_identity(item)
            yield StartSeen(item, n.basis(item, ident), pending.pop(item.tool_call_id, []))
            n.started(item, ident)
        elif kind == 4:
            pending.setdefault(item.data.tool_call_id, []).append(item)
        elif item[0] == "llm+":
            n.open_llm += 1
        elif item[0] == "llm-":
            x = item[1]
            n.open_llm -= 1
            cost = _cost(x.cost_usd)
            n.tokens += x.total_tokens or 0
            if cost is None:
                n.unknown += 1
            else:
                n.cost += cost
        else:
            n.untrusted = True
