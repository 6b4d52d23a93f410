"""The row pass of `ledger verify`: one COPY row at a time, naming the first bad `seq` and why.

It is the reference: `ledger.verify_bulk` does the same checks faster a batch at a time and hands
over to this pass whenever anything looks wrong, so every failure message comes from here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import psycopg

from ledger.errors import VerificationFailed
from ledger.merkle import CompactRange, leaf_hash
from ledger.note import Checkpoint
from ledger.pgtime import pg_micros
from ledger.store.scan import verify_rows

if TYPE_CHECKING:
    from ledger.verify_bulk import Resume
    from ledger.verify_report import VerifyReport

__all__ = ["Invalid", "row_scan"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


class Invalid(VerificationFailed):
    """The ledger is invalid at `seq`; `verdict` is a stable machine-readable code."""

    def __init__(self, seq: int | None, reason: str, verdict: str = "invalid") -> None:
        super().__init__(reason)
        self.seq, self.reason, self.verdict = seq, reason, verdict


def row_scan(  # noqa: PLR0917 - the state of one origin's verification
    conn: psycopg.Connection,
    origin: str,
    targets: dict[int, bytes],
    pinned: Checkpoint | None,
    private: Any,
    report: VerifyReport,
    resume: Resume | None = None,
) -> int:
    """The row pass: one COPY row at a time, naming the first bad seq and why (the reference
    for the bulk pass, run when the bulk pass finds anything unexpected). `resume` starts at
    its tree's size instead of 0 (ledger.verify_from)."""
    tree = CompactRange() if resume is None else resume.tree.copy()
    heads: dict[Any, tuple[int, str]] = (
        {} if resume is None else {uuid.UUID(k): v for k, v in resume.heads.items()}
    )
    first = expected = tree.size
    loads = orjson.loads
    with verify_rows(conn, origin, first) as rows:
        for seq, event_id, run_id, run_seq, type_, occurred, body, leaf in rows:
            if seq != expected:
                raise Invalid(
                    expected, f"missing seq {expected} (next stored is {seq})", "missing_seq"
                )
            if leaf_hash(body) != leaf:
                raise Invalid(
                    seq,
                    f"leaf hash mismatch at seq {seq}: stored bytes were changed",
                    "leaf_mismatch",
                )
            try:
                value = loads(body)
                mismatch = _column_mismatch(
                    value, origin, event_id, run_id, run_seq, type_, occurred
                )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                mismatch = "body is not a valid event"
            if mismatch:
                raise Invalid(
                    seq, f"column/body mismatch at seq {seq}: {mismatch}", "column_mismatch"
                )
            head = heads.get(run_id)
            want_seq, want_prev = (0, None) if head is None else (head[0] + 1, head[1])
            if run_seq != want_seq or value.get("prev_run_hash") != want_prev:
                raise Invalid(
                    seq,
                    f"run chain break at seq {seq}: run {run_id} expected run_seq {want_seq} "
                    f"after the previous event, found {run_seq}",
                    "chain_break",
                )
            if private is not None and (b'"$commitment"' in body or type_ == "redaction"):
                private.scan(seq, value)
            leaf_hex = leaf.hex()
            heads[run_id] = (run_seq, leaf_hex)
            tree.append(leaf)
            expected += 1
            want_root = targets.get(expected)
            if want_root is not None and tree.root() != want_root:
                start = max((s for s in targets if s < expected), default=first)
                at_pin = pinned is not None and expected == pinned.size
                what = "pinned checkpoint" if at_pin else "checkpoint"
                raise Invalid(
                    start,
                    f"root mismatch at {what} size {expected}: "
                    f"events in seq {start}..{expected - 1}"
                    " were changed, inserted, removed or reordered"
                    + (" (history rewritten since the pin)" if at_pin else ""),
                    "rewritten" if at_pin else "root_mismatch",
                )
            report.events_verified += 1
    return expected


def _column_mismatch(  # noqa: PLR0917 - positional helper with a fixed, documented order
    value: dict[str, Any],
    origin: str,
    event_id: Any,
    run_id: Any,
    run_seq: int,
    type_: str,
    occurred: datetime,
) -> str | None:
    if value["event_id"] != str(event_id):
        return "event_id"
    if value["run_id"] != str(run_id):
        return "run_id"
    if value["run_seq"] != run_seq:
        return "run_seq"
    if value["type"] != type_:
        return "type"
    if not origin.endswith("/" + value.get("tenant", "default")):
        return "origin/tenant"
    if (occurred - _EPOCH) // _US != pg_micros(value["occurred_at"]):
        return "occurred_at"
    return None
