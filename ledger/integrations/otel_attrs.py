"""Reading GenAI (`gen_ai.*`) and OpenInference span attributes into the ledger's terms.

Kept apart from the processor so each rule that decides what the ledger believes (who the user
is, whether a guardrail passed, which tool calls the model proposed, what of an exception is
kept) is one small function with its reasons next to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ledger.hooks.sanitize import escape_text

__all__ = [
    "OPENINFERENCE_VERSION",
    "SEMCONV_VERSION",
    "SpanUser",
    "attr",
    "guardrail_verdict",
    "maybe_json",
    "proposed_tool_calls",
    "scrub_events",
    "source_schema",
    "span_kind",
    "span_user",
]

_LLM_OPS = {"chat", "text_completion", "generate_content", "embeddings"}
# Span attributes first (they describe this request), then the resource (the whole process:
# often a service account), then the processor's `user=`. `user.id` is the current semconv
# name (and OpenInference's); `enduser.id` the older one, still emitted by many libraries.
USER_KEYS = ("user.id", "enduser.id")
MESSAGE_CHARS = 4000
_OI_TOOL_CALL = re.compile(
    r"^llm\.output_messages\.(\d+)\.message\.tool_calls\.(\d+)\.tool_call\."
    r"(function\.name|function\.arguments|id)$")

Verdict = Literal["pass", "fail", "warn", "unknown"]


SEMCONV_VERSION = "1.37"
OPENINFERENCE_VERSION = "0.1"


def source_schema(attrs: Mapping[str, Any]) -> str:
    """The raw payload's schema tag: OpenInference when the span says so, else GenAI semconv."""
    if "openinference.span.kind" in attrs:
        return f"openinference@{OPENINFERENCE_VERSION}"
    return f"otel.gen_ai@{SEMCONV_VERSION}"


def attr(attrs: Mapping[str, Any], *keys: str) -> Any:
    """The first of `keys` present with a value."""
    for key in keys:
        if key in attrs and attrs[key] is not None:
            return attrs[key]
    return None


def maybe_json(value: Any) -> Any:
    """Instrumentations put JSON in string attributes; decode it when it is JSON."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def span_kind(attrs: Mapping[str, Any]) -> str:
    """llm | tool | agent | guardrail | other, from gen_ai.operation.name or OpenInference."""
    op = str(attrs.get("gen_ai.operation.name", "")).lower()
    oi = str(attrs.get("openinference.span.kind", "")).upper()
    if op in _LLM_OPS or oi in {"LLM", "EMBEDDING"}:
        return "llm"
    if op == "execute_tool" or oi == "TOOL":
        return "tool"
    if op in {"invoke_agent", "create_agent", "invoke_workflow"} or oi in {"AGENT", "CHAIN"}:
        return "agent"
    if op in {"apply_guardrail", "run_guardrail"} or oi == "GUARDRAIL":
        return "guardrail"
    return "other"


@dataclass(frozen=True)
class SpanUser:
    """Who the telemetry says the user is, and which attribute said so."""

    user: str | None
    source: str | None  # e.g. "span:user.id", "resource:enduser.id", "processor"
    others: dict[str, str]  # other user attributes that disagree: source -> user


def span_user(attrs: Mapping[str, Any], resource: Mapping[str, Any],
              default: str | None) -> SpanUser:
    """The initiating user: the span's own attribute wins over the resource and the default.

    A processor is shared by every request of a service, so its `user=` can only be a default;
    the span carries the request's user (`user.id`, else `enduser.id`) and the resource the
    process's. Disagreeing values are returned too, so the run records them instead of
    silently choosing."""
    found: list[tuple[str, str]] = []
    for scope, values in (("span", attrs), ("resource", resource)):
        for key in USER_KEYS:
            value = values.get(key)
            if value not in (None, ""):
                found.append((f"{scope}:{key}", str(value)))
    if not found:
        return SpanUser(default, "processor" if default else None, {})
    source, user = found[0]
    others = {src: val for src, val in found[1:] if val != user}
    if default and default != user:
        others["processor"] = default
    return SpanUser(user, source, others)


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return None


def guardrail_verdict(attrs: Mapping[str, Any], failed: bool) -> Verdict:
    """pass/fail/warn only when the span says so; anything else is `unknown`, never a pass.

    Read, in order: an ERROR status (fail), `guardrail.verdict` / `gen_ai.guardrail.verdict`
    (pass|fail|warn), `guardrail.triggered` (true = fail), `guardrail.passed` /
    `validation_passed` (false = fail). An OK status alone only says the check ran."""
    if failed:
        return "fail"
    verdict = str(attr(attrs, "guardrail.verdict", "gen_ai.guardrail.verdict") or "").lower()
    if verdict in {"pass", "fail", "warn"}:
        return verdict  # type: ignore[return-value]
    triggered = _flag(attrs.get("guardrail.triggered"))
    if triggered is not None:
        return "fail" if triggered else "pass"
    passed = _flag(attr(attrs, "guardrail.passed", "validation_passed"))
    if passed is not None:
        return "pass" if passed else "fail"
    return "unknown"


def _semconv_calls(messages: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    for message in messages if isinstance(messages, list) else []:
        parts = message.get("parts") if isinstance(message, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict) and part.get("type") == "tool_call":
                calls.append({"id": part.get("id"), "name": part.get("name"),
                              "args": maybe_json(part.get("arguments"))})
    return calls


def _openinference_calls(attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: dict[tuple[int, int], dict[str, Any]] = {}
    for key, value in attrs.items():
        match = _OI_TOOL_CALL.match(key)
        if match:
            slot = found.setdefault((int(match[1]), int(match[2])), {})
            field = {"function.name": "name", "function.arguments": "args", "id": "id"}[match[3]]
            slot[field] = maybe_json(value) if field == "args" else value
    return [found[k] for k in sorted(found)]


def proposed_tool_calls(attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Tool calls the model proposed: GenAI `gen_ai.output.messages` parts of type
    `tool_call`, else OpenInference `llm.output_messages.N.message.tool_calls.M.*`."""
    calls = _semconv_calls(maybe_json(attrs.get("gen_ai.output.messages")))
    if not calls:
        calls = _openinference_calls(attrs)
    return [{"tool_call_id": None if c.get("id") is None else str(c["id"]),
             "name": str(c.get("name")), "args": c.get("args")} for c in calls if c.get("name")]


def _limited(value: Any) -> str:
    return escape_text(str(value))[:MESSAGE_CHARS]


def scrub_events(events: Sequence[Any]) -> list[dict[str, Any]]:
    """Span events for `raw`, with every `exception.stacktrace` dropped.

    A traceback carries file paths, source lines and sometimes values; the ledger keeps an
    exception's type and message only (escaped and limited as `error_info` does)."""
    out = []
    for event in events:
        attrs = {k: v for k, v in dict(event.attributes or {}).items()
                 if k != "exception.stacktrace"}
        for key in ("exception.type", "exception.message"):
            if key in attrs:
                attrs[key] = _limited(attrs[key])
        out.append({"name": event.name, "time_unix_nano": event.timestamp, "attributes": attrs})
    return out


def exception_text(events: Sequence[Any]) -> str | None:
    """`Type: message` of the span's last exception event, if any."""
    for event in reversed(events):
        attrs = event.attributes or {}
        if event.name == "exception" and ("exception.type" in attrs
                                          or "exception.message" in attrs):
            kind = _limited(attrs.get("exception.type", "Exception"))
            return f"{kind}: {_limited(attrs.get('exception.message', ''))}"
    return None
