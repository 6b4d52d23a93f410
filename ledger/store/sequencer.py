"""The single sequencer: drains intake into the log, extends the tree, signs a checkpoint.

Leadership is a transaction-scoped advisory lock, so at most one sequencer works at a time and a
crashed one releases it with its connection. Each batch is one transaction: assign contiguous
`seq`, check run continuity (`run_seq` and `prev_run_hash`), hash leaves, extend the compact
range, COPY into `ledger_events`, delete the drained intake rows, and insert a signed C2SP
checkpoint. Either all of that commits or none of it does, so the log never has a tail that no
checkpoint covers and checkpoints never go backwards.

Events whose run predecessor has not arrived yet stay in intake (held) and are sequenced in a
later batch; events that conflict with the stored chain, and events whose content PostgreSQL
refuses to store (found by bisecting a failed batch), are moved to `ledger_rejects`, so no event
can stop the log.
"""

from __future__ import annotations

import functools
import os
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import msgspec
import psycopg

from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.errors import LedgerError
from ledger.eventhead import EventHead, decode_head
from ledger.events import EVENT_CLASSES, leaf_hash
from ledger.gcpause import gc_paused
from ledger.merkle import CompactRange
from ledger.note import Checkpoint, Signer
from ledger.store.confine import can_sequence
from ledger.store.copyrows import binary_copy
from ledger.store.logkey import log_signer, pkcs11_env, sign_checkpoint
from ledger.tiles import TileReader, consistency_ranges, extend_tiles
from ledger.witness import Witness

__all__ = [
    "BatchResult",
    "configured_witness",
    "log_signer",
    "sequence_batch",
    "take_leadership",
    "try_sequence",
]


@dataclass
class BatchResult:
    """What one batch did."""

    sequenced: int = 0
    rejected: int = 0
    held: int = 0
    duplicates: int = 0
    checkpoints: list[tuple[str, int]] = field(default_factory=list)


class _Accepted(NamedTuple):
    """One event as it goes into ledger_events (a `CopyRow`)."""

    origin: str
    seq: int
    event_id: str
    run_id: str
    run_seq: int
    type: str
    occurred_at: str
    body: bytes
    leaf: bytes


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch
_CANONICAL_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", re.ASCII).fullmatch


def configured_witness(settings: Settings) -> Witness | None:
    """The in-process witness (settings.extra['witness_dir'] or LEDGER_WITNESS_DIR), if any.

    Its key is `witness.key` in that folder unless settings.extra['witness_key'] or
    LEDGER_WITNESS_KEY names another key file or a `pkcs11:` URI (ledger.keys.load_key).
    """
    folder = settings.extra.get("witness_dir") or os.environ.get("LEDGER_WITNESS_DIR")
    if not folder:
        return None
    key = settings.extra.get("witness_key") or os.environ.get("LEDGER_WITNESS_KEY", "")
    return _witness_at(Path(folder), key.strip() or None, pkcs11_env())


@functools.lru_cache(maxsize=8)
def _witness_at(folder: Path, key: str | None, _env: tuple[str, str]) -> Witness:
    return Witness(folder, key=key)


def _cosign(  # noqa: PLR0917 - internal helper called once, positionally
    conn: psycopg.Connection, witness: Witness, signer: Signer, origin: str, size: int, note: bytes
) -> None:
    """Get the witness cosignature before the batch commits; a refusal rolls the batch back.

    The witness learns the log key on first use for an origin (trust on first use); give it the
    key explicitly with `ledger witness add-log` when it runs in another trust domain.
    """
    last = witness.latest(origin)
    if last is None and not witness.knows(origin):
        witness.add_log(origin, [signer.vkey])
    proof: list[bytes] = []
    if last is not None and last[0] < size:
        proof = TileReader(conn, origin).hashes(consistency_ranges(last[0], size))
    cosigned = witness.cosign(note, proof, old_size=last[0] if last else None)
    conn.execute(query("insert_cosigned"), (origin, size, cosigned.decode("utf-8")))


def _parse(body: bytes) -> EventHead:
    """Structural checks on a body (writers already validated it fully in `submit`)."""
    try:
        value = decode_head(body)
    except msgspec.ValidationError as exc:
        raise ValueError(f"event body: {exc}") from None
    except msgspec.DecodeError:
        raise ValueError("event body is not a JSON object") from None
    if value.type not in EVENT_CLASSES:
        raise ValueError(f"unknown event type {value.type!r}")
    if not _UUID(value.event_id):
        raise ValueError("field 'event_id' missing or not a lower-case UUID")
    if not _UUID(value.run_id):
        raise ValueError("field 'run_id' missing or not a lower-case UUID")
    if value.run_seq < 0:
        raise ValueError("field 'run_seq' missing or not a non-negative integer")
    if not _CANONICAL_TS(value.occurred_at):
        raise ValueError("field 'occurred_at' missing or not a canonical RFC 3339 timestamp")
    return value


class _Parsed(NamedTuple):
    """One intake row whose body passed the structural checks."""

    intake_id: int
    origin: str
    body: bytes
    head: EventHead


_Reject = tuple[int, uuid.UUID, str, bytes, str]
"""intake_id, event_id, origin, body, reason: one row for `ledger_rejects`."""


@dataclass
class _Drained:
    """What one batch took from intake, before ordering."""

    parsed: list[_Parsed] = field(default_factory=list)
    done_intake: list[int] = field(default_factory=list)
    rejects: list[_Reject] = field(default_factory=list)
    duplicates: int = 0


def take_leadership(conn: psycopg.Connection, *, wait: bool = True) -> bool:
    """Become the sequencer for the current transaction (False if another one is, and not wait).

    Key operations hold it for their whole transaction, so no batch interleaves with a rotation.
    """
    if wait:
        conn.execute(query("take_sequencer_lock"))
        return True
    row = conn.execute(query("try_sequencer_lock")).fetchone()
    return bool(row and row[0])


def _drain(conn: psycopg.Connection, settings: Settings) -> _Drained | None:
    """Read one batch of intake (None when empty): parsed bodies, duplicates and rejects."""
    rows = conn.execute(query("pending_intake"), (settings.batch_size,), binary=True).fetchall()
    if not rows:
        return None
    drained = _Drained()
    for intake_id, event_id, origin, body, stored in rows:
        if stored:
            drained.done_intake.append(intake_id)
            drained.duplicates += 1
            continue
        try:
            value = _parse(bytes(body))
            if settings.origin(value.tenant) != origin or value.event_id != str(event_id):
                raise ValueError("intake columns do not match the event body")
        except ValueError as exc:
            drained.rejects.append((intake_id, event_id, origin, bytes(body), str(exc)))
            continue
        drained.parsed.append(_Parsed(intake_id, origin, bytes(body), value))
    return drained


def _trees(conn: psycopg.Connection, origins: set[str]) -> dict[str, CompactRange]:
    """The compact range of each origin at its latest checkpoint (empty for a new origin)."""
    trees: dict[str, CompactRange] = {}
    for origin in origins:
        latest = conn.execute(query("latest_checkpoint"), (origin,)).fetchone()
        trees[origin] = CompactRange.from_bytes(bytes(latest[3])) if latest else CompactRange()
    return trees


def _order(
    conn: psycopg.Connection, drained: _Drained, next_seq: dict[str, int]
) -> tuple[list[_Accepted], int]:
    """Give each event whose run predecessor is known its `seq`; return them and how many wait.

    Passes repeat while one makes progress, so a run's events may arrive in any order within
    the batch. Conflicts with the stored chain go to `drained.rejects`.
    """
    heads: dict[str, tuple[int, bytes]] = {
        str(r[0]): (int(r[1]), bytes(r[2]))
        for r in conn.execute(
            query("run_heads"), (list({p.head.run_id for p in drained.parsed}),)
        ).fetchall()
    }
    accepted: list[_Accepted] = []
    pending = drained.parsed
    progress = True
    while pending and progress:
        progress = False
        still: list[_Parsed] = []
        for item in pending:
            intake_id, origin, body, value = item
            run_id = value.run_id
            head = heads.get(run_id)
            expected = 0 if head is None else head[0] + 1
            run_seq = value.run_seq
            if run_seq > expected:
                still.append(item)
                continue
            reason = _chain_conflict(value, head, expected)
            if reason:
                drained.rejects.append((intake_id, uuid.UUID(value.event_id), origin, body, reason))
                continue
            leaf = leaf_hash(body)
            seq = next_seq[origin]
            next_seq[origin] = seq + 1
            accepted.append(
                _Accepted(
                    origin, seq, value.event_id, run_id, run_seq, value.type,
                    value.occurred_at, body, leaf,
                )
            )  # fmt: skip
            heads[run_id] = (run_seq, leaf)
            drained.done_intake.append(intake_id)
            progress = True
        pending = still
    return accepted, len(pending)


def _chain_conflict(value: EventHead, head: tuple[int, bytes] | None, expected: int) -> str:
    """Why an event at or before its run's next `run_seq` cannot join the chain ("" if it can)."""
    if value.run_seq < expected:
        return f"run {value.run_id} already has run_seq {value.run_seq}"
    want_prev = None if head is None else head[1].hex()
    if value.prev_run_hash != want_prev:
        return f"prev_run_hash does not match run {value.run_id} at run_seq {value.run_seq}"
    return ""


def _copy_events(conn: psycopg.Connection, rows: list[_Accepted]) -> None:
    with conn.cursor().copy(query("copy_events")) as copy:
        copy.write(binary_copy(rows))


def _write(conn: psycopg.Connection, drained: _Drained, accepted: list[_Accepted]) -> None:
    """COPY the accepted events, record the rejects, and delete every intake row handled."""
    if accepted:
        _copy_events(conn, accepted)
    done = drained.done_intake
    for reject in drained.rejects:
        conn.execute(query("insert_reject"), reject)
        done.append(reject[0])
    if done:
        conn.execute(query("delete_intake"), ("{" + ",".join(map(str, done)) + "}",))


# What PostgreSQL raises for content it cannot hold: data exceptions (class 22, e.g. "\u0000
# cannot be converted to text" from the jsonb casts of the expression indexes) and program
# limits (class 54, e.g. an index row too large for a btree).
_UNSTORABLE = (psycopg.errors.DataError, psycopg.errors.ProgramLimitExceeded)


def _unstorable_reason(exc: psycopg.Error) -> str:
    """One line naming what PostgreSQL refused (its primary message and detail)."""
    diag = exc.diag
    text = diag.message_primary or str(exc).splitlines()[0]
    if diag.message_detail:
        text = f"{text} ({diag.message_detail})"
    return "PostgreSQL cannot store this event: " + " ".join(text.split())[:200]


class _TrialStored(LedgerError):
    """A trial COPY went through (raised to roll it back)."""


def _unstorable(conn: psycopg.Connection, rows: list[_Accepted]) -> dict[str, str]:
    """event_id -> reason for each row PostgreSQL refuses on its own.

    Bisects with trial COPYs that are always rolled back to a savepoint, so k bad rows in a
    batch of n cost O(k log n) statements, and only when a batch has already failed.
    """
    try:
        with conn.transaction():
            _copy_events(conn, rows)
            raise _TrialStored  # leaving the block by an exception rolls the trial back
    except _TrialStored:
        return {}
    except _UNSTORABLE as exc:
        if len(rows) == 1:
            return {rows[0].event_id: _unstorable_reason(exc)}
        half = len(rows) // 2
        return _unstorable(conn, rows[:half]) | _unstorable(conn, rows[half:])


def _store(
    conn: psycopg.Connection, drained: _Drained, trees: dict[str, CompactRange]
) -> tuple[list[_Accepted], int]:
    """Order and write the batch; return the events written and how many are held.

    No event may stop the log (issue 15): if PostgreSQL refuses the batch because of some rows'
    content, those rows go to `ledger_rejects` with its reason and the rest is ordered again
    (seq and run heads without them) and written. An error no single row explains is raised.
    """
    before = (list(drained.done_intake), list(drained.rejects))
    accepted, held = _order(conn, drained, {o: t.size for o, t in trees.items()})
    try:
        with conn.transaction():
            _write(conn, drained, accepted)
        return accepted, held
    except _UNSTORABLE:
        refused = _unstorable(conn, accepted)
        if not refused:
            raise
    drained.done_intake, drained.rejects = before
    for item in drained.parsed:
        reason = refused.get(item.head.event_id)
        if reason:
            event_id = uuid.UUID(item.head.event_id)
            drained.rejects.append((item.intake_id, event_id, item.origin, item.body, reason))
    drained.parsed = [p for p in drained.parsed if p.head.event_id not in refused]
    accepted, held = _order(conn, drained, {o: t.size for o, t in trees.items()})
    _write(conn, drained, accepted)
    return accepted, held


def _extend_and_sign(
    conn: psycopg.Connection,
    settings: Settings,
    signer: Signer,
    trees: dict[str, CompactRange],
    accepted: list[_Accepted],
) -> list[tuple[str, int]]:
    """Extend each touched origin's tree and tiles, sign (and cosign) its checkpoint, notify."""
    leaves: dict[str, list[bytes]] = defaultdict(list)
    for a in accepted:
        leaves[a.origin].append(a.leaf)
    checkpoints: list[tuple[str, int]] = []
    for origin in sorted(leaves):
        tree = trees[origin]
        start = tree.size
        tree.append_many(leaves[origin])
        extend_tiles(conn, origin, start, leaves[origin])
        root = tree.root()
        note = sign_checkpoint(signer, origin, Checkpoint(origin, tree.size, root).body())
        conn.execute(
            query("insert_checkpoint"),
            (origin, tree.size, root, note.decode("utf-8"), tree.to_bytes()),
        )
        witness = configured_witness(settings)
        if witness is not None:
            _cosign(conn, witness, signer, origin, tree.size, note)
        conn.execute(query("notify_appended"), (f"{origin} {tree.size}",))
        checkpoints.append((origin, tree.size))
    return checkpoints


def sequence_batch(
    conn: psycopg.Connection, settings: Settings, signer: Signer, *, wait: bool = False
) -> BatchResult | None:
    """Sequence one batch. Returns None when another sequencer holds leadership.

    One transaction: drain intake, order the events into runs and `seq`, write them, then
    extend each tree and sign its checkpoint. All of it commits or none of it does.
    """
    with gc_paused(), conn.transaction():
        if not take_leadership(conn, wait=wait):
            return None
        drained = _drain(conn, settings)
        if drained is None:
            return BatchResult()
        trees = _trees(conn, {p.origin for p in drained.parsed})
        accepted, held = _store(conn, drained, trees)
        checkpoints = _extend_and_sign(conn, settings, signer, trees, accepted)
        return BatchResult(
            sequenced=len(accepted),
            rejected=len(drained.rejects),
            held=held,
            duplicates=drained.duplicates,
            checkpoints=checkpoints,
        )


def try_sequence(conn: psycopg.Connection, settings: Settings, *, wait: bool = False) -> int:
    """Drain intake while this process can hold leadership; return events sequenced."""
    if not can_sequence(conn):  # a writer-only role: `ledger serve` sequences (0010)
        return 0
    signer = log_signer(settings, conn)
    total = 0
    while True:
        batch = sequence_batch(conn, settings, signer, wait=wait)
        if batch is None:
            return total
        total += batch.sequenced
        if batch.sequenced + batch.rejected + batch.duplicates == 0:
            return total
