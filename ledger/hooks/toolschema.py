"""Tool argument schemas: captured once per tool object, recorded once per run.

The "tool-call validity" SLI (replay/toolvalid.py) checks each recorded call's args against the
tool's JSON Schema. Recording the schema on every call would multiply the size of busy runs, so
a tool.call.started event carries `args_schema_digest` (SHA-256 of the schema's RFC 8785 JSON)
and only the first call of a digest in a run carries `args_schema` itself (docs/hooks.md "Tool
schemas"). The hot path stays cheap: a schema is built and hashed once per tool object (a
`@ledger.tool` function, a LangChain tool, an Agents SDK `FunctionTool`, an MCP `Tool`) and the
per-run "already recorded" check is one set lookup under the run's lock.

A schema that cannot be turned into JSON, or whose canonical form exceeds
`MAX_ARGS_SCHEMA_BYTES`, is not captured: the calls have no schema (validity `unknown`), never a
failed tool call.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.canonical import canonical_bytes
from ledger.event_data import MAX_ARGS_SCHEMA_BYTES
from ledger.hooks.sanitize import json_safe

if TYPE_CHECKING:
    from ledger.hooks.runs import Run

__all__ = ["ToolSchema", "cached_schema", "function_schema", "schema_fields", "tool_schema"]

log = logging.getLogger("ledger.hooks")
_MAX_CACHED = 4096  # tool objects remembered by identity (a bound; tools are few and long-lived)


@dataclass(frozen=True, slots=True)
class ToolSchema:
    """A tool's argument JSON Schema and its digest (what tool.call.started records)."""

    digest: str
    schema: dict[str, Any]


def tool_schema(schema: Any) -> ToolSchema | None:
    """The recordable form of a JSON Schema (a mapping), or None when it is not JSON or too big
    to record (the calls then have no schema: validity unknown)."""
    if isinstance(schema, ToolSchema) or schema is None:
        return schema
    if not isinstance(schema, Mapping):
        return None
    try:
        safe = json_safe(dict(schema))
        data = canonical_bytes(safe)
    except Exception:  # a schema the framework built that is not JSON: no schema, no failure
        log.warning("ledger: a tool argument schema is not JSON; not recorded")
        return None
    if len(data) > MAX_ARGS_SCHEMA_BYTES or not isinstance(safe, dict):
        log.warning("ledger: a tool argument schema of %d bytes is over the %d recorded; "
                    "its calls have no schema", len(data), MAX_ARGS_SCHEMA_BYTES)
        return None
    return ToolSchema(hashlib.sha256(data).hexdigest(), safe)


def function_schema(func: Callable[..., Any]) -> ToolSchema | None:
    """The JSON Schema of a function's keyword arguments, from its type hints (pydantic, built
    lazily: only the first call of a `@ledger.tool` pays for it). A function taking `*args` or
    `**kwargs` is recorded as {"args": [...], "kwargs": {...}}: no schema is guessed for it."""
    try:
        sig = inspect.signature(func)
        hints = _hints(func)
    except (TypeError, ValueError, NameError):
        return None
    from pydantic import create_model

    fields: dict[str, Any] = {}
    for name, param in sig.parameters.items():
        if name in ("self", "cls"):
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            return None
        default = ... if param.default is param.empty else param.default
        fields[name] = (hints.get(name, Any), default)
    try:
        model = create_model(str(getattr(func, "__name__", "tool")), **fields)
        return tool_schema(model.model_json_schema())
    except Exception:  # a hint pydantic cannot express: no schema rather than no tool
        log.warning("ledger: no argument schema for %s", getattr(func, "__qualname__", func))
        return None


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(func)
    except Exception:
        return {}


class _Cache:
    """Schemas by tool object identity; the object is kept by weak reference when it can be,
    so a recycled id never returns another tool's schema."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[int, tuple[Any, ToolSchema | None]] = {}

    def get(self, obj: Any, build: Callable[[Any], Any]) -> ToolSchema | None:
        key = id(obj)
        with self._lock:
            hit = self._by_id.get(key)
        if hit is not None:
            held, schema = hit
            if (held() if isinstance(held, weakref.ref) else held) is obj:
                return schema
        try:
            schema = tool_schema(build(obj))
        except Exception:
            schema = None
        try:
            held = weakref.ref(obj)
        except TypeError:
            held = obj
        with self._lock:
            if len(self._by_id) >= _MAX_CACHED:
                self._by_id.clear()
            self._by_id[key] = (held, schema)
        return schema


_CACHE = _Cache()


def cached_schema(obj: Any, build: Callable[[Any], Any]) -> ToolSchema | None:
    """`build(obj)` (a JSON Schema mapping) made recordable, once per tool object."""
    return _CACHE.get(obj, build)


def schema_fields(run: Run, schema: ToolSchema | None) -> dict[str, Any]:
    """The tool.call.started fields for a schema: the digest always, the schema itself on the
    first call of that digest in this run."""
    if schema is None:
        return {}
    with run._lock:
        sent: set[str] = run.__dict__.setdefault("_schemas_sent", set())
        first = schema.digest not in sent
        sent.add(schema.digest)
    if first:
        return {"args_schema_digest": schema.digest, "args_schema": schema.schema}
    return {"args_schema_digest": schema.digest}
