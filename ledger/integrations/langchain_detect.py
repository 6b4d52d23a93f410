"""Whether a LangChain tool about to start is a `@ledger.tool` (ledger/integrations/langchain.py).

Why a stack walk: callbacks get only the tool's name, so the tool is read from the
`BaseTool.run` / `arun` frame calling them (the handler runs inline). Why strict: a tool taken
for a decorated one is neither recorded nor decided by the handler (review r16c findings 8, 9).
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, Tool

from ledger.hooks.tools import LEDGER_TOOL

__all__ = ["ledger_decorated_tool", "ledger_tool_label"]

_TOOL_RUNS = (BaseTool.run.__code__, BaseTool.arun.__code__)


def ledger_decorated_tool() -> bool:
    """Whether the tool being started wraps a `@ledger.tool` (see `ledger_tool_label`)."""
    return _label(sys._getframe(1)) is not None


def ledger_tool_label() -> str | None:
    """The `@ledger.tool` name of the tool being started, or None when it is not one: the
    handler binds an interrupt inside it (and the call's id) under the name the wrapper
    records."""
    return _label(sys._getframe(1))


def _label(frame: Any) -> str | None:
    """The `@ledger.tool` label of the tool being started, None when it is not one (it records
    and decides its own call: recorded here too, one call would be two). Callbacks get only
    the tool's name, so the tool is read from the `BaseTool.run` / `arun` frame calling them
    (inline handler)."""
    for _ in range(40):  # the tool frame is a few frames up
        if frame.f_code in _TOOL_RUNS:
            return _runs_ledger_tool(frame.f_locals.get("self"),
                                     frame.f_code is BaseTool.arun.__code__)
        if frame.f_back is None:
            break
        frame = frame.f_back
    return None


def _runs_ledger_tool(tool: Any, is_async: bool) -> str | None:
    """Whether the body that will run is a `@ledger.tool`: only the attribute LangChain calls
    (`coroutine` under `arun` when there is one, else `func`), only for the tool classes whose
    `_run`/`_arun` call it as is, seen through functools.partial and `__wrapped__` chains. A
    tool taken for one is neither recorded nor decided here: when in doubt, it is not."""
    if not isinstance(tool, (StructuredTool, Tool)):
        return None
    cls = type(tool)
    coroutine = getattr(tool, "coroutine", None)
    if is_async and coroutine is not None:
        body, runner = coroutine, cls._arun in (StructuredTool._arun, Tool._arun)
    else:
        body, runner = getattr(tool, "func", None), cls._run in (StructuredTool._run, Tool._run)
        if is_async:  # no coroutine: the default _arun runs _run in an executor
            runner = runner and cls._arun in (StructuredTool._arun, Tool._arun, BaseTool._arun)
    for _ in range(20):  # partial(partial(f)), decorators that set __wrapped__
        if body is None or not runner:
            return None
        label = getattr(body, LEDGER_TOOL, None)
        if label is not None:
            return str(label)
        body = body.func if isinstance(body, functools.partial) else \
            getattr(body, "__wrapped__", None)
    return None
