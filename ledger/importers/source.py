"""One normalised source record (a span or an observation) and the ids derived from it.

Both readers (Phoenix spans, Langfuse observations) produce `SourceSpan`s; one builder turns
them into events. Ids are UUIDv5 of the tenant and the source ids, so the same record always
becomes the same event (`event_id`) in the same run (`run_id`), which is what makes re-import
idempotent.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from ledger.canonical import canonical_bytes

__all__ = ["MAX_RECORD_DEPTH", "NAMESPACE", "Kind", "SourceSpan", "TraceMeta", "check_record",
           "event_uuid", "record_digest", "run_uuid"]

NAMESPACE = uuid.UUID("6f1c1c2e-3c1e-5b5f-9a51-4c6564676572")
"""Fixed namespace of imported ids: changing it would re-import everything under new ids."""

Kind = Literal["llm", "tool", "agent", "guardrail", "other"]


MAX_RECORD_DEPTH = 48
"""Deepest nesting a source record may have: it rides inside an event (`raw.payload.record`),
whose whole JSON ingest limits to 64 levels, and deeper input would reach recursive code
(canonical JSON, validation) and crash the import instead of skipping one record."""


def check_record(record: Any) -> None:
    """ValueError with the reason when a record is nested too deep or holds text no UTF-8
    encoder can write (a lone surrogate, which Python's JSON parser accepts); no recursion."""
    stack: list[tuple[Any, int]] = [(record, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("text with a lone surrogate (not UTF-8)") from None
        elif isinstance(item, dict | list):
            if depth > MAX_RECORD_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_RECORD_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def record_digest(record: Any) -> str:
    """Hex SHA-256 of the source record's RFC 8785 canonical JSON (what `source_sha256` holds)."""
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


def run_uuid(system: str, project: str, trace_id: str, tenant: str = "default") -> uuid.UUID:
    """The ledger run of one source trace imported into `tenant`'s log.

    The tenant is part of the name: event ids are unique across the whole ledger, so without it
    a writer of another tenant who imports (or forges) the same source ids first would own
    these ids, and this tenant's import of its own history would be refused.
    """
    return uuid.uuid5(NAMESPACE, f"{tenant}\x1f{system}\x1f{project}\x1f{trace_id}")


def event_uuid(run_id: uuid.UUID, part: str) -> uuid.UUID:
    """An event of an imported run: `part` names the record and phase ("<span>/started")."""
    return uuid.uuid5(NAMESPACE, f"{run_id}\x1f{part}")


@dataclass(frozen=True, slots=True)
class TraceMeta:
    """What the source says about a trace as a whole (Langfuse trace records; may be absent)."""

    trace_id: str
    name: str | None = None
    user: str | None = None
    session: str | None = None
    declared: int | None = None  # observations the trace lists; compared with those read


@dataclass(frozen=True, slots=True)
class SourceSpan:
    """A span/observation, normalised: the fields events need plus the untouched record."""

    system: str  # "phoenix" | "langfuse"
    project: str
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: Kind
    start_ns: int
    end_ns: int | None
    schema: str  # the raw record's schema tag, e.g. "openinference@0.1"
    record: dict[str, Any]  # the source record exactly as read
    digest: str
    failed: bool = False
    error: str | None = None
    model: str | None = None
    provider: str | None = None
    input: Any = None
    output: Any = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: str | None = None
    tool: str | None = None
    tool_call_id: str | None = None
    user: str | None = None
    session: str | None = None
    guardrail_verdict: str | None = None

    @property
    def ids(self) -> dict[str, str]:
        """The source ids, as stored in each event's raw payload."""
        return {"system": self.system, "project": self.project, "trace_id": self.trace_id,
                "span_id": self.span_id}

    @property
    def label(self) -> str:
        """How the report names this record."""
        return f"{self.system}:{self.project}/{self.trace_id}/{self.span_id}"
