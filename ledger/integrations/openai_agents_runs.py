"""OpenAI Agents SDK: which ledger run one SDK run records into, and its calls in flight.

One `LedgerRunHooks` object (and one Agent) is shared by every concurrent `Runner.run` of an
app, so nothing of a call in flight may be keyed by the agent or the hooks object: ten runs of
one agent would overwrite each other's open model call and link its end to another run's call.
The SDK gives each `Runner.run` one `Usage` object, shared by every context it hands the hooks
(the run's `RunContextWrapper`, an `AgentHookContext`, each tool's `ToolContext`), so the
usage object's identity is the SDK run's identity here; the entry holds the usage weakly and
goes away with it (an SDK run that raised or was interrupted must not leak).

The trace id (kept in a serialized `RunState` and reused when the run resumes, even in another
process) is the key of the ledger run across an interruption: `openai-agents:<trace_id>`.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from ledger.hooks.runs import Run
from ledger.hooks.tools import ToolCall

__all__ = [
    "UNKNOWN_MODEL",
    "SdkRun",
    "SdkRuns",
    "claim_implicit",
    "fail_implicit",
    "finish_implicit",
    "hold_trace_run",
    "model_name",
    "open_implicit",
    "resume_key",
    "state_trace_id",
    "trace_done",
    "trace_ids",
    "trace_run",
    "watch_trace",
]

UNKNOWN_MODEL = "unknown"
log = logging.getLogger(__name__)


def model_name(agent: Any) -> str:
    """The model an agent calls, as the SDK would name it; `unknown` when it cannot be told.

    A `Model` object without a `.model` string, or an agent leaving the choice to `RunConfig`
    or the SDK default (which the hooks cannot see), is recorded as `unknown` so its cost is
    unknown in replay, never priced at a guess or shown as $0."""
    model = getattr(agent, "model", None)
    if isinstance(model, str) and model:
        return model
    name = getattr(model, "model", None)
    return name if isinstance(name, str) and name else UNKNOWN_MODEL


def trace_ids() -> tuple[str | None, str | None]:
    """(trace_id, group_id) of the SDK run in this task; (None, None) with tracing disabled."""
    from agents.tracing import get_current_trace

    trace = get_current_trace()
    trace_id = getattr(trace, "trace_id", None)
    if not isinstance(trace_id, str) or not trace_id or trace_id == "no-op":
        return None, None
    group = getattr(trace, "group_id", None)
    return trace_id, group if isinstance(group, str) else None


def resume_key(trace_id: str) -> str:
    return f"openai-agents:{trace_id}"


@dataclass
class SdkRun:
    """One `Runner.run`: its ledger run and the calls it has in flight."""

    run: Run
    owned: bool  # an implicit run these hooks opened (and end or suspend)
    trace_id: str | None = None
    llm: dict[int, str] = field(default_factory=dict)  # id(agent) -> ledger call id
    tools: dict[str, ToolCall] = field(default_factory=dict)  # SDK call_id -> call


class SdkRuns:
    """SDK run -> `SdkRun`, thread-safe (hooks may be shared by event loops in threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[int, SdkRun] = {}

    @staticmethod
    def _usage(context: Any) -> Any:
        return getattr(context, "usage", None)

    def get(self, context: Any) -> SdkRun | None:
        usage = self._usage(context)
        with self._lock:
            return None if usage is None else self._runs.get(id(usage))

    def add(self, context: Any, entry: SdkRun) -> SdkRun:
        """Register the entry unless another task of the same SDK run got there first."""
        usage = self._usage(context)
        if usage is None:
            return entry
        key = id(usage)
        with self._lock:
            known = self._runs.get(key)
            if known is not None:
                return known
            self._runs[key] = entry
        weakref.finalize(usage, self._drop, key, entry)
        return entry

    def pop(self, context: Any) -> SdkRun | None:
        usage = self._usage(context)
        with self._lock:
            return None if usage is None else self._runs.pop(id(usage), None)

    def _drop(self, key: int, entry: SdkRun) -> None:
        """The SDK dropped its run (its usage object is gone). Still registered means no
        `on_agent_end` came: the run raised (or was interrupted and never recorded), and no
        hook will ever end its implicit ledger run, which `ledger serve` would not abandon
        either (it is not suspended): end it `failed` with its open calls, never leave it open."""
        with self._lock:
            if self._runs.get(key) is not entry:
                return
            del self._runs[key]
        if entry.owned and not entry.run.ended:
            fail_implicit(entry)

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)


# Implicit runs held open, by trace id: for LedgerTracingProcessor to join, for
# `record_interruptions` to suspend and for `approve`/`reject` to resume before the hooks do.
_trace_runs: dict[str, Run] = {}
_trace_lock = threading.Lock()


# Held runs an SDK run's hooks are recording into. Several SDK runs may share one trace (the
# SDK's `with trace(...)` around a workflow's runs, run concurrently or one after the other):
# the first claims the trace's run, a concurrent one gets a run of its own (see `claim_implicit`).
_claimed: set[Any] = set()


def hold_trace_run(trace_id: str | None, run: Run | None) -> None:
    """Register (run) or release (None) the implicit run of a trace."""
    if trace_id is None:
        return
    with _trace_lock:
        if run is None:
            held = _trace_runs.pop(trace_id, None)
            _watched.discard(trace_id)
            if held is not None:
                _claimed.discard(held.run_id)
        else:
            _trace_runs[trace_id] = run


def trace_run(trace_id: str | None) -> Run | None:
    """The implicit run held open for the trace (None once it ended or was suspended)."""
    if trace_id is None:
        return None
    with _trace_lock:
        run = _trace_runs.get(trace_id)
        if run is not None and run.ended:
            del _trace_runs[trace_id]
            _claimed.discard(run.run_id)
            return None
        return run


def claim_implicit(trace_id: str | None, group_id: str | None, *, agent: str,
                   **run_kwargs: Any) -> tuple[Run, str | None]:
    """The implicit run of a starting SDK run, claimed for it, and the trace id it is held by.

    The trace's held run when no other SDK run records into it (a new run, or the run
    `approve`/`reject` resumed); while another SDK run of the same trace is in flight, a new
    run of its own, correlated to the trace but not held by it (None): a trace id names a
    workflow, not one SDK run, and two runs' calls must never be merged into one."""
    with _trace_lock:
        held = _trace_runs.get(trace_id) if trace_id is not None else None
        busy = held is not None and not held.ended and held.run_id in _claimed
    if busy:
        correlation = {k: v for k, v in (("trace_id", trace_id), ("thread_id", group_id)) if v}
        return Run(agent=agent, correlation=correlation, **run_kwargs).begin(), None
    run = open_implicit(trace_id, group_id, agent=agent, **run_kwargs)
    if trace_id is not None:  # released with the trace's hold
        with _trace_lock:
            _claimed.add(run.run_id)
    return run, trace_id


def open_implicit(trace_id: str | None, group_id: str | None, *, agent: str,
                  **run_kwargs: Any) -> Run:
    """The implicit ledger run of an SDK run outside `ledger.run(...)`, begun: the run held
    for its trace, else the suspended run of its trace resumed (read from the ledger, so from
    any process), else a new run correlated to the trace and its group. Fails closed: a
    ledger that cannot be read raises `LedgerUnavailable` before anything runs."""
    from ledger.hooks.continuity import open_run

    held = trace_run(trace_id)
    if held is not None:
        return held
    correlation = {k: v for k, v in (("trace_id", trace_id), ("thread_id", group_id)) if v}
    if trace_id is None:  # tracing disabled: a run of its own, which no key can find again
        run = Run(agent=agent, correlation=correlation, **run_kwargs)
    else:
        run = open_run(resume_key(trace_id), agent=agent, correlation=correlation,
                       **run_kwargs)
    run.begin()
    hold_trace_run(trace_id, run)
    return run


def state_trace_id(state: Any) -> str | None:
    """The trace id a `RunState` (or a run result) carries: the SDK reuses it on resume."""
    try:
        if not hasattr(state, "to_json") and hasattr(state, "to_state"):
            state = state.to_state()
        trace = state.to_json().get("trace") or {}
    except Exception:  # a state the SDK cannot serialize has no key to find its run by
        return None
    trace_id = trace.get("id")
    return trace_id if isinstance(trace_id, str) and trace_id else None


# Traces a LedgerTracingProcessor sees while the hooks hold their implicit run: the run ends
# after the trace's last span (the `task` span, which ends also on a resumed run), so the
# processor's agent span (ending after the hooks' last hook) joins it instead of a run of its own.
_watched: set[str] = set()
_finished: set[str] = set()


def watch_trace(trace_id: str) -> None:
    """Called by the processor at each span start of a trace whose implicit run is held."""
    with _trace_lock:
        if trace_id in _trace_runs and len(_watched) < 4096:
            _watched.add(trace_id)


def finish_implicit(trace_id: str | None, run: Run) -> None:
    """The hooks' last hook of an implicit run: end it now, or after the trace's last span
    when a processor is recording the trace."""
    with _trace_lock:
        deferred = trace_id is not None and trace_id in _watched
        if deferred:
            _finished.add(str(trace_id))
    if not deferred:
        if trace_run(trace_id) is run:
            hold_trace_run(trace_id, None)
        run.end("succeeded")


_UNFINISHED = ("the SDK run ended without finishing: it raised, or it was interrupted and "
               "record_interruptions was not called")


def fail_implicit(entry: SdkRun) -> None:
    """End an implicit run whose SDK run is gone unfinished: its open model and tool calls
    end with an error, then the run ends `failed` (unless a processor still records it)."""
    with _trace_lock:
        if entry.trace_id is not None and entry.trace_id in _finished:
            return  # finished; ends after the trace's last span (trace_done)
    run = entry.run
    try:
        for call_id in list(entry.llm.values()):
            run.llm_ended(call_id, error=_UNFINISHED)
        for call in list(entry.tools.values()):
            run.tool_ended(call, status="error", error=_UNFINISHED)
        with _trace_lock:
            if entry.trace_id is not None and _trace_runs.get(entry.trace_id) is run:
                del _trace_runs[entry.trace_id]
                _watched.discard(entry.trace_id)
                _claimed.discard(run.run_id)
        run.end("failed", _UNFINISHED)
    except Exception:  # called by the garbage collector: log, never raise there
        log.exception("could not end the implicit run %s of an unfinished SDK run", run.run_id)


def trace_done(trace_id: str) -> None:
    """The processor saw the trace's last span: end the implicit run the hooks finished."""
    with _trace_lock:
        _watched.discard(trace_id)
        finished = trace_id in _finished
        _finished.discard(trace_id)
        run = _trace_runs.pop(trace_id, None) if finished else None
        if run is not None:
            _claimed.discard(run.run_id)
    if run is not None and not run.ended:
        run.end("succeeded")
