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
from dataclasses import dataclass
from datetime import datetime

import psycopg
from pydantic import ValidationError

from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.errors import InputError, LedgerError
from ledger.event_retention import HoldAddedData, HoldReleasedData
from ledger.events import decode_event
from ledger.note import Signer
from ledger.retention import Recorded, record_retention
from ledger.store.holds import record_rows, run_in_range, subject_in_range, subject_in_run

__all__ = [
    "Hold",
    "HoldBlocks",
    "Release",
    "UnknownHold",
    "add_hold",
    "list_holds",
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


def list_holds(
    conn: psycopg.Connection, *, origins: list[str] | None = None, active: bool = False
) -> list[Hold]:
    """Every hold of `origins` (None: every log) with its release, oldest first; `active`:
    only those in force."""
    holds: dict[tuple[str, uuid.UUID], Hold] = {}
    for row in record_rows(conn, ["hold.added", "hold.released"], origins):
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
    return [h for h in found if h.released is None] if active else found


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
) -> tuple[uuid.UUID, Recorded]:
    """Record a `hold.added` over `tenant` (narrowed to `run_id` and/or `subject`)."""
    try:
        data = HoldAddedData(hold_id=uuid.uuid4(), tenant=tenant, run_id=run_id,
                             subject=subject, reason=reason, recorded_by=recorded_by)  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"bad hold: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
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
