"""`tool_errors()`: LangGraph's ToolNode error handler that knows the ledger's refusals.

Kept apart from the callback handler (ledger/integrations/langchain.py), which re-exports it:
a denial must reach the model as a tool error, a stop must halt the graph.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from langgraph.prebuilt.tool_node import TOOL_CALL_ERROR_TEMPLATE, ToolInvocationError

from ledger.hooks.errors import LedgerUnavailable, LiveControl
from ledger.integrations.refusals import is_denial, refusal_text

__all__ = ["observing", "tool_errors"]

_log = logging.getLogger("ledger.integrations.langchain")
_P = ParamSpec("_P")
_R = TypeVar("_R")


def tool_errors(fallback: bool | str | Callable[[Exception], str] | None = None
                ) -> Callable[[Exception], str]:
    """A `ToolNode(handle_tool_errors=...)` that knows the ledger's refusals.

    `PolicyDenied` / `ApprovalRequired` become the error ToolMessage's content (rule ids,
    reasons, and for an approval the approval_id, tool_call_id and args_hash), so the model's
    next turn can recover. `RunStopped` is re-raised, so the graph halts and `invoke`/`stream`
    raise it, whatever `fallback` says. Other errors: `fallback=None` is ToolNode's default
    (argument errors to the model, the rest raised), `False` raises, `True` uses ToolNode's
    template, a string or a callable gives the content.
    """

    def handle(error: Exception) -> str:
        if is_denial(error):
            assert isinstance(error, LiveControl)
            return refusal_text(error)
        if isinstance(error, LiveControl) or fallback is False:
            raise error
        if fallback is None:
            if isinstance(error, ToolInvocationError):
                return error.message
            raise error
        if fallback is True:
            return TOOL_CALL_ERROR_TEMPLATE.format(error=repr(error))
        return fallback if isinstance(fallback, str) else fallback(error)

    return handle


def observing(method: Callable[_P, _R]) -> Callable[_P, _R | None]:
    """Let live-control decisions through; log (never raise) any other failure of the handler.

    The handler runs with `raise_error = True` so LangChain does not swallow a stop; recording
    problems must still not break the agent, exactly as when LangChain swallowed them. Under a
    pack, `on_tool_start` turns any failure to decide into LedgerUnavailable (fail closed)."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R | None:
        try:
            return method(*args, **kwargs)
        except (LiveControl, LedgerUnavailable):  # a refusal, or fail closed before a tool
            raise
        except Exception:
            _log.warning("ledger callback %s failed", method.__name__, exc_info=True)
            return None

    return wrapper
