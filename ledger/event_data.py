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
    "SCHEMA_VERSION",
    "AnnotationData",
    "ApprovalDecidedData",
    "ApprovalRequestedData",
    "Approver",
    "Cost",
    "CustomData",
    "DecidedRule",
    "Decimal",
    "DecisionApproval",
    "DecisionBasis",
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
    "PolicyDecidedData",
    "PolicyPublishedData",
    "PromptResolvedData",
    "ProposedToolCall",
    "RedactionData",
    "RegistryPublishedData",
    "RegistrySignatureData",
    "RunEndedData",
    "RunStartedData",
    "StopData",
    "StopLiftedData",
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
Name = Annotated[str, Field(min_length=1, max_length=512)]


class Frozen(BaseModel):
    """Base for every model: immutable, strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class Usage(Frozen):
    """Token usage of one LLM call, as reported by the provider."""

    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    total_tokens: int | None = Field(default=None, ge=0)


class Cost(Frozen):
    """Cost in USD (decimal string) and the price table that produced it."""

    amount_usd: Amount
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


class StopRef(Frozen):
    """Which stop ended a run (issue 16): the stop event and what it said, copied so a reader
    of `run.ended` needs no second lookup to say who stopped the run and why."""

    target: str
    requested_by: str
    reason: str = ""
    stop_event_id: uuid.UUID | None = None
    authority: str | None = None


class RunEndedData(Frozen):
    status: Literal["succeeded", "failed", "cancelled", "stopped"] = "succeeded"
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


class DecidedRule(Frozen):
    """One rule that objected to a proposed call, and under which mode it was evaluated."""

    id: str
    outcome: Literal["deny", "require_approval"]
    reason: str
    mode: Literal["enforce", "shadow"] = "enforce"


class DecisionApproval(Frozen):
    """The approval the decision relied on (granted for this tool_call_id and args_hash)."""

    approval_id: str
    decided_event_id: uuid.UUID | None = None
    approver: str | None = None
    roles: tuple[str, ...] = ()
    signed: bool = False


class DecisionBasis(Frozen):
    """What the in-process decision knew before the call: replay re-evaluates from it and checks
    that the record before the decision shows no more than this (replay.policy.enforcement)."""

    tool_calls: int = Field(default=0, ge=0)
    tool_calls_of_tool: int = Field(default=0, ge=0)
    identical_calls: int = Field(default=0, ge=0)
    cost_usd: Amount = "0"
    total_tokens: int = Field(default=0, ge=0)
    unknown_cost_calls: int = Field(default=0, ge=0)
    elapsed_seconds: float = Field(default=0.0, ge=0)
    untrusted_input: bool = False
    approval: DecisionApproval | None = None


class PolicyDecidedData(Frozen):
    """A pre-call policy decision (replay.policy.precall), recorded before the tool body runs.

    `decision` is what the hooks acted on (enforced rules only); `would_be` also counts rules in
    shadow mode. A writer may record it (it is the hook's own claim): replay re-evaluates it."""

    tool_call_id: str
    tool: str
    args_hash: Hash
    decision: Literal["allow", "deny", "require_approval"]
    would_be: Literal["allow", "deny", "require_approval"] | None = None
    mode: Literal["enforce", "shadow"]
    pack_hash: Hash
    rules: tuple[DecidedRule, ...] = ()
    approval_id: str | None = None
    basis: DecisionBasis = DecisionBasis()
    evaluator: str
    # the model in use when the hook decided (the CEL `versions.model` it was decided with)
    model: str | None = None


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
    target: str | None = None
    target_run_id: uuid.UUID | None = None
    signature: str | None = None
    signing_key: str | None = None
    issued_at: str | None = None


class StopLiftedData(Frozen):
    """A `ledger resume`: the stops of one target it lifts (`lifts`, their event ids), who
    lifted them and under what authority (same fields and meaning as StopData's; a signed lift
    carries the principal's Ed25519 signature over the agent-ledger/stop/v1 claim)."""

    lifted_by: str
    reason: str = ""
    target: str
    lifts: tuple[uuid.UUID, ...] = ()
    authority: Literal["registry", "asserted"] | None = None
    authorised: bool | None = None
    registry_hash: str | None = None
    scope: str | None = None
    authority_reason: str | None = None
    signature: str | None = None
    signing_key: str | None = None
    issued_at: str | None = None
