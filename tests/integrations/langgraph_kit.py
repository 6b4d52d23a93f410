"""A scripted chat model for the LangGraph tests: what a provider returns, decided by the turn.

`create_agent` binds tools to the model, so the model must accept `bind_tools`; the reply is a
function of the conversation (not a queue), so one model object can serve many concurrent
graph runs without one run taking another's reply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver, PersistentDict
from langgraph.types import interrupt

import ledger

__all__ = ["APPROVED_REFUND", "ScriptedChat", "assert_approved_refund", "file_checkpointer",
           "gated_refund",
           "refund_agent", "refund_script"]

USAGE = {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}


class ScriptedChat(BaseChatModel):
    """A chat model whose reply is `script(messages)`, with usage and a model name."""

    script: Callable[[list[BaseMessage]], AIMessage]
    model_name: str = "gpt-4o-mini"

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChat:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        reply = self.script(list(messages))
        reply = reply.model_copy(update={
            "usage_metadata": dict(USAGE),  # type: ignore[dict-item]
            "response_metadata": {"model_name": self.model_name, "finish_reason": "stop"}})
        return ChatResult(generations=[ChatGeneration(message=reply)])


def refund_script(tool: str = "refund", calls: int = 1) -> Callable[[list[BaseMessage]], AIMessage]:
    """First turn: `calls` refund proposals for the order named in the user's message, with
    tool call ids `<order>-<n>`; once tool results are in: a final answer."""

    def script(messages: list[BaseMessage]) -> AIMessage:
        if isinstance(messages[-1], ToolMessage):
            return AIMessage(content=f"done: {messages[-1].content}")
        human = next(m for m in messages if isinstance(m, HumanMessage))
        order = str(human.content).split()[-1]
        return AIMessage(content="", tool_calls=[
            {"name": tool, "args": {"order_id": order, "amount_usd": 150 + n},
             "id": f"{order}-{n}"} for n in range(calls)])

    return script


@tool("refund")
@ledger.tool(name="refund")
def gated_refund(order_id: str, amount_usd: int) -> str:
    """Refund an order once a person approves it (interrupt inside the tool)."""
    if not interrupt({"question": f"refund {amount_usd} USD on order {order_id}?"}):
        return "not refunded"
    return f"refunded {order_id}"


def file_checkpointer(directory: Path) -> InMemorySaver:
    """A checkpointer that outlives the process: LangGraph's InMemorySaver over its own
    `PersistentDict` files (written when the saver's `with` block exits)."""
    names = iter(("storage", "writes", "blobs"))

    class OnDisk(PersistentDict):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args, filename=str(directory / f"{next(names)}.pickle"))
            if Path(self.filename).exists():
                self.load()

    return InMemorySaver(factory=OnDisk)


def refund_agent(checkpointer: Any = None) -> Any:
    """The docs' agent: `create_agent`, one gated refund tool, a checkpointer for interrupts."""
    return create_agent(ScriptedChat(script=refund_script()), [gated_refund],
                        checkpointer=checkpointer or InMemorySaver())


# what one approved refund run records, in run order (the wrapper ends the paused attempt
# before the handler sees the interrupt)
APPROVED_REFUND = [
    "run.started", "llm.call.started", "llm.call.ended",
    "tool.call.started", "tool.call.ended", "approval.requested",
    "approval.decided", "tool.call.started", "tool.call.ended",
    "llm.call.started", "llm.call.ended", "run.ended"]


def assert_approved_refund(events: list[Any], *, user: str, order: str, approver: str) -> None:
    """One user's approved refund, attributed to that user and that order's call only."""
    assert [e.type for e in events] == APPROVED_REFUND, [e.type for e in events]
    assert {e.principal.initiating_user for e in events} == {user}
    assert {e.run_id for e in events} == {events[0].run_id}
    calls = [e.data for e in events if e.type.startswith(("tool.call", "approval"))]
    assert {c.tool_call_id for c in calls} == {f"{order}-0"}
    starts = [e.data for e in events if e.type == "tool.call.started"]
    assert [(s.args["order_id"], s.attempt) for s in starts] == [(order, 1), (order, 2)]
    ended = [e.data for e in events if e.type == "tool.call.ended"]
    assert [x.status for x in ended] == ["error", "ok"]
    assert ended[-1].result == f"refunded {order}"
    decided = next(e.data for e in events if e.type == "approval.decided")
    assert (decided.decision, decided.approver.id) == ("approved", approver)
    llm = [e.data for e in events if e.type == "llm.call.ended"]
    assert [(x.usage.input_tokens, x.usage.output_tokens) for x in llm] == [(120, 30)] * 2
    assert all(x.cost is not None for x in llm)
    assert events[-1].data.status == "succeeded" and events[-1].data.totals.tool_calls == 2
