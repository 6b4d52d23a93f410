"""JSON Lines ingest: agents in any language write events as one JSON object per line.

Each line is validated on its own (UTF-8, strict JSON, nesting depth, lone surrogates, known
type, strict field types, size) and ends in exactly one outcome, so nothing is lost in silence:

- `sequenced`: stored and given its place in the log by this command;
- `already present`: an event with this `event_id` and the same bytes is already stored (a
  retry); fields the ledger fills in (`run_seq`, `prev_run_hash`, `occurred_at`) are taken from
  the stored event when the line omits them, so re-ingesting the same file is harmless;
- `rejected`, with a one-line reason: bad input, an `event_id` already used for different bytes,
  a `run_seq` or `prev_run_hash` that does not continue its run (the expected value is named), or
  a later line of a run broken by an earlier rejected line ("run R broken at line N"). Taking
  later lines of a broken run would store a run with a hole (a tool.result without its call), and
  leaving them in intake would keep them there forever; so the writer fixes line N and
  re-ingests the file from it (earlier lines come back as `already present`).

Lines may omit `event_id`, `run_seq` and `prev_run_hash`: they are filled in from the run's
current head in the ledger and the order of lines in the input, so simple writers do not have to
compute hashes. Continuity is checked here, before intake, so the sequencer never holds an
ingested event for a predecessor that will not come.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson
import psycopg
from pydantic import ValidationError

from ledger import ids
from ledger.bodyrules import body_problem
from ledger.canonical import CanonicalError, loads_strict
from ledger.config import Settings
from ledger.errors import InputError
from ledger.events import event_adapter, leaf_hash
from ledger.secrets import scrub_event_json
from ledger.store.append import MAX_EVENT_BYTES, EncodedEvent, encode_for_intake
from ledger.store.confine import can_sequence
from ledger.store.door import append_encoded
from ledger.store.read import receipt_states, run_head
from ledger.store.sequencer import log_signer, try_sequence

__all__ = [
    "ALREADY_PRESENT",
    "MAX_DEPTH",
    "REJECTED",
    "SEQUENCED",
    "SUBMITTED",
    "IngestResult",
    "LineOutcome",
    "ingest",
]

SEQUENCED = "sequenced"
# A writer-only role cannot sequence (migration 0010): its lines are acknowledged and wait in
# intake for `ledger serve`; `ledger.store.read.receipt_states` says later where each went.
SUBMITTED = "submitted"
ALREADY_PRESENT = "already present"
REJECTED = "rejected"
MAX_DEPTH = 64
"""Deepest JSON nesting a line may have; deeper input is refused before any recursive code."""

_FILLED = ("event_id", "run_seq", "prev_run_hash", "occurred_at")


class LineError(InputError, ValueError):
    """Why one line is rejected (one line of text)."""


@dataclass(frozen=True, slots=True)
class LineOutcome:
    """What became of one input line."""

    line: int
    event_id: str | None
    outcome: str
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "event_id": self.event_id,
            "outcome": self.outcome,
            "reason": self.reason or None,
        }


@dataclass
class IngestResult:
    """One outcome per non-blank line, in input order."""

    lines: list[LineOutcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(o.outcome == outcome for o in self.lines)

    @property
    def rejected(self) -> list[LineOutcome]:
        return [o for o in self.lines if o.outcome == REJECTED]


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


def _check_tree(value: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH and lone surrogates, without recursion.

    Python's JSON parser accepts `"\\ud800"` and returns a string no UTF-8 encoder can write,
    and deep nesting makes later recursive code (validation, canonical encoding) blow up.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise LineError(f"JSON nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LineError(f"lone surrogate \\u{ord(text[exc.start]):04x} in a string") from None


def _parse(line: bytes) -> dict[str, Any]:
    """One line to a JSON object, or LineError with a one-line reason."""
    if len(line) > MAX_EVENT_BYTES:
        raise LineError(f"event is {len(line)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        obj = loads_strict(line)
    except CanonicalError as exc:
        raise LineError(str(exc)) from None
    except RecursionError:
        raise LineError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(obj, dict):
        raise LineError("each line must be a JSON object")
    _check_tree(obj)
    return obj


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return {str: "a string", float: "a number with a fraction or exponent"}.get(
        type(value), type(value).__name__
    )


def _strict_fields(obj: dict[str, Any]) -> uuid.UUID:
    """The fields ingest fills in must have their JSON types exactly (no "0", true or 1.0)."""
    run_id = obj.get("run_id")
    if run_id is None:
        raise LineError("run_id: field required")
    if not isinstance(run_id, str):
        raise LineError(f"run_id must be a UUID string, not {_json_kind(run_id)}")
    try:
        parsed = uuid.UUID(run_id)
    except ValueError:
        raise LineError(f"run_id {run_id[:40]!r} is not a UUID") from None
    if "run_seq" in obj and (type(obj["run_seq"]) is not int or obj["run_seq"] < 0):
        raise LineError(
            f"run_seq must be a non-negative JSON integer, not {_json_kind(obj['run_seq'])}"
            if type(obj["run_seq"]) is not int
            else "run_seq must be a non-negative JSON integer"
        )
    if "event_id" in obj and not isinstance(obj["event_id"], str):
        raise LineError(f"event_id must be a UUID string, not {_json_kind(obj['event_id'])}")
    return parsed


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


def _encode(obj: dict[str, Any], settings: Settings) -> EncodedEvent:
    problem = body_problem(str(obj.get("type")), obj.get("data"))
    if problem is not None:  # args_hash against inline args, token counts (ledger/bodyrules)
        raise LineError(problem)
    try:
        return encode_for_intake(event_adapter.validate_python(obj), settings)
    except ValidationError as exc:
        raise LineError(_pydantic_reason(exc)) from None
    except ValueError as exc:
        raise LineError(str(exc).splitlines()[0]) from None


@dataclass
class _State:
    """What one ingest has learnt so far, across lines."""

    conn: psycopg.Connection
    settings: Settings
    heads: _Heads
    seen: dict[uuid.UUID, tuple[int, bytes]] = field(default_factory=dict)
    broken: dict[uuid.UUID, int] = field(default_factory=dict)
    submitted: dict[uuid.UUID, tuple[int, bytes]] = field(default_factory=dict)


def _stored_body(conn: psycopg.Connection, event_id: uuid.UUID) -> bytes | None:
    state = receipt_states(conn, [event_id]).get(event_id)
    if state is None:
        return None
    return state.pending_body if state.pending_body is not None else state.logged_body


def _repeat(obj: dict[str, Any], state: _State, event_id: uuid.UUID) -> str | None:
    """ALREADY_PRESENT for a retry of a stored event; LineError if the id holds other bytes."""
    earlier = state.seen.get(event_id)
    stored = earlier[1] if earlier else _stored_body(state.conn, event_id)
    if stored is None:
        return None
    previous = orjson.loads(stored)
    filled = {**{k: previous.get(k) for k in _FILLED if k in previous}, **obj}
    try:
        same = _encode(filled, state.settings).body == stored
    except LineError:
        same = False
    if same:
        return ALREADY_PRESENT
    where = f"line {earlier[0]}" if earlier else "the ledger"
    raise LineError(f"event_id {event_id} is already used in {where} for different content")


def _continue_run(obj: dict[str, Any], head: tuple[int, str] | None, run_id: uuid.UUID) -> None:
    """Fill in run_seq/prev_run_hash, or refuse values that do not continue the run."""
    expected = 0 if head is None else head[0] + 1
    want_prev = None if head is None else head[1]
    run_seq = obj.setdefault("run_seq", expected)
    if run_seq != expected:
        raise LineError(f"run_seq {run_seq} does not continue run {run_id}: expected {expected}")
    prev = obj.setdefault("prev_run_hash", want_prev)
    if prev != want_prev:
        raise LineError(
            f"prev_run_hash does not match run {run_id} at run_seq {expected - 1}: "
            f"expected {want_prev}"
        )


def _one_line(number: int, obj: dict[str, Any], state: _State) -> tuple[str, EncodedEvent | None]:
    """The outcome of one parsed line, and its event when it is to be submitted."""
    run_id = _strict_fields(obj)
    if run_id in state.broken:
        raise LineError(f"run {run_id} broken at line {state.broken[run_id]}")
    if "event_id" in obj:
        try:
            event_id = uuid.UUID(obj["event_id"])
        except ValueError:
            raise LineError(f"event_id {obj['event_id'][:40]!r} is not a UUID") from None
        if _repeat(obj, state, event_id) is not None:
            return ALREADY_PRESENT, None
    obj = {"event_id": str(ids.new_id()), **obj}
    _continue_run(obj, state.heads.get(run_id), run_id)
    encoded = _encode(obj, state.settings)
    state.heads.known[run_id] = (encoded.run_seq, leaf_hash(encoded.body).hex())
    state.seen[encoded.event_id] = (number, encoded.body)
    state.submitted[encoded.event_id] = (number, encoded.body)
    return SEQUENCED, encoded


_RUN_ID = re.compile(rb'"run_id"\s*:\s*"([0-9a-fA-F-]{32,36})"')


def _run_of(line: bytes) -> uuid.UUID | None:
    """The run a rejected line names, if it can be read at all (to break that run).

    Lines too broken for a JSON parser (too deep, a lone surrogate, malformed) still name their
    run in plain text; the first `"run_id": "<uuid>"` is taken then.
    """
    try:
        obj = orjson.loads(line)
        if isinstance(obj, dict) and "run_id" in obj:
            return uuid.UUID(str(obj["run_id"]))
    except (orjson.JSONDecodeError, ValueError, TypeError):
        pass
    found = _RUN_ID.search(line)
    try:
        return uuid.UUID(found.group(1).decode()) if found else None
    except ValueError:
        return None


def _numbered(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip(b"\r\n")
        if line.strip():
            yield number, line


def _settle(conn: psycopg.Connection, result: IngestResult, state: _State) -> None:
    """After sequencing, turn each submitted line's provisional outcome into its real one."""
    states = receipt_states(conn, list(state.submitted))
    for index, outcome in enumerate(result.lines):
        if outcome.outcome != SEQUENCED or outcome.event_id is None:
            continue
        event_id = uuid.UUID(outcome.event_id)
        _, body = state.submitted[event_id]
        where = states.get(event_id)
        if where is not None and where.logged_leaf == leaf_hash(body):
            continue
        reason = (
            "still in intake: its run predecessor was not sequenced (another writer?)"
            if where is not None and where.pending_body is not None
            else "refused by the sequencer (a concurrent writer took this run_seq)"
        )
        result.lines[index] = LineOutcome(outcome.line, outcome.event_id, REJECTED, reason)


def ingest(
    conn: psycopg.Connection, lines: Iterable[bytes], settings: Settings, batch: int = 1000
) -> IngestResult:
    """Validate, submit and sequence JSON Lines; one outcome per non-blank line.

    The log key is loaded first: a key problem ends the command before any line is stored, so
    a retry after fixing the key cannot leave a second copy behind. A writer-only role holds no
    log key (`ledger serve` sequences for it), so it loads none.
    """
    if can_sequence(conn):
        log_signer(settings, conn)
    result = IngestResult()
    state = _State(conn, settings, _Heads(conn))
    numbered = _numbered(lines)
    while chunk := list(islice(numbered, batch)):
        pending: list[EncodedEvent] = []
        for number, line in chunk:
            event_id: str | None = None
            try:
                obj = scrub_event_json(_parse(line))[0]  # secrets never reach the database
                event_id = obj.get("event_id") if isinstance(obj.get("event_id"), str) else None
                outcome, encoded = _one_line(number, obj, state)
            except LineError as exc:
                result.lines.append(LineOutcome(number, event_id, REJECTED, str(exc)))
                run_id = _run_of(line)
                if run_id is not None:
                    state.broken.setdefault(run_id, number)
                continue
            if encoded is not None:
                pending.append(encoded)
                event_id = str(encoded.event_id)
            result.lines.append(LineOutcome(number, event_id, outcome))
        append_encoded(conn, pending)
    if state.submitted and not can_sequence(conn):
        result.lines = [
            LineOutcome(o.line, o.event_id, SUBMITTED) if o.outcome == SEQUENCED else o
            for o in result.lines
        ]
    elif state.submitted:
        try_sequence(conn, settings, wait=True)
        _settle(conn, result, state)
    return result
