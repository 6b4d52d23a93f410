"""The pieces full, parallel and incremental verification share: trusted keys, the key ring,
the authenticated checkpoints, the payload scanner, the root-of-trust row and one snapshot.

Why a module of their own: `ledger verify` (ledger.verify), `--from-checkpoint` and `ledger
monitor` (ledger.verify_incremental, ledger.verify_from) and `--jobs` (ledger.verify_parallel)
must judge a log by exactly the same rules, so they call the same functions rather than each
other's private ones (ledger.verify re-exports the public names it always had).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg.pq import TransactionStatus

from ledger.config import Settings
from ledger.keyring import KEY_EVENT_TYPES, KeyRing
from ledger.note import Checkpoint, NoteError, Verifier, open_note
from ledger.store.read import checkpoints as stored_checkpoints
from ledger.store.read import checkpoints_from, events_of_types
from ledger.store.trustrow import stored_trust_root
from ledger.trustroot import FOREIGN, checkpoint_failure, root_row_problem
from ledger.verify_rows import Invalid

__all__ = [
    "check_root_row",
    "checked_checkpoints",
    "key_ring",
    "load_pin",
    "one_snapshot",
    "payload_scanner",
    "trusted_verifiers",
]


def trusted_verifiers(settings: Settings, extra: Iterable[Path] = ()) -> list[Verifier]:
    """Log keys trusted for checkpoints: the root of trust `keys/root.pub` (written once with the
    first log key, ledger.store.logkey) or else the local key's public half, plus any `--trust`
    files."""
    root = settings.keys_dir / "root.pub"
    local = (
        root
        if root.is_file()
        else settings.log_key_path.with_name(settings.log_key_path.name + ".pub")
    )
    paths = [local, *extra]
    found: list[Verifier] = []
    for path in paths:
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip() and not line.startswith("#"):
                    found.append(Verifier.from_vkey(line.strip()))
    return found


def load_pin(path: Path, verifiers: Sequence[Verifier]) -> Checkpoint:
    """Read and authenticate a pinned checkpoint note saved with `ledger checkpoint`."""
    opened = open_note(path.read_bytes(), verifiers)
    return Checkpoint.parse(opened.body)


def key_ring(conn: psycopg.Connection, origin: str, roots: Sequence[Verifier]) -> KeyRing:
    """The key ring of `origin`: trusted roots plus endorsed key events from the log."""
    ring = KeyRing(roots)
    for seq, body in events_of_types(conn, origin, KEY_EVENT_TYPES):
        try:
            problem = ring.apply(seq, origin, orjson.loads(body))
        except orjson.JSONDecodeError:
            problem = f"key event at seq {seq}: body is not JSON"
        if problem:
            raise Invalid(int(seq), problem, "key_event_invalid")
    return ring


def checked_checkpoints(
    conn: psycopg.Connection, origin: str, verifiers: Sequence[Verifier], start: int = 0
) -> list[tuple[int, bytes]]:
    """Authenticated (size, root) of every stored checkpoint (of at least `start` leaves: an
    incremental verify, ledger.verify_from), smallest first."""
    checked: list[tuple[int, bytes]] = []
    previous = start
    ring = key_ring(conn, origin, verifiers)
    rows = stored_checkpoints(conn, origin) if start == 0 else checkpoints_from(conn, origin, start)
    for stored in rows:
        size, root, note = stored.tree_size, stored.root_hash, stored.note
        try:
            opened = open_note(note.encode("utf-8"), ring.verifiers())
            cp = Checkpoint.parse(opened.body)
        except (NoteError, ValueError) as exc:
            why, verdict = checkpoint_failure(note, ring.verifiers(), exc)
            raise Invalid(previous, f"checkpoint at size {size}: {why}", verdict) from None
        if cp.origin != origin or cp.size != size or cp.root != root:
            raise Invalid(
                previous,
                f"checkpoint at size {size}: columns do not match the note",
                "bad_checkpoint",
            )
        if not any(ring.valid(v, cp.size) for v in opened.verified_by):
            names = ", ".join(f"{v.name} ({v.key_id.hex()})" for v in opened.verified_by)
            raise Invalid(
                previous,
                f"checkpoint at size {size}: key {names} not valid at size {size}",
                "key_not_valid",
            )
        checked.append((size, cp.root))
        previous = size
    return checked


def payload_scanner(
    conn: psycopg.Connection, origin: str, verifiers: Sequence[Verifier], settings: Settings
) -> Any:
    """A fresh payload checker of `ledger.privacy` (None when its tables are absent).

    It opens payloads with the subject KEK of `settings` (loaded only when a wrapped subject
    key is met), so verifying private payloads needs the KEK; a missing one is a KekError.
    """
    try:
        from ledger.payload_scan import PayloadScanner
    except ImportError:
        return None
    private = PayloadScanner.for_origin(conn, origin, settings)
    if private is not None:
        private.verifiers = key_ring(conn, origin, verifiers).verifiers()
    return private


def check_root_row(conn: psycopg.Connection, origin: str, settings: Settings) -> None:
    """The host's trusted key files must descend from the root recorded in the database
    (ledger_trust_roots): one side alone cannot swap the root of trust (ledger.trustroot)."""
    if not origin.startswith(settings.origin_prefix):
        return
    vkey = stored_trust_root(conn, settings.origin_prefix)
    local = trusted_verifiers(settings)
    if vkey is None or not local:
        return
    try:
        db_root = Verifier.from_vkey(vkey)
    except ValueError:
        raise Invalid(
            0,
            f"{FOREIGN}: the root of trust recorded in the database is "
            "not a valid vkey (the row was rewritten)",
            FOREIGN,
        ) from None
    try:
        ring: KeyRing | str = key_ring(conn, origin, [db_root])
    except Invalid as bad:
        ring = bad.reason
    problem = root_row_problem(db_root, local, ring)
    if problem is not None:
        raise Invalid(0, problem, FOREIGN)


@contextmanager
def one_snapshot(conn: psycopg.Connection) -> Iterator[None]:
    """Read the whole ledger in one REPEATABLE READ snapshot.

    Verify reads checkpoints first and events after, in many statements; without one snapshot a
    batch sequenced in between (events plus its checkpoint, in one transaction) would show up
    as an unpublished tail. A caller already inside a transaction keeps its own.
    """
    if not conn.autocommit or conn.info.transaction_status != TransactionStatus.IDLE:
        yield
        return
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


