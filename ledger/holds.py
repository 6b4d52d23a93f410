"""Legal holds: add, release, list, and the question "does a hold cover this?".

Why a service of its own: a hold must stop two destructive operations that live in different
layers, `ledger redact` (ledger.privacy: shred a subject's key) and `ledger archive`
(exporters.archive: detach or drop a seq range), and both must read holds the same way. A hold
is a `hold.added` record in its tenant's log (ledger.retention records and signs it) and stays
in force until a `hold.released` naming its id follows in the same log; both are read from the
log (ledger.store.holds), so what the signed log says is in force is in force.

Scope: `tenant` alone covers every event of the tenant; with `run_id`, the events of that run;
with `subject`, the events carrying that data subject's sealed payloads (both: the subject's
events in that run). A hold also covers its own record: archiving the range that holds a hold in
force would silently lift it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import psycopg
from pydantic import ValidationError

if TYPE_CHECKING:  # `ledger verify` reads holds: the write path is imported only to write
    from ledger.authority.trust import TrustRoot
    from ledger.config import Settings
    from ledger.note import Signer, Verifier
    from ledger.retention import Recorded

from ledger.errors import InputError, LedgerError
from ledger.event_retention import ArchiveRecordedData, HoldAddedData, HoldReleasedData
from ledger.events import decode_event
from ledger.store.holds import (
    RecordRow,
    detached_record_rows,
    record_rows,
    run_in_range,
    run_span,
    subject_in_range,
    subject_in_run,
    subject_span,
    tenant_state,
)
from ledger.store.partitions import partition_catalog
from ledger.verify_report import HeldRange

__all__ = [
    "DetachedHolds",
    "Hold",
    "HoldBlocks",
    "Release",
    "UnknownHold",
    "add_hold",
    "archive_records",
    "archived_prefix",
    "detached_holds",
    "held_ranges",
    "known_tenant",
    "list_holds",
    "need_reason",
    "range_holds",
    "release_hold",
    "subject_holds",
]


class HoldBlocks(LedgerError):
    """A legal hold in force covers what was to be erased or archived; nothing was done."""

    label = "refused"


class UnknownHold(InputError):
    """No hold of that id is recorded (or it is already released)."""


@dataclass(frozen=True, slots=True)
class Release:
    """Where and why a hold was released."""

    seq: int
    recorded_at: datetime
    data: HoldReleasedData


@dataclass(frozen=True, slots=True)
class Hold:
    """A recorded hold, and its release if one follows it."""

    origin: str
    seq: int
    recorded_at: datetime
    data: HoldAddedData
    released: Release | None = None
    detached: bool = False  # its tenant was detached: read from the detached events table

    @property
    def hold_id(self) -> uuid.UUID:
        return self.data.hold_id

    def scope(self) -> str:
        """`tenant acme`, `run R of tenant acme`, `subject 'x' of tenant acme`."""
        parts = [f"run {self.data.run_id}"] if self.data.run_id else []
        parts += [f"subject {self.data.subject!r}"] if self.data.subject is not None else []
        return " and ".join(parts) + (" of " if parts else "") + f"tenant {self.data.tenant}"

    def line(self) -> str:
        """`hold ID (scope, by WHO: reason)`: the one line a refusal names."""
        return (f"hold {self.hold_id} ({self.scope()}, by {self.data.recorded_by}: "
                f"{self.data.reason!r})")  # fmt: skip


def need_reason(reason: str, what: str) -> str:
    """InputError (exit 2) for an empty `--reason`: every operator record says why."""
    if not reason.strip():
        raise InputError(f"--reason is required: {what} is recorded with why it was done")
    return reason


def known_tenant(conn: psycopg.Connection, settings: Settings, tenant: str) -> str:
    """The origin of `tenant` when a hold or rule may name it: InputError (exit 2) for a tenant
    with no log and no catalog row (a typo would start a new log and protect nothing), or one
    detached (its log is closed)."""
    from ledger.terminal import printable

    origin = settings.origin(tenant)
    known, detached_at = tenant_state(conn, origin)
    if detached_at is not None:
        raise InputError(f"tenant {printable(tenant)} was detached at {detached_at}: its log "
                         "is closed")  # fmt: skip
    if not known:
        raise InputError(f"no tenant {printable(tenant)}: it has no log and is not listed "
                         "(`ledger tenants list` shows the tenants)")  # fmt: skip
    return origin


def _held_target(conn: psycopg.Connection, origin: str, tenant: str, *, run_id: uuid.UUID | None,
                 subject: str | None, allow_unknown: bool) -> None:  # fmt: skip
    """InputError unless a run hold names a run of the tenant and a subject hold a subject
    with payloads there (or `allow_unknown`: held deliberately before its data arrives)."""
    from ledger.terminal import printable

    if run_id is not None and run_span(conn, origin, run_id) is None:
        raise InputError(f"run {run_id} is not a run of tenant {tenant} (no event of it in "
                         f"{origin})")  # fmt: skip
    if subject is not None and not allow_unknown and subject_span(conn, origin, subject) is None:
        raise InputError(f"subject {printable(subject)!r} has no payloads in tenant {tenant} "
                         "(--allow-unknown holds it before its data arrives)")  # fmt: skip


def _holds_of(rows: list[RecordRow], detached: bool = False) -> list[Hold]:
    """The holds the `hold.added`/`hold.released` rows record, each with its release."""
    holds: dict[tuple[str, uuid.UUID], Hold] = {}
    for row in rows:
        data = decode_event(row.body).data
        if isinstance(data, HoldAddedData):
            holds.setdefault((row.origin, data.hold_id),
                             Hold(row.origin, row.seq, row.recorded_at, data))  # fmt: skip
        elif isinstance(data, HoldReleasedData):
            held = holds.get((row.origin, data.hold_id))
            if held is not None and held.released is None:
                release = Release(row.seq, row.recorded_at, data)
                holds[(row.origin, data.hold_id)] = _released(held, release)
    found = sorted(holds.values(), key=lambda h: (h.recorded_at, h.origin, h.seq))
    return [Hold(h.origin, h.seq, h.recorded_at, h.data, h.released, detached) for h in found]


def list_holds(
    conn: psycopg.Connection, *, origins: list[str] | None = None, active: bool = False
) -> list[Hold]:
    """Every hold of `origins` (None: every log) with its release, oldest first; `active`:
    only those in force."""
    found = _holds_of(record_rows(conn, ["hold.added", "hold.released"], origins))
    return [h for h in found if h.released is None] if active else found


@dataclass(frozen=True, slots=True)
class DetachedHolds:
    """The holds of the detached tenants (`Hold.detached`), and the tenants whose detached
    table this login may not read (only the owner may)."""

    holds: list[Hold]
    unreadable: list[str]


def detached_holds(conn: psycopg.Connection, *, active: bool = False) -> DetachedHolds:
    """The holds recorded in the logs of detached tenants: their records left `ledger_events`
    with the tenant, so `hold list` reads them from the detached events tables."""
    holds: list[Hold] = []
    unreadable: list[str] = []
    for info in partition_catalog(conn):
        if not info.origin or info.detached_at is None or not info.own_partition:
            continue
        rows = detached_record_rows(conn, info.events_table, ["hold.added", "hold.released"])
        if rows is None:
            unreadable.append(info.tenant)
            continue
        holds += [h for h in _holds_of(rows, detached=True) if h.released is None or not active]
    return DetachedHolds(holds, unreadable)


def _released(hold: Hold, release: Release) -> Hold:
    return Hold(hold.origin, hold.seq, hold.recorded_at, hold.data, release)


def add_hold(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    tenant: str,
    reason: str,
    recorded_by: str,
    run_id: uuid.UUID | None = None,
    subject: str | None = None,
    signer: Signer | None = None,
    root: TrustRoot | None = None,
    allow_unknown: bool = False,
) -> tuple[uuid.UUID, Recorded]:
    """Record a `hold.added` over `tenant` (narrowed to `run_id` and/or `subject`): refused
    (exit 2) without a reason, for an unknown tenant, a run not of the tenant, or a subject
    with no payloads there unless `allow_unknown` (a hold covering nothing is a false comfort)."""
    from ledger.gates import may_record
    from ledger.retention import record_retention

    need_reason(reason, "a hold")
    try:
        data = HoldAddedData(hold_id=uuid.uuid4(), tenant=tenant, run_id=run_id,
                             subject=subject, reason=reason, recorded_by=recorded_by)  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"bad hold: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    may_record(conn, "retention records")  # a writer's login: refused before anything is read
    origin = known_tenant(conn, settings, tenant)
    _held_target(conn, origin, tenant, run_id=run_id, subject=subject,
                 allow_unknown=allow_unknown)
    recorded, _ = record_retention(conn, settings, "hold.added", data, tenant=tenant,
                                   signer=signer, root=root)  # fmt: skip
    return data.hold_id, recorded


def release_hold(
    conn: psycopg.Connection,
    settings: Settings,
    hold_id: uuid.UUID,
    *,
    reason: str,
    recorded_by: str,
    signer: Signer | None = None,
    root: TrustRoot | None = None,
) -> tuple[Hold, Recorded]:
    """Record `hold.released` for `hold_id` in its log; UnknownHold (exit 2) when no such hold
    is recorded or it is already released."""
    from ledger.retention import record_retention

    need_reason(reason, "a release")
    found = [h for h in list_holds(conn) if h.hold_id == hold_id]
    if not found:
        raise UnknownHold(f"no hold {hold_id} is recorded (`ledger hold list` shows them)")
    if all(h.released is not None for h in found):
        done = found[0].released
        raise UnknownHold(f"hold {hold_id} is already released (seq {done.seq if done else '?'})")
    hold = next(h for h in found if h.released is None)
    data = HoldReleasedData(hold_id=hold_id, reason=reason, recorded_by=recorded_by)
    recorded, _ = record_retention(conn, settings, "hold.released", data,
                                   tenant=hold.data.tenant, signer=signer, root=root)  # fmt: skip
    return hold, recorded


def subject_holds(conn: psycopg.Connection, origin: str, subject: str) -> list[Hold]:
    """The holds in force in `origin` that cover `subject`: its tenant's, a hold naming it, or
    a hold on a run in which it has sealed payloads."""
    covering = []
    for hold in list_holds(conn, origins=[origin], active=True):
        if hold.data.subject is not None and hold.data.subject != subject:
            continue
        if hold.data.run_id is not None and not subject_in_run(conn, origin, subject,
                                                               hold.data.run_id):  # fmt: skip
            continue
        covering.append(hold)
    return covering


def range_holds(conn: psycopg.Connection, origin: str, lo: int, hi: int) -> list[tuple[Hold, int]]:
    """The holds in force in `origin` covering an event of [lo, hi), each with the first seq
    it covers there (a hold's own record counts: module docstring)."""
    covering = []
    for hold in list_holds(conn, origins=[origin], active=True):
        seqs = [hold.seq] if lo <= hold.seq < hi else []
        run_id, subject = hold.data.run_id, hold.data.subject
        if run_id is None and subject is None:
            seqs.append(lo)
        elif subject is None and run_id is not None:
            seqs += [s for s in [run_in_range(conn, origin, run_id, lo, hi)] if s is not None]
        elif subject is not None:
            first = subject_in_range(conn, origin, subject, lo, hi)
            if first is not None and (run_id is None or subject_in_run(conn, origin, subject,
                                                                        run_id)):  # fmt: skip
                seqs.append(first)
        if seqs:
            covering.append((hold, min(seqs)))
    return covering


def held_ranges(conn: psycopg.Connection, origin: str, size: int) -> list[HeldRange]:
    """What `ledger verify` reports as held in `origin` (VerifyReport.held): each hold in force
    with its scope and the seq range [seq_from, seq_to] of what it covers now (a tenant hold:
    the whole log; a run or subject hold: its first to last event; None when nothing yet)."""
    held: list[HeldRange] = []
    for hold in list_holds(conn, origins=[origin], active=True):
        data = hold.data
        if data.subject is not None:
            span = subject_span(conn, origin, data.subject)
        elif data.run_id is not None:
            span = run_span(conn, origin, data.run_id)
        else:
            span = (0, size - 1) if size else None
        held.append(HeldRange(origin, str(hold.hold_id), hold.scope(), hold.seq,
                              span and span[0], span and span[1]))  # fmt: skip
    return held


def archive_records(conn: psycopg.Connection, origin: str) -> list[tuple[int, ArchiveRecordedData]]:
    """Every `archive.recorded` of `origin` (seq, data), oldest first."""
    found = []
    for row in record_rows(conn, ["archive.recorded"], [origin]):
        data = decode_event(row.body).data
        if isinstance(data, ArchiveRecordedData):
            found.append((row.seq, data))
    return found


def archived_prefix(
    conn: psycopg.Connection, origin: str, targets: dict[int, bytes], verifiers: Sequence[Verifier]
) -> tuple[int, int] | None:
    """The prefix [lo, hi) of `origin` that `ledger archive` moved out (None: none), after
    checking each archive's final pin against the verified checkpoints (`targets`): a pin that
    does not open under the log keys, or names a root the log does not have, is Invalid."""
    from ledger.note import Checkpoint, NoteError, open_note
    from ledger.verify_rows import Invalid

    records = archive_records(conn, origin)
    for seq, data in records:
        try:
            pin = Checkpoint.parse(open_note(data.checkpoint.encode(), verifiers).body)
        except (NoteError, ValueError) as exc:
            raise Invalid(seq, f"archive.recorded at seq {seq}: its pin does not open ({exc})",
                          "archive_pin_invalid") from None  # fmt: skip
        if pin.origin != origin or targets.get(pin.size) != pin.root or pin.size < data.seq_to:
            raise Invalid(seq, f"archive.recorded at seq {seq}: its pin (size {pin.size}) is not "
                          "a checkpoint of this log covering the range", "archive_pin_invalid")
    if not records:
        return None
    return min(d.seq_from for _, d in records), max(d.seq_to for _, d in records)
