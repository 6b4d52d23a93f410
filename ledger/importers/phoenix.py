"""Read spans from a running Phoenix server's REST API (`GET /v1/projects/{project}/spans`).

Pages are fetched with the `arize-phoenix-client` HTTP client one at a time (cursor paging) and
staged, so memory does not grow with the window. Span attributes are OpenInference (or GenAI
semconv); they are mapped with the same rules as the live OpenTelemetry integration
(`ledger.integrations.otel.span_kind` and its attribute keys), so an imported LLM or tool span
becomes the same events a live one would.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import orjson

from ledger import ids
from ledger.errors import InputError
from ledger.importers.report import SKIPPED, ImportReport, RecordOutcome
from ledger.importers.source import Kind, SourceSpan, check_record, record_digest
from ledger.importers.staging import Staging
from ledger.integrations.otel_attrs import attr, maybe_json, source_schema, span_kind

__all__ = ["PAGE", "read_phoenix", "span_from_phoenix"]

PAGE = 100  # the server's page limit


def _require() -> Any:
    try:
        from phoenix.client import Client
    except ImportError as exc:
        raise ImportError("ledger import phoenix needs arize-phoenix-client: "
                          "pip install 'agent-ledger[phoenix]'") from exc
    return Client


def _flat(attrs: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted attribute keys, whether the server sent them flat or nested."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = value
    return out


def _regroup(attrs: dict[str, Any], key: str) -> None:
    """Phoenix returns a JSON-valued attribute (tool.parameters) flattened into `key.*`
    attributes; put the object back so args (and their hash) are what the tool received."""
    prefix = f"{key}."
    parts = {k[len(prefix):]: v for k, v in attrs.items() if k.startswith(prefix)}
    if parts and key not in attrs:
        attrs[key] = parts


def _int(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def span_from_phoenix(project: str, span: dict[str, Any]) -> SourceSpan:
    """One Phoenix span as a SourceSpan; ValueError with the reason if it cannot be."""
    check_record(span)  # a server's JSON can be anything: before the recursive _flat/digest
    ctx = span.get("context")
    trace_id, span_id = (ctx.get("trace_id"), ctx.get("span_id")) if isinstance(ctx, dict) else (
        None, None)
    if not isinstance(trace_id, str) or not isinstance(span_id, str):
        raise ValueError("span without context.trace_id/span_id")
    if not isinstance(span.get("attributes") or {}, dict):
        raise ValueError("span attributes are not a JSON object")
    attrs = _flat(span.get("attributes") or {})
    _regroup(attrs, "tool.parameters")
    if "openinference.span.kind" not in attrs and span.get("span_kind"):
        attrs["openinference.span.kind"] = str(span["span_kind"])
    try:
        start_ns = ids.parse_timestamp(str(span.get("start_time")))
        end = span.get("end_time")
        end_ns = ids.parse_timestamp(str(end)) if end else None
    except (ValueError, OverflowError):
        raise ValueError("start_time/end_time is not an RFC 3339 timestamp") from None
    kind: Kind = span_kind(attrs)  # type: ignore[assignment]
    failed = span.get("status_code") == "ERROR"
    triggered = attrs.get("guardrail.triggered")
    return SourceSpan(
        system="phoenix", project=project, trace_id=trace_id, span_id=span_id,
        parent_id=span.get("parent_id") or None, name=str(span.get("name") or "span"),
        kind=kind, start_ns=start_ns, end_ns=end_ns, schema=source_schema(attrs), record=span,
        digest=record_digest(span), failed=failed,
        error=(span.get("status_message") or "error") if failed else None,
        model=attr(attrs, "gen_ai.request.model", "llm.model_name"),
        provider=attr(attrs, "gen_ai.provider.name", "gen_ai.system", "llm.provider"),
        input=maybe_json(attr(attrs, "gen_ai.tool.call.arguments", "tool.parameters",
                                "gen_ai.input.messages", "input.value")),
        output=maybe_json(attr(attrs, "gen_ai.tool.call.result", "gen_ai.output.messages",
                                 "output.value")),
        input_tokens=_int(attr(attrs, "gen_ai.usage.input_tokens", "llm.token_count.prompt")),
        output_tokens=_int(attr(attrs, "gen_ai.usage.output_tokens",
                                 "llm.token_count.completion")),
        tool=attr(attrs, "gen_ai.tool.name", "tool.name"),
        tool_call_id=attr(attrs, "gen_ai.tool.call.id", "tool_call.id"),
        user=attr(attrs, "user.id", "enduser.id"),
        session=attr(attrs, "gen_ai.conversation.id", "session.id"),
        guardrail_verdict=None if triggered is None else ("fail" if triggered else "pass"))


def _page(content: bytes) -> dict[str, Any]:
    """One response page, checked: a server answering something else is one InputError."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise InputError("the Phoenix server's answer is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("data") or [], list):
        raise InputError("the Phoenix server's answer is not a page of spans (no \"data\" list)")
    return {**body, "data": body.get("data") or []}


def _pages(url: str, project: str, since: datetime | None,
           until: datetime | None) -> Iterator[list[Any]]:
    import httpx  # the phoenix client's HTTP library (its dependency)

    client = _require()(base_url=url)
    http = client._client  # the client's own configured httpx client (base URL, headers)
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": PAGE}
        if since:
            params["start_time"] = since.isoformat()
        if until:
            params["end_time"] = until.isoformat()
        if cursor:
            params["cursor"] = cursor
        try:
            response = http.get(f"v1/projects/{project}/spans", params=params,
                                headers={"accept": "application/json"})
            response.raise_for_status()
        except httpx.HTTPError as exc:  # unreachable, or an error status: one line, exit 2
            raise InputError(f"Phoenix at {url}: {type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:200]}") from None
        body = _page(response.content)
        yield body["data"]
        cursor = body.get("next_cursor") if isinstance(body.get("next_cursor"), str) else None
        if not cursor or not body.get("data"):
            return


def read_phoenix(url: str, project: str, *, since: datetime | None, until: datetime | None,
                 staging: Staging, report: ImportReport) -> None:
    """Stage every span of `project` whose start time is in [since, until)."""
    for page in _pages(url, project, since, until):
        for span in page:
            report.seen += 1
            if not isinstance(span, dict):
                report.add(RecordOutcome(f"phoenix:{project}/?", SKIPPED, "not a JSON object"))
                continue
            try:
                source = span_from_phoenix(project, span)
            except ValueError as exc:
                report.add(RecordOutcome(f"phoenix:{project}/{span.get('id')}", SKIPPED, str(exc)))
                continue
            if (dup := staging.add(source)) is not None:
                report.add(RecordOutcome(source.label, SKIPPED, dup))
