"""OCSF 1.7.0 API Activity (class 6003) projection of tool and model calls, for SIEMs.

Why a projection, not the evidence format: SIEMs ingest OCSF, auditors verify the bundle. Each
tool call (joined from its started/ended pair) and each model call becomes one API Activity
record with the agent identity in `actor` (app_name/app_uid = agent, user = initiating user,
session = run) and in `unmapped.ai_agent` until OCSF releases its `ai_agent` object (1.9).
Every record keeps the ledger coordinates (origin, seq, leaf hash) so a SIEM hit can be traced
back to verifiable evidence. `validate` checks records with the maintained `pydantic-ocsf` models
(OCSF 1.7.0 schema bundled in the package) plus a strict top-level attribute check.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from ledger import ids

__all__ = ["OCSF_VERSION", "records", "validate", "write"]

OCSF_VERSION = "1.7.0"
_READ, _OTHER = 2, 99


def _ms(stamp: str) -> int:
    return ids.parse_timestamp(stamp) // 1_000_000


def _base(row: dict[str, Any], origin: str, activity_id: int, name: str) -> dict[str, Any]:
    actor: dict[str, Any] = {
        "app_name": row["agent"] or "unknown-agent",
        "session": {"uid": row["run_id"]},
    }
    if row["agent"]:
        actor["app_uid"] = f"{row['agent']}@{row['agent_version'] or '-'}"
    if row["initiating_user"]:
        actor["user"] = {"name": row["initiating_user"], "uid": row["initiating_user"]}
    return {
        "class_uid": 6003,
        "class_name": "API Activity",
        "category_uid": 6,
        "category_name": "Application Activity",
        "activity_id": activity_id,
        "activity_name": name,
        "type_uid": 600300 + activity_id,
        "severity_id": 1,
        "time": _ms(row["occurred_at"]),
        "metadata": {
            "version": OCSF_VERSION,
            "uid": row["event_id"],
            "log_name": origin,
            "correlation_uid": row["run_id"],
            "original_time": row["occurred_at"],
            "product": {"name": "agent-ledger", "vendor_name": "agent-ledger"},
        },
        "actor": actor,
        "src_endpoint": {"name": row["agent"] or "agent", "svc_name": "agent-ledger"},
        "unmapped": {
            "ai_agent": {
                "name": row["agent"],
                "version": row["agent_version"],
                "run_id": row["run_id"],
                "roles": row["roles"],
            },
            "ledger": {
                "origin": origin,
                "seq": row["seq"],
                "leaf_hash": row["leaf_hash"],
                "policy_hash": row["policy_hash"],
                "model": row["model"],
            },
        },
    }


def _tool(start: dict[str, Any] | None, end: dict[str, Any] | None, origin: str) -> dict[str, Any]:
    row = end or start
    assert row is not None
    data_s = orjson.loads(start["body"])["data"] if start else {}
    data_e = orjson.loads(end["body"])["data"] if end else {}
    side = bool(data_s.get("side_effect"))
    rec = _base(
        row, origin, _OTHER if side else _READ, "Tool call (side effect)" if side else "Read"
    )
    tool = str(row["tool"] or data_s.get("tool") or "unknown")
    api: dict[str, Any] = {
        "operation": tool,
        "service": {"name": tool.split(".", 1)[0]},
        "request": {"uid": str(row["tool_call_id"] or "")},
    }
    if data_s.get("tool_version"):
        api["service"]["version"] = str(data_s["tool_version"])
    status = data_e.get("status")
    if data_e.get("error"):
        api["response"] = {
            "error": data_e["error"].get("type", ""),
            "error_message": data_e["error"].get("message", ""),
        }
    rec["api"] = api
    rec["status_id"] = {"ok": 1, "error": 2, "cancelled": 2, "refused": 2}.get(str(status), 0)
    if data_s.get("resources"):
        rec["resources"] = [{"name": str(r)} for r in data_s["resources"]]
    if start and end:
        rec["start_time"] = _ms(start["occurred_at"])
        rec["end_time"] = _ms(end["occurred_at"])
    rec["unmapped"]["ledger"].update(
        {
            "args_hash": data_s.get("args_hash"),
            "contract_digest": data_s.get("contract_digest"),
            "side_effect": side,
            "status": status,
        }
    )
    return rec


def _llm(row: dict[str, Any], origin: str) -> dict[str, Any]:
    data = orjson.loads(row["body"])["data"]
    rec = _base(row, origin, _OTHER, "Model call")
    rec["api"] = {
        "operation": "model.call",
        "service": {"name": str(row["model"] or "model")},
        "request": {"uid": str(data.get("call_id", ""))},
    }
    rec["status_id"] = 2 if data.get("error") else 1
    usage = data.get("usage") or {}
    rec["unmapped"]["ai_operation"] = {
        "model": row["model"],
        "usage": usage,
        "cost_usd": row["amount_usd"],
    }
    return rec


def records(rows: Iterable[dict[str, Any]], origin: str) -> Iterable[dict[str, Any]]:
    """OCSF records for flat event rows (see `exporters.rows.flatten`), in ledger order."""
    open_calls: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        kind = row["type"]
        if kind == "tool.call.started":
            open_calls[(row["run_id"], str(row["tool_call_id"]))] = row
        elif kind == "tool.call.ended":
            start = open_calls.pop((row["run_id"], str(row["tool_call_id"])), None)
            yield _tool(start, row, origin)
        elif kind == "llm.call.ended":
            yield _llm(row, origin)
    for start in open_calls.values():  # calls without an outcome in the period
        yield _tool(start, None, origin)


def write(rows: Iterable[dict[str, Any]], out: Path, origin: str) -> int:
    """Write OCSF JSON Lines to `out`; return the record count."""
    n = 0
    with out.open("wb") as fh:
        for rec in records(rows, origin):
            fh.write(orjson.dumps(rec, option=orjson.OPT_SORT_KEYS) + b"\n")
            n += 1
    return n


@functools.cache
def _allowed_top_level() -> frozenset[str]:
    import ocsf  # pydantic-ocsf: maintained models + bundled OCSF schemas

    schema = json.loads((Path(ocsf.__file__).parent / "schemas/v1_7_0.json").read_text())
    names = set(schema["events"]["api_activity"]["attributes"]) | set(
        schema["events"]["base_event"]["attributes"]
    )
    return frozenset(names - {"$include"})


def validate(record: dict[str, Any]) -> None:
    """Raise ValueError unless `record` is a valid OCSF 1.7.0 API Activity record."""
    from ocsf.v1_7_0.events import ApiActivity
    from pydantic import ValidationError

    unknown = set(record) - _allowed_top_level() - {"unmapped"}
    if unknown:
        raise ValueError(f"attributes not in OCSF api_activity: {sorted(unknown)}")
    try:
        ApiActivity.model_validate(record)
    except ValidationError as exc:
        raise ValueError(str(exc)) from None
