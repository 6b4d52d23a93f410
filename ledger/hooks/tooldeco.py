"""`@ledger.tool`: the decorator, its sync and async wrappers, and implicit runs.

Kept apart from ledger/hooks/tools.py (which records the call events) so each stays short.
The decorated function's behaviour is unchanged from the agent's point of view: it gets the
tool's own return value or exception, never a ledger traceback, except fail closed
(`LedgerUnavailable`, the body not run). A call outside any run is never recorded less: a
registered run resolver (an integration's framework run) gives it its run, else it gets a
one-call implicit run with the same guarantees.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast, overload

from ledger.hooks.context import resolve_run
from ledger.hooks.errors import LedgerUnavailable, LiveControl, RunStopped
from ledger.hooks.runs import Run
from ledger.hooks.setup import ack_timeout, get_writer
from ledger.hooks.tools import (
    LEDGER_TOOL,
    ToolCall,
    acknowledged,
    record_tool_ended,
    record_tool_started,
)
from ledger.hooks.toolschema import ToolSchema, cached_schema, function_schema, tool_schema

__all__ = ["implicit_run", "tool"]

log = logging.getLogger("ledger.hooks")
P = ParamSpec("P")
R = TypeVar("R")


def _bind(sig: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if sig is not None:
        try:
            bound = dict(sig.bind(*args, **kwargs).arguments)
            for first in ("self", "cls"):
                bound.pop(first, None)
            return bound
        except TypeError:
            pass
    return {"args": list(args), "kwargs": kwargs}


@dataclass(frozen=True)
class _Spec:
    name: str
    side_effect: bool | str
    contract: Any
    fail_open: bool
    version: str | None
    sig: inspect.Signature | None
    func: Any = None
    args_schema: Any = None  # explicit: a JSON Schema mapping or a pydantic model class

    def schema(self) -> ToolSchema | None:
        """The tool's argument schema, built on its first call and cached (not at import:
        decorating a tool stays free of pydantic work)."""
        return cached_schema(self, _schema_of)

    def start(self, run: Run, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ToolCall:
        try:
            return record_tool_started(
                run, self.name, _bind(self.sig, args, kwargs), side_effect=self.side_effect,
                contract=self.contract, version=self.version, wait=True,
                require_db=not self.fail_open, args_schema=self.schema())
        except (LiveControl, LedgerUnavailable):  # denied, held, stopped, fail closed
            raise
        except Exception as exc:  # a ledger bug must not look like the tool's error
            log.exception("ledger: could not record intent of %s", self.name)
            raise LedgerUnavailable(f"could not record the intent of tool {self.name!r}: "
                                    f"{type(exc).__name__}") from None

    def acked(self, run: Run, call: ToolCall, ack_error: BaseException | None) -> None:
        """Raise unless the body may run after the ack resolved (or failed); a refusal is
        recorded as the call's outcome first."""
        if isinstance(ack_error, RunStopped):  # the gate recorded the refusal already
            raise ack_error
        try:
            self._may_run(ack_error)
        except LedgerUnavailable as exc:
            self.end(run, call, status="error", error=exc)
            raise

    def _may_run(self, ack_error: BaseException | None) -> None:
        if ack_error is None or self.fail_open:
            return
        if isinstance(ack_error, LedgerUnavailable):
            raise LedgerUnavailable(str(ack_error)) from None
        raise LedgerUnavailable(f"the intent of tool {self.name!r} was not acknowledged "
                                f"({type(ack_error).__name__}); the tool was not run") from None

    def end(self, run: Run, call: ToolCall, **kw: Any) -> None:
        try:
            record_tool_ended(run, call, **kw)
        except Exception:
            log.exception("ledger: could not record outcome of %s", self.name)


def _schema_of(spec: _Spec) -> Any:
    explicit = spec.args_schema
    if explicit is None:
        return function_schema(spec.func) if spec.func is not None else None
    if isinstance(explicit, type) and hasattr(explicit, "model_json_schema"):
        return explicit.model_json_schema()
    return tool_schema(explicit)


@overload
def tool(fn: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def tool(*, name: str | None = None, side_effect: bool | str = True, contract: Any = None,
         fail_open: bool = False, version: str | None = None, args_schema: Any = None
         ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def tool(fn: Callable[P, R] | None = None, /, *, name: str | None = None,
         side_effect: bool | str = True, contract: Any = None, fail_open: bool = False,
         version: str | None = None, args_schema: Any = None) -> Any:
    """Decorate a sync or async tool so each call is recorded (intent first, then outcome).

    Outside any `ledger.run(...)` the run comes from a registered run resolver (an
    integration's framework run), else the call gets a one-call implicit run (run.started with
    `implicit: true`, intent, outcome, run.ended) with the same guarantees: durable intent
    before the body, fail closed. `side_effect` is recorded (True by default, the safe
    assumption); `fail_open=True` lets the tool run with its intent only in the local spool
    when the database is unreachable. The argument JSON Schema (docs/hooks.md "Tool schemas")
    is `args_schema` (a mapping or a pydantic model class) or else built from the type hints
    on the first call. Generator functions are refused (TypeError): their body
    runs after the call returns, where the outcome could not be recorded truthfully.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(f"ledger.tool cannot record generator {func.__qualname__}: its "
                            "body runs after the call returns; decorate a function that "
                            "returns the items")
        try:
            sig: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            sig = None
        label = name or str(getattr(func, "__qualname__", repr(func)))
        spec = _Spec(label, side_effect, contract, fail_open, version, sig, func, args_schema)
        wrapped = _async_wrapper(func, spec) if inspect.iscoroutinefunction(func) \
            else _sync_wrapper(func, spec)
        wrapped.__dict__[LEDGER_TOOL] = label
        return cast(Callable[P, R], wrapped)

    return decorate(fn) if fn is not None else decorate


def _async_wrapper(func: Callable[..., Awaitable[Any]], spec: _Spec) -> Callable[..., Any]:
    """The recorded form of an async tool: intent, await the ack, run, outcome."""

    @functools.wraps(func)
    async def awrapper(*args: Any, **kwargs: Any) -> Any:
        run = resolve_run()
        if run is None:
            async with implicit_run(func) as one:
                return await _acall(func, spec, one, args, kwargs)
        return await _acall(func, spec, run, args, kwargs)

    return awrapper


async def _acall(func: Callable[..., Awaitable[Any]], spec: _Spec, run: Run,
                 args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """One recorded call of an async tool in `run`."""
    call = spec.start(run, args, kwargs)
    try:
        await acknowledged(call)
        ack_error: BaseException | None = None
    except asyncio.CancelledError as exc:
        spec.end(run, call, status="cancelled", error=exc)
        raise
    except Exception as exc:
        ack_error = exc
    spec.acked(run, call, ack_error)
    try:
        result = await func(*args, **kwargs)
    except asyncio.CancelledError as exc:
        spec.end(run, call, status="cancelled", error=exc)
        raise
    except BaseException as exc:
        spec.end(run, call, status="error", error=exc)
        raise
    spec.end(run, call, result=result)
    return result


def _sync_wrapper(func: Callable[P, R], spec: _Spec) -> Callable[P, R]:
    """The recorded form of a sync tool: intent, wait for the ack, run, outcome."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        run = resolve_run()
        if run is None:
            with implicit_run(func) as one:
                return _call(func, spec, one, args, kwargs)
        return _call(func, spec, run, args, kwargs)

    return wrapper


def _call(func: Callable[..., R], spec: _Spec, run: Run, args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> R:
    """One recorded call of a sync tool in `run`: intent, wait for the ack, run, outcome."""
    call = spec.start(run, args, kwargs)
    ack_error: BaseException | None = None
    try:
        assert call.ack is not None
        call.ack.result(ack_timeout())
    except Exception as exc:
        ack_error = exc
    spec.acked(run, call, ack_error)
    try:
        result = func(*args, **kwargs)
    except BaseException as exc:
        status = "cancelled" if isinstance(exc, KeyboardInterrupt) else "error"
        spec.end(run, call, status=status, error=exc)
        raise
    spec.end(run, call, result=result)
    return result


def implicit_run(func: Callable[..., Any]) -> Run:
    """A one-call run for a tool called outside any run: agent from `LEDGER_AGENT` (or the
    settings' `extra["agent"]`), else the tool's module; run.started says `implicit: true`."""
    writer = get_writer()
    agent = (writer.settings.extra.get("agent") or os.environ.get("LEDGER_AGENT")
             or getattr(func, "__module__", None) or "python")
    run = Run(agent=str(agent), writer=writer)
    run.implicit = True
    return run
