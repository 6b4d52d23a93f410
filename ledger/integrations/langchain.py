"""LangChain / LangGraph: a callback handler that writes the ledger, interrupts as approvals.

`config={"callbacks": [LedgerCallbackHandler()]}` records model calls (usage, proposed tool
calls, cost), tool calls and errors. LangGraph's human-in-the-loop is recorded as what it is: a
`GraphInterrupt` is *not* an error but an `approval.requested` (bound to the proposed call when
the interrupt value names a tool and args), and resuming with `Command(resume=...)` is an
`approval.decided` carrying the approver's identity (from `handler.resume(...)`, or the
`ledger_approver`/`ledger_approver_roles` keys of the run config's metadata). Every event keeps
the callback arguments in `raw`, tagged `langchain-core@<version>/callbacks`.

Live control (DESIGN §14): the handler sets `raise_error = True` so that a `RunStopped` or a
denial raised by the hooks from a callback (a model call about to start, a run about to begin)
is not swallowed by LangChain's callback manager; every other failure of the handler is still
only logged, never breaking the agent. `tool_errors()` is the `ToolNode(handle_tool_errors=...)`
that turns `PolicyDenied` / `ApprovalRequired` into an error `ToolMessage` the model can read
and re-raises `RunStopped`, so the graph halts with the exception surfaced to the caller.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import version
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from ledger.integrations import missing_extra

try:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.outputs import LLMResult
    from langgraph.errors import GraphBubbleUp
    from langgraph.prebuilt.tool_node import TOOL_CALL_ERROR_TEMPLATE, ToolInvocationError
    from langgraph.types import Command
except ImportError as _missing:  # the one-line error naming the extra
    raise missing_extra(__name__, "langgraph", _missing) from None
from ledger.hooks.approvals import Approval, decide
from ledger.hooks.context import current_run
from ledger.hooks.errors import LedgerUnavailable, LiveControl, RunStopped
from ledger.hooks.runs import Run
from ledger.hooks.sanitize import error_info
from ledger.hooks.setup import ack_timeout
from ledger.hooks.tools import ToolCall
from ledger.integrations.langchain_detect import ledger_decorated_tool
from ledger.integrations.refusals import is_denial, refusal_text
from ledger.note import Signer

__all__ = ["LedgerCallbackHandler", "tool_errors"]

_log = logging.getLogger(__name__)
_P = ParamSpec("_P")
_R = TypeVar("_R")

SCHEMA = f"langchain-core@{version('langchain-core')}/callbacks"
SOURCE = {"framework": "langchain", "integration": "langchain", "schema": SCHEMA}


def _decision(value: Any) -> tuple[str, Any]:
    """Map a resume value to (decision, edited_args); HITL-style dicts and booleans understood."""
    if isinstance(value, bool):
        return ("approved" if value else "rejected"), None
    if isinstance(value, Mapping):
        return (str(value.get("type") or value.get("decision") or "approved"),
                value.get("edited_args") or value.get("args"))
    if isinstance(value, str) and value.lower() in {"reject", "rejected", "no", "deny"}:
        return "rejected", None
    return "approved", None


def _observing(method: Callable[_P, _R]) -> Callable[_P, _R | None]:
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


class LedgerCallbackHandler(BaseCallbackHandler):
    """Records LangChain callbacks into the current ledger run (or one run per graph call)."""

    raise_error = True  # only live-control decisions escape (see _observing)
    run_inline = True

    def __init__(self, run: Run | None = None, *, agent: str = "langgraph",
                 approver: str | None = None, approver_roles: Iterable[str] = (),
                 **run_kwargs: Any) -> None:
        self._run = run
        self._agent = agent
        self._approver = approver
        self._approver_roles = tuple(approver_roles)
        self._run_kwargs = run_kwargs
        self._lock = threading.Lock()
        self._roots: dict[UUID, tuple[Run, bool]] = {}
        self._root_of: dict[UUID, UUID] = {}
        self._open: dict[UUID, Any] = {}
        self._interrupted: set[UUID] = set()
        self.pending: dict[str, Approval] = {}

    # -- run bookkeeping -----------------------------------------------------------------------
    def _ledger_run(self, run_id: UUID, parent_run_id: UUID | None,
                    metadata: Mapping[str, Any] | None = None) -> Run:
        with self._lock:
            root = self._root_of.get(parent_run_id, parent_run_id) if parent_run_id else run_id
            self._root_of[run_id] = root
            if root not in self._roots:
                run = self._run or current_run()
                owned = run is None
                if run is None:
                    conv = (metadata or {}).get("thread_id")
                    run = Run(agent=self._agent, conversation_id=conv, source=SOURCE,
                              **self._run_kwargs).begin()
                self._roots[root] = (run, owned)
            return self._roots[root][0]

    def _corr(self, run_id: UUID, parent_run_id: UUID | None) -> dict[str, Any]:
        corr: dict[str, Any] = {"span_id": str(run_id)}
        if parent_run_id:
            corr["parent_span_id"] = str(parent_run_id)
        return corr

    def _finish_root(self, run_id: UUID, status: str, error: BaseException | None) -> None:
        with self._lock:
            entry = self._roots.pop(run_id, None)
            self._root_of = {k: v for k, v in self._root_of.items() if v != run_id}
            interrupted = run_id in self._interrupted
            self._interrupted.discard(run_id)
        if entry is not None and entry[1]:
            entry[0].end("stopped" if interrupted and status == "succeeded" else status, error)

    # -- models ------------------------------------------------------------------------------
    def _llm_start(self, serialized: Mapping[str, Any] | None, request: Any, *, run_id: UUID,
                   parent_run_id: UUID | None, metadata: Mapping[str, Any] | None,
                   kwargs: Mapping[str, Any]) -> None:
        run = self._ledger_run(run_id, parent_run_id, metadata)
        params = dict(kwargs.get("invocation_params") or {})
        meta = dict(metadata or {})
        model = params.get("model") or params.get("model_name") or meta.get("ls_model_name")
        self._open[run_id] = run.llm_started(
            model=model, provider=meta.get("ls_provider"), request=request,
            parameters={k: v for k, v in params.items() if k not in {"messages"}},
            call_id=str(run_id), source=SOURCE, correlation=self._corr(run_id, parent_run_id),
            raw=(SCHEMA, {"serialized": serialized, "metadata": meta, "request": request}))

    @_observing
    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[Any]], *,
                            run_id: UUID, parent_run_id: UUID | None = None,
                            tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
                            **kwargs: Any) -> None:
        """A chat model request: messages become the request payload."""
        self._llm_start(serialized, messages, run_id=run_id, parent_run_id=parent_run_id,
                        metadata=metadata, kwargs=kwargs)

    @_observing
    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], *, run_id: UUID,
                     parent_run_id: UUID | None = None, tags: list[str] | None = None,
                     metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """A completion model request."""
        self._llm_start(serialized, prompts, run_id=run_id, parent_run_id=parent_run_id,
                        metadata=metadata, kwargs=kwargs)

    @_observing
    def on_llm_end(self, response: LLMResult, *, run_id: UUID,
                   parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """Usage from usage_metadata (or llm_output.token_usage), tool calls, finish reason."""
        call_id = self._open.pop(run_id, None)
        if call_id is None:
            return
        run = self._ledger_run(run_id, parent_run_id)
        gen = response.generations[0][0] if response.generations and response.generations[0] \
            else None
        message = getattr(gen, "message", None)
        usage = dict(getattr(message, "usage_metadata", None) or {})
        token_usage = dict((response.llm_output or {}).get("token_usage") or {})
        meta = dict(getattr(message, "response_metadata", None) or {})
        run.llm_ended(
            call_id,
            response_model=meta.get("model_name") or meta.get("model")
            or (response.llm_output or {}).get("model_name"),
            output=message if message is not None else (gen.text if gen else None),
            input_tokens=usage.get("input_tokens", token_usage.get("prompt_tokens")),
            output_tokens=usage.get("output_tokens", token_usage.get("completion_tokens")),
            tool_calls=getattr(message, "tool_calls", None) or (),
            finish_reason=meta.get("finish_reason") or meta.get("stop_reason"),
            source=SOURCE, correlation=self._corr(run_id, parent_run_id),
            raw=(SCHEMA, {"response": response.model_dump(mode="json")}))

    @_observing
    def on_llm_error(self, error: BaseException, *, run_id: UUID,
                     parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """A failed model call is an llm.call.ended with an error."""
        call_id = self._open.pop(run_id, None)
        if call_id is not None:
            self._ledger_run(run_id, parent_run_id).llm_ended(
                call_id, error=error, source=SOURCE,
                correlation=self._corr(run_id, parent_run_id))

    # -- tools -------------------------------------------------------------------------------
    @_observing
    def on_tool_start(self, serialized: dict[str, Any], input_str: str, *, run_id: UUID,
                      parent_run_id: UUID | None = None, tags: list[str] | None = None,
                      metadata: dict[str, Any] | None = None,
                      inputs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """A tool's intent, unless it is a `@ledger.tool` (it records its own). No pack in
        force: observed (a known stop refuses it). Under a pack: decided and acknowledged first,
        as the decorator does; a refusal is raised before the body, for `tool_errors()`."""
        if ledger_decorated_tool():
            return
        run = self._ledger_run(run_id, parent_run_id, metadata)
        name = str((serialized or {}).get("name") or kwargs.get("name") or "tool")
        decide = run.enf is not None or run.pack_unknown
        try:
            call = run.tool_started(
                name, inputs if inputs is not None else input_str,
                tool_call_id=kwargs.get("tool_call_id"), side_effect="unknown", wait=decide,
                require_db=decide, source=SOURCE, correlation=self._corr(run_id, parent_run_id),
                raw=(SCHEMA, {"serialized": serialized, "input_str": input_str,
                              "inputs": inputs, "metadata": metadata}))
            if decide:
                self._acknowledged(run, call)
        except (LiveControl, LedgerUnavailable):
            raise
        except Exception as exc:  # under a pack, any failure to decide refuses (fail closed)
            if not decide:
                raise
            raise LedgerUnavailable(f"tool {name!r} could not be decided: "
                                    f"{type(exc).__name__}; not run") from exc
        self._open[run_id] = call

    @staticmethod
    def _acknowledged(run: Run, call: ToolCall) -> None:
        """Wait for the decided intent: under a pack the body must not run unrecorded."""
        if call.ack is None:
            return
        try:
            call.ack.result(ack_timeout())
        except LiveControl:  # refused at the ack (a stop: the gate recorded the refusal)
            raise
        except Exception as exc:
            refusal = exc if isinstance(exc, LedgerUnavailable) else LedgerUnavailable(
                f"the intent of tool {call.tool!r} was not acknowledged; not run")
            run.tool_ended(call, status="error", error=refusal, source=SOURCE)
            raise refusal from None

    @_observing
    def on_tool_end(self, output: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                    **kwargs: Any) -> None:
        """Tool outcome (a ToolMessage is kept whole)."""
        call = self._open.pop(run_id, None)
        if isinstance(call, ToolCall):
            self._ledger_run(run_id, parent_run_id).tool_ended(
                call, result=output, source=SOURCE, correlation=self._corr(run_id, parent_run_id))

    @_observing
    def on_tool_error(self, error: BaseException, *, run_id: UUID,
                      parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """Tool failure; an interrupt raised inside a tool is an approval request instead."""
        call = self._open.pop(run_id, None)
        if isinstance(error, GraphBubbleUp):
            self._interrupt(error, run_id, parent_run_id)
            status = "cancelled"
        elif isinstance(error, LiveControl):  # a stop or denial: the body never ran
            status = "refused"
        else:
            status = "error"
        if isinstance(call, ToolCall):
            self._ledger_run(run_id, parent_run_id).tool_ended(
                call, status=status, error=error, source=SOURCE,
                correlation=self._corr(run_id, parent_run_id))

    # -- chains, interrupts and resumes ------------------------------------------------------
    @_observing
    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, tags: list[str] | None = None,
                       metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """A root chain starts (or resumes) a run; Command(resume=...) decides approvals."""
        self._ledger_run(run_id, parent_run_id, metadata)
        if parent_run_id is None and isinstance(inputs, Command) and inputs.resume is not None:
            self._resumed(inputs.resume, metadata or {})

    @_observing
    def on_chain_end(self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                     **kwargs: Any) -> None:
        """The root chain ending ends a run this handler started."""
        if parent_run_id is None:
            self._finish_root(run_id, "succeeded", None)

    @_observing
    def on_chain_error(self, error: BaseException, *, run_id: UUID,
                       parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """GraphInterrupt is a pause for approval, not an error; anything else is error.raised."""
        if isinstance(error, GraphBubbleUp):
            self._interrupt(error, run_id, parent_run_id)
            if parent_run_id is None:
                self._finish_root(run_id, "succeeded", None)
            return
        if isinstance(error, RunStopped):  # a halt, not an error: the run ends stopped
            if parent_run_id is None:
                self._finish_root(run_id, "stopped", error)
            return
        run = self._ledger_run(run_id, parent_run_id)
        if parent_run_id is None:
            run.record("error.raised", {"error": error_info(error), "where": "langgraph"},
                       source=SOURCE, correlation=self._corr(run_id, parent_run_id))
            self._finish_root(run_id, "failed", error)

    def _interrupt(self, error: BaseException, run_id: UUID, parent_run_id: UUID | None) -> None:
        run = self._ledger_run(run_id, parent_run_id)
        with self._lock:
            self._interrupted.add(self._root_of.get(run_id, run_id))
        interrupts = error.args[0] if error.args and isinstance(error.args[0], tuple | list) else ()
        for item in interrupts:
            approval_id = str(getattr(item, "id", None) or id(item))
            if approval_id in self.pending:
                continue
            value = getattr(item, "value", None)
            call = value if isinstance(value, Mapping) and (
                "name" in value or "tool" in value) else {"name": "langgraph.interrupt",
                                                          "args": value}
            self.pending[approval_id] = run.request_approval(
                call, approval_id=approval_id, reason="langgraph interrupt", source=SOURCE,
                raw=(SCHEMA, {"interrupt": {"id": approval_id, "value": value}}))

    def _resumed(self, resume: Any, metadata: Mapping[str, Any]) -> None:
        approver = str(metadata.get("ledger_approver") or self._approver or "unknown")
        roles = tuple(metadata.get("ledger_approver_roles") or self._approver_roles)
        if isinstance(resume, Mapping) and resume and set(resume) <= set(self.pending):
            values = dict(resume)
        else:
            values = dict.fromkeys(self.pending, resume)
        for approval_id, value in values.items():
            if self.pending.pop(approval_id, None) is None:
                continue
            decision, edited = _decision(value)
            decide(approval_id, approver=approver, roles=roles, decision=decision,
                   edited_args=edited, source=SOURCE, raw=(SCHEMA, {"resume": value}))

    def resume(self, value: Any, *, approver: str, roles: Iterable[str] = (),
               decision: str | None = None, edited_args: Any = None,
               signer: Signer | None = None) -> Command[Any]:
        """Decide every pending interrupt as `approver` and return the Command to resume with.

        With `signer` (the approver's key) each decision is signed (see `ledger.decide`)."""
        for approval_id in list(self.pending):
            self.pending.pop(approval_id)
            verdict, edited = _decision(value) if decision is None else (decision, edited_args)
            decide(approval_id, approver=approver, roles=roles, decision=verdict,
                   edited_args=edited if edited_args is None else edited_args, source=SOURCE,
                   raw=(SCHEMA, {"resume": value}), signer=signer)
        return Command(resume=value)
