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

import threading
from collections.abc import Iterable, Mapping
from importlib.metadata import version
from typing import Any
from uuid import UUID

from ledger.integrations import missing_extra

try:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.outputs import LLMResult
    from langgraph.errors import GraphBubbleUp
    from langgraph.types import Command
except ImportError as _missing:  # the one line naming the extra, not a traceback into it
    raise missing_extra(__name__, "langgraph", _missing) from None

from ledger.events import args_hash
from ledger.hooks.approvals import Approval, decide
from ledger.hooks.context import current_run
from ledger.hooks.continuity import pending_approvals
from ledger.hooks.errors import LedgerUnavailable, LiveControl, RunStopped
from ledger.hooks.runs import Run
from ledger.hooks.sanitize import error_info, json_safe
from ledger.hooks.setup import ack_timeout
from ledger.hooks.tools import ToolCall
from ledger.integrations.langchain_approvals import (
    Decision,
    PendingApprovals,
    ToolRun,
    decision_of,
    interrupt_call,
)
from ledger.integrations.langchain_detect import ledger_tool_label
from ledger.integrations.langchain_errors import observing as _observing
from ledger.integrations.langchain_errors import tool_errors
from ledger.integrations.langchain_runs import graph_run
from ledger.integrations.langchain_schemas import ToolSchemas
from ledger.note import Signer

__all__ = ["LedgerCallbackHandler", "tool_errors"]


SCHEMA = f"langchain-core@{version('langchain-core')}/callbacks"
SOURCE = {"framework": "langchain", "integration": "langchain", "schema": SCHEMA}


class LedgerCallbackHandler(BaseCallbackHandler):
    """Records LangChain callbacks into the current ledger run (or one run per graph call)."""

    raise_error = True  # only live-control decisions escape (see _observing)
    run_inline = True

    def __init__(self, run: Run | None = None, *, agent: str = "langgraph",
                 approver: str | None = None, approver_roles: Iterable[str] = (),
                 tools: Iterable[Any] = (), **run_kwargs: Any) -> None:
        """`tools`: the agent's tools, whose argument schemas are recorded with their calls
        (docs/hooks.md "Tool schemas")."""
        self._run = run
        self._schemas = ToolSchemas(tools)
        self._agent = agent
        self._approver = approver
        self._approver_roles = tuple(approver_roles)
        self._run_kwargs = run_kwargs
        self._lock = threading.Lock()
        self._roots: dict[UUID, tuple[Run, bool]] = {}
        self._root_of: dict[UUID, UUID] = {}
        self._open: dict[UUID, Any] = {}
        self._interrupted: set[UUID] = set()
        self._threads: dict[UUID, str | None] = {}  # root run -> graph thread id
        self._tools: dict[UUID, ToolRun] = {}
        self._pending = PendingApprovals()
        self._decisions: dict[str | None, Decision] = {}  # handler.resume(...) by thread

    @property
    def pending(self) -> dict[str, Approval]:
        """Approvals requested by interrupts and not decided yet (every thread)."""
        return self._pending.snapshot()

    # -- run bookkeeping -----------------------------------------------------------------------
    def _ledger_run(self, run_id: UUID, parent_run_id: UUID | None,
                    metadata: Mapping[str, Any] | None = None) -> Run:
        """The ledger run of a LangChain run: the enclosing `ledger.run`, else the graph
        thread's own run, opened (or resumed from the ledger) when its root starts."""
        with self._lock:
            root = self._root_of.get(parent_run_id, parent_run_id) if parent_run_id else run_id
            self._root_of[run_id] = root
            entry = self._roots.get(root)
        if entry is not None:
            return entry[0]
        thread_value = (metadata or {}).get("thread_id")
        thread = None if thread_value is None else str(thread_value)
        run = self._run or current_run()
        owned = run is None
        if run is None:  # outside the lock: it may read the ledger (fails closed)
            run = graph_run(self._agent, thread, SOURCE, self._run_kwargs)
        with self._lock:
            self._threads[root] = thread
            return self._roots.setdefault(root, (run, owned))[0]

    def run_of(self, lc_run: UUID) -> Run | None:
        """The ledger run a LangChain run (a tool's, a node's) belongs to, if this handler
        saw it start: what `@ledger.tool` inside a graph records into (the run resolver)."""
        with self._lock:
            root = self._root_of.get(lc_run)
            entry = self._roots.get(root) if root is not None else None
        return entry[0] if entry is not None else None

    def _corr(self, run_id: UUID, parent_run_id: UUID | None) -> dict[str, Any]:
        corr: dict[str, Any] = {"span_id": str(run_id)}
        if parent_run_id:
            corr["parent_span_id"] = str(parent_run_id)
        return corr

    def _finish_root(self, run_id: UUID, status: str, error: BaseException | None) -> None:
        with self._lock:
            entry = self._roots.pop(run_id, None)
            self._threads.pop(run_id, None)
            self._root_of = {k: v for k, v in self._root_of.items() if v != run_id}
            interrupted = run_id in self._interrupted
            self._interrupted.discard(run_id)
        if entry is None or not entry[1]:
            return
        run = entry[0]
        if interrupted and status == "succeeded":  # waiting for a person: open, not ended
            waiting = [a.approval_id for a in self._pending.snapshot().values()
                       if a.run_id == run.run_id]
            run.suspend("interrupt", pending=waiting)
        run.end(status, error)

    # -- models ------------------------------------------------------------------------------
    def _llm_start(self, serialized: Mapping[str, Any] | None, request: Any, *, run_id: UUID,
                   parent_run_id: UUID | None, metadata: Mapping[str, Any] | None,
                   kwargs: Mapping[str, Any]) -> None:
        run = self._ledger_run(run_id, parent_run_id, metadata)
        params = dict(kwargs.get("invocation_params") or {})
        self._schemas.learn_bound(params)
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
        label = ledger_tool_label()
        run = self._ledger_run(run_id, parent_run_id, metadata)
        name = str((serialized or {}).get("name") or kwargs.get("name") or "tool")
        tool_call_id = kwargs.get("tool_call_id")
        self._tools[run_id] = ToolRun(name, inputs if inputs is not None else input_str,
                                      tool_call_id, label)
        if label is not None:  # the wrapper records and decides it, under the model's call id
            if tool_call_id and inputs is not None:
                key = (label, args_hash(json_safe(inputs)))
                with run._lock:
                    run.approved.setdefault(key, str(tool_call_id))
            return
        decide = run.enf is not None or run.pack_unknown
        try:
            call = run.tool_started(
                name, inputs if inputs is not None else input_str,
                tool_call_id=tool_call_id, side_effect="unknown", wait=decide,
                args_schema=self._schemas.get(name),
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
        self._tools.pop(run_id, None)
        call = self._open.pop(run_id, None)
        if isinstance(call, ToolCall):
            self._ledger_run(run_id, parent_run_id).tool_ended(
                call, result=output, source=SOURCE, correlation=self._corr(run_id, parent_run_id))

    @_observing
    def on_tool_error(self, error: BaseException, *, run_id: UUID,
                      parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """Tool failure; an interrupt raised inside a tool is an approval request instead."""
        call = self._open.pop(run_id, None)
        tool = self._tools.pop(run_id, None)
        if isinstance(error, GraphBubbleUp):
            self._interrupt(error, run_id, parent_run_id, tool)
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
            self._resumed(inputs.resume, metadata or {}, self._threads.get(run_id),
                          self._ledger_run(run_id, parent_run_id, metadata))

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

    def _interrupt(self, error: BaseException, run_id: UUID, parent_run_id: UUID | None,
                   tool: ToolRun | None = None) -> None:
        """Each new interrupt of the error becomes an approval.requested, bound to the tool
        call it paused (first seen in `on_tool_error`) or else to the call its value names."""
        run = self._ledger_run(run_id, parent_run_id)
        with self._lock:
            root = self._root_of.get(run_id, run_id)
            self._interrupted.add(root)
            thread = self._threads.get(root)
        interrupts = error.args[0] if error.args and isinstance(error.args[0], tuple | list) else ()
        for item in interrupts:
            approval_id = str(getattr(item, "id", None) or id(item))
            if not self._pending.ask(approval_id):
                continue
            value = getattr(item, "value", None)
            reason = value if isinstance(value, str) else "langgraph interrupt"
            self._pending.add(thread, run.request_approval(
                interrupt_call(value, tool), approval_id=approval_id, reason=reason,
                source=SOURCE, raw=(SCHEMA, {"interrupt": {"id": approval_id, "value": value}})))

    def _resumed(self, resume: Any, metadata: Mapping[str, Any], thread: str | None,
                 run: Run) -> None:
        """`Command(resume=...)` decides the thread's pending interrupts in its run: those this
        handler saw, else those the ledger holds for the run (a new handler, a new process)."""
        with self._lock:
            how = self._decisions.pop(thread, None) or self._decisions.pop(None, None)
        pending = [a.approval_id for a in self._pending.take(thread).values()]
        if not pending:
            pending = [p.approval_id for p in pending_approvals(run.run_id)]
        if how is None:
            how = Decision(resume, str(metadata.get("ledger_approver") or self._approver
                                        or "unknown"),
                            tuple(metadata.get("ledger_approver_roles") or self._approver_roles))
        per_id = dict(resume) if isinstance(resume, Mapping) and resume and \
            set(resume) <= set(pending) else None
        for approval_id in pending:
            if per_id is not None and approval_id not in per_id:
                continue
            value = per_id[approval_id] if per_id is not None else how.value
            verdict, edited = decision_of(value) if how.decision is None else \
                (how.decision, how.edited_args)
            decide(approval_id, approver=how.approver, roles=how.roles, decision=verdict,
                   edited_args=edited, source=SOURCE, raw=(SCHEMA, {"resume": value}),
                   signer=how.signer)

    def resume(self, value: Any, *, approver: str, roles: Iterable[str] = (),
               decision: str | None = None, edited_args: Any = None,
               signer: Signer | None = None, thread_id: str | None = None) -> Command[Any]:
        """The Command to resume thread `thread_id` with; invoking it records `approver`'s
        decision of each interrupt pending in that thread's run, in that run (read from the
        ledger when this handler did not see the interrupt). `thread_id=None`: the next
        thread resumed. With `signer` (the approver's key) each decision is signed."""
        with self._lock:
            self._decisions[thread_id] = Decision(value, approver, tuple(roles), decision,
                                                   edited_args, signer)
        return Command(resume=value)
