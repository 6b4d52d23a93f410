"""The `data` of each event type, and the base the event models share (DESIGN §3).

Its own module so `ledger.events` holds the envelope and the type registry while the payload
models (one per event type, plus their parts) live together here. `ledger.events` re-exports
every name, so `from ledger.events import ApprovalDecidedData` keeps working.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)

__all__ = [
    "MAX_ARGS_SCHEMA_BYTES",
    "SCHEMA_VERSION",
    "Amount",
    "AnnotationData",
    "ApprovalDecidedData",
    "ApprovalRequestedData",
    "Approver",
    "Cost",
    "CustomData",
    "Decimal",
    "ErrorInfo",
    "ErrorRaisedData",
    "ExportData",
    "Frozen",
    "GapData",
    "GuardrailData",
    "Hash",
    "Json",
    "KeyData",
    "LlmCallEndedData",
    "LlmCallStartedData",
    "MessageData",
    "Name",
    "PolicyPublishedData",
    "PromptResolvedData",
    "ProposedToolCall",
    "RedactionData",
    "RegistryPublishedData",
    "RegistrySignatureData",
    "RunEndedData",
    "RunStartedData",
    "StopRef",
    "ToolCallEndedData",
    "ToolCallStartedData",
    "Totals",
    "UndoData",
    "Usage",
]

SCHEMA_VERSION = 1
Decimal = Annotated[str, Field(pattern=r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")]
# a cost: never negative (a negative cost would offset real spend in every budget)
Amount = Annotated[str, Field(pattern=r"^(0|[1-9][0-9]*)(\.[0-9]+)?$")]
Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Json = JsonValue
# the largest tool argument schema a tool.call.started event carries (canonical JSON bytes)
MAX_ARGS_SCHEMA_BYTES = 65536
Name = Annotated[str, Field(min_length=1, max_length=512)]
# a token count: a JSON integer >= 0; "812", 8.0 and true are refused, never coerced (a
# provider's int-like is converted explicitly where it enters, Run.llm_ended)
Tokens = Annotated[int, Field(ge=0, strict=True)]


class Frozen(BaseModel):
    """Base for every model: immutable, strict about unknown keys.

    `defer_build`: a model's validator is built the first time it validates, not at import;
    importing the ~80 event models cost every command (even a read) a third of its start-up.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, defer_build=True)


class Usage(Frozen):
    """Token usage of one LLM call, as reported by the provider."""

    input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None
    total_tokens: Tokens | None = None


class Cost(Frozen):
    """Cost in USD (decimal string) and the price table that produced it."""

    # a stored cost is the writer's word: replay counts a negative one as unknown (never a
    # credit against a budget); the model keeps accepting it so old records still decode
    amount_usd: Decimal
    price_table_version: str


class ProposedToolCall(Frozen):
    """A tool call the model proposed in its response."""

    tool_call_id: str | None = None
    name: str
    args: Json = None


class Totals(Frozen):
    """Run totals committed by run.ended."""

    llm_calls: Tokens = 0
    tool_calls: Tokens = 0
    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
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
    implicit: bool | None = None  # opened by a hook for a tool called outside any run


class StopRef(Frozen):
    """Which stop ended a run (issue 16): the stop event and what it said, copied so a reader
    of `run.ended` needs no second lookup to say who stopped the run and why."""

    target: str
    requested_by: str
    reason: str = ""
    stop_event_id: uuid.UUID | None = None
    authority: str | None = None


class RunEndedData(Frozen):
    status: Literal["succeeded", "failed", "cancelled", "stopped", "abandoned"] = "succeeded"
    event_count: int = Field(ge=1)
    last_hash: Hash | None = None
    totals: Totals = Totals()
    error: ErrorInfo | None = None
    stopped_by: StopRef | None = None

    @field_validator("stopped_by", mode="wrap")
    @classmethod
    def _claim_or_none(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> StopRef | None:
        """`stopped_by` is the agent's own claim (replay.stopped confirms it against the stops
        recorded): a malformed one is no claim, and must not make the whole run unreadable."""
        try:
            return cast("StopRef | None", handler(value))
        except ValidationError:
            return None


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
    # The tool's argument JSON Schema (docs/hooks.md "Tool schemas"): its digest (SHA-256 of
    # the schema's canonical JSON) on every call, the schema itself only on the first call of
    # that digest in the run, so a run of 1,000 calls carries each schema once. Not checked
    # here (a scrubbed or shrunk event must not become a gap): replay/toolvalid.py re-hashes
    # every recorded schema and refuses one that does not match its digest or is too big.
    args_schema_digest: Hash | None = None
    args_schema: dict[str, Json] | None = None


class ToolCallEndedData(Frozen):
    tool_call_id: str
    tool: str
    status: Literal["ok", "error", "cancelled", "refused"]  # refused: a stop/denial (issue 16)
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


class SignedRecord(Frozen):
    """The authority fields an operator record signed over its claim carries (ledger.gate_claim):
    `registry` when signed by the service_key of the registry in force, `asserted` otherwise
    (retention, partition and monitor records; gate results carry the same fields)."""

    recorded_by: Name
    authority: Literal["registry", "asserted"] | None = None
    registry_hash: str | None = None
    authority_reason: str | None = None
    signature: str | None = None
    signing_key: str | None = None
    issued_at: str | None = None
