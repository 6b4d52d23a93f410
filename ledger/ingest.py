"""JSON Lines ingest: agents in any language write events as one JSON object per line.

Each line is validated on its own (UTF-8, strict JSON, known type, field types, size) and either
stored whole or rejected with its line number and reason; a bad line never leaves a partial
event. Lines may omit `event_id`, `run_seq` and `prev_run_hash`: they are filled in from the
run's current head in the ledger and the order of lines in the input, so simple writers do not
have to compute hashes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from pydantic import ValidationError

from ledger import ids
from ledger.canonical import CanonicalError, loads_strict
from ledger.config import Settings
from ledger.events import event_adapter, leaf_hash
from ledger.secrets import scrub_event_json
from ledger.store.append import MAX_EVENT_BYTES, EncodedEvent, encode_for_intake
from ledger.store.door import append_encoded
from ledger.store.read import run_head

__all__ = ["IngestResult", "ingest_lines"]


@dataclass
class IngestResult:
    """Counts and per-line errors of one ingest."""

    accepted: int = 0
    duplicates: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _pydantic_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"] if not str(p).startswith(("Run", "Tool", "Llm")))
    kind = first["msg"]
    return (
        f"{where or 'event'}: {kind}"
        if first["type"] != "union_tag_invalid"
        else (
            f"unknown event type {first['input'].get('type')!r}"
            if isinstance(first.get("input"), dict)
            else "unknown event type"
        )
    )


class _Heads:
    """Run heads (last run_seq, leaf hex) from the ledger, then advanced by this input."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.known: dict[uuid.UUID, tuple[int, str] | None] = {}

    def get(self, run_id: uuid.UUID) -> tuple[int, str] | None:
        if run_id not in self.known:
            head = run_head(self.conn, run_id)
            self.known[run_id] = None if head is None else (head.run_seq, head.leaf_hash.hex())
        return self.known[run_id]


def _prepare(obj: dict[str, Any], heads: _Heads) -> dict[str, Any]:
    obj = dict(obj)
    obj.setdefault("event_id", str(ids.new_id()))
    run_id = uuid.UUID(str(obj.get("run_id")))
    head = heads.get(run_id)
    if "run_seq" not in obj:
        obj["run_seq"] = 0 if head is None else head[0] + 1
    run_seq = obj["run_seq"]
    if "prev_run_hash" not in obj and isinstance(run_seq, int) and head and head[0] == run_seq - 1:
        obj["prev_run_hash"] = head[1]
    return obj


def ingest_lines(
    conn: psycopg.Connection, lines: Iterable[bytes], settings: Settings, batch: int = 1000
) -> IngestResult:
    """Validate and submit JSON Lines; returns counts and (line number, reason) errors."""
    result = IngestResult()
    heads = _Heads(conn)
    pending: list[EncodedEvent] = []

    def flush() -> None:
        receipts = append_encoded(conn, pending).receipts
        result.accepted += sum(not r.duplicate for r in receipts)
        result.duplicates += sum(r.duplicate for r in receipts)
        pending.clear()

    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue
        if len(line) > MAX_EVENT_BYTES:
            result.errors.append(
                (number, f"event is {len(line)} bytes; the limit is {MAX_EVENT_BYTES}")
            )
            continue
        try:
            obj = loads_strict(line)
            if not isinstance(obj, dict):
                raise CanonicalError("each line must be a JSON object")
            if "run_id" not in obj:
                raise CanonicalError("run_id: field required")
            event = event_adapter.validate_python(_prepare(scrub_event_json(obj)[0], heads))
            encoded = encode_for_intake(event, settings)
        except CanonicalError as exc:
            result.errors.append((number, str(exc)))
            continue
        except ValidationError as exc:
            result.errors.append((number, _pydantic_reason(exc)))
            continue
        except ValueError as exc:
            result.errors.append((number, str(exc).splitlines()[0]))
            continue
        heads.known[event.run_id] = (event.run_seq, leaf_hash(encoded.body).hex())
        pending.append(encoded)
        if len(pending) >= batch:
            flush()
    flush()
    return result
