"""`ledger verify`: recompute everything from the stored bytes and name the first bad `seq`.

For every origin (tenant log), in one snapshot, this reads the whole log and checks, in order:
contiguous `seq`; each leaf recomputed from the stored body; every projection column against the
body (so editing a column that is not hashed is caught); every run chain (`run_seq` contiguous,
`prev_run_hash` = previous leaf of the run); the Merkle root at every checkpoint size against a
checkpoint note signed by a trusted key; and that no event lies beyond the newest checkpoint.
The reading is done twice over only when something is wrong: `ledger.verify_bulk` checks batches
fast and hands any doubt to `ledger.verify_rows`, which names the first bad `seq` and why.

What it cannot see without outside state: a log truncated together with its newest checkpoints,
or history rewritten by someone holding the log key. `--pin` (a checkpoint saved earlier) closes
that gap: the log must contain the pinned size with the pinned root. The docs say so plainly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import psycopg

from ledger.config import Settings
from ledger.gcpause import gc_paused
from ledger.holds import archived_prefix, held_ranges
from ledger.note import Checkpoint, Verifier
from ledger.proofs import witness_problem
from ledger.store.partitions import detached_tenants
from ledger.store.read import origins
from ledger.trustroot import with_pin
from ledger.verify_bulk import Suspect, bulk_scan
from ledger.verify_common import (
    check_root_row,
    checked_checkpoints,
    key_ring,
    load_pin,
    one_snapshot,
    payload_scanner,
    trusted_verifiers,
)
from ledger.verify_report import VerifyReport
from ledger.verify_rows import Invalid, row_scan
from ledger.verify_stamps import check_stamps
from ledger.witness import CosignatureVerifier

__all__ = [
    "Scan", "Stamps", "VerifyReport", "key_ring", "load_pin", "trusted_verifiers", "verify_ledger",
]

Scan = Callable[[psycopg.Connection, str, dict[int, bytes], Callable[..., None] | None], int]
"""The fast pass over one origin (`bulk_scan`'s shape): the log size, or `Suspect` on any doubt,
after which the row pass names the failure. `ledger.verify_parallel` passes its own."""
Stamps = Callable[[psycopg.Connection, str, Sequence[Verifier], int], int]
"""The stamp check of one origin (`check_stamps`'s shape; `ledger.verify_parallel` runs it in a
worker and replays its outcome here)."""


def _verify_origin(
    conn: psycopg.Connection,
    origin: str,
    verifiers: Sequence[Verifier],
    report: VerifyReport,
    pin: Checkpoint | None,
    *,
    settings: Settings,
    scan: Scan = bulk_scan,
    stamps: Stamps = check_stamps,
) -> None:
    checkpoints = checked_checkpoints(conn, origin, verifiers)
    report.checkpoints_verified += len(checkpoints)
    targets = dict(checkpoints)
    pinned = pin if pin is not None and pin.origin == origin else None
    if pinned is not None:
        stored = targets.get(pinned.size)
        if stored is not None and stored != pinned.root:
            raise Invalid(
                max((s for s in targets if s < pinned.size), default=0),
                f"equivocation: two different signed roots for size {pinned.size} "
                "(the stored checkpoint and the pinned one)",
                "equivocation",
            )
        targets.setdefault(pinned.size, pinned.root)
    private = payload_scanner(conn, origin, verifiers, settings)
    prefix = archived_prefix(conn, origin, targets, key_ring(conn, origin, verifiers).verifiers())
    if prefix is not None:  # `ledger archive` moved [lo, hi) out: check the rest (contract 7)
        from ledger.verify_from import verify_from  # it builds on this module's pieces

        report.archived[origin] = list(prefix)
        size = verify_from(conn, origin, prefix[1], None, targets, settings=settings,
                           verifiers=verifiers, report=report)  # fmt: skip (counts its events)
    else:
        try:
            size = scan(conn, origin, targets, private.scan if private is not None else None)
            report.events_verified += size
        except Suspect:
            private = payload_scanner(conn, origin, verifiers, settings)
            size = row_scan(conn, origin, targets, pinned, private, report)
    report.origins[origin] = size
    report.tree_size += size
    newest = checkpoints[-1][0] if checkpoints else 0
    if pinned is not None and pinned.size > size:
        raise Invalid(
            size,
            f"truncated: the log has {size} events but the pinned checkpoint has {pinned.size}"
            f" (newest stored checkpoint: size {newest})",
            "truncated",
        )
    if newest > size:
        raise Invalid(
            size,
            f"checkpoint at size {newest} but the log has only {size} events: tail removed",
            "tail_removed",
        )
    if pinned is not None and newest < pinned.size:
        raise Invalid(
            newest,
            f"replayed older checkpoint: the newest stored checkpoint has size {newest} "
            f"< pinned size {pinned.size}",
            "replayed_checkpoint",
        )
    if size > newest:
        raise Invalid(
            newest,
            f"unpublished tail: seq {newest}..{size - 1} not covered by a signed checkpoint",
            "unpublished_tail",
        )
    ring = key_ring(conn, origin, verifiers).verifiers()
    unstamped = stamps(conn, origin, ring, size) if prefix is None else 0  # else verify_from
    if unstamped:
        report.unstamped[origin] = unstamped
    report.held += held_ranges(conn, origin, size)
    if private is not None:
        problem = private.finish(report)
        if problem is not None:
            raise Invalid(problem[0], problem[1], problem[2])


def verify_ledger(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    verifiers: Sequence[Verifier] | None = None,
    pin: Checkpoint | None = None,
    only_origin: str | None = None,
    witnesses: Sequence[CosignatureVerifier] = (),
    scan: Scan = bulk_scan,
    stamps: Stamps = check_stamps,
) -> VerifyReport:
    """Verify every origin (or one) of the ledger; never raises for an invalid ledger.

    With `witnesses`, the newest checkpoint of every origin must carry a valid cosignature by
    each of them (stored in ledger_cosigned by a sequencer configured with a witness).
    """
    trusted = list(verifiers) if verifiers is not None else trusted_verifiers(settings)
    report = VerifyReport()
    if pin is not None:
        report.pinned = {"origin": pin.origin, "size": pin.size, "root": pin.root.hex()}
    with one_snapshot(conn):
        names = [only_origin] if only_origin else origins(conn)
        if pin is not None and pin.origin not in names:
            names.append(pin.origin)
        for origin in names:
            try:
                with gc_paused():
                    _verify_origin(
                        conn, origin, trusted, report, pin, settings=settings, scan=scan,
                        stamps=stamps,
                    )
                check_root_row(conn, origin, settings)
                if witnesses:
                    ring = key_ring(conn, origin, trusted)
                    size = report.origins.get(origin, 0)
                    problem = witness_problem(conn, origin, size, ring.verifiers(), witnesses)
                    if problem:
                        raise Invalid(size, problem, "unwitnessed")
                    report.witnessed[origin] = size
            except Invalid as bad:
                report.fail(origin, bad.seq, *with_pin(bad.reason, bad.verdict, pin is not None))
                break
        if only_origin is None:  # a detached tenant left the log tables: say so (catalog)
            report.detached = detached_tenants(conn)
    return report


def report_line(report: VerifyReport) -> str:
    """One-line human summary (CloudTrail-style)."""
    if report.status == "ok":
        pin = f"; consistent with pinned size {report.pinned['size']}" if report.pinned else ""
        return (
            f"OK: {report.events_verified} events in {len(report.origins)} log(s), "
            f"{report.checkpoints_verified} signed checkpoints verified{pin}{_retained(report)}"
        )
    return f"INVALID at seq {report.first_bad_seq} ({report.origin}): {report.reason}"



def _retained(report: VerifyReport) -> str:
    """`; archived seq 0..N-1 of O; 2 legal hold(s) in force; tenant T detached at size N
    (partition.detached)` (empty when none)."""
    parts = [f"archived seq {lo}..{hi - 1} of {o}" for o, (lo, hi) in report.archived.items()]
    if report.held:
        parts.append(f"{len(report.held)} legal hold(s) in force")
    parts += [f"tenant {d.tenant} detached at size {'?' if d.size is None else d.size} "
              "(partition.detached)" for d in report.detached]
    return "".join(f"; {p}" for p in parts)
