"""A LangGraph agent process for the multi-process tests: `approve USER ORDER` runs one refund,
interrupted and approved in this process, and prints the run id."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage

import ledger
from ledger.hooks import shutdown
from ledger.integrations.langchain import LedgerCallbackHandler
from tests.integrations.langgraph_kit import file_checkpointer, refund_agent


def approve(user: str, order: str) -> None:
    agent, handler = refund_agent(), LedgerCallbackHandler()
    config: Any = {"configurable": {"thread_id": f"thread-{user}"}, "callbacks": [handler]}
    with ledger.run(agent="lg-procs", user=user) as run:
        agent.invoke({"messages": [HumanMessage(f"refund order {order}")]}, config)
        agent.invoke(handler.resume(True, approver=f"boss-{user}"), config)
    shutdown()
    print(run.run_id)


def interrupt(user: str, order: str, directory: str) -> None:
    """Outside any ledger.run: the handler's own run, interrupted (and suspended)."""
    with file_checkpointer(Path(directory)) as saver:
        agent = refund_agent(saver)
        config: Any = {"configurable": {"thread_id": f"thread-{order}"},
                       "callbacks": [LedgerCallbackHandler(agent="lg-implicit", user=user)]}
        out = agent.invoke({"messages": [HumanMessage(f"refund order {order}")]}, config)
        assert out["__interrupt__"], out
    shutdown()


def resume(approver: str, order: str, directory: str) -> None:
    """A new handler in a new process resumes the thread; prints the final answer."""
    with file_checkpointer(Path(directory)) as saver:
        agent, handler = refund_agent(saver), LedgerCallbackHandler(agent="lg-implicit")
        thread = f"thread-{order}"
        config: Any = {"configurable": {"thread_id": thread}, "callbacks": [handler]}
        out = agent.invoke(handler.resume(True, approver=approver, thread_id=thread), config)
    shutdown()
    print(out["messages"][-1].content)


if __name__ == "__main__":
    {"approve": approve, "interrupt": interrupt, "resume": resume}[sys.argv[1]](*sys.argv[2:])
