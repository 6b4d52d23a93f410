"""A scripted chat model for the LangGraph tests: what a provider returns, decided by the turn.

`create_agent` binds tools to the model, so the model must accept `bind_tools`; the reply is a
function of the conversation (not a queue), so one model object can serve many concurrent
graph runs without one run taking another's reply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

__all__ = ["ScriptedChat", "refund_script"]

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
