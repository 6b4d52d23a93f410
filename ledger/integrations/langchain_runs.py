"""The ledger run of a LangGraph run outside `ledger.run(...)` (ledger/integrations/langchain.py).

Why one run per graph thread: an interrupt, the person's decision and the resume are one story.
The handler opens the run with `open_run("langgraph:<thread_id>")`: an interrupted thread's
suspended run is resumed (same run_id, the chain continued from the ledger's head, in any
process, by any handler), otherwise a new run starts. Why a run resolver: a `@ledger.tool`
called inside the graph finds no `ledger.run` in its context, but LangChain's own config
contextvar names the callbacks of the tool's run; the handler among them knows which ledger run
that tool run belongs to, so the tool records its durable intent there and fails closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackManager
from langchain_core.runnables.config import var_child_runnable_config

from ledger.hooks.context import register_run_resolver
from ledger.hooks.continuity import open_run
from ledger.hooks.runs import Run

if TYPE_CHECKING:
    from ledger.integrations.langchain import LedgerCallbackHandler

__all__ = ["graph_run", "resume_key"]


def resume_key(thread: str) -> str:
    """The key a graph thread's suspended run is found by."""
    return f"langgraph:{thread}"


def graph_run(agent: str, thread: str | None, source: dict[str, str],
              run_kwargs: dict[str, Any]) -> Run:
    """The begun ledger run of one graph run: the thread's suspended run resumed, else new.
    Unreachable ledger: `LedgerUnavailable` (a thread's chain cannot continue blind)."""
    if thread is None:
        return Run(agent=agent, source=source, **run_kwargs).begin()
    return open_run(resume_key(thread), agent=agent, source=source, **run_kwargs).begin()


@register_run_resolver
def _graph_run_of_tool() -> Run | None:
    """The ledger run of the LangChain run this code executes in, from the handler in the
    config's callbacks (the tool's child callback manager names its run as the parent)."""
    from ledger.integrations.langchain import LedgerCallbackHandler

    config = var_child_runnable_config.get()
    callbacks = (config or {}).get("callbacks")
    parent: UUID | None = None
    if isinstance(callbacks, BaseCallbackManager):
        parent, handlers = callbacks.parent_run_id, list(callbacks.handlers)
    elif isinstance(callbacks, list):
        handlers = callbacks
    else:
        return None
    for handler in handlers:
        if isinstance(handler, LedgerCallbackHandler) and parent is not None:
            found = _run_of(handler, parent)
            if found is not None:
                return found
    return None


def _run_of(handler: LedgerCallbackHandler, lc_run: UUID) -> Run | None:
    return handler.run_of(lc_run)
