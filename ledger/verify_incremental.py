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
from ledger.note import Checkpoint, Verifier, open_note
from ledger.store.read import checkpoint_at, checkpoint_at_most, latest_checkpoint, origins
from ledger.store.scan import log_size
from ledger.verified_state import VerifiedState
from ledger.verify import _check_root_row, _one_snapshot, key_ring
from ledger.verify_from import verify_from
from ledger.verify_report import VerifyReport
from ledger.verify_rows import Invalid

__all__ = ["Pin", "incremental_line", "record_verified", "verify_incremental"]


@dataclass(frozen=True)
class Pin:
    """A checkpoint verified earlier: where an origin's incremental verify starts."""

    checkpoint: Checkpoint
    note: bytes


def _consistent(conn: psycopg.Connection, pin: Checkpoint) -> None:
    """The log still holds the pinned size with the pinned root (index probes only)."""
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
        return  # no checkpoint at that size: the tiles' root is checked by verify_from
    if stored.root_hash != pin.root:
        before = checkpoint_at_most(conn, origin, size - 1) if size else None
        raise Invalid(
            0 if before is None else before.tree_size,
            f"equivocation: two different signed roots for size {size} "
            "(the stored checkpoint and the pinned one)",
            "equivocation",
        )


def _one(  # noqa: PLR0917 - one origin of the incremental verify
    conn: psycopg.Connection,
    settings: Settings,
    origin: str,
    pin: Checkpoint | None,
    verifiers: Sequence[Verifier],
    report: VerifyReport,
) -> None:
    start = 0 if pin is None else pin.size
    if pin is not None:
        _consistent(conn, pin)
    with gc_paused():
        size = verify_from(
            conn, origin, start, None if pin is None else pin.root, {},
            settings=settings, verifiers=verifiers, report=report,
        )  # fmt: skip
    report.incremental[origin] = [start, size]
    _check_root_row(conn, origin, settings)


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
    with _one_snapshot(conn):
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
    spans = ", ".join(f"{o} {lo}..{hi}" for o, (lo, hi) in sorted(report.incremental.items()))
    return (
        f"OK (incremental): {report.events_verified} new events in {len(report.origins)} log(s),"
        f" {report.checkpoints_verified} new signed checkpoints verified; from size: {spans}"
    )
