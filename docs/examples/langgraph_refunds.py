"""A LangGraph refund agent whose tool asks a person first (docs/hooks.md, "LangChain and
LangGraph"). Two processes, one ledger run:

    python docs/examples/langgraph_refunds.py request 7      # the agent: interrupted, waits
    python docs/examples/langgraph_refunds.py approve 7 bob  # any process: approve and resume

The checkpoint lives in files next to this script's working directory (`refunds-state/`); use
a persistent LangGraph checkpointer (SQLite, PostgreSQL) in production.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver, PersistentDict
from langgraph.types import interrupt

import ledger
from ledger.integrations.langchain import LedgerCallbackHandler

STATE = Path("refunds-state")


@tool("refund")
@ledger.tool(name="refund")
def refund(order_id: str, amount_usd: int) -> str:
    """Refund an order once a person approves it."""
    if not interrupt(f"refund {amount_usd} USD on order {order_id}?"):
        return "not refunded"
    return f"refunded {order_id}"


class ScriptedModel(BaseChatModel):
    """Stands in for your chat model: proposes one refund, then answers."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        if isinstance(messages[-1], ToolMessage):
            reply = AIMessage(content=str(messages[-1].content))
        else:
            order = str(messages[-1].content).split()[-1]
            reply = AIMessage(content="", tool_calls=[{
                "name": "refund", "args": {"order_id": order, "amount_usd": 150},
                "id": f"call-{order}"}])
        reply.usage_metadata = {"input_tokens": 50, "output_tokens": 10, "total_tokens": 60}
        reply.response_metadata = {"model_name": "gpt-4o-mini"}
        return ChatResult(generations=[ChatGeneration(message=reply)])


def checkpointer() -> InMemorySaver:
    """LangGraph's InMemorySaver over PersistentDict files: saved when its `with` exits."""
    STATE.mkdir(exist_ok=True)
    names = iter(("storage", "writes", "blobs"))

    class OnDisk(PersistentDict):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args, filename=str(STATE / f"{next(names)}.pickle"))
            if Path(self.filename).exists():
                self.load()

    return InMemorySaver(factory=OnDisk)


def main(step: str, order: str, approver: str = "") -> None:
    with checkpointer() as saver:
        agent = create_agent(ScriptedModel(), [refund], checkpointer=saver)
        thread = f"refund-{order}"
        handler = LedgerCallbackHandler(agent="refunds", user="alice")
        config: Any = {"configurable": {"thread_id": thread}, "callbacks": [handler]}
        if step == "request":
            out = agent.invoke({"messages": [HumanMessage(f"refund order {order}")]}, config)
            print("waiting for approval:", out["__interrupt__"][0].value)
        else:  # a new process, a new handler: the pending approval is read from the ledger
            out = agent.invoke(handler.resume(True, approver=approver, thread_id=thread),
                               config)
            print(out["messages"][-1].content)
    ledger.flush()


if __name__ == "__main__":
    main(*sys.argv[1:])
