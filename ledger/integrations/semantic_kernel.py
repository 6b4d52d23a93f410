"""Semantic Kernel: kernel filters that record prompts, model calls and tool calls, and enforce.

`LedgerFilters(agent=...).install(kernel)` adds three filters to a `Kernel`:
* prompt rendering: `prompt.resolved` for each rendered prompt function (template hash,
  variables), then `llm.call.started` for the model call it feeds;
* function invocation: a prompt function's model calls end with the usage SK puts in
  `ChatMessageContent.metadata["usage"]` (tokens, cost from the price table, or unknown); a
  native function invoked directly (`kernel.invoke(fn)`) is a tool call like any other;
* auto function invocation: each tool call the model proposed records its intent, decided by
  the pack in force and acknowledged durable *before* `next` runs the function (fail closed:
  no durable intent, no call), with the model's call id as `tool_call_id`; its result after.

Refusals (DESIGN §14): a denial or a required approval does not call `next`; the function's
result becomes the refusal's text (rules, reasons, approval ids) for the model to read. A
stop sets `context.terminate = True`, so SK ends the function calling loop, and the
invocation raises `RunStopped`: `kernel.invoke` wraps every exception in its own
`KernelInvokeException`, whose `__cause__` is the `RunStopped` (`stop_of(exc)` finds it).

Outside `ledger.run(...)` each top-level kernel invocation gets an implicit run of its own
(`agent=` and the other `Run` arguments given to `LedgerFilters`), with the same guarantees.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AsyncExitStack
from contextvars import ContextVar
from dataclasses import dataclass
from inspect import isasyncgen
from typing import Any

from ledger.integrations import missing_extra

try:
    from semantic_kernel.filters import FilterTypes
    from semantic_kernel.functions import FunctionResult, KernelFunctionFromPrompt
except ImportError as exc:  # pragma: no cover - exercised in an environment without it
    raise missing_extra(__name__, "semantic-kernel", exc) from None

from ledger.hooks.context import current_run
from ledger.hooks.errors import LiveControl, RunStopped
from ledger.hooks.runs import Run
from ledger.hooks.tools import LEDGER_TOOL, ToolCall
from ledger.integrations.refusals import refusal_text
from ledger.integrations.semantic_kernel_calls import (
    SCHEMA,
    SOURCE,
    Turns,
    args_of,
    find_message,
    record_intent,
)

__all__ = ["LedgerFilters", "stop_of"]

Next = Callable[[Any], Awaitable[None]]


@dataclass
class _Claim:
    """An auto-invoked call, recorded by the auto filter: the function filter inside it must
    not record it again, only pass the function's own exception up (SK turns it into text)."""

    function: Any
    taken: bool = False
    error: BaseException | None = None


@dataclass
class _Invocation:
    """One top-level kernel invocation: the stop a nested filter met, raised at its end."""

    stop: RunStopped | None = None


_turns: ContextVar[Turns | None] = ContextVar("ledger_sk_turns", default=None)
_claim: ContextVar[_Claim | None] = ContextVar("ledger_sk_claim", default=None)
_invocation: ContextVar[_Invocation | None] = ContextVar("ledger_sk_invocation", default=None)


def stop_of(exc: BaseException | None) -> RunStopped | None:
    """The `RunStopped` behind an exception `kernel.invoke` raised (it wraps them all)."""
    while exc is not None:
        if isinstance(exc, RunStopped):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _is_ledger_tool(function: Any) -> bool:
    """A kernel function made from a `@ledger.tool` function: its wrapper records and decides
    its own calls (as with the other integrations), so the filters must not record it again."""
    return getattr(getattr(function, "method", None), LEDGER_TOOL, None) is not None


def _model_of(context: Any) -> str | None:
    """The model the kernel will select for a prompt function (settings first, then service)."""
    try:
        service, settings = context.kernel.select_ai_service(context.function, context.arguments)
    except Exception:  # no service: SK raises its own error when it tries
        return None
    model = getattr(settings, "ai_model_id", None) or getattr(service, "ai_model_id", None)
    return model if isinstance(model, str) else None


def _template_of(context: Any) -> str:
    config = getattr(getattr(context.function, "prompt_template", None),
                     "prompt_template_config", None)
    template = getattr(config, "template", None)
    return template if isinstance(template, str) else str(context.rendered_prompt or "")


def _refused(context: Any, exc: LiveControl) -> Any:
    return FunctionResult(function=context.function.metadata, value=refusal_text(exc))


async def _streamed(run: Run, turns: Turns, source: AsyncGenerator[Any, Any],
                    run_stack: AsyncExitStack) -> AsyncGenerator[Any, None]:
    """A streamed prompt function's chunks, passed through: each model call ends when its
    answer has streamed, with the usage of its chunks added up (SK puts it in the last one's
    metadata), and an implicit run ends after it (`invoke_stream` runs the model only while
    the caller iterates, after the filters have returned). With auto function calling the
    stream carries the tool results between the model's answers: each starts the next call."""
    async with run_stack:
        whole: Any = None
        try:
            async for chunk in source:
                for part in chunk if isinstance(chunk, list) else (chunk,):
                    whole = _add_part(turns, whole, part)
                yield chunk
        except BaseException as exc:  # also a stream the caller stopped reading (aclose)
            if turns.open_call is not None:
                run.llm_ended(turns.open_call, response_model=turns.model, error=exc,
                              source=SOURCE)
            raise
        if turns.open_call is not None and whole is not None:
            turns.end(whole, finish_reason=str(getattr(whole, "finish_reason", None) or "stop"))


def _add_part(turns: Turns, whole: Any, part: Any) -> Any:
    """The model's answer so far with `part` added; a tool's result in the stream ends the
    answer (a model call that proposed tools) and the next answer is the next model call."""
    if getattr(part, "choice_index", 0) != 0:
        return whole
    role = getattr(part, "role", None)
    if getattr(role, "value", role) != "assistant":
        if whole is not None and turns.open_call is not None:
            turns.end(whole, finish_reason="tool_calls")
        return None
    if whole is None:
        if turns.open_call is None:
            turns.start(None)
        return part
    try:
        return whole + part
    except Exception:  # parts SK cannot add: keep the latest, never break the stream
        return part


class LedgerFilters:
    """The ledger's Semantic Kernel filters; one object may serve many concurrent invocations
    (all state of an invocation lives in context variables, none in the object)."""

    def __init__(self, *, agent: str = "semantic-kernel", prompt_version: str | None = None,
                 **run_kwargs: Any) -> None:
        self.agent = agent
        self.prompt_version = prompt_version
        self.run_kwargs = run_kwargs

    def install(self, kernel: Any) -> LedgerFilters:
        """Add the three filters to `kernel` (outermost: add them before your own filters)."""
        kernel.add_filter(FilterTypes.FUNCTION_INVOCATION, self.function_invocation)
        kernel.add_filter(FilterTypes.AUTO_FUNCTION_INVOCATION, self.auto_function_invocation)
        kernel.add_filter(FilterTypes.PROMPT_RENDERING, self.prompt_rendering)
        return self

    async def _enter(self, stack: AsyncExitStack) -> Run:
        """The current run, or a new implicit run for this invocation (closed by `stack`)."""
        run = current_run()
        if run is None:
            run = await stack.enter_async_context(
                Run(agent=self.agent, source={**SOURCE}, **self.run_kwargs))
        return run

    # -- function invocation ----------------------------------------------------------------
    async def function_invocation(self, context: Any, next: Next) -> None:
        """Every kernel function: the outermost opens the run if none is active."""
        claim = _claim.get()
        if claim is not None and not claim.taken and claim.function is context.function:
            claim.taken = True
            try:
                await next(context)
            except BaseException as exc:
                claim.error = exc
                raise
            return
        async with AsyncExitStack() as stack:
            run_stack = AsyncExitStack()  # a stream takes it over: the run ends with the stream
            stack.push_async_exit(run_stack)
            run = await self._enter(run_stack)
            outer = _invocation.get() is None
            if outer:
                state = _Invocation()
                token = _invocation.set(state)
                stack.callback(_invocation.reset, token)
            if isinstance(context.function, KernelFunctionFromPrompt):
                await self._prompt_function(run, context, next, run_stack)
            elif _is_ledger_tool(context.function):
                await next(context)  # the wrapper records it (a refusal raises out)
            else:
                await self._direct_tool(run, context, next)
            if outer and state.stop is not None:
                raise state.stop

    async def _prompt_function(self, run: Run, context: Any, next: Next,
                               run_stack: AsyncExitStack) -> None:
        """A prompt function: its model calls (the last one ends here, with its usage)."""
        turns = Turns(run, _model_of(context))
        token = _turns.set(turns)
        try:
            await next(context)
        except BaseException as exc:
            if turns.open_call is not None:
                run.llm_ended(turns.open_call, response_model=turns.model, error=exc,
                              source=SOURCE)
            raise
        finally:
            _turns.reset(token)
        value = getattr(context.result, "value", None)
        if getattr(context, "is_streaming", False) and isasyncgen(value):
            context.result.value = _streamed(run, turns, value, run_stack.pop_all())
            return
        messages = value if isinstance(value, list) else [value]
        last = messages[0] if messages else None
        # the model's answer ends its call (a terminated loop returns tool results instead)
        role = getattr(last, "role", None)
        if getattr(role, "value", role) == "assistant":
            turns.end(last, finish_reason=str(getattr(last, "finish_reason", None) or "stop"))

    async def _direct_tool(self, run: Run, context: Any, next: Next) -> None:
        """A native function invoked by the caller (not by the model): a tool call."""
        name = context.function.fully_qualified_name
        args = {str(k): v for k, v in dict(context.arguments or {}).items()}
        try:
            call = await record_intent(run, name, args, None, raw=(SCHEMA, {"direct": True}))
        except RunStopped:
            raise
        except LiveControl as exc:
            context.result = _refused(context, exc)
            return
        await self._run_tool(run, call, context, next, result_of=lambda: context.result)

    @staticmethod
    async def _run_tool(run: Run, call: ToolCall, context: Any, next: Next, *,
                        result_of: Callable[[], Any],
                        claim: _Claim | None = None) -> None:
        """Run the function (`next`) after its intent, then record its outcome."""
        try:
            await next(context)
        except BaseException as exc:
            status = "cancelled" if not isinstance(exc, Exception) else "error"
            run.tool_ended(call, status=status, error=exc, source=SOURCE)
            raise
        if claim is not None and claim.error is not None:
            run.tool_ended(call, status="error", error=claim.error, source=SOURCE)
            return
        result = result_of()
        run.tool_ended(call, result=getattr(result, "value", result), source=SOURCE)

    # -- auto function invocation (the model's tool calls) ----------------------------------
    async def auto_function_invocation(self, context: Any, next: Next) -> None:
        """A tool call the model proposed: intent (decided, durable) before `next`."""
        turns = _turns.get()
        async with AsyncExitStack() as stack:
            run = turns.run if turns is not None else await self._enter(stack)
            fcc = context.function_call_content
            index = context.request_sequence_index
            if turns is not None:
                message = find_message(context.chat_history, fcc)
                if message is not None:
                    turns.request_seen(index, message)
            try:
                await self._auto_call(run, context, next)
            finally:
                if turns is not None and turns.tool_done(
                        index, context.function_count, terminated=context.terminate):
                    self._next_turn(turns, context, index)

    async def _auto_call(self, run: Run, context: Any, next: Next) -> None:
        if _is_ledger_tool(context.function):
            await self._ledger_tool(context, next)
            return
        fcc = context.function_call_content
        name = context.function.fully_qualified_name
        raw = (SCHEMA, {"request_index": context.request_sequence_index,
                        "function_index": context.function_sequence_index})
        try:
            call = await record_intent(run, name, args_of(fcc), getattr(fcc, "id", None), raw)
        except LiveControl as exc:
            context.function_result = _refused(context, exc)
            if isinstance(exc, RunStopped):
                self._halt(context, exc)
            return
        claim = _Claim(context.function)
        token = _claim.set(claim)
        try:
            await self._run_tool(run, call, context, next, claim=claim,
                                 result_of=lambda: context.function_result)
        finally:
            _claim.reset(token)

    async def _ledger_tool(self, context: Any, next: Next) -> None:
        """A `@ledger.tool` function called by the model: its wrapper records and decides the
        call; its refusal (which SK would turn into a generic error text, swallowing a stop)
        becomes the refusal's text, and a stop terminates the loop."""
        claim = _Claim(context.function)
        token = _claim.set(claim)
        try:
            await next(context)
        finally:
            _claim.reset(token)
        if isinstance(claim.error, LiveControl):
            context.function_result = _refused(context, claim.error)
            if isinstance(claim.error, RunStopped):
                self._halt(context, claim.error)

    @staticmethod
    def _halt(context: Any, stop: RunStopped) -> None:
        """Terminate SK's loop; the outermost invocation raises the stop at its end."""
        context.terminate = True
        state = _invocation.get()
        if state is not None and state.stop is None:
            state.stop = stop

    def _next_turn(self, turns: Turns, context: Any, index: int) -> None:
        """All tools of request `index` are done: SK calls the model next (unless stopped)."""
        try:
            turns.start({"request_index": index + 1})
        except RunStopped as exc:
            self._halt(context, exc)

    # -- prompt rendering -------------------------------------------------------------------
    async def prompt_rendering(self, context: Any, next: Next) -> None:
        """prompt.resolved once rendered; the model call it feeds starts right after."""
        await next(context)
        run = current_run()
        turns = _turns.get()
        if run is None:
            return
        template = _template_of(context)
        version = self.prompt_version or hashlib.sha256(
            template.encode("utf-8")).hexdigest()[:12]
        variables = {str(k): v for k, v in dict(context.arguments or {}).items()}
        run.prompt(context.function.fully_qualified_name, version, template, variables)
        if turns is not None and turns.open_call is None and not turns.ended:
            turns.start({"prompt": context.rendered_prompt})
