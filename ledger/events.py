"""The typed event model: one frozen pydantic v2 model per event type (DESIGN §3).

Every event is an envelope (identity, run chain, time, principal, agent, correlation, source,
trust, versions in force) plus a type-specific `data` object and, for integrations, the raw
source payload with its schema tag so nothing is lost in translation.

The JSON form of an event is exactly `Event.model_dump(mode="json", exclude_none=True)`; its
RFC 8785 canonical bytes are what the ledger stores and hashes (see docs/events.md). Money is a
decimal string, never a float, so hashed content does not depend on float formatting.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import ConfigDict, Field, TypeAdapter, field_validator

from ledger import ids
from ledger.canonical import canonical_bytes, content_hash, ensure_storable
from ledger.event_data import (  # re-exported (see __all__): the payload models
    SCHEMA_VERSION,
    AnnotationData,
    ApprovalDecidedData,
    ApprovalRequestedData,
    Approver,
    Cost,
    CustomData,
    Decimal,
    ErrorInfo,
    ErrorRaisedData,
    ExportData,
    Frozen,
    GapData,
    GuardrailData,
    Hash,
    Json,
    KeyData,
    LlmCallEndedData,
    LlmCallStartedData,
    MessageData,
    Name,
    PolicyPublishedData,
    PromptResolvedData,
    ProposedToolCall,
    RedactionData,
    RegistryPublishedData,
    RegistrySignatureData,
    RunEndedData,
    RunStartedData,
    StopRef,
    ToolCallEndedData,
    ToolCallStartedData,
    Totals,
    UndoData,
    Usage,
)
from ledger.event_exercise import (  # re-exported too: the tabletop exercise record
    ExerciseAnsweredData,
    ExerciseDiscussedData,
    ExerciseEndedData,
    ExerciseFindingData,
    ExerciseInjectData,
    ExerciseRatedData,
    ExerciseStartedData,
)
from ledger.event_gate import GateResultData  # re-exported too: the release-gate record
from ledger.event_live import (  # re-exported too: the live-control payloads
    DecidedRule,
    DecisionApproval,
    DecisionBasis,
    PolicyDecidedData,
    StopData,
    StopLiftedData,
)
from ledger.event_monitor import MonitorAlertData
from ledger.event_partition import PartitionCreatedData, PartitionDetachedData
from ledger.event_retention import (  # re-exported too: retention, legal holds, archives
    ArchiveRecordedData,
    HoldAddedData,
    HoldReleasedData,
    RetentionRuleData,
)
from ledger.event_runs import RunResumedData, RunSuspendedData  # re-exported: run continuity
from ledger.merkle import leaf_hash

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "TENANT_PATTERN",
    "AnnotationData",
    "ApprovalDecidedData",
    "ApprovalRequestedData",
    "Approver",
    "ArchiveRecordedData",
    "Cost",
    "CustomData",
    "DecidedRule",
    "Decimal",
    "DecisionApproval",
    "DecisionBasis",
    "ErrorInfo",
    "ErrorRaisedData",
    "Event",
    "EventBase",
    "ExerciseAnsweredData",
    "ExerciseDiscussedData",
    "ExerciseEndedData",
    "ExerciseFindingData",
    "ExerciseInjectData",
    "ExerciseRatedData",
    "ExerciseStartedData",
    "ExportData",
    "Frozen",
    "GapData",
    "GateResultData",
    "GuardrailData",
    "Hash",
    "HoldAddedData",
    "HoldReleasedData",
    "Json",
    "KeyData",
    "LlmCallEndedData",
    "LlmCallStartedData",
    "MessageData",
    "Name",
    "PolicyDecidedData",
    "PolicyPublishedData",
    "PromptResolvedData",
    "ProposedToolCall",
    "RedactionData",
    "RegistryPublishedData",
    "RegistrySignatureData",
    "RetentionRuleData",
    "RunEndedData",
    "RunResumedData",
    "RunStartedData",
    "RunSuspendedData",
    "StopData",
    "StopLiftedData",
    "StopRef",
    "ToolCallEndedData",
    "ToolCallStartedData",
    "Totals",
    "UndoData",
    "Usage",
    "decode_event",
    "encode_event",
    "event_adapter",
    "leaf_hash",
]

# ----------------------------------------------------------------------------- envelope parts
class Principal(Frozen):
    """Who the run acts for: the initiating user, their roles, and any delegation."""

    initiating_user: str | None = None
    roles: tuple[str, ...] = ()
    on_behalf_of: str | None = None


class AgentRef(Frozen):
    """The agent program that produced the event."""

    name: Name
    version: str | None = None


class Correlation(Frozen):
    """Links to traces, conversations and the event that caused this one."""

    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    conversation_id: str | None = None
    caused_by: uuid.UUID | None = None
    thread_id: str | None = None  # a LangGraph thread, an Agents SDK conversation/group
    workflow_id: str | None = None  # Temporal
    workflow_run_id: str | None = None


class Source(Frozen):
    """Which framework and integration wrote the event, and the schema of its raw payload."""

    framework: str = "python"
    integration: str = "native"
    schema_: str = Field(default=f"agent-ledger/{SCHEMA_VERSION}", alias="schema")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Versions(Frozen):
    """The prompt, model, policy and tool-contract versions in force when the event happened."""

    prompt_version: str | None = None
    model: str | None = None
    policy_hash: str | None = None
    tool_contract_digest: str | None = None


class Raw(Frozen):
    """The untouched source payload of an integration, tagged with its schema."""

    schema_: str = Field(alias="schema")
    payload: Json

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


TENANT_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
"""What a tenant name may be: it becomes the last part of its log's origin (one line, no '/')."""


class EventBase(Frozen):
    """Fields shared by every event type (the envelope)."""

    type: str
    schema_version: Literal[1] = 1
    event_id: uuid.UUID = Field(default_factory=ids.new_id)
    run_id: uuid.UUID
    run_seq: int = Field(ge=0)
    prev_run_hash: Hash | None = None
    occurred_at: str = Field(default_factory=lambda: ids.format_timestamp(ids.now_ns()))
    mono_ns: int | None = None
    tenant: Annotated[str, Field(pattern=TENANT_PATTERN)] = "default"
    environment: str | None = None
    principal: Principal = Principal()
    agent: AgentRef | None = None
    correlation: Correlation = Correlation()
    source: Source = Source()
    trust: Literal["live", "imported"] = "live"
    versions: Versions = Versions()
    raw: Raw | None = None
    data: Any = None  # each event type narrows this to its own data model

    type_name: ClassVar[str] = ""

    @field_validator("occurred_at")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        try:
            return ids.format_timestamp(ids.parse_timestamp(value))
        except (ValueError, OverflowError):
            raise ValueError("occurred_at must be an RFC 3339 timestamp with a timezone") from None

    def occurred_ns(self) -> int:
        """`occurred_at` as integer nanoseconds since the epoch."""
        return ids.parse_timestamp(self.occurred_at)


# ----------------------------------------------------------------------------- event types
def _event(type_name: str, data_model: type[Frozen], doc: str) -> type[EventBase]:
    cls = type(
        "".join(part.capitalize() for part in type_name.replace(".", "_").split("_")),
        (EventBase,),
        {
            "__annotations__": {"type": Literal[type_name], "data": data_model},
            "type": type_name,
            "__doc__": doc,
            "__module__": __name__,
            "type_name": type_name,
        },
    )
    return cls


_SPECS: list[tuple[str, type[Frozen], str]] = [
    ("run.started", RunStartedData, "A run began; carries identity and versions in force."),
    ("run.ended", RunEndedData, "A run finished; commits to its event count and last hash."),
    ("message.input", MessageData, "Content that entered the agent (user, email, web page)."),
    ("message.output", MessageData, "Content the agent produced for a person or system."),
    ("prompt.resolved", PromptResolvedData, "A prompt template resolved to a version."),
    ("llm.call.started", LlmCallStartedData, "A request to a model."),
    ("llm.call.ended", LlmCallEndedData, "A model response with usage, cost, proposed calls."),
    ("tool.call.started", ToolCallStartedData, "Intent: recorded before the tool runs."),
    ("tool.call.ended", ToolCallEndedData, "Outcome of a tool call."),
    ("approval.requested", ApprovalRequestedData, "Approval asked for an exact tool call."),
    ("approval.decided", ApprovalDecidedData, "Approval decision bound to tool_call_id+args_hash."),
    ("guardrail.evaluated", GuardrailData, "A guardrail verdict observed at run time."),
    ("policy.decided", PolicyDecidedData, "A pre-call policy decision, before the tool runs."),
    ("error.raised", ErrorRaisedData, "An error in the agent outside a tool call."),
    ("custom", CustomData, "Anything else, named."),
    ("policy.published", PolicyPublishedData, "A policy pack published to the ledger."),
    ("registry.published", RegistryPublishedData, "A signed principal registry version."),
    ("key.announced", KeyData, "A key added to the key ring."),
    ("key.rotated", KeyData, "The log key rotated, endorsed by the old key."),
    ("key.revoked", KeyData, "A key marked compromised from a tree size onward."),
    ("redaction", RedactionData, "A subject's sensitive content was erased (key shredded)."),
    ("undo.plan.created", UndoData, "An undo plan was generated."),
    ("undo.plan.approved", UndoData, "An undo plan digest was approved."),
    ("undo.step.started", UndoData, "A compensation step began."),
    ("undo.step.ended", UndoData, "A compensation step finished."),
    ("annotation", AnnotationData, "A note, bookmark or tag added by an investigator."),
    ("ledger.gap", GapData, "Events were lost; records how many and why."),
    ("export.created", ExportData, "An evidence bundle was exported."),
    ("run.stop.requested", StopData, "Someone asked for a run (or a scope) to be stopped."),
    ("run.stop.lifted", StopLiftedData, "Stops of one target lifted (`ledger resume`)."),
    ("run.suspended", RunSuspendedData, "A run paused, still open (interrupt, approval)."),
    ("run.resumed", RunResumedData, "A suspended run goes on, in this or another process."),
    ("exercise.started", ExerciseStartedData, "A tabletop exercise began (file, players)."),
    ("exercise.inject_released", ExerciseInjectData, "An exercise inject was released."),
    ("exercise.answered", ExerciseAnsweredData, "A milestone question answered: timer stops."),
    ("exercise.rated", ExerciseRatedData, "An exercise objective rated P / S / M / U."),
    ("exercise.discussed", ExerciseDiscussedData, "An answer to a discussion question."),
    ("exercise.finding", ExerciseFindingData, "A strength, area for improvement or action."),
    ("exercise.ended", ExerciseEndedData, "The facilitator ended the exercise."),
    ("gate.result", GateResultData, "A release-gate result: suite, versions, task outcomes."),
    ("monitor.alert", MonitorAlertData, "The continuous verifier found a log tampered."),
    ("partition.created", PartitionCreatedData, "A tenant got a partition of its own."),
    ("partition.detached", PartitionDetachedData, "A tenant or seq range was detached."),
    ("retention.rule", RetentionRuleData, "Keep a tenant's events of a class for a duration."),
    ("hold.added", HoldAddedData, "A legal hold on a tenant, run or subject (blocks erasure)."),
    ("hold.released", HoldReleasedData, "A legal hold no longer applies."),
    ("archive.recorded", ArchiveRecordedData, "A seq range left the database, verified."),
]

EVENT_CLASSES: dict[str, type[EventBase]] = {t: _event(t, m, d) for t, m, d in _SPECS}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_CLASSES)
DATA_MODELS: dict[str, type[Frozen]] = {t: m for t, m, _ in _SPECS}


def _discriminated_union() -> Any:
    """`Annotated[Union[every event class], discriminator]`, built from the registry above."""
    return Annotated[Union[tuple(EVENT_CLASSES.values())], Field(discriminator="type")]  # noqa: UP007


Event: Any = _discriminated_union()

# Built on first use, not at import (as every model, event_data.Frozen): a read command that
# never validates an event does not pay for the schemas.
event_adapter: TypeAdapter[EventBase] = TypeAdapter(Event, config=ConfigDict(defer_build=True))


def make_event(type_name: str, **fields: Any) -> EventBase:
    """Build an event of `type_name`; `data` may be a dict or the data model."""
    try:
        cls = EVENT_CLASSES[type_name]
    except KeyError:
        raise ValueError(f"unknown event type {type_name!r}") from None
    return cls.model_validate({"type": type_name, **fields})


def to_json(event: EventBase) -> dict[str, Any]:
    """The documented JSON form of an event (the input to canonicalisation)."""
    return event.model_dump(mode="json", exclude_none=True, by_alias=True)


def encode_event(event: EventBase) -> bytes:
    """Canonical RFC 8785 bytes of an event: exactly what is stored and hashed.

    Refuses (CanonicalError) an event PostgreSQL could not hold in text/jsonb, so no writer can
    submit one that would stop the sequencer.
    """
    body = canonical_bytes(to_json(event))
    ensure_storable(body)
    return body


def decode_event(body: bytes | dict[str, Any]) -> EventBase:
    """Parse canonical bytes (or an already-parsed dict) back into a typed event."""
    if isinstance(body, bytes | bytearray | memoryview):
        return event_adapter.validate_json(bytes(body))
    return event_adapter.validate_python(body)


def args_hash(args: Any) -> str:
    """Hex SHA-256 of the canonical bytes of tool arguments (binds approvals to exact args)."""
    return content_hash(args)
