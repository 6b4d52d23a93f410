"""One timeline row per stored event, derived from the canonical bytes with orjson.

Why a separate, pure module: the timeline renders thousands of rows while scrolling, so rows are
decoded with orjson (microseconds) rather than the pydantic models, and this code must be testable
without a terminal or a database. Nothing here trusts projection columns for content.
"""

from __future__ import annotations

from collections.abc import Callable
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


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _message(data: dict[str, Any]) -> str:
    origin = f" from {data['origin']}" if data.get("origin") else ""
    trust = " [untrusted]" if data.get("content_trust") == "untrusted" else ""
    return f"{data.get('role', '')}{origin}{trust}: {data.get('content', '')}"


def _present(data: dict[str, Any], **labels: str) -> str:
    """`label=value` for each field the event recorded: an absent field is left out, never
    shown as `None` (a start without a model says nothing about the model)."""
    return " ".join(f"{label}={data[key]}" for label, key in labels.items()
                    if data.get(key) is not None)  # fmt: skip


def _proposals(data: dict[str, Any]) -> str:
    calls = ", ".join(str(c.get("name")) for c in data.get("proposed_tool_calls") or ())
    return " ".join(p for p in (_present(data, model="response_model"), f"proposes [{calls}]") if p)


def _annotation(data: dict[str, Any]) -> str:
    tags = " ".join("#" + t for t in data.get("tags") or ())
    return f"{data.get('kind')}: {data.get('text', '')} {tags}".rstrip()


def _undo(data: dict[str, Any]) -> str:
    plan = str(data.get("plan_digest"))[:12]
    return f"{data.get('operation') or ''} {data.get('status') or ''} plan {plan}"


# event type -> one-line summary of its data (types not listed show data.name)
_SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "run.started": lambda d: str(d.get("task") or ""),
    "run.ended": lambda d: _present(d, status="status", events="event_count"),
    "tool.call.started": lambda d: f"{d.get('tool')} {_json(d.get('args'))}",
    "tool.call.ended": lambda d: f"{d.get('tool')} {d.get('status')} {_json(d.get('result'))}",
    "llm.call.ended": _proposals,
    "llm.call.started": lambda d: _present(d, model="request_model"),
    "approval.requested": lambda d: (
        f"{d.get('tool')} needs {','.join(d.get('required_roles') or ())} {d.get('reason') or ''}"
    ),
    "approval.decided": lambda d: f"{d.get('decision')} {d.get('reason') or ''}",
    "guardrail.evaluated": lambda d: f"{d.get('name')}: {d.get('rule') or ''}",
    "annotation": _annotation,
    "run.stop.requested": lambda d: f"stop requested: {d.get('reason', '')}",
    "policy.published": lambda d: f"{d.get('name')} {d.get('version')}",
    "registry.published": lambda d: f"registry {d.get('name')} v{d.get('version')}",
    "error.raised": lambda d: str((d.get("error") or {}).get("message", "")),
}


def _summary(kind: str, data: dict[str, Any]) -> str:
    if kind in _SUMMARIES:
        return _SUMMARIES[kind](data)
    if kind.startswith("message."):
        return _message(data)
    if kind.startswith("undo."):
        return _undo(data)
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
