"""Whose clock: writer times used by the time rules only inside the bounds the record allows.

`occurred_at` is the writer's word: a hostile agent host can date an approval in 2030 (a
negative age passes `max_age_seconds`) or end a run before it started (no timeout can fire).
The sequencer's `recorded_at` and the log order (`seq`) are the authority. A writer time is
usable only inside [the run's start, the event's own `recorded_at` + skew]: nothing in a run
happens before it starts, and nothing is recorded before it happens (the skew absorbs honest
clock drift between the agent host and the database; `defaults.clock_skew_seconds`, 5 s unless
the pack says otherwise). Nor is an event recorded long after it happened: the hooks hand events
to the sequencer within a second (embedded mode sequences every 0.2 s, `ledger serve` within
ms), so a writer time more than `defaults.max_record_lag_seconds` (60 s) before the event's own
`recorded_at` is a back-dated time (a stale approval refreshed by dating the call just after
it) or an honest outage spooled for later; either way it cannot be trusted. Outside those
bounds the rules that need the time are undecidable and say why, naming the event and the
bound; they never pass.

A state folded without the record (in memory: tests, benchmarks) has no `recorded_at`; then only
the run-start bound and the order checks apply. Every read from the database carries it.
Everything here is pure arithmetic on already-folded records, so the checks stay cheap.
"""

from __future__ import annotations

from ledger.ids import format_timestamp
from replay.model import ApprovalRecord, RunState, ToolCallRecord

__all__ = [
    "DEFAULT_LAG_SECONDS",
    "DEFAULT_SKEW_NS",
    "DEFAULT_SKEW_SECONDS",
    "Bounds",
    "Timed",
    "approval_age",
    "call_duration",
    "open_since",
    "outside",
    "run_duration",
]

DEFAULT_SKEW_SECONDS = 5.0
_NS = 1_000_000_000
DEFAULT_SKEW_NS = int(DEFAULT_SKEW_SECONDS * _NS)
DEFAULT_LAG_SECONDS = 60.0


class Bounds(int):
    """The skew in nanoseconds (an int, as every check passes it on), carrying the pack's
    largest record lag too: the checks' signatures stay as they are and only this module reads
    `lag_ns` (None: no lower bound from the record, a plain int skew behaves so)."""

    lag_ns: int | None

    def __new__(cls, skew_ns: int, lag_ns: int | None) -> Bounds:
        made = super().__new__(cls, skew_ns)
        made.lag_ns = lag_ns
        return made


def _lag(skew_ns: int) -> int | None:
    return skew_ns.lag_ns if isinstance(skew_ns, Bounds) else None

# (nanoseconds, None) when the writer times are usable; (None, reason) when they are not.
Timed = tuple[int | None, str | None]


def _floor(state: RunState) -> int | None:
    """The run's start: its run.started, else its first event (nothing of it happens before)."""
    run = state.run
    return run.started_ns if run.started_ns is not None else run.first_ns


# What an event is, for a reason: a name, or (event type, tool call) named only when needed
# (the checks call `outside` for every call; building names eagerly doubled their cost).
What = str | tuple[str, ToolCallRecord]


def _named(what: What) -> str:
    if isinstance(what, str):
        return what
    kind, call = what
    return f"{kind} of {call.tool} ({call.tool_call_id})"


def outside(  # noqa: PLR0917 - one event's facts, in a fixed order
    what: What,
    event_id: str | None,
    occurred_ns: int,
    recorded_ns: int | None,
    floor_ns: int | None,
    skew_ns: int,
    floor: str = "the run started",
) -> str | None:
    """Why the writer time of one event cannot be used, or None when it is inside the bounds
    (`floor` names the lower bound in the reason)."""
    if floor_ns is not None and occurred_ns < floor_ns:
        return (
            f"{_named(what)} {event_id} is dated {format_timestamp(occurred_ns)}, before {floor} "
            f"({format_timestamp(floor_ns)}); writer time outside the record's bounds"
        )
    if recorded_ns is not None and occurred_ns > recorded_ns + skew_ns:
        return (
            f"{_named(what)} {event_id} is dated {format_timestamp(occurred_ns)}, after the ledger "
            "recorded it "
            f"({format_timestamp(recorded_ns)}) + {skew_ns / _NS:g}s skew; "
            "writer time outside the record's bounds"
        )
    lag = _lag(skew_ns)
    if lag is not None and recorded_ns is not None and occurred_ns < recorded_ns - lag:
        return (
            f"{_named(what)} {event_id} is dated {format_timestamp(occurred_ns)}, more than "
            f"{lag / _NS:g}s before the ledger recorded it ({format_timestamp(recorded_ns)}); "
            "writer time outside the record's bounds"
        )
    return None


def run_duration(state: RunState, skew_ns: int) -> Timed:
    """How long the run took (to run.ended, else to its last event), from bounded times."""
    run = state.run
    start, floor = run.started_ns, _floor(state)
    if start is None:
        return None, "no run.started recorded"
    why = outside("run.started", run.started_event_id, start, run.started_rec_ns, None, skew_ns)
    if run.ended_ns is not None:
        end, what, eid, rec = run.ended_ns, "run.ended", run.ended_event_id, run.ended_rec_ns
    else:
        end, what, eid, rec = run.last_ns or start, "last event", run.last_event_id, run.last_rec_ns
    why = why or outside(what, eid, end, rec, floor, skew_ns)
    if why is not None:
        return None, why
    return end - start, None


def _near(at: int, recorded: int | None, skew_ns: int, lag: int | None) -> bool:
    """Whether a writer time is inside [recorded - lag, recorded + skew] (no record: yes)."""
    if recorded is None:
        return True
    return at <= recorded + skew_ns and (lag is None or at >= recorded - lag)


def call_duration(state: RunState, call: ToolCallRecord, skew_ns: int) -> Timed:
    """How long an ended tool call took: the writer's `duration_ns` (else end minus start), only
    when both events' times are inside the bounds and it is not negative. A reported duration
    longer than the events allow is left alone: overstating can only make the rule fail."""
    floor = _floor(state)
    start, end = call.started_ns, call.ended_ns
    start_rec, end_rec = call.started_rec_ns, call.ended_rec_ns
    lag = _lag(skew_ns)
    inside = (
        (floor is None or start >= floor)
        and _near(start, start_rec, skew_ns, lag)
        and (end is None or (end >= start and _near(end, end_rec, skew_ns, lag)))
    )  # the common case, decided without building any reason
    if not inside:
        why = outside(("tool.call.started", call), call.started_event_id, start, start_rec, floor,
                      skew_ns)
        if why is None and end is not None:
            why = outside(("tool.call.ended", call), call.ended_event_id, end, end_rec, start,
                          skew_ns, "the call started")
        return None, why
    took = call.duration_ns
    if took is None:
        return None, None
    if took < 0:
        return None, f"{call.tool} ({call.tool_call_id}) reports a negative duration"
    return took, None


def open_since(state: RunState, call: ToolCallRecord, skew_ns: int) -> Timed:
    """How long an open call has been waiting at the run's last event, from bounded times."""
    run = state.run
    floor = _floor(state)
    why = outside(("tool.call.started", call), call.started_event_id, call.started_ns,
                  call.started_rec_ns, floor, skew_ns)
    last = run.last_ns or 0
    why = why or outside("last event", run.last_event_id, last, run.last_rec_ns, call.started_ns,
                         skew_ns, "the open call started")
    return (None, why) if why is not None else (last - call.started_ns, None)


def approval_age(state: RunState, call: ToolCallRecord, a: ApprovalRecord, skew_ns: int) -> Timed:
    """The approval's age when the call started: the log order already says the decision was
    recorded before the call; its writer time must agree (age >= 0) and both times must be
    inside the bounds, else the age is not known."""
    floor = _floor(state)
    if a.decided_ns is None:
        return None, f"approval {a.approval_id} has no decision time"
    why = outside(f"approval.decided {a.approval_id}", a.decided_event_id, a.decided_ns,
                  a.decided_rec_ns, floor, skew_ns)
    why = why or outside(("tool.call.started", call), call.started_event_id, call.started_ns,
                         call.started_rec_ns, floor, skew_ns)
    if why is not None:
        return None, why
    age = call.started_ns - a.decided_ns
    if age < 0:
        return None, (
            f"approval {a.approval_id} is dated {format_timestamp(a.decided_ns)}, after the call "
            f"it approves started ({format_timestamp(call.started_ns)}), though the log "
            "recorded it before; writer times contradict the record"
        )
    return age, None
