"""LangChain tool argument schemas for `LedgerCallbackHandler` (docs/hooks.md "Tool schemas").

A LangChain tool callback names the tool but does not carry it, so the handler learns schemas
two ways: the tools given to it (`LedgerCallbackHandler(tools=[...])`, the list given to
`create_agent`), each tool's `tool_call_schema` (the args the model sends; injected args left
out), and the tools a chat model was bound with (`invocation_params["tools"]`, the provider's
function definitions), for the names not given. Each is built and hashed once per tool.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from ledger.hooks.toolschema import ToolSchema, cached_schema, tool_schema

__all__ = ["ToolSchemas", "lc_schema"]

_MAX_BOUND = 1024  # names learned from bound tools (a bound, not a cache policy)


def lc_schema(tool: Any) -> Mapping[str, Any] | None:
    """A LangChain tool's argument JSON Schema (`tool_call_schema`, else `args_schema`)."""
    for attr in ("tool_call_schema", "args_schema"):
        schema = getattr(tool, attr, None)
        if isinstance(schema, Mapping):
            return schema
        if isinstance(schema, type) and hasattr(schema, "model_json_schema"):
            return schema.model_json_schema()  # type: ignore[no-any-return]
    return None


def _bound(item: Any) -> tuple[str, Any] | None:
    """(name, parameters) of one bound tool definition (OpenAI or Anthropic shape)."""
    if not isinstance(item, Mapping):
        return None
    inner = item.get("function")
    spec: Mapping[str, Any] = inner if isinstance(inner, Mapping) else item
    name = spec.get("name")
    params = spec.get("parameters", spec.get("input_schema"))
    if not isinstance(name, str) or not isinstance(params, Mapping):
        return None
    return name, params


class ToolSchemas:
    """Schemas by tool name for one handler."""

    def __init__(self, tools: Iterable[Any] = ()) -> None:
        self._lock = threading.Lock()
        self._given: dict[str, ToolSchema | None] = {}
        self._bound: dict[str, ToolSchema | None] = {}
        for tool in tools:
            name = getattr(tool, "name", None)
            if isinstance(name, str):
                self._given[name] = cached_schema(tool, lc_schema)

    def learn_bound(self, params: Mapping[str, Any]) -> None:
        """Note the tools a model call was bound with (only names not known yet are hashed)."""
        tools = params.get("tools")
        if not isinstance(tools, list | tuple):
            return
        for item in tools:
            found = _bound(item)
            if found is None or found[0] in self._given or found[0] in self._bound:
                continue
            schema = tool_schema(found[1])
            with self._lock:
                if len(self._bound) >= _MAX_BOUND:
                    self._bound.clear()
                self._bound[found[0]] = schema

    def get(self, name: str) -> ToolSchema | None:
        """The schema recorded with a call of `name` (None: unknown tool, no schema)."""
        if name in self._given:
            return self._given[name]
        return self._bound.get(name)
