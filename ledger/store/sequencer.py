"""The sequencer: drains intake into the log, extends the trees, signs checkpoints.

Leadership is per origin (ledger.store.leases, migration 0027): a batch first locks the lease
rows of the origins it may sequence, so several sequencers work on different tenants at once and
never two on one origin; a crashed one's row locks go with its connection and its leases expire.
A batch shares ledger_sequencer_state's row (key operations lock it exclusively, so no batch
interleaves with a rotation). Each batch is one transaction: assign contiguous
`seq`, check run continuity (`run_seq` and `prev_run_hash`), hash leaves, extend the compact
range, COPY into `ledger_events`, delete the drained intake rows, and insert a signed C2SP
checkpoint. Either all of that commits or none of it does, so the log never has a tail that no
checkpoint covers and checkpoints never go backwards.

Events whose run predecessor has not arrived yet stay in intake (held) and are sequenced in a
later batch; events that conflict with the stored chain, and events whose content PostgreSQL
refuses to store (found by bisecting a failed batch), are moved to `ledger_rejects`, so no event
can stop the log. The steps live in their own modules: run rules (a run belongs to one log,
nothing follows run.ended) in ledger.store.runrules, writers' control-plane events in
ledger.store.controlplane, and the stamp chain over (leaf, seq, recorded_at, submitted_by),
signed beside each checkpoint, in ledger.store.stamps.
"""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import psycopg

from ledger.bodyrules import CHECKED_TYPES, body_problem
from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.errors import LedgerError
from ledger.gcpause import gc_paused
from ledger.merkle import CompactRange
from ledger.note import Checkpoint, Signer
from ledger.store.batch import Accepted, Drained, Parsed, parse, storable
from ledger.store.confine import can_sequence
from ledger.store.continuity import record_suspensions
from ledger.store.controlplane import screen_control_plane
from ledger.store.copyrows import binary_copy
from ledger.store.leases import Lessee, lease_for_batch
from ledger.store.liveness import settle_held, take_leadership
from ledger.store.logkey import log_signer, pkcs11_env, sign_checkpoint
from ledger.store.partitions import ensure_batch, guard_keys
from ledger.store.runrules import order
from ledger.store.stamps import batch_recorded_us, stamp_rows_of
from ledger.store.stops import record_live_changes
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
    newly_held: int = 0

    @property
    def progressed(self) -> bool:
        """Did this batch move any intake row (so the next one may find more to do)?"""
        return self.sequenced + self.rejected + self.duplicates + self.newly_held > 0




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


def _drain(conn: psycopg.Connection, settings: Settings, origins: list[str]) -> Drained | None:
    """Read one batch of the leased origins' intake (None when empty): parsed bodies,
    duplicates and rejects."""
    rows = conn.execute(
        query("pending_intake"), (settings.batch_size, origins), binary=True
    ).fetchall()
    if not rows:
        return None
    drained = Drained(recorded_us=batch_recorded_us(conn))
    for intake_id, event_id, origin, run_id, run_seq, body, stored, role in rows:
        if stored and stored != origin:  # the guard holds its id for another log (0026)
            reason = "event_id is already stored in another log"
            drained.rejects.append((intake_id, event_id, origin, bytes(body), reason))
            continue
        if stored:
            drained.done_intake.append(intake_id)
            drained.duplicates += 1
            continue
        try:
            value = parse(bytes(body))
            if (settings.origin(value.tenant), value.event_id, value.run_id, value.run_seq) != (
                origin, str(event_id), run_id, run_seq
            ):
                raise ValueError("intake columns do not match the event body")
            if value.type in CHECKED_TYPES:
                _check_body(value.type, bytes(body))
        except ValueError as exc:
            drained.rejects.append((intake_id, event_id, origin, bytes(body), str(exc)))
            continue
        drained.parsed.append(Parsed(intake_id, origin, bytes(body), value, role))
    return drained


def _check_body(type_name: str, body: bytes) -> None:
    """The body rules the head cannot show (ledger/bodyrules.py): a hostile writer's args_hash
    that is not its args' hash, a token count that is not an integer."""
    try:
        data = msgspec.json.decode(body).get("data")
    except (msgspec.DecodeError, AttributeError):
        raise ValueError("event body is not a JSON object") from None
    problem = body_problem(type_name, data)
    if problem is not None:
        raise ValueError(problem)


def _trees(conn: psycopg.Connection, origins: set[str]) -> dict[str, CompactRange]:
    """The compact range of each origin at its latest checkpoint (empty for a new origin)."""
    trees: dict[str, CompactRange] = {}
    for origin in origins:
        latest = conn.execute(query("latest_checkpoint"), (origin,)).fetchone()
        trees[origin] = CompactRange.from_bytes(bytes(latest[3])) if latest else CompactRange()
    return trees


def _copy_events(conn: psycopg.Connection, rows: list[Accepted]) -> None:
    ensure_batch(conn, rows)  # seq range partitions first: no row lands in a DEFAULT range
    with conn.cursor().copy(query("copy_events")) as copy:
        copy.write(binary_copy(rows))
    guard_keys(conn, rows)  # event_id, (run_id, run_seq) unique across partitions


def _write(conn: psycopg.Connection, drained: Drained, accepted: list[Accepted]) -> None:
    """COPY the accepted events, record the rejects, and delete every intake row handled."""
    if accepted:
        _copy_events(conn, accepted)
    done = drained.done_intake
    for intake_id, event_id, origin, body, reason in drained.rejects:
        conn.execute(query("insert_reject"), (intake_id, event_id, origin, body, storable(reason)))
        done.append(intake_id)
    if done:
        conn.execute(query("delete_intake"), ("{" + ",".join(map(str, done)) + "}",))


# What PostgreSQL raises for content it cannot hold: data exceptions (class 22, e.g. "\u0000
# cannot be converted to text" from the jsonb casts of the expression indexes) and program
# limits (class 54, e.g. an index row too large for a btree), and the uniqueness guard of
# partitioned storage (an id another log holds: a concurrent batch of another origin).
_UNSTORABLE = (
    psycopg.errors.DataError, psycopg.errors.ProgramLimitExceeded, psycopg.errors.UniqueViolation
)


def _unstorable_reason(exc: psycopg.Error) -> str:
    """One line naming what PostgreSQL refused (its primary message and detail)."""
    diag = exc.diag
    text = diag.message_primary or str(exc).splitlines()[0]
    if diag.message_detail:
        text = f"{text} ({diag.message_detail})"
    return "PostgreSQL cannot store this event: " + " ".join(text.split())[:200]


class _TrialStored(LedgerError):
    """A trial COPY went through (raised to roll it back)."""


def _unstorable(conn: psycopg.Connection, rows: list[Accepted]) -> dict[str, str]:
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
    conn: psycopg.Connection, drained: Drained, trees: dict[str, CompactRange]
) -> tuple[list[Accepted], int]:
    """Order and write the batch; return the events written and how many are held.

    No event may stop the log (issue 15): if PostgreSQL refuses the batch because of some rows'
    content, those rows go to `ledger_rejects` with its reason and the rest is ordered again
    (seq and run heads without them) and written. An error no single row explains is raised.
    """
    before = (list(drained.done_intake), list(drained.rejects))
    accepted, held = order(conn, drained, {o: t.size for o, t in trees.items()})
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
            drained.reject(item, reason)
    drained.parsed = [p for p in drained.parsed if p.head.event_id not in refused]
    accepted, held = order(conn, drained, {o: t.size for o, t in trees.items()})
    _write(conn, drained, accepted)
    return accepted, held


def _extend_and_sign(
    conn: psycopg.Connection,
    settings: Settings,
    signer: Signer,
    trees: dict[str, CompactRange],
    accepted: list[Accepted],
) -> list[tuple[str, int]]:
    """Extend each touched origin's tree and tiles, sign (and cosign) its checkpoint, notify."""
    leaves: dict[str, list[bytes]] = defaultdict(list)
    rows: dict[str, list[Accepted]] = defaultdict(list)
    for a in accepted:
        leaves[a.origin].append(a.leaf)
        rows[a.origin].append(a)
    checkpoints: list[tuple[str, int]] = []
    for origin in sorted(leaves):
        tree = trees[origin]
        start = tree.size
        tree.append_many(leaves[origin])
        extend_tiles(conn, origin, start, leaves[origin])
        root = tree.root()
        note = sign_checkpoint(signer, origin, Checkpoint(origin, tree.size, root).body())
        stamp = stamp_rows_of(conn, signer, origin, tree.size, rows[origin])
        conn.execute(
            query("insert_checkpoint"),
            (origin, tree.size, root, note.decode("utf-8"), tree.to_bytes(), *stamp),
        )
        witness = configured_witness(settings)
        if witness is not None:
            _cosign(conn, witness, signer, origin, tree.size, note)
        conn.execute(query("notify_appended"), (f"{origin} {tree.size}",))
        checkpoints.append((origin, tree.size))
    return checkpoints


def sequence_batch(
    conn: psycopg.Connection,
    settings: Settings,
    signer: Signer,
    *,
    wait: bool = False,
    lessee: Lessee | None = None,
) -> BatchResult | None:
    """Sequence one batch. Returns None when intake has work but none of it is ours.

    One transaction: lease origins (as `lessee`, a `ledger serve` process, or for this
    transaction only), drain their intake, order the events into runs and `seq`, write them,
    then extend each tree and sign its checkpoint. All of it commits or none of it does.
    """
    with gc_paused(), conn.transaction():
        origins = lease_for_batch(conn, settings, lessee, wait=wait)
        if origins is None:
            return None
        drained = _drain(conn, settings, origins) if origins else None
        if drained is None:
            return BatchResult()
        screen_control_plane(conn, drained)
        trees = _trees(conn, {p.origin for p in drained.parsed})
        accepted, _ = _store(conn, drained, trees)
        record_live_changes(conn, accepted)  # stops, lifts, policies: rows + one NOTIFY
        record_suspensions(conn, accepted)  # runs suspended, resumed, ended (issue 17)
        held, newly_held = settle_held(conn, settings, drained)
        checkpoints = _extend_and_sign(conn, settings, signer, trees, accepted)
        return BatchResult(
            sequenced=len(accepted),
            rejected=len(drained.rejects),
            held=held,
            duplicates=drained.duplicates,
            checkpoints=checkpoints,
            newly_held=newly_held,
        )


def try_sequence(conn: psycopg.Connection, settings: Settings, *, wait: bool = False) -> int:
    """Drain the intake of every origin this process can lease; return events sequenced."""
    if not can_sequence(conn):  # a writer-only role: `ledger serve` sequences (0010)
        return 0
    signer = log_signer(settings, conn)
    total = 0
    while True:
        batch = sequence_batch(conn, settings, signer, wait=wait)
        if batch is None:
            return total
        total += batch.sequenced
        if not batch.progressed:
            return total
