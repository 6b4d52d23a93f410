"""Leadership per origin: which sequencer may sequence which log (issue 20 item 2, 0027).

One global row lock (0013) let one sequencer work at a time. Now each origin has a lease row in
`ledger_sequencer_leases`; a batch locks the rows of the origins it sequences (FOR UPDATE SKIP
LOCKED: two batches never touch one origin and never wait for each other) and renews them on
the database clock, in the batch's own transaction. Locking a row needs UPDATE privilege, so a
hostile writer can neither take a lease nor hold one to stop a log (an advisory lock would not
do: any role may take any advisory lock).

The lease decides who *should* sequence an origin; the row lock decides who *does*, so a
lease never needs to be exact for safety, only for sharing the work:

* A `ledger serve` process (a `Lessee` with a holder name) registers in
  `ledger_sequencer_holders` at least once a second; the live ones split the origins that have
  intake or a live lease (fair share, `fair_share`): each keeps or claims origins up to
  ceil(origins / live holders), a live holder's `--tenant`s going to it (the others give them
  back, at a batch or at the once-a-second renewal), gives back what is over its share at
  once, and claims a dead holder's origins once their lease expired (`LEDGER_LEASE_SECONDS`,
  default 5). An origin free for longer than a lease is claimed by anyone (no starvation).
* An embedded writer (`try_sequence`, no holder) sequences the origins nobody holds, for its
  transaction only, so it never keeps work from a running `ledger serve`.
* A caller that waits (`wait=True`: a rotation, `append`) locks every origin with work, whoever
  leased it, waiting for in-flight batches: the row lock is the exclusion that matters.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg

from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.errors import InputError

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "LEASE_ENV",
    "LeaseRow",
    "Lessee",
    "fair_share",
    "lease_for_batch",
    "lease_seconds",
    "new_holder",
]

LEASE_ENV = "LEDGER_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 5.0


def lease_seconds(settings: Settings) -> float:
    """How long a lease outlives its last batch (settings.extra, env, else 5 s); positive."""
    text = str(settings.extra.get("lease_seconds") or os.environ.get(LEASE_ENV) or "")
    if not text:
        return DEFAULT_LEASE_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 86400:
        raise InputError(f"{LEASE_ENV} must be a number of seconds in (0, 86400), not {text!r}")
    return value


def new_holder() -> str:
    """A name no other process uses: host, pid and a random suffix (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def tenant_of(origin: str) -> str:
    """The tenant of `<prefix>/<tenant>`."""
    return origin.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class LeaseRow:
    """One origin with work, as its lease stands before this batch."""

    origin: str
    holder: str | None
    live: bool
    starving: bool


@dataclass
class Lessee:
    """A `ledger serve` process as a lease holder: its name, preferred tenants, lease length."""

    holder: str
    tenants: tuple[str, ...] = ()
    seconds: float = DEFAULT_LEASE_SECONDS
    every: float = 1.0
    _last: float = field(default=float("-inf"), repr=False)

    def beat(self, conn: psycopg.Connection, *, force: bool = False) -> None:
        """Say this holder is alive (at most once a second): the others count it in the share.
        Its leases are renewed even when its origins are idle (an origin stays with its
        sequencer while it lives), except those the fair share now gives to another live
        holder (one that prefers it, or one under its share): those go back at once."""
        now = time.monotonic()
        if force or now - self._last >= self.every:
            with conn.transaction():
                conn.execute(query("holder_seen"), (self.holder, list(self.tenants)))
                work = [o for (o,) in conn.execute(query("work_origins"))]
                rows, _ = _view(conn, work, self.seconds)
                _, release = fair_share(rows, self.holder, self.tenants, _live(conn, self))
                if release:  # SKIP LOCKED: an origin mid-batch (a rotation's) stays for now
                    conn.execute(query("lease_release"), (release, self.holder))
                conn.execute(query("lease_renew"), (self.seconds, self.holder))
                if force:
                    conn.execute(query("holders_prune"))
            self._last = now

    def leave(self, conn: psycopg.Connection) -> None:
        """A clean exit: give every lease back at once and unregister."""
        if conn.closed:
            return
        try:
            with conn.transaction():
                held = [o for (o,) in conn.execute(query("lease_held_by"), (self.holder,))]
                if held:
                    conn.execute(query("lease_release"), (held, self.holder))
                conn.execute(query("holder_gone"), (self.holder,))
        except psycopg.Error:
            pass  # a broken connection: the leases expire by themselves


def _preferred_owners(
    rows: Sequence[LeaseRow], share: int, prefers: dict[str, set[str]]
) -> dict[str, str]:
    """origin -> the live holder that prefers it and gets it, each holder at most `share`.

    Every holder computes the same map from the same lease table, so a preference moves an
    origin once and never back and forth: the preferring holder that holds it keeps it, else
    the first preferring holder by name with room in its share takes it.
    """
    owner: dict[str, str] = {}
    count = dict.fromkeys(prefers, 0)

    def give(origin: str, holder: str) -> None:
        if origin not in owner and count[holder] < share:
            owner[origin] = holder
            count[holder] += 1

    for r in rows:
        if r.live and r.holder in prefers and tenant_of(r.origin) in prefers[r.holder]:
            give(r.origin, r.holder)
    for holder in sorted(prefers):
        for r in rows:
            if tenant_of(r.origin) in prefers[holder]:
                give(r.origin, holder)
    return owner


def fair_share(
    rows: Sequence[LeaseRow], me: str, prefers: Sequence[str], live: dict[str, Sequence[str]]
) -> tuple[list[str], list[str]]:
    """(origins to keep or claim, origins of mine to give back) for holder `me`.

    `rows` are the origins with work or with a live lease, so an idle origin still counts in
    its holder's share (work arriving one tenant at a time cannot leave every origin with
    whoever woke first). The share is ceil(rows / live holders), so the shares cover every
    origin. A live holder's preferred origins go to it (`_preferred_owners`): a holder that
    does not prefer one gives it back, for the preferring one to claim. Then come origins
    already held (no churn), then free ones; what is over the share is given back at once.
    A starving origin (free for longer than a lease) is claimed over the share.
    """
    wants = {h: set(t) for h, t in live.items()} | {me: set(prefers)}
    share = math.ceil(len(rows) / len(wants)) if rows else 0
    owner = _preferred_owners(rows, share, wants)

    def claimable(r: LeaseRow) -> bool:
        if r.origin in owner:
            return owner[r.origin] == me
        return not r.live or r.holder == me

    ranked = sorted(
        filter(claimable, rows),
        key=lambda r: (owner.get(r.origin) != me, not (r.live and r.holder == me), r.origin),
    )
    keep = [r.origin for r in ranked[:share]]
    keep += [r.origin for r in rows if r.starving and not r.live and r.origin not in keep]
    release = [r.origin for r in rows if r.live and r.holder == me and r.origin not in keep]
    return keep, release


def _share_state_row(conn: psycopg.Connection, *, wait: bool) -> bool:
    row = conn.execute(query("share_sequencer_row" if wait else "try_share_sequencer_row"))
    return row.fetchone() is not None


def lease_for_batch(
    conn: psycopg.Connection, settings: Settings, lessee: Lessee | None, *, wait: bool
) -> list[str] | None:
    """The origins this batch may sequence (locked until it commits), in the open transaction.

    [] when no origin has intake; None when there is work but none of it is ours (another
    sequencer holds it, or a key operation runs and we do not wait).
    """
    if not _share_state_row(conn, wait=wait):
        return None  # a rotation runs; without wait=True we do not queue behind it
    work = [o for (o,) in conn.execute(query("work_origins"))]
    if not work:
        return []
    seconds = lessee.seconds if lessee is not None else lease_seconds(settings)
    rows, missing = _view(conn, work, seconds)
    if missing:
        conn.execute(query("lease_rows_add"), (missing,))
    if wait:
        got = [o for (o,) in conn.execute(query("lease_lock_all"), (work,))]
    elif lessee is None:
        got = [o for (o,) in conn.execute(query("lease_lock_free"), (work,))]
    else:
        got = _claim(conn, lessee, rows, set(work))
    return got or None


def _view(
    conn: psycopg.Connection, work: list[str], seconds: float
) -> tuple[list[LeaseRow], list[str]]:
    """(the leases of the origins with work or a live lease, origins with work but no row)."""
    rows: list[LeaseRow] = []
    missing: list[str] = []
    for origin, holder, live, starving, exists in conn.execute(
        query("lease_view"), (work, seconds)
    ):
        rows.append(LeaseRow(origin, holder, live, starving))
        if not exists:
            missing.append(origin)
    return rows, missing


def _live(conn: psycopg.Connection, lessee: Lessee) -> dict[str, Sequence[str]]:
    """The live holders (seen within a lease) and the tenants each prefers."""
    return {h: list(t) for h, t in conn.execute(query("live_holders"), (lessee.seconds,))}


def _claim(
    conn: psycopg.Connection, lessee: Lessee, rows: list[LeaseRow], work: set[str]
) -> list[str]:
    """Renew and claim this holder's fair share of the origins with work; give back the rest
    (an idle origin it keeps is renewed by `Lessee.beat`, not counted as a batch)."""
    keep, release = fair_share(rows, lessee.holder, lessee.tenants, _live(conn, lessee))
    if release:
        conn.execute(query("lease_release"), (release, lessee.holder))
    keep = [o for o in keep if o in work]
    if not keep:
        return []
    me = lessee.holder
    params = (keep, me, me, me, me, lessee.seconds)
    return [o for (o,) in conn.execute(query("lease_claim"), params)]
