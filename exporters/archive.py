"""`ledger archive`: move a tenant's oldest whole seq ranges out of the database, verified first.

Why this order (issue 20 item 5, contract 7): nothing may leave the database before what leaves
is proven to be kept elsewhere. So the service (1) picks the oldest attached seq-range
partitions of the tenant (ledger.store.partitions, contract 1) whose events ALL occurred before
the cut-off, stopping at the first that does not qualify, at a partition not yet full, and at
the range holding the newest checkpoint's tail; (2) refuses if a legal hold in force covers any
event of that range (ledger.holds); (3) writes an evidence bundle of exactly that range
(exporters.bundle, `seq_range`) and the static tlog tiles up to the bundle's end checkpoint
(ledger.tiles_static, contract 6); (4) verifies the bundle offline (exporters.bundle_verify,
against the log key) and recomputes the tree root from the level-0 tiles; (5) only then
detaches (or drops) the partitions; (6) records `archive.recorded` with the manifest digest and
the final pin (the end checkpoint's signed note). Any refusal is one line, exit 1, with nothing
detached. `ledger verify` then checks the rest from `seq_to` (ledger.verify_from, contract 4).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from exporters.bundle import ExportParams, export_bundle
from exporters.bundle_report import BundleReport
from exporters.bundle_verify import verify_bundle
from ledger import ids
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.errors import LedgerError
from ledger.event_retention import ArchiveRecordedData
from ledger.holds import range_holds
from ledger.keyring import KEY_EVENT_TYPES
from ledger.merkle import root_from_leaf_hashes
from ledger.note import Signer
from ledger.retention import Recorded, record_retention
from ledger.store import partitions
from ledger.store.batch import SINGLE_EVENT_TYPES
from ledger.store.holds import open_run_in, range_facts
from ledger.store.liveness import take_leadership
from ledger.store.read import checkpoint_at, events_of_types, latest_checkpoint
from ledger.tiles_static import export_tiles

__all__ = [
    "ArchivePlan",
    "ArchiveRefused",
    "Archived",
    "DueOutcome",
    "Written",
    "archive_due",
    "archive_range",
    "detach_archive",
    "plan_archive",
    "ring_vkeys",
    "seqs",
    "tile_path",
    "tiles_root",
    "write_archive",
]

_EPOCH = "1970-01-01T00:00:00Z"


class ArchiveRefused(LedgerError):
    """Nothing to archive, a hold covers the range, or what was written did not verify:
    nothing was detached."""

    label = "refused"


@dataclass(frozen=True, slots=True)
class ArchivePlan:
    """The range an archive would take: [lo, hi) of `origin`, as whole partitions."""

    origin: str
    tenant: str
    lo: int
    hi: int
    partitions: tuple[str, ...]
    before: datetime


@dataclass(frozen=True, slots=True)
class Archived:
    """What an archive did: where the bundle and tiles are, and what was recorded."""

    plan: ArchivePlan
    out: Path
    bundle_sha256: str
    end_size: int
    pin: str
    detached: tuple[str, ...]
    disposition: str
    recorded: Recorded


def plan_archive(
    conn: psycopg.Connection, settings: Settings, tenant: str, before: datetime
) -> ArchivePlan:
    """The oldest whole partitions of `tenant` all of whose events occurred before `before`
    (module docstring); ArchiveRefused when there is none or a hold covers the range."""
    origin = settings.origin(tenant)
    latest = latest_checkpoint(conn, origin)
    if latest is None:
        raise ArchiveRefused(f"no signed checkpoint for {origin}: nothing to archive")
    ranges = sorted((r for r in partitions.seq_ranges(conn, origin) if r.attached),
                    key=lambda r: r.lo)  # fmt: skip
    chosen: list[Any] = []
    for part in ranges:
        if (chosen and part.lo != chosen[-1].hi) or part.hi >= latest.tree_size:
            break
        facts = range_facts(conn, origin, part.lo, part.hi)
        if facts.events != part.hi - part.lo or facts.newest is None or facts.newest >= before:
            break
        chosen.append(part)
    if not chosen:
        raise ArchiveRefused(
            f"no whole seq-range partition of {origin} has all its events before "
            f"{before.isoformat()} (and lies below the newest checkpoint, size "
            f"{latest.tree_size}): nothing archived")  # fmt: skip
    chosen = _whole_runs(conn, origin, _before_key_event(conn, origin, chosen))
    lo, hi = chosen[0].lo, chosen[-1].hi
    if lo > 0 and range_facts(conn, origin, lo - 1, lo).events == 0:
        raise ArchiveRefused(f"{seqs(0, lo)} of {origin} was archived already: a further "
                             "archive needs its leaves from the tiles (not supported yet)")
    _refuse_holds(conn, origin, lo, hi, "nothing archived")
    return ArchivePlan(origin, tenant, lo, hi, tuple(r.table for r in chosen), before)


def seqs(lo: int, hi: int) -> str:
    """The half-open range [lo, hi) as text: `seq lo..hi-1`, inclusive (the one notation of
    every line about an archived range; JSON keeps [lo, hi) as numbers)."""
    return f"seq {lo}..{hi - 1}"


def _refuse_holds(conn: psycopg.Connection, origin: str, lo: int, hi: int, what: str) -> None:
    """ArchiveRefused naming the first hold in force that covers an event of [lo, hi)."""
    for hold, seq in range_holds(conn, origin, lo, hi):
        raise ArchiveRefused(f"{hold.line()} covers seq {seq} of {origin} (range "
                             f"{seqs(lo, hi)}): {what}")


def _before_key_event(conn: psycopg.Connection, origin: str, chosen: list[Any]) -> list[Any]:
    """`chosen` up to the last whole partition before the first key event in it: `ledger
    verify` reads the key ring from the log, so key events stay; the range ends before them
    (a refusal would stop retention for good after the first `ledger keys rotate`)."""
    lo, hi = chosen[0].lo, chosen[-1].hi
    keys = [int(s) for s, _ in events_of_types(conn, origin, KEY_EVENT_TYPES) if lo <= s < hi]
    kept = [p for p in chosen if not keys or p.hi <= keys[0]]
    if not kept:
        raise ArchiveRefused(f"seq {keys[0]} of {origin} is a key event `ledger verify` needs "
                             f"(it reads the key ring from the log) in the oldest candidate "
                             f"partition, {seqs(chosen[0].lo, chosen[0].hi)}: nothing archived")
    return kept


def _whole_runs(conn: psycopg.Connection, origin: str, chosen: list[Any]) -> list[Any]:
    """`chosen` without its last partitions while a run of the range is not over or goes on
    after it (a run is archived whole, once ended, so each run chain of the rest starts in the
    rest), or no checkpoint ends where the range does (`ledger verify` resumes the sequencer's
    stamp chain of the rest at a signed size). ArchiveRefused when nothing is left."""
    found, unsigned = None, None
    while chosen:
        hi = chosen[-1].hi
        found = open_run_in(conn, origin, chosen[0].lo, hi, SINGLE_EVENT_TYPES)
        unsigned = None if checkpoint_at(conn, origin, hi) is not None else hi
        if found is None and unsigned is None:
            return chosen
        chosen = chosen[:-1]
    if found is None:
        raise ArchiveRefused(f"no checkpoint of {origin} ends at a partition boundary (first: "
                             f"seq {unsigned}): verify resumes the rest at a signed size: "
                             "nothing archived")  # fmt: skip
    run_id, seq = found
    raise ArchiveRefused(f"run {run_id} (seq {seq} of {origin}) is not over or goes on after the "
                         "oldest whole partition: a run is archived whole, once ended: nothing "
                         "archived")  # fmt: skip


def log_key_file(settings: Settings) -> Path:
    """The trusted log key file (as ledger.verify.trusted_verifiers reads it)."""
    root = settings.keys_dir / "root.pub"
    return root if root.is_file() else Path(os.fspath(settings.log_key_path) + ".pub")


def ring_vkeys(conn: psycopg.Connection, settings: Settings, origin: str) -> list[str]:
    """Every log key `origin`'s log endorses (ledger.verify.key_ring: the root of trust plus
    the endorsed `key.rotated`/`key.announced` events), not wholly revoked: the keys `ledger
    verify` judges the log's checkpoints with. ArchiveRefused when the ring does not verify."""
    from ledger.verify import key_ring, trusted_verifiers
    from ledger.verify_rows import Invalid

    try:
        ring = key_ring(conn, origin, trusted_verifiers(settings))
    except Invalid as exc:
        raise ArchiveRefused(f"the key ring of {origin} does not verify ({exc.reason}; run "
                             "`ledger verify`): nothing detached") from None
    return [w.verifier.vkey for w in ring.windows
            if w.valid_to is None or w.valid_to > w.valid_from]  # fmt: skip


def _verify_under_ring(
    conn: psycopg.Connection, settings: Settings, origin: str, bundle: Path
) -> BundleReport:
    """verify-bundle on `bundle` trusting the log's key ring (ring_vkeys, written to a vkey
    file as an auditor's `--trust` is): its checkpoints and DSSE envelope are signed by the
    keys in force when they were made, which after `ledger keys rotate` is not root.pub."""
    with tempfile.TemporaryDirectory(prefix="ledger-archive-") as tmp:
        trust = Path(tmp) / "log-keys.vkeys"
        trust.write_text("".join(v + "\n" for v in ring_vkeys(conn, settings, origin)),
                         encoding="utf-8")
        return verify_bundle(bundle, [trust])


def tile_path(index: int) -> str:
    """C2SP tile index N as path elements: 1234067 -> x001/x234/067, 5 -> 005."""
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def tiles_root(tenant_dir: Path, size: int) -> bytes:
    """The tree root of `size` recomputed from the level-0 C2SP tiles under `tenant_dir`
    (`tile/0/<N>[.p/<W>]`, N as x001/x234/067 path elements): a check of the static tiles
    independent of the writer."""
    hashes: list[bytes] = []
    for index in range(0, (size + 255) // 256):
        width = min(256, size - index * 256)
        name = f"tile/0/{tile_path(index)}" + ("" if width == 256 else f".p/{width}")
        raw = (tenant_dir / name).read_bytes()
        if len(raw) != 32 * width:
            raise ArchiveRefused(f"tile {name}: {len(raw)} bytes, not {32 * width}")
        hashes += [raw[i:i + 32] for i in range(0, len(raw), 32)]
    return root_from_leaf_hashes(hashes)


@dataclass(frozen=True, slots=True)
class Written:
    """Steps 3-4 done: the bundle and tiles under `out`, both verified."""

    out: Path
    bundle_sha256: str
    end_size: int
    pin: str


def write_archive(
    conn: psycopg.Connection, settings: Settings, plan: ArchivePlan, out: Path, who: str
) -> Written:
    """Steps 3-4: the bundle (verified under the log's key ring) and the tiles (their root
    recomputed from tile/0); ArchiveRefused on any doubt, nothing detached."""
    if out.exists() and any(out.iterdir()):
        raise ArchiveRefused(f"{out} exists and is not empty; choose a new --out")
    params = ExportParams(since=_EPOCH, until=ids.format_timestamp(
        int(plan.before.timestamp() * 1e9)), out=out / "bundle", tenant=plan.tenant,
        record=False, exported_by=who, seq_range=(plan.lo, plan.hi))  # fmt: skip
    result = export_bundle(conn, settings, params)
    if result.events != plan.hi - plan.lo:
        raise ArchiveRefused(f"the bundle holds {result.events} events, not the "
                             f"{plan.hi - plan.lo} of {seqs(plan.lo, plan.hi)}: nothing detached")
    report = _verify_under_ring(conn, settings, plan.origin, out / "bundle")
    if not report.valid or report.verdict != "OK":
        first = report.problems[0].line() if report.problems else report.verdict
        raise ArchiveRefused(f"the archive bundle did not verify ({first}): nothing detached")
    export_tiles(conn, plan.origin, out / "tiles", upto=result.end_size)
    pin = checkpoint_at(conn, plan.origin, result.end_size)
    if pin is None:
        raise ArchiveRefused(f"no checkpoint at size {result.end_size}: nothing detached")
    try:
        root = tiles_root(out / "tiles" / plan.tenant, result.end_size)
    except OSError as exc:
        raise ArchiveRefused(f"tiles unreadable ({exc.strerror}): nothing detached") from None
    if root != pin.root_hash:
        raise ArchiveRefused(f"tiles do not hash to the root of size {result.end_size}: "
                             "nothing detached")
    return Written(out, result.manifest_sha256, result.end_size, pin.note)


def detach_archive(conn: psycopg.Connection, plan: ArchivePlan, *, drop: bool) -> tuple[str, ...]:
    """Step 5, with step 2 done again in the same transaction: the sequencer row is held (no
    batch commits until the detach does, so no hold can enter the log in between), then the
    holds in force over the range and any `hold.added` still in intake refuse; only then the
    partitions go. Writing the bundle takes minutes at scale: a hold recorded meanwhile wins."""
    with conn.transaction():
        take_leadership(conn)
        _refuse_holds(conn, plan.origin, plan.lo, plan.hi, "nothing detached")
        row = conn.execute(query("pending_holds"), {"origin": plan.origin}).fetchone()
        if row is not None and int(row[0]):
            raise ArchiveRefused(f"{int(row[0])} hold.added record(s) of {plan.origin} wait in "
                                 "intake to be sequenced (a hold may cover "
                                 f"{seqs(plan.lo, plan.hi)}): nothing detached")
        return tuple(partitions.detach_range(conn, plan.origin, plan.lo, plan.hi, drop=drop))


def archive_range(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    tenant: str,
    before: datetime,
    out: Path | None,
    drop: bool,
    recorded_by: str,
    signer: Signer | None = None,
    root: TrustRoot | None = None,
) -> Archived:
    """Plan, write, verify, detach, record (module docstring); ArchiveRefused on any doubt."""
    plan = plan_archive(conn, settings, tenant, before)
    target = out or settings.home / "archives" / f"{tenant}-{plan.lo}-{plan.hi}"
    written = write_archive(conn, settings, plan, target, recorded_by)
    detached = detach_archive(conn, plan, drop=drop)
    disposition = "dropped" if drop else "detached"
    data = ArchiveRecordedData(
        tenant=tenant, seq_from=plan.lo, seq_to=plan.hi, before=before.isoformat(),
        bundle_sha256=written.bundle_sha256, checkpoint=written.pin, partitions=detached,
        disposition=disposition, recorded_by=recorded_by,
    )  # fmt: skip
    recorded, _ = record_retention(conn, settings, "archive.recorded", data, tenant=tenant,
                                   signer=signer, root=root)  # fmt: skip
    return Archived(plan, target, written.bundle_sha256, written.end_size, written.pin, detached,
                    disposition, recorded)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DueOutcome:
    """`ledger archive --due` for one tenant: what was archived, or why nothing was."""

    tenant: str
    before: datetime
    archived: Archived | None
    reason: str | None


def archive_due(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    out: Path | None,
    drop: bool,
    recorded_by: str,
    signer: Signer | None = None,
    root: TrustRoot | None = None,
) -> list[DueOutcome]:
    """Apply the recorded rules: archive each tenant with a "*" rule up to its cut-off
    (ledger.retention.due_cutoff); a tenant with nothing due says why and the others go on."""
    from ledger.retention import due_cutoff, rules_in_force

    rules = rules_in_force(conn)
    done = []
    for tenant in sorted({r.data.tenant for r in rules}):
        cutoff = due_cutoff(rules, tenant)
        if cutoff is None:
            continue
        where = None if out is None else out / tenant
        try:
            archived = archive_range(conn, settings, tenant=tenant, before=cutoff, out=where,
                                     drop=drop, recorded_by=recorded_by, signer=signer,
                                     root=root)  # fmt: skip
        except ArchiveRefused as exc:
            done.append(DueOutcome(tenant, cutoff, None, str(exc)))
            continue
        done.append(DueOutcome(tenant, cutoff, archived, None))
    return done
