"""The sales-ops agent as a real LangGraph StateGraph (needs `agent-ledger[langgraph]`).

Its model is langchain-core's GenericFakeChatModel replaying the script, recorded by the
LangChain integration; its tool calls go through the caller's `act` (native hooks with
effect contracts). Imported only when LangGraph is installed.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.graph import END, START, StateGraph

from exporters.demo.script import ModelTurn
from ledger import hooks
from ledger.integrations.langchain import LedgerCallbackHandler

__all__ = ["run_graph"]


class _State(TypedDict):
    messages: Annotated[list[BaseMessage], operator.add]


def _chat(model: str, turns: list[ModelTurn]) -> GenericFakeChatModel:
    replies = [
        AIMessage(
            content=t.text,
            tool_calls=t.calls,
            usage_metadata={"input_tokens": t.input_tokens, "output_tokens": t.output_tokens,
                            "total_tokens": t.input_tokens + t.output_tokens},
            response_metadata={"model_name": model},
        )
        for t in turns
    ]
    return GenericFakeChatModel(messages=iter(replies))


def run_graph(run: hooks.Run, turns: list[ModelTurn], request: str,
              act: Callable[[hooks.Run, str, dict[str, Any]], Any]) -> str:
    """Run the agent loop as a graph inside `run`; returns the final answer."""
    model = run.envelope["versions"]["model"]
    chat = _chat(model, turns)
    handler = LedgerCallbackHandler()

    def agent(state: _State) -> _State:
        return {"messages": [chat.invoke(state["messages"], config={"callbacks": [handler]})]}

    def tools(state: _State) -> _State:
        out: list[BaseMessage] = []
        for call in getattr(state["messages"][-1], "tool_calls", []):
            result = act(run, call["name"], call["args"])
            out.append(ToolMessage(content=str(result)[:500], tool_call_id=call["id"]))
        return {"messages": out}

    def route(state: _State) -> str:
        return "act" if getattr(state["messages"][-1], "tool_calls", None) else END

    graph = StateGraph(_State)
    graph.add_node("agent", agent)
    graph.add_node("act", tools)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, {"act": "act", END: END})
    graph.add_edge("act", "agent")
    result = graph.compile().invoke({"messages": [HumanMessage(request)]})
    return str(result["messages"][-1].content)
