"""The flat row form of an event, shared by the bundle writer and the offline verifier.

Why one module: `ledger/events.parquet` carries, next to the exact canonical bytes, flat columns
(agent, tool, approver, ...) so an auditor can query it with DuckDB or a spreadsheet. Every one
of those columns is a pure function of the body, so the verifier recomputes them with this same
function and flags a row whose columns were edited even when the body was left alone. Only the
standard library, orjson, msgspec and pyarrow are imported here: it must run with no database code.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, cast

import msgspec
import orjson
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_SCHEMA",
    "LEAF_SCHEMA",
    "flatten",
    "flatten_columns",
    "row_dicts",
]

EVENT_SCHEMA_VERSION = 1

EVENT_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("event_id", pa.string()),
        ("run_id", pa.string()),
        ("run_seq", pa.int64()),
        ("type", pa.string()),
        ("occurred_at", pa.string()),
        ("tenant", pa.string()),
        ("agent", pa.string()),
        ("agent_version", pa.string()),
        ("initiating_user", pa.string()),
        ("roles", pa.string()),
        ("name", pa.string()),
        ("tool", pa.string()),
        ("tool_call_id", pa.string()),
        ("side_effect", pa.bool_()),
        ("status", pa.string()),
        ("verdict", pa.string()),
        ("decision", pa.string()),
        ("approver", pa.string()),
        ("policy_hash", pa.string()),
        ("prompt_version", pa.string()),
        ("model", pa.string()),
        ("contract_digest", pa.string()),
        ("amount_usd", pa.string()),
        ("prev_run_hash", pa.string()),
        ("leaf_hash", pa.string()),
        ("body", pa.string()),
    ],
    metadata={"agent-ledger.schema": "events/v1"},
)
EVENT_COLUMNS: tuple[str, ...] = tuple(EVENT_SCHEMA.names)

LEAF_SCHEMA = pa.schema(
    [("seq", pa.int64()), ("leaf_hash", pa.binary(32))],
    metadata={"agent-ledger.schema": "leaves/v1"},
)


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def flatten(seq: int, body: bytes, leaf_hex: str) -> dict[str, Any]:
    """The flat row of one event: every column derived from `body` (plus seq and leaf)."""
    v = orjson.loads(body)
    data = v.get("data") or {}
    if not isinstance(data, dict):
        data = {}
    versions = v.get("versions") or {}
    principal = v.get("principal") or {}
    agent = v.get("agent") or {}
    approver = data.get("approver")
    cost = data.get("cost")
    roles = principal.get("roles") or ()
    model = versions.get("model") or _s(data.get("response_model")) or _s(data.get("request_model"))
    side_effect = data.get("side_effect") if v.get("type") == "tool.call.started" else None
    return {
        "seq": seq,
        "event_id": v["event_id"],
        "run_id": v["run_id"],
        "run_seq": v["run_seq"],
        "type": v["type"],
        "occurred_at": v["occurred_at"],
        "tenant": v.get("tenant", "default"),
        "agent": agent.get("name"),
        "agent_version": agent.get("version"),
        "initiating_user": principal.get("initiating_user"),
        "roles": ";".join(roles) if roles else None,
        "name": _s(data.get("name")) or _s(data.get("key_name")),
        "tool": _s(data.get("tool")),
        "tool_call_id": _s(data.get("tool_call_id")),
        "side_effect": side_effect if isinstance(side_effect, bool) else None,
        "status": _s(data.get("status")),
        "verdict": _s(data.get("verdict")),
        "decision": _s(data.get("decision")),
        "approver": approver.get("id") if isinstance(approver, dict) else None,
        "policy_hash": versions.get("policy_hash") or _s(data.get("policy_hash")),
        "prompt_version": versions.get("prompt_version"),
        "model": model,
        "contract_digest": _s(data.get("contract_digest")) or versions.get("tool_contract_digest"),
        "amount_usd": cost.get("amount_usd") if isinstance(cost, dict) else None,
        "prev_run_hash": v.get("prev_run_hash"),
        "leaf_hash": leaf_hex,
        "body": body.decode("utf-8"),
    }


class _Agent(msgspec.Struct, gc=False):
    name: str | None = None
    version: str | None = None


class _Principal(msgspec.Struct, gc=False):
    initiating_user: str | None = None
    roles: list[str] | None = None


class _Versions(msgspec.Struct, gc=False):
    model: str | None = None
    policy_hash: str | None = None
    prompt_version: str | None = None
    tool_contract_digest: str | None = None


class _Approver(msgspec.Struct, gc=False):
    id: str | None = None


class _Cost(msgspec.Struct, gc=False):
    amount_usd: str | None = None


class _Data(msgspec.Struct, gc=False):
    name: str | None = None
    key_name: str | None = None
    tool: str | None = None
    tool_call_id: str | None = None
    side_effect: bool | None = None
    status: str | None = None
    verdict: str | None = None
    decision: str | None = None
    approver: _Approver | None = None
    policy_hash: str | None = None
    contract_digest: str | None = None
    response_model: str | None = None
    request_model: str | None = None
    cost: _Cost | None = None


class _Event(msgspec.Struct, gc=False):
    event_id: str
    run_id: str
    run_seq: int
    type: str
    occurred_at: str
    tenant: str | None = "default"
    agent: _Agent | None = None
    principal: _Principal | None = None
    versions: _Versions | None = None
    data: _Data | None = None
    prev_run_hash: str | None = None


_DECODE = msgspec.json.Decoder(_Event).decode
_NO_AGENT, _NO_PRINCIPAL, _NO_VERSIONS, _NO_DATA = _Agent(), _Principal(), _Versions(), _Data()
_DERIVED = tuple(c for c in EVENT_COLUMNS if c not in ("seq", "leaf_hash", "body"))
_PLACEHOLDER = _Event(event_id="", run_id="", run_seq=0, type="", occurred_at="")
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)
_FLATTEN_ERRORS = (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError)


def _typed(body: bytes) -> _Event | None:
    try:
        return _DECODE(body)
    except _DECODE_ERRORS:
        return None


def flatten_columns(
    seqs: list[int], bodies: list[bytes], leaf_hexes: list[str], *, strict: bool = True
) -> tuple[dict[str, list[Any]], list[int]]:
    """`flatten` of a whole batch as columns (same values, ~5x faster); also the bad rows.

    The fast path decodes only the needed fields with typed msgspec Structs; a body whose
    fields do not have exactly the types the Structs expect (or that is not valid JSON) goes
    through `flatten` itself, so the result is always identical to `flatten` row by row.
    With `strict` a row `flatten` rejects raises; otherwise its index is returned in the
    second element and its derived columns are None.
    """
    ok, slow = _decode_batch(bodies)
    cols = _columns(ok, seqs, bodies, leaf_hexes)
    return cols, _flatten_slow(cols, slow, (seqs, bodies, leaf_hexes), strict=strict)


def _decode_batch(bodies: list[bytes]) -> tuple[list[_Event], list[int]]:
    """Typed decode of every body; the indexes that need `flatten` get a placeholder."""
    decode = _DECODE
    try:
        evs: list[_Event | None] = [decode(b) for b in bodies]
    except _DECODE_ERRORS:
        evs = [_typed(b) for b in bodies]
    slow = [i for i, e in enumerate(evs) if e is None] if None in evs else []
    ok = cast("list[_Event]", evs)
    if slow:
        ok = [e if e is not None else _PLACEHOLDER for e in evs]
    return ok, slow


def _columns(
    ok: list[_Event], seqs: list[int], bodies: list[bytes], leaf_hexes: list[str]
) -> dict[str, list[Any]]:
    """The EVENT_SCHEMA columns of decoded events, one comprehension per column."""
    agents = [e.agent or _NO_AGENT for e in ok]
    principals = [e.principal or _NO_PRINCIPAL for e in ok]
    versions = [e.versions or _NO_VERSIONS for e in ok]
    data = [e.data or _NO_DATA for e in ok]
    types = [e.type for e in ok]
    roles = [p.roles for p in principals]
    approvers = [d.approver for d in data]
    costs = [d.cost for d in data]
    cols: dict[str, list[Any]] = {
        "seq": seqs,
        "event_id": [e.event_id for e in ok],
        "run_id": [e.run_id for e in ok],
        "run_seq": [e.run_seq for e in ok],
        "type": types,
        "occurred_at": [e.occurred_at for e in ok],
        "tenant": [e.tenant for e in ok],
        "agent": [a.name for a in agents],
        "agent_version": [a.version for a in agents],
        "initiating_user": [p.initiating_user for p in principals],
        "roles": [";".join(r) if r else None for r in roles],
        "name": [d.name or d.key_name for d in data],
        "tool": [d.tool for d in data],
        "tool_call_id": [d.tool_call_id for d in data],
        "side_effect": [
            d.side_effect if t == "tool.call.started" else None
            for d, t in zip(data, types, strict=True)
        ],
        "status": [d.status for d in data],
        "verdict": [d.verdict for d in data],
        "decision": [d.decision for d in data],
        "approver": [a.id if a is not None else None for a in approvers],
        "policy_hash": [
            v.policy_hash or d.policy_hash for v, d in zip(versions, data, strict=True)
        ],
        "prompt_version": [v.prompt_version for v in versions],
        "model": [
            v.model or d.response_model or d.request_model
            for v, d in zip(versions, data, strict=True)
        ],
        "contract_digest": [
            d.contract_digest or v.tool_contract_digest for v, d in zip(versions, data, strict=True)
        ],
        "amount_usd": [c.amount_usd if c is not None else None for c in costs],
        "prev_run_hash": [e.prev_run_hash for e in ok],
        "leaf_hash": leaf_hexes,
        "body": [b.decode("utf-8", "replace") for b in bodies],  # slow rows: set below
    }
    return cols


def _flatten_slow(
    cols: dict[str, list[Any]],
    slow: list[int],
    batch: tuple[list[int], list[bytes], list[str]],
    *,
    strict: bool,
) -> list[int]:
    """Overwrite the `slow` rows with `flatten`'s values; return those it rejects (not strict)."""
    seqs, bodies, leaf_hexes = batch
    bad: list[int] = []
    for i in slow:
        try:
            row = flatten(seqs[i], bodies[i], leaf_hexes[i])
        except _FLATTEN_ERRORS:
            if strict:
                raise
            bad.append(i)
            for name in _DERIVED:
                cols[name][i] = None
            continue
        for name in EVENT_COLUMNS:
            cols[name][i] = row[name]
    return bad


def row_dicts(cols: dict[str, list[Any]], idx: list[int]) -> list[dict[str, Any]]:
    """Flat row dicts (EVENT_COLUMNS keys) of rows `idx` of a column batch, transposed in C."""
    names = EVENT_COLUMNS
    if len(idx) < 2:
        return [{c: cols[c][i] for c in names} for i in idx]
    pick = itemgetter(*idx)
    picked = [pick(cols[c]) for c in names]
    return [dict(zip(names, v, strict=True)) for v in zip(*picked, strict=True)]
