"""One timeline row per stored event, derived from the canonical bytes with orjson.

Why a separate, pure module: the timeline renders thousands of rows while scrolling, so rows are
decoded with orjson (microseconds) rather than the pydantic models, and this code must be testable
without a terminal or a database. Nothing here trusts projection columns for content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

__all__ = ["PIVOTS", "Row", "row_from_stored", "short_time"]

# pivot key -> (label, how to read the value from the event JSON)
PIVOTS: dict[str, str] = {
    "actor": "actor",
    "tool": "tool",
    "resource": "resource",
    "prompt": "prompt version",
    "model": "model",
}


@dataclass(frozen=True, slots=True)
class Row:
    """A display row of the timeline (everything the Line API widget needs)."""

    origin: str
    seq: int
    event_id: str
    run_id: str
    run_seq: int
    type: str
    occurred_at: str
    recorded_at: str
    actor: str
    tool: str
    resource: str
    summary: str
    verdict: str
    effect: str
    prompt: str
    model: str
    body: bytes

    def pivot_value(self, key: str) -> str:
        """The value of one pivot dimension for this row ('' when the event has none)."""
        return str(getattr(self, key, "") or "")

    def document(self) -> dict[str, Any]:
        """The event's JSON document."""
        value: dict[str, Any] = orjson.loads(self.body)
        return value


def short_time(text: str) -> str:
    """'2026-11-24T11:38:55.123456789Z' -> '2026-11-24 11:38:55.123' (fixed width)."""
    if len(text) >= 23:
        return text[:10] + " " + text[11:23]
    return text


def _actor(doc: dict[str, Any]) -> str:
    data = doc.get("data") or {}
    if doc.get("type") == "approval.decided" and isinstance(data, dict):
        approver = data.get("approver") or {}
        return f"human:{approver.get('id', '?')}"
    if doc.get("type") in ("annotation", "run.stop.requested") and isinstance(data, dict):
        who = data.get("author") or data.get("requested_by")
        if who:
            return f"human:{who}"
    agent = doc.get("agent") or {}
    if agent.get("name"):
        return f"agent:{agent['name']}"
    user = (doc.get("principal") or {}).get("initiating_user")
    return f"user:{user}" if user else "-"


def _summary(kind: str, data: dict[str, Any]) -> str:
    if kind == "run.started":
        return str(data.get("task") or "")
    if kind == "run.ended":
        return f"status={data.get('status')} events={data.get('event_count')}"
    if kind.startswith("message."):
        origin = f" from {data['origin']}" if data.get("origin") else ""
        trust = " [untrusted]" if data.get("content_trust") == "untrusted" else ""
        return f"{data.get('role', '')}{origin}{trust}: {data.get('content', '')}"
    if kind == "tool.call.started":
        return f"{data.get('tool')} {orjson.dumps(data.get('args')).decode()}"
    if kind == "tool.call.ended":
        return (
            f"{data.get('tool')} {data.get('status')} {orjson.dumps(data.get('result')).decode()}"
        )
    if kind == "llm.call.ended":
        calls = ", ".join(str(c.get("name")) for c in data.get("proposed_tool_calls") or ())
        return f"model={data.get('response_model')} proposes [{calls}]"
    if kind == "llm.call.started":
        return f"model={data.get('request_model')}"
    if kind == "approval.requested":
        roles = ",".join(data.get("required_roles") or ())
        return f"{data.get('tool')} needs {roles} {data.get('reason') or ''}"
    if kind == "approval.decided":
        return f"{data.get('decision')} {data.get('reason') or ''}"
    if kind == "guardrail.evaluated":
        return f"{data.get('name')}: {data.get('rule') or ''}"
    if kind == "annotation":
        tags = " ".join("#" + t for t in data.get("tags") or ())
        return f"{data.get('kind')}: {data.get('text', '')} {tags}".rstrip()
    if kind == "run.stop.requested":
        return f"stop requested: {data.get('reason', '')}"
    if kind.startswith("undo."):
        plan = str(data.get("plan_digest"))[:12]
        return f"{data.get('operation') or ''} {data.get('status') or ''} plan {plan}"
    if kind == "policy.published":
        return f"{data.get('name')} {data.get('version')}"
    if kind == "error.raised":
        return str((data.get("error") or {}).get("message", ""))
    return str(data.get("name") or "")


def _verdict(kind: str, data: dict[str, Any]) -> str:
    if kind == "guardrail.evaluated":
        return str(data.get("verdict", ""))
    if kind == "approval.decided":
        return str(data.get("decision", ""))
    if kind == "approval.requested":
        return "pending?"
    if kind == "tool.call.ended" and data.get("status") != "ok":
        return str(data.get("status", ""))
    return ""


def _effect(kind: str, data: dict[str, Any]) -> str:
    if kind == "tool.call.started":
        return "write" if data.get("side_effect") else "read"
    if kind.startswith("undo."):
        return "undo"
    if kind in ("annotation", "run.stop.requested"):
        return "human"
    return ""


def row_from_stored(origin: str, seq: int, recorded_at: datetime | None, body: bytes) -> Row:
    """Build a display row from one stored event."""
    doc: dict[str, Any] = orjson.loads(body)
    kind = str(doc.get("type", ""))
    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    assert isinstance(data, dict)
    versions = doc.get("versions") or {}
    resources = data.get("resources") or ()
    rec = recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if recorded_at else ""
    summary = _summary(kind, data).replace("\n", " ")
    return Row(
        origin=origin,
        seq=seq,
        event_id=str(doc.get("event_id", "")),
        run_id=str(doc.get("run_id", "")),
        run_seq=int(doc.get("run_seq", 0)),
        type=kind,
        occurred_at=str(doc.get("occurred_at", "")),
        recorded_at=rec,
        actor=_actor(doc),
        tool=str(data.get("tool") or ""),
        resource=",".join(str(r) for r in resources),
        summary=summary,
        verdict=_verdict(kind, data),
        effect=_effect(kind, data),
        prompt=str(versions.get("prompt_version") or ""),
        model=str(versions.get("model") or ""),
        body=body,
    )
