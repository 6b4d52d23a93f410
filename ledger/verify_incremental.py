"""`ledger verify --from-checkpoint` and the monitor's cycle: verify only what is new since a
checkpoint verified earlier, then remember the newest one (ledger.verified_state).

Why a pin from outside: the prefix below the pinned size is not re-read, so the pin must come
from somewhere a database attacker cannot reach (a note file saved with `ledger checkpoint`, or
the verifier's own state directory). Before anything is read from it, the current log must be
consistent with the pin: the stored checkpoint at the pinned size must carry the pinned root
(else `equivocation`: two signed roots for one size), a log smaller than the pin is `truncated`,
and the stored tiles must hash to the pinned root (`tiles_mismatch`, ledger.verify_from). Then
`verify_from(size, root)` checks the new range with full verify's own checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from ledger.config import Settings
from ledger.gcpause import gc_paused
from ledger.holds import archive_records, archived_prefix
from ledger.keyring import KeyRing
from ledger.note import Checkpoint, NoteError, Verifier, open_note, parse_note
from ledger.store.read import checkpoint_at, checkpoint_at_most, latest_checkpoint, origins
from ledger.store.scan import attached_ranges, log_size, seq_neighbours
from ledger.trustroot import REWRITTEN, pin_or_rewritten
from ledger.verified_state import VerifiedState
from ledger.verify_common import check_root_row, key_ring, one_snapshot
from ledger.verify_from import checked_frontier, verify_from
from ledger.verify_report import VerifyReport
from ledger.verify_rows import Invalid

__all__ = ["Pin", "incremental_line", "open_pin", "record_verified", "verify_incremental"]


@dataclass(frozen=True)
class Pin:
    """A checkpoint verified earlier: where an origin's incremental verify starts."""

    checkpoint: Checkpoint
    note: bytes


def open_pin(conn: psycopg.Connection, note: bytes, roots: Sequence[Verifier]) -> Checkpoint | str:
    """A kept or given checkpoint note opened with the key ring its log endorses (the roots plus
    the log's endorsed key events, as full verify judges stored checkpoints), so a `ledger keys
    rotate` between two verifies is not a rewrite; or the one-line `rewritten` reason when no
    key of that ring valid at the note's size signed it. A malformed note raises NoteError."""
    try:
        ring: KeyRing | None = key_ring(conn, Checkpoint.parse(parse_note(note)[0]).origin, roots)
    except (NoteError, ValueError, Invalid):
        ring = None  # unreadable or invalid key events: full verify names those, not the pin
    keys = list(roots) if ring is None else ring.verifiers()
    opened = pin_or_rewritten(note, keys)
    if isinstance(opened, str) or ring is None:
        return opened
    signed_by = open_note(note, keys).verified_by
    if any(ring.valid(v, opened.size) for v in signed_by):
        return opened
    names = ", ".join(f"{v.name} ({v.key_id.hex()})" for v in signed_by)
    return (f"{REWRITTEN}: the pinned checkpoint is signed by {names}, a log key not valid at "
            f"size {opened.size}: the log was rewritten with another key")  # fmt: skip


def _archived(
    conn: psycopg.Connection, origin: str, verifiers: Sequence[Verifier]
) -> tuple[int, int] | None:
    """The prefix `ledger archive` moved out of `origin` (full verify's rule, ledger.holds):
    each archive's signed pin must name a root the log stores at that size."""
    records = archive_records(conn, origin)
    if not records:
        return None
    targets: dict[int, bytes] = {}
    for _seq, data in records:
        try:
            size = Checkpoint.parse(parse_note(data.checkpoint.encode())[0]).size
        except (NoteError, ValueError):
            continue  # archived_prefix names it
        stored = checkpoint_at(conn, origin, size)
        if stored is not None:
            targets[size] = stored.root_hash
    return archived_prefix(conn, origin, targets, key_ring(conn, origin, verifiers).verifiers())


def _gone(conn: psycopg.Connection, origin: str, missing: int) -> Invalid:
    """What full verify says when the first missing seq is `missing`: a removed tail, or a gap."""
    after = seq_neighbours(conn, origin, 0, missing)[1]
    if after is None:
        newest = latest_checkpoint(conn, origin)
        size = 0 if newest is None else newest.tree_size
        return Invalid(missing, f"checkpoint at size {size} but the log has only {missing} events:"
                       " tail removed", "tail_removed")  # fmt: skip
    return Invalid(missing, f"missing seq {missing} (next stored is {after})", "missing_seq")


def _still_there(conn: psycopg.Connection, origin: str, lo: int, size: int) -> None:
    """The events [lo, size) an incremental verify does not read are still stored: the first
    and the last (two primary-key probes), and the first of every hole between the attached
    seq-range partitions (an owner's DETACH PARTITION). Rows deleted inside the prefix are
    left to the monitor's re-sampling and to full verify."""
    if size <= lo:
        return
    last, first = seq_neighbours(conn, origin, size, lo)
    if first != lo:
        raise _gone(conn, origin, lo)
    if last != size - 1:
        raise _gone(conn, origin, (lo if last is None else last) + 1)
    pos = lo
    for a, b in attached_ranges(conn, origin, size - 1):
        if b <= pos or a >= size:
            continue
        if a > pos and seq_neighbours(conn, origin, 0, pos)[1] != pos:
            raise _gone(conn, origin, pos)
        pos = b


def _consistent(conn: psycopg.Connection, pin: Checkpoint, lo: int) -> None:
    """The log still holds the pinned size with the pinned root (index probes only); `lo` is
    where the stored events start (after an archived prefix)."""
    origin, size = pin.origin, pin.size
    stored = checkpoint_at(conn, origin, size)
    if stored is None:
        newest = latest_checkpoint(conn, origin)
        newest_size = 0 if newest is None else newest.tree_size
        have = log_size(conn, origin)
        if max(have, newest_size) < size:
            raise Invalid(
                have,
                f"truncated: the log has {have} events but the pinned checkpoint has {size}"
                f" (newest stored checkpoint: size {newest_size})",
                "truncated",
            )
    elif stored.root_hash != pin.root:
        before = checkpoint_at_most(conn, origin, size - 1) if size else None
        raise Invalid(
            0 if before is None else before.tree_size,
            f"equivocation: two different signed roots for size {size} "
            "(the stored checkpoint and the pinned one)",
            "equivocation",
        )
    _still_there(conn, origin, lo, size)


def _one(  # noqa: PLR0917 - one origin of the incremental verify
    conn: psycopg.Connection,
    settings: Settings,
    origin: str,
    pin: Checkpoint | None,
    verifiers: Sequence[Verifier],
    report: VerifyReport,
) -> None:
    """From the pin (or, without one, from the archived boundary, as full verify starts)."""
    prefix = _archived(conn, origin, verifiers)
    boundary = 0 if prefix is None else prefix[1]
    if prefix is not None:
        report.archived[origin] = list(prefix)
    start, root = boundary, None
    if pin is not None:
        _consistent(conn, pin, boundary)
        start, root = pin.size, pin.root
        if boundary > start:  # archived since the pin: the tiles still prove the pin, go on
            checked_frontier(conn, origin, start, root)
            start, root = boundary, None
    with gc_paused():
        size = verify_from(
            conn, origin, start, root, {}, settings=settings, verifiers=verifiers, report=report
        )
    report.incremental[origin] = [start if pin is None else pin.size, size]
    check_root_row(conn, origin, settings)


def verify_incremental(
    conn: psycopg.Connection,
    settings: Settings,
    pins: Sequence[Checkpoint],
    *,
    verifiers: Sequence[Verifier],
    every_origin: bool,
) -> VerifyReport:
    """Verify each pinned origin from its pin (and, with `every_origin`, every other origin of
    the database from 0: a log that appeared since); never raises for an invalid ledger."""
    report = VerifyReport()
    by_origin = {p.origin: p for p in pins}
    with one_snapshot(conn):
        names = sorted(set(by_origin) | (set(origins(conn)) if every_origin else set()))
        for origin in names:
            try:
                _one(conn, settings, origin, by_origin.get(origin), verifiers, report)
            except Invalid as bad:
                report.fail(origin, bad.seq, bad.reason, bad.verdict)
                break
    return report


def record_verified(
    conn: psycopg.Connection,
    state: VerifiedState,
    report: VerifyReport,
    verifiers: Sequence[Verifier],
) -> dict[str, int]:
    """Keep the newest checkpoint of every origin `report` verified OK (sizes recorded)."""
    recorded: dict[str, int] = {}
    if report.status != "ok":
        return recorded
    for origin, size in report.origins.items():
        stored = checkpoint_at(conn, origin, size) if size else None
        if stored is None:
            continue
        note = stored.note.encode("utf-8")
        open_note(note, key_ring(conn, origin, verifiers).verifiers())  # it was; it still is
        if state.record(note):
            recorded[origin] = size
    return recorded


def incremental_line(report: VerifyReport) -> str:
    """One-line summary: what was verified, from which size to which, per origin."""
    if report.status != "ok":
        return f"INVALID at seq {report.first_bad_seq} ({report.origin}): {report.reason}"
    return (
        f"OK (incremental): {report.events_verified} new events in {len(report.origins)} log(s),"
        f" {report.checkpoints_verified} new signed checkpoints verified;"
        f" {size_spans(report.incremental)}{archived_spans(report.archived)}"
    )


def size_spans(spans: dict[str, list[int]]) -> str:
    """`sizes: O 12→20, P 0→8`: tree sizes verified from → to (docs/monitor.md, notation)."""
    return "sizes: " + ", ".join(f"{o} {lo}→{hi}" for o, (lo, hi) in sorted(spans.items()))


def archived_spans(archived: dict[str, list[int]]) -> str:
    """`; archived seq 0..37 of O` (inclusive seqs, as full verify says it); empty when none."""
    return "".join(f"; archived seq {lo}..{hi - 1} of {o}" for o, (lo, hi) in
                   sorted(archived.items()))  # fmt: skip
