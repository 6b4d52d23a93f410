"""Cheap decoding of stored events for bulk replay: msgspec structs shaped like the pydantic ones.

`ledger.events.decode_event` re-validates every event with pydantic, which costs more than
folding and checking it (profiled: ~60% of `ledger check` over a window). Stored bodies are the
canonical bytes that were validated at intake and are covered by the hash chain (`ledger verify`
checks them), so bulk replay decodes just the fields `replay.state.fold` reads, with msgspec,
into structs whose attribute names, defaults and value types (tuples, Decimal, JSON values)
match the pydantic models (money stays a decimal string), so the fold is identical (pinned
by tests/replay/test_batch.py).
Anything unexpected (an unknown shape, a non-normalised timestamp, a failed decode) falls back
to `decode_event`, so behaviour on odd input is exactly the pydantic path's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, ClassVar, Union, cast

import msgspec

__all__ = ["Row", "decode_fast", "decode_run", "group_rows"]

Json = Any
# ledger.events.Decimal: a decimal *string* (exact money, never a float)
Decimal = Annotated[str, msgspec.Meta(pattern=r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")]


class Principal(msgspec.Struct, frozen=True, gc=False):
    initiating_user: str | None = None
    roles: tuple[str, ...] = ()


class AgentRef(msgspec.Struct, frozen=True, gc=False):
    name: str
    version: str | None = None  # a pack's scope may name agent versions (issue 16)


class Versions(msgspec.Struct, frozen=True, gc=False):
    prompt_version: str | None = None
    model: str | None = None
    policy_hash: str | None = None
    tool_contract_digest: str | None = None


class ErrorInfo(msgspec.Struct, frozen=True, gc=False):
    type: str
    message: str = ""


class Usage(msgspec.Struct, frozen=True, gc=False):
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class Cost(msgspec.Struct, frozen=True, gc=False):
    amount_usd: Decimal
    price_table_version: str


class Approver(msgspec.Struct, frozen=True, gc=False):
    id: str
    roles: tuple[str, ...] = ()


class ToolStarted(msgspec.Struct, frozen=True, gc=False):
    tool_call_id: str
    tool: str
    args_hash: str
    tool_version: str | None = None
    side_effect: bool = False
    args: Json = None
    contract_digest: str | None = None
    attempt: int = 1


class ToolEnded(msgspec.Struct, frozen=True, gc=False):
    tool_call_id: str
    tool: str
    status: str
    result: Json = None
    error: ErrorInfo | None = None
    duration_ns: int | None = None


class LlmStarted(msgspec.Struct, frozen=True, gc=False):
    call_id: str
    provider: str | None = None
    request_model: str | None = None


class LlmEnded(msgspec.Struct, frozen=True, gc=False):
    call_id: str
    response_model: str | None = None
    usage: Usage | None = None
    cost: Cost | None = None
    finish_reason: str | None = None
    error: ErrorInfo | None = None
    duration_ns: int | None = None


class ApprovalRequested(msgspec.Struct, frozen=True, gc=False):
    approval_id: str
    tool_call_id: str
    tool: str
    args_hash: str
    required_roles: tuple[str, ...] = ()
    amount_usd: Decimal | None = None


class ApprovalDecided(msgspec.Struct, frozen=True, gc=False):
    approval_id: str
    tool_call_id: str
    args_hash: str
    decision: str
    approver: Approver
    edited_args_hash: str | None = None
    reason: str | None = None
    signature: str | None = None
    tool: str | None = None
    call_run_id: str | None = None
    expires_at: str | None = None
    registry_hash: str | None = None
    signing_key: str | None = None


class Message(msgspec.Struct, frozen=True, gc=False):
    role: str = "user"
    content: str = ""
    content_trust: str = "trusted"
    origin: str | None = None


class PromptResolved(msgspec.Struct, frozen=True, gc=False):
    name: str
    version: str
    template_hash: str


class StartedAttributes(msgspec.Struct, frozen=True, gc=False):
    """Of run.started's attributes only whether identity tokens were recorded (commitments)."""

    identity_tokens: Any = None


class RunStarted(msgspec.Struct, frozen=True, gc=False):
    task: str | None = None
    attributes: StartedAttributes | None = None


class RunEnded(msgspec.Struct, frozen=True, gc=False):
    event_count: int
    status: str = "succeeded"


class Gap(msgspec.Struct, frozen=True, gc=False):
    reason: str
    missing_events: int | None = None
    from_run_seq: int | None = None


class Event(msgspec.Struct, frozen=True, gc=False):
    """An event of a type replay does not fold: the envelope only (`data` left undecoded)."""

    type: str
    event_id: str
    run_id: str
    run_seq: int
    occurred_at: str
    tenant: str = "default"
    principal: Principal = Principal()
    agent: AgentRef | None = None
    versions: Versions = Versions()
    trust: str = "live"
    data: msgspec.Raw = msgspec.Raw(b"null")


class _Env(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="type"):
    """The envelope fields replay reads; subclasses fix `type` (the tag) and type `data`."""

    type: ClassVar[str]
    event_id: str
    run_id: str
    run_seq: int
    occurred_at: str
    tenant: str = "default"
    principal: Principal = Principal()
    agent: AgentRef | None = None
    versions: Versions = Versions()
    trust: str = "live"  # "imported": copied from another system afterwards, not witnessed


def _kind(kind: str, model: type[Any]) -> type[_Env]:
    annotations = {"data": model}
    return cast(
        type[_Env],
        msgspec.defstruct(
            f"Event_{kind.replace('.', '_')}",
            [(k, v) for k, v in annotations.items()],
            bases=(_Env,),
            tag=kind,
            namespace={"type": kind},
            frozen=True,
            kw_only=True,
        ),
    )


_KINDS: tuple[type[_Env], ...] = tuple(
    _kind(kind, model)
    for kind, model in (
        ("tool.call.started", ToolStarted),
        ("tool.call.ended", ToolEnded),
        ("llm.call.started", LlmStarted),
        ("llm.call.ended", LlmEnded),
        ("approval.requested", ApprovalRequested),
        ("approval.decided", ApprovalDecided),
        ("message.input", Message),
        ("message.output", Message),
        ("prompt.resolved", PromptResolved),
        ("run.started", RunStarted),
        ("run.ended", RunEnded),
        ("ledger.gap", Gap),
    )
)
_FOLDED = msgspec.json.Decoder(Union[_KINDS])  # noqa: UP007 - a runtime tuple of types
_OTHER = msgspec.json.Decoder(Event)


def _normal_time(text: str) -> bool:
    return len(text) == 30 and text[19] == "." and text[29] == "Z" and text[10] == "T"


def decode_event(body: bytes) -> Any:
    """ledger.events.decode_event, imported on the first doubtful event: a replay or check whose
    events all decode here never builds pydantic's event models (issue 18: reads in 0.5 s)."""
    from ledger.events import decode_event as pydantic_decode

    return pydantic_decode(body)


def decode_fast(body: bytes) -> Any:
    """The event for replay: a msgspec struct, or the pydantic event when in any doubt."""
    try:
        try:
            event: Any = _FOLDED.decode(body)
        except msgspec.ValidationError:
            event = _OTHER.decode(body)  # a type replay does not fold (or a bad shape)
            if event.type in _TYPES or event.type in _FULL:
                return decode_event(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return decode_event(body)
    if not _normal_time(event.occurred_at):
        return decode_event(body)
    return event


_TYPES = frozenset(k.type for k in _KINDS)
# folded by replay.state but decoded in full (the enforcement rule reads the whole data model)
_FULL = frozenset({"policy.decided"})


class Row(msgspec.Struct, gc=False):
    """One stored event of a bulk read: what `replay.state.fold` needs, decoded once."""

    run_id: uuid.UUID
    origin: str
    seq: int
    recorded_at: datetime | None
    event: Any


def group_rows(rows: Iterable[tuple[Any, ...]]) -> dict[uuid.UUID, list[Row]]:
    """(run_id, origin, seq, recorded_at, body) rows in any order -> Rows per run, by seq.

    `run_id` may come as a UUID or as its 16 raw bytes (`uuid_send`, cheaper to transfer).
    """
    groups: dict[Any, list[Row]] = {}
    ids: dict[Any, uuid.UUID] = {}
    for key, origin, seq, rec, body in rows:
        group = groups.get(key)
        if group is None:
            group = groups[key] = []
            ids[key] = key if isinstance(key, uuid.UUID) else uuid.UUID(bytes=bytes(key))
        group.append(Row(ids[key], origin, seq, rec, decode_fast(body)))
    out: dict[uuid.UUID, list[Row]] = {}
    for key, group in groups.items():
        group.sort(key=_by_seq)
        out[ids[key]] = group
    return out


def _by_seq(row: Row) -> int:
    return row.seq


def decode_run(
    run_id: uuid.UUID, origin: str, seqs: list[int], recorded: list[datetime | None], blob: bytes
) -> list[Row] | None:
    """One run read as newline-joined bodies (in run order) plus its seqs and record times.

    RFC 8785 bytes never contain a raw newline (control characters are escaped inside strings,
    no whitespace between tokens), so the join is unambiguous and msgspec decodes the whole run
    in one call. Returns None if the pieces do not line up (then read the run row by row).
    """
    try:
        events: list[Any] = _FOLDED.decode_lines(blob)
    except (msgspec.DecodeError, msgspec.ValidationError):  # an unfolded type somewhere
        events = [decode_fast(line) for line in blob.split(b"\n")]
    else:
        if not all(_normal_time(e.occurred_at) for e in events):
            events = [decode_fast(line) for line in blob.split(b"\n")]
    if len(events) != len(seqs) or len(recorded) != len(seqs):
        return None
    return [
        Row(run_id, origin, seq, rec, event)
        for seq, rec, event in zip(seqs, recorded, events, strict=True)
    ]
