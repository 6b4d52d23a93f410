"""The flat row form of an event, shared by the bundle writer and the offline verifier.

Why one module: `ledger/events.parquet` carries, next to the exact canonical bytes, flat columns
(agent, tool, approver, ...) so an auditor can query it with DuckDB or a spreadsheet. Every one
of those columns is a pure function of the body, so the verifier recomputes them with this same
function and flags a row whose columns were edited even when the body was left alone. Only the
standard library, orjson and pyarrow are imported here: it must run with no database code.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

__all__ = ["EVENT_COLUMNS", "EVENT_SCHEMA", "LEAF_SCHEMA", "flatten"]

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
