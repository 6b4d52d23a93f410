"""A LangGraph agent process for the multi-process tests: `approve USER ORDER` runs one refund,
interrupted and approved in this process, and prints the run id."""

from __future__ import annotations

import sys
from typing import Any

from langchain_core.messages import HumanMessage

import ledger
from ledger.hooks import shutdown
from ledger.integrations.langchain import LedgerCallbackHandler
from tests.integrations.langgraph_kit import refund_agent


def approve(user: str, order: str) -> None:
    agent, handler = refund_agent(), LedgerCallbackHandler()
    config: Any = {"configurable": {"thread_id": f"thread-{user}"}, "callbacks": [handler]}
    with ledger.run(agent="lg-procs", user=user) as run:
        agent.invoke({"messages": [HumanMessage(f"refund order {order}")]}, config)
        agent.invoke(handler.resume(True, approver=f"boss-{user}"), config)
    shutdown()
    print(run.run_id)


if __name__ == "__main__":
    {"approve": approve}[sys.argv[1]](*sys.argv[2:])
