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
  intake (fair share, `fair_share`): each keeps or claims free origins up to
  ceil(origins / live holders), its `--tenant`s first, gives back what is over its share at
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
        """Say this holder is alive (at most once a second): the others count it in the share,
        and its leases are renewed even when its origins are idle (it keeps them while it
        lives; they move by the fair share or when it dies)."""
        now = time.monotonic()
        if force or now - self._last >= self.every:
            with conn.transaction():
                conn.execute(query("holder_seen"), (self.holder, list(self.tenants)))
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


def fair_share(
    rows: Sequence[LeaseRow], me: str, prefers: Sequence[str], live: dict[str, Sequence[str]]
) -> tuple[list[str], list[str]]:
    """(origins to keep or claim, origins of mine to give back) for holder `me`.

    The share is ceil(origins with work / live holders), so the shares always cover every
    origin. Preferred tenants come first, then origins already held (no churn), then free
    ones; what is over the share is given back at once, for a holder under its share to claim.
    A preference orders, it does not pin: a preferred origin another live holder keeps stays
    there. A starving origin (free for longer than a lease) is claimed over the share.
    """
    share = math.ceil(len(rows) / len(set(live) | {me})) if rows else 0
    wanted = set(prefers)
    ranked = sorted(
        (r for r in rows if not r.live or r.holder == me),
        key=lambda r: (tenant_of(r.origin) not in wanted, r.holder != me, r.origin),
    )
    keep = [r.origin for r in ranked[:share]]
    keep += [r.origin for r in ranked[share:] if r.starving and not r.live]
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
    rows: list[LeaseRow] = []
    missing: list[str] = []
    for origin, holder, live, starving, exists in conn.execute(
        query("lease_view"), (seconds, work)
    ):
        rows.append(LeaseRow(origin, holder, live, starving))
        if not exists:
            missing.append(origin)
    if missing:
        conn.execute(query("lease_rows_add"), (missing,))
    if wait:
        got = [o for (o,) in conn.execute(query("lease_lock_all"), (work,))]
    elif lessee is None:
        got = [o for (o,) in conn.execute(query("lease_lock_free"), (work,))]
    else:
        got = _claim(conn, lessee, rows)
    return got or None


def _claim(conn: psycopg.Connection, lessee: Lessee, rows: list[LeaseRow]) -> list[str]:
    """Renew and claim this holder's fair share; give back the rest."""
    live: dict[str, Sequence[str]] = {
        h: list(t) for h, t in conn.execute(query("live_holders"), (lessee.seconds,))
    }
    keep, release = fair_share(rows, lessee.holder, lessee.tenants, live)
    if release:
        conn.execute(query("lease_release"), (release, lessee.holder))
    if not keep:
        return []
    me = lessee.holder
    params = (keep, me, me, me, me, lessee.seconds)
    return [o for (o,) in conn.execute(query("lease_claim"), params)]
