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

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, field_validator

from ledger import ids
from ledger.canonical import canonical_bytes, content_hash, ensure_storable
from ledger.merkle import leaf_hash

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "Event",
    "EventBase",
    "decode_event",
    "encode_event",
    "event_adapter",
    "leaf_hash",
]

SCHEMA_VERSION = 1
Decimal = Annotated[str, Field(pattern=r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")]
Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Json = JsonValue
Name = Annotated[str, Field(min_length=1, max_length=512)]


class Frozen(BaseModel):
    """Base for every model: immutable, strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


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
    tenant: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")] = "default"
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


# ----------------------------------------------------------------------------- payloads
class Usage(Frozen):
    """Token usage of one LLM call, as reported by the provider."""

    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    total_tokens: int | None = Field(default=None, ge=0)


class Cost(Frozen):
    """Cost in USD (decimal string) and the price table that produced it."""

    amount_usd: Decimal
    price_table_version: str


class ProposedToolCall(Frozen):
    """A tool call the model proposed in its response."""

    tool_call_id: str | None = None
    name: str
    args: Json = None


class Totals(Frozen):
    """Run totals committed by run.ended."""

    llm_calls: int = 0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = "0"


class ErrorInfo(Frozen):
    """An exception, reduced to type and message (never a traceback with locals)."""

    type: str
    message: str = ""


class Approver(Frozen):
    """The human (or service) who decided an approval, with their roles."""

    id: str
    roles: tuple[str, ...] = ()


class RunStartedData(Frozen):
    task: str | None = None
    policy: str | None = None
    attributes: dict[str, Json] = {}


class RunEndedData(Frozen):
    status: Literal["succeeded", "failed", "cancelled", "stopped"] = "succeeded"
    event_count: int = Field(ge=1)
    last_hash: Hash | None = None
    totals: Totals = Totals()
    error: ErrorInfo | None = None


class MessageData(Frozen):
    role: str = "user"
    content: str = ""
    content_trust: Literal["trusted", "untrusted"] = "trusted"
    origin: str | None = None
    attributes: dict[str, Json] = {}


class PromptResolvedData(Frozen):
    name: str
    version: str
    template_hash: Hash
    variables: dict[str, Json] = {}


class LlmCallStartedData(Frozen):
    call_id: str
    provider: str | None = None
    request_model: str | None = None
    request: Json = None
    parameters: dict[str, Json] = {}


class LlmCallEndedData(Frozen):
    call_id: str
    response_model: str | None = None
    usage: Usage | None = None
    proposed_tool_calls: tuple[ProposedToolCall, ...] = ()
    output: Json = None
    cost: Cost | None = None
    finish_reason: str | None = None
    error: ErrorInfo | None = None
    duration_ns: int | None = Field(default=None, ge=0)


class ToolCallStartedData(Frozen):
    tool_call_id: str
    tool: str
    tool_version: str | None = None
    side_effect: bool = False
    args: Json = None
    args_hash: Hash
    contract_digest: str | None = None
    resources: tuple[str, ...] = ()
    attempt: int = Field(default=1, ge=1)


class ToolCallEndedData(Frozen):
    tool_call_id: str
    tool: str
    status: Literal["ok", "error", "cancelled"]
    result: Json = None
    result_ids: tuple[str, ...] = ()
    error: ErrorInfo | None = None
    duration_ns: int | None = Field(default=None, ge=0)
    pre_state: Json = None
    pre_state_ref: str | None = None


class ApprovalRequestedData(Frozen):
    approval_id: str
    tool_call_id: str
    tool: str
    args_hash: Hash
    args: Json = None
    reason: str | None = None
    required_roles: tuple[str, ...] = ()
    amount_usd: Decimal | None = None


class ApprovalDecidedData(Frozen):
    approval_id: str
    tool_call_id: str
    args_hash: Hash
    decision: Literal["approved", "rejected", "edited"]
    approver: Approver
    edited_args: Json = None
    edited_args_hash: Hash | None = None
    reason: str | None = None
    signature: str | None = None
    # Signed approvals (ledger.authority.approvals): what the signature binds beyond the above.
    tool: str | None = None
    call_run_id: uuid.UUID | None = None
    expires_at: str | None = None
    registry_hash: Hash | None = None
    signing_key: str | None = None


class GuardrailData(Frozen):
    name: str
    verdict: Literal["pass", "fail", "warn", "unknown"]
    rule: str | None = None
    details: dict[str, Json] = {}


class ErrorRaisedData(Frozen):
    error: ErrorInfo
    where: str | None = None


class CustomData(Frozen):
    name: str
    attributes: dict[str, Json] = {}


class PolicyPublishedData(Frozen):
    policy_hash: Hash
    name: str
    version: str
    document: Json


class RegistrySignatureData(Frozen):
    """An administrator signature over a registry's content address (ledger.authority.signed)."""

    key_name: str
    key_id: str
    signature: str


class RegistryPublishedData(Frozen):
    """A principal registry version; judged only if an administrator key of the trust root signed
    the SHA-256 of `document` (the `registry_hash` field is a label, always recomputed)."""

    registry_hash: Hash
    name: str
    version: int = Field(ge=1)
    document: dict[str, Json]
    signatures: tuple[RegistrySignatureData, ...] = ()


class KeyData(Frozen):
    """Key ring change: a key announced, rotated in, or revoked, with validity by tree size."""

    key_name: str
    key_id: str
    vkey: str
    kind: Literal["log", "witness", "approver"] = "log"
    valid_from_size: int | None = Field(default=None, ge=0)
    valid_to_size: int | None = Field(default=None, ge=0)
    reason: str | None = None
    endorsement: str | None = None


class RedactionData(Frozen):
    subject: str
    reason: str
    commitments: tuple[str, ...] = ()
    authorised_by: str | None = None
    signature: str | None = None


class UndoData(Frozen):
    """Undo plan lifecycle: plan created/approved, step started/ended (DESIGN §8)."""

    plan_digest: str
    step_id: str | None = None
    compensates: uuid.UUID | None = None
    tool_call_id: str | None = None
    operation: str | None = None
    status: str | None = None
    approver: Approver | None = None
    details: dict[str, Json] = {}


class AnnotationData(Frozen):
    target_event_id: uuid.UUID | None = None
    target_run_id: uuid.UUID | None = None
    kind: Literal["note", "bookmark", "tag"] = "note"
    text: str = ""
    tags: tuple[str, ...] = ()
    author: str | None = None


class GapData(Frozen):
    reason: str
    missing_events: int | None = Field(default=None, ge=0)
    from_run_seq: int | None = None
    details: dict[str, Json] = {}


class ExportData(Frozen):
    manifest_digest: Hash
    parameters: dict[str, Json] = {}
    exported_by: str | None = None


class StopData(Frozen):
    """A stop request, and the authority it was recorded under (issue 14).

    `authority` is `registry` when the registry in force granted the requester a `stop` scope
    (`scope`, `registry_hash`, `authorised: true`), `asserted` when there was no trust root or
    no registry to judge by (`authority_reason` says which): a stop is never blocked by missing
    configuration, but an asserted one is labelled as such. Absent on stops recorded before."""

    requested_by: str
    reason: str = ""
    target_tool_call_id: str | None = None
    authority: Literal["registry", "asserted"] | None = None
    authorised: bool | None = None
    registry_hash: str | None = None
    scope: str | None = None
    authority_reason: str | None = None


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
    ("run.stop.requested", StopData, "Someone asked for a run to be stopped."),
]

EVENT_CLASSES: dict[str, type[EventBase]] = {t: _event(t, m, d) for t, m, d in _SPECS}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_CLASSES)
DATA_MODELS: dict[str, type[Frozen]] = {t: m for t, m, _ in _SPECS}


def _discriminated_union() -> Any:
    """`Annotated[Union[every event class], discriminator]`, built from the registry above."""
    return Annotated[Union[tuple(EVENT_CLASSES.values())], Field(discriminator="type")]  # noqa: UP007


Event: Any = _discriminated_union()

event_adapter: TypeAdapter[EventBase] = TypeAdapter(Event)


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
