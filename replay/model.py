"""The `RunState` data model: what a run looked like, folded from its events.

These are frozen, slotted dataclasses rather than pydantic models on purpose: replay runs over
hundreds of thousands of already-validated events per second, and re-validating every derived
record would dominate the cost. The events themselves were validated when they were decoded.
`to_jsonable` gives one deterministic JSON form (used by `ledger replay --json` and the tests).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from replay.authority import RunAuthority
    from replay.identity import RunIdentity

__all__ = [
    "ApprovalRecord",
    "GapRecord",
    "LlmCallRecord",
    "MessageRecord",
    "PolicyDecidedRecord",
    "PromptRecord",
    "RunInfo",
    "RunState",
    "RunTotals",
    "TimelineEntry",
    "ToolCallRecord",
    "VersionsInForce",
    "to_jsonable",
]

_FROZEN = {"frozen": True, "slots": True}


def _hidden(default: Any) -> Any:
    """A fact policy reads that is not part of the state's value or its JSON (so adding it
    changes no stored digest or golden output)."""
    return dataclasses.field(default=default, compare=False, repr=False,
                             metadata={"json": False})


def _record_time() -> Any:
    """A sequencer `recorded_at` in ns, kept beside a writer time so the time rules can bound
    it (replay.policy.timebounds); None when folded without the record. Not part of the
    state's value or its JSON (`ledger replay --json` shows recorded_at on the timeline)."""
    return dataclasses.field(default=None, compare=False, repr=False, metadata={"json": False})


@dataclasses.dataclass(**_FROZEN)
class TimelineEntry:
    """One event in order, with both clocks: when it happened and when the ledger recorded it."""

    seq: int
    run_seq: int
    event_id: str
    type: str
    occurred_at: str
    occurred_ns: int
    recorded_at: str | None
    summary: str


@dataclasses.dataclass(**_FROZEN)
class ToolCallRecord:
    """One attempt of a tool call: intent (start) paired with its outcome (end), if any."""

    tool_call_id: str
    tool: str
    attempt: int
    args: Any
    args_hash: str
    side_effect: bool
    tool_version: str | None
    contract_digest: str | None
    started_event_id: str
    started_seq: int
    started_ns: int
    ended_event_id: str | None = None
    ended_seq: int | None = None
    ended_ns: int | None = None
    status: str | None = None
    result: Any = None
    error: str | None = None
    duration_ns: int | None = None
    started_rec_ns: int | None = _record_time()
    ended_rec_ns: int | None = _record_time()

    @property
    def open(self) -> bool:
        """True when the call started but no end was recorded."""
        return self.ended_event_id is None


@dataclasses.dataclass(**_FROZEN)
class LlmCallRecord:
    """One model call with usage and cost as recorded (None means not reported)."""

    call_id: str
    started_event_id: str | None
    ended_event_id: str | None
    started_seq: int
    provider: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: str | None = None
    price_table_version: str | None = None
    duration_ns: int | None = None
    finish_reason: str | None = None
    error: str | None = None


@dataclasses.dataclass(**_FROZEN)
class ApprovalRecord:
    """An approval request and its decision: who, when, and for exactly which call and args."""

    approval_id: str
    tool_call_id: str
    tool: str | None
    args_hash: str
    requested_event_id: str | None = None
    requested_seq: int | None = None
    requested_ns: int | None = None
    required_roles: tuple[str, ...] = ()
    amount_usd: str | None = None
    decision: str | None = None
    decided_event_id: str | None = None
    decided_seq: int | None = None
    decided_ns: int | None = None
    decided_args_hash: str | None = None
    edited_args_hash: str | None = None
    approver_id: str | None = None
    approver_roles: tuple[str, ...] = ()
    reason: str | None = None
    decided_run_id: str | None = None  # set when the decision was recorded in another run
    # What a signed approval carries (ledger.authority.approvals); judged against the registry
    # in force, never trusted on their own.
    signature: str | None = None
    signing_key: str | None = None
    signed_tool: str | None = None
    call_run_id: str | None = None
    expires_at: str | None = None
    registry_hash: str | None = None
    decided_rec_ns: int | None = _record_time()
    # the decision came from an import (`trust: imported`): a copy, not witnessed live
    imported: bool = _hidden(False)


@dataclasses.dataclass(**_FROZEN)
class MessageRecord:
    """Content that entered (input) or left (output) the agent, with its trust label."""

    event_id: str
    seq: int
    direction: Literal["input", "output"]
    role: str
    content: str
    trust: str
    origin: str | None
    occurred_ns: int


@dataclasses.dataclass(**_FROZEN)
class PolicyDecidedRecord:
    """A pre-call decision as recorded (policy.decided), judged by replay.policy.enforcement."""

    event_id: str
    seq: int
    run_seq: int
    data: Any  # the validated PolicyDecidedData model
    occurred_ns: int | None = None  # the decision's own time (elapsed_seconds is checked on it)
    model: str | None = None  # versions.model in force at the decision (its CEL facts)


@dataclasses.dataclass(**_FROZEN)
class PromptRecord:
    """A prompt template resolved to a version during the run."""

    event_id: str
    name: str
    version: str
    template_hash: str


@dataclasses.dataclass(**_FROZEN)
class GapRecord:
    """Lost events: an explicit `ledger.gap` event or a hole in the run_seq sequence."""

    event_id: str | None
    reason: str
    missing_events: int | None
    from_run_seq: int | None


@dataclasses.dataclass(**_FROZEN)
class VersionsInForce:
    """The latest versions seen, plus every distinct value seen during the run."""

    prompt_version: str | None = None
    model: str | None = None
    policy_hash: str | None = None
    tool_contract_digest: str | None = None
    prompt_versions_seen: tuple[str, ...] = ()
    models_seen: tuple[str, ...] = ()
    policy_hashes_seen: tuple[str, ...] = ()
    tool_contract_digests_seen: tuple[str, ...] = ()


@dataclasses.dataclass(**_FROZEN)
class RunTotals:
    """Totals recomputed from the events (never trusted from run.ended alone)."""

    events: int = 0
    llm_calls: int = 0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_usd: str = "0"
    llm_calls_without_usage: int = 0
    llm_calls_without_cost: int = 0


@dataclasses.dataclass(**_FROZEN)
class RunInfo:
    """Run-level facts: identity, principal, start/end, status."""

    run_id: str | None = None
    tenant: str | None = None
    agent: str | None = None
    initiating_user: str | None = None
    roles: tuple[str, ...] = ()
    task: str | None = None
    started_event_id: str | None = None
    started_ns: int | None = None
    ended_event_id: str | None = None
    ended_ns: int | None = None
    status: str | None = None
    declared_event_count: int | None = None
    first_ns: int | None = None
    last_ns: int | None = None
    started_rec_ns: int | None = _record_time()
    ended_rec_ns: int | None = _record_time()
    last_event_id: str | None = _record_time()
    last_rec_ns: int | None = _record_time()
    # the agent's version from the first event (pack scope, pre-call CEL facts); not in JSON
    agent_version: str | None = _record_time()
    # some event of the run is `trust: imported` (policy: `run.imported`); not in JSON
    imported: bool = _hidden(False)

    @property
    def ended(self) -> bool:
        """True when a run.ended event was folded."""
        return self.ended_event_id is not None


@dataclasses.dataclass(**_FROZEN)
class RunState:
    """Everything replay knows about one run as of `at_seq` (inclusive)."""

    run: RunInfo
    at_seq: int | None
    timeline: tuple[TimelineEntry, ...]
    tool_calls: tuple[ToolCallRecord, ...]
    llm_calls: tuple[LlmCallRecord, ...]
    approvals: tuple[ApprovalRecord, ...]
    messages: tuple[MessageRecord, ...]
    prompts: tuple[PromptRecord, ...]
    gaps: tuple[GapRecord, ...]
    versions: VersionsInForce
    totals: RunTotals
    open_tool_calls: tuple[str, ...]
    open_llm_calls: tuple[str, ...]
    # Who judges this run's approvals (the log's registry history); None when folded without a
    # database (then every who-check is unknown). Not part of the state's value or its JSON.
    authority: RunAuthority | None = dataclasses.field(
        default=None, compare=False, repr=False, metadata={"json": False}
    )
    # Who the run acted for (replay.identity): verified from a recorded token, or asserted.
    identity: RunIdentity | None = dataclasses.field(
        default=None, compare=False, repr=False, metadata={"json": False}
    )
    # policy.decided events in run order (issue 16); not in the JSON form (shown on the timeline)
    decided: tuple[PolicyDecidedRecord, ...] = dataclasses.field(
        default=(), compare=False, repr=False, metadata={"json": False}
    )

    @property
    def complete(self) -> bool:
        """True when the capture looks whole: ended, nothing open, no gaps."""
        return (
            self.run.ended
            and not self.open_tool_calls
            and not self.open_llm_calls
            and not self.gaps
        )


def to_jsonable(value: Any) -> Any:
    """Deterministic JSON-ready form of a RunState (or any part of it)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.metadata.get("json", True)
        }
    if isinstance(value, tuple | list):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
