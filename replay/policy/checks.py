"""Built-in run-level checks: limits, timeouts, budgets, allowlists, pinning, loops, capture.

Each check is a plain function of the folded `RunState` (no event re-parsing, no pydantic in the
loop) returning exactly one `Verdict`. Limits are "greater than the limit fails": a run that
uses exactly `max_tool_calls` calls passes.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from decimal import Decimal
from fnmatch import fnmatchcase

from replay.model import RunState, ToolCallRecord
from replay.policy.outcome import Findings
from replay.policy.recorded import args_identity
from replay.policy.timebounds import DEFAULT_SKEW_NS, call_duration, open_since, run_duration
from replay.policy.verdict import Outcome, Verdict

__all__ = [
    "capture_gaps",
    "capture_open_calls",
    "capture_run_ended",
    "loops",
    "max_tool_calls",
    "max_tool_calls_per_tool",
    "max_total_tokens",
    "max_usd_per_run",
    "model_allowlist",
    "overall_timeout",
    "per_tool_timeout",
    "prompt_registry",
    "tool_allowlist",
    "tool_pinning",
]

_NS = 1_000_000_000


def matches(name: str, patterns: tuple[str, ...]) -> bool:
    """Glob match (`gpt-5*`, `payments.*`), case-sensitive so the check is exact."""
    try:
        return _matches(name, patterns)  # a run asks the same few questions per call
    except TypeError:  # unhashable patterns (a list): same answer, uncached
        return any(fnmatchcase(name, p) for p in patterns)


@functools.lru_cache(maxsize=65536)
def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(name, p) for p in patterns)


def max_total_tokens(state: RunState, on_missing: Outcome, limit: int) -> Verdict:
    f = Findings("max_total_tokens", on_missing)
    used = state.totals.total_tokens
    if used > limit:
        ids = tuple(c.ended_event_id for c in state.llm_calls if c.total_tokens)
        f.fail(ids, f"{used} tokens used, limit {limit}")
    for call in state.llm_calls:
        if call.ended_event_id is None:
            f.unknown((call.started_event_id,), f"LLM call {call.call_id} never ended")
        elif call.total_tokens is None:
            f.unknown((call.ended_event_id,), f"LLM call {call.call_id} has no token usage")
    return f.verdict(state, f"{used} tokens used, limit {limit}")


def max_tool_calls(state: RunState, on_missing: Outcome, limit: int) -> Verdict:
    f = Findings("max_tool_calls", on_missing)
    count = len(state.tool_calls)
    if count > limit:
        f.fail(
            tuple(c.started_event_id for c in state.tool_calls[limit:]),
            f"{count} tool calls, limit {limit}",
        )
    return f.verdict(state, f"{count} tool calls, limit {limit}")


def max_tool_calls_per_tool(state: RunState, on_missing: Outcome, tool: str, limit: int) -> Verdict:
    f = Findings(f"max_tool_calls_per_tool.{tool}", on_missing)
    calls = [c for c in state.tool_calls if c.tool == tool]
    if len(calls) > limit:
        f.fail(
            tuple(c.started_event_id for c in calls[limit:]),
            f"{len(calls)} calls to {tool}, limit {limit}",
        )
    return f.verdict(state, f"{len(calls)} calls to {tool}, limit {limit}")


def overall_timeout(
    state: RunState, on_missing: Outcome, seconds: float, skew_ns: int = DEFAULT_SKEW_NS
) -> Verdict:
    """Run duration from writer times, only inside the record's bounds (timebounds)."""
    f = Findings("timeouts.overall_seconds", on_missing)
    run = state.run
    span, why = run_duration(state, skew_ns)
    if span is None:
        evidence = (run.started_event_id, run.ended_event_id or run.last_event_id)
        f.unknown(evidence if run.started_ns is not None else (), why or "no run duration")
        return f.verdict(state, "")
    took = span / _NS
    if took > seconds:
        tail = "ran" if run.ended else "still running after"
        f.fail(
            (run.started_event_id, run.ended_event_id),
            f"run {tail} {took:.3f}s, limit {seconds:g}s",
        )
    elif not run.ended:
        f.unknown(
            (run.started_event_id,),
            f"no run.ended after {took:.3f}s (possible hang), limit {seconds:g}s",
        )
    return f.verdict(state, f"run took {took:.3f}s, limit {seconds:g}s")


def per_tool_timeout(
    state: RunState, on_missing: Outcome, default: float | None, per_tool: dict[str, float],
    skew_ns: int = DEFAULT_SKEW_NS,
) -> Verdict:
    """Call durations from writer times, only inside the record's bounds (timebounds)."""
    f = Findings("timeouts.per_tool_seconds", on_missing)
    slowest = 0.0
    for call in state.tool_calls:
        limit = per_tool.get(call.tool, default)
        if limit is None:
            continue
        took_ns, why = (
            open_since(state, call, skew_ns)
            if call.duration_ns is None
            else call_duration(state, call, skew_ns)
        )
        if took_ns is None:
            f.unknown((call.started_event_id, call.ended_event_id), why or "no duration")
            continue
        if call.duration_ns is None:
            waited = took_ns / _NS
            if waited > limit:
                f.fail(
                    (call.started_event_id,),
                    f"{call.tool} ({call.tool_call_id}) never "
                    f"ended, open {waited:.3f}s, limit {limit:g}s",
                )
            else:
                f.unknown(
                    (call.started_event_id,), f"{call.tool} ({call.tool_call_id}) never ended"
                )
            continue
        took = took_ns / _NS
        slowest = max(slowest, took)
        if took > limit:
            f.fail(
                (call.started_event_id, call.ended_event_id),
                f"{call.tool} ({call.tool_call_id}) took {took:.3f}s, limit {limit:g}s",
            )
    return f.verdict(state, f"slowest tool call {slowest:.3f}s within limits")


def max_usd_per_run(state: RunState, on_missing: Outcome, limit: str) -> Verdict:
    f = Findings("budgets.max_usd_per_run", on_missing)
    spent = Decimal(state.totals.cost_usd)
    if spent > Decimal(limit):
        f.fail(
            tuple(c.ended_event_id for c in state.llm_calls if c.cost_usd is not None),
            f"spent ${spent}, limit ${limit}",
        )
    for call in state.llm_calls:
        if call.ended_event_id is None:
            f.unknown((call.started_event_id,), f"LLM call {call.call_id} never ended")
        elif call.cost_usd is None:
            f.unknown((call.ended_event_id,), f"LLM call {call.call_id} has no recorded cost")
    return f.verdict(state, f"spent ${spent}, limit ${limit}")


def tool_allowlist(state: RunState, on_missing: Outcome, allow: tuple[str, ...]) -> Verdict:
    f = Findings("tools.allow", on_missing)
    for call in state.tool_calls:
        if not matches(call.tool, allow):
            f.fail((call.started_event_id,), f"tool {call.tool!r} is not on the allowlist")
    return f.verdict(state, f"all {len(state.tool_calls)} tool calls on the allowlist")


def tool_pinning(state: RunState, on_missing: Outcome, pinned: dict[str, str]) -> Verdict:
    f = Findings("tools.pinned", on_missing)
    for call in state.tool_calls:
        want = pinned.get(call.tool)
        if want is None:
            continue
        if call.contract_digest is None:
            f.unknown((call.started_event_id,), f"{call.tool} call has no contract digest")
        elif call.contract_digest != want:
            f.fail(
                (call.started_event_id,),
                f"{call.tool} contract {call.contract_digest[:16]} is not the pinned {want[:16]}",
            )
    return f.verdict(state, "every pinned tool ran with its pinned contract")


def model_allowlist(state: RunState, on_missing: Outcome, allow: tuple[str, ...]) -> Verdict:
    f = Findings("models.allow", on_missing)
    for call in state.llm_calls:
        model = call.response_model or call.request_model or state.versions.model
        evidence = (call.ended_event_id or call.started_event_id,)
        if model is None:
            f.unknown(evidence, f"LLM call {call.call_id} has no model recorded")
        elif not matches(model, allow):
            f.fail(evidence, f"model {model!r} is not allowed")
        elif call.request_model and call.response_model and not matches(call.request_model, allow):
            f.fail(evidence, f"requested model {call.request_model!r} is not allowed")
    for model in state.versions.models_seen:
        if not matches(model, allow) and not f.fails:
            f.fail((), f"model {model!r} (in run versions) is not allowed")
    if not state.llm_calls and not state.versions.models_seen:
        f.unknown((), "no model recorded for the run")
    return f.verdict(state, f"{len(state.llm_calls)} LLM calls, all on allowed models")


def prompt_registry(
    state: RunState, on_missing: Outcome, registered: dict[str, tuple[str, ...]]
) -> Verdict:
    f = Findings("prompts.registered", on_missing)
    for p in state.prompts:
        allowed = registered.get(p.name)
        if allowed is None:
            f.fail((p.event_id,), f"prompt {p.name!r} is not registered")
        elif p.version not in allowed and p.template_hash not in allowed:
            f.fail((p.event_id,), f"prompt {p.name}@{p.version} is not a registered version")
    if not state.prompts:
        versions = {v for vs in registered.values() for v in vs}
        seen = state.versions.prompt_versions_seen
        if not seen:
            f.unknown((), "no prompt version recorded for the run")
        for version in seen:
            if version not in versions:
                f.fail((), f"prompt version {version!r} is not registered")
    return f.verdict(state, f"{len(state.prompts)} prompt(s), all registered versions")


def loops(state: RunState, on_missing: Outcome, limit: int) -> Verdict:
    f = Findings("loops.max_identical_calls", on_missing)
    groups: dict[tuple[str, str], list[ToolCallRecord]] = defaultdict(list)
    for call in state.tool_calls:
        if call.attempt == 1:  # a retry of the same call is not a new call
            groups[(call.tool, args_identity(call))].append(call)
    for (tool, _), calls in groups.items():
        if len(calls) > limit:
            f.fail(
                tuple(c.started_event_id for c in calls),
                f"{tool} called {len(calls)} times with identical args, limit {limit}",
            )
    return f.verdict(state, f"no tool repeated with identical args more than {limit} times")


def capture_run_ended(state: RunState, on_missing: Outcome) -> Verdict:
    if state.run.ended:
        return Verdict(
            "capture.run_ended",
            "pass",
            f"run.ended recorded ({state.run.status})",
            (state.run.ended_event_id or "",),
        )
    if state.run.status == "suspended":  # open and waiting for a person or workflow: no fault
        return Verdict(
            "capture.run_ended",
            "pass",
            "run suspended, waiting to be resumed (no run.ended yet)",
            tuple(e for e in (state.run.started_event_id,) if e),
        )
    return Verdict(
        "capture.run_ended",
        "fail",
        "no run.ended recorded",
        tuple(e for e in (state.run.started_event_id,) if e),
    )


def capture_open_calls(state: RunState, on_missing: Outcome) -> Verdict:
    open_tools = [c.started_event_id for c in state.tool_calls if c.open]
    open_llm = [c.started_event_id for c in state.llm_calls if c.ended_event_id is None]
    if open_tools or open_llm:
        return Verdict(
            "capture.open_calls",
            "fail",
            f"{len(open_tools)} tool call(s) and {len(open_llm)} LLM call(s) never ended",
            tuple(e for e in open_tools + open_llm if e),
        )
    return Verdict("capture.open_calls", "pass", "every started call ended")


def capture_gaps(state: RunState, on_missing: Outcome) -> Verdict:
    if state.gaps:
        return Verdict(
            "capture.gaps",
            "fail",
            f"{len(state.gaps)} gap(s): {state.gaps[0].reason}",
            tuple(g.event_id for g in state.gaps if g.event_id),
        )
    return Verdict("capture.gaps", "pass", "no gaps: run_seq contiguous, no ledger.gap")
