"""`ledger verify`: recompute everything from the stored bytes and name the first bad `seq`.

For every origin (tenant log) this streams the log with COPY BINARY and checks, in order:
contiguous `seq`; each leaf recomputed from the stored body; every projection column against the
body (so editing a column that is not hashed is caught); every run chain (`run_seq` contiguous,
`prev_run_hash` = previous leaf of the run); the Merkle root at every checkpoint size against a
checkpoint note signed by a trusted key; and that no event lies beyond the newest checkpoint.

What it cannot see without outside state: a log truncated together with its newest checkpoints,
or history rewritten by someone holding the log key. `--pin` (a checkpoint saved earlier) closes
that gap: the log must contain the pinned size with the pinned root. The docs say so plainly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg

from ledger import ids
from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.gcpause import gc_paused
from ledger.keyring import KEY_EVENT_TYPES, KeyRing
from ledger.merkle import CompactRange
from ledger.note import Checkpoint, NoteError, Verifier, open_note
from ledger.proofs import witness_problem
from ledger.store.read import origins
from ledger.witness import CosignatureVerifier

__all__ = ["VerifyReport", "load_pin", "trusted_verifiers", "verify_ledger"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@dataclass
class VerifyReport:
    """Result of a verification; `first_bad_seq` and `reason` are set when invalid."""

    status: str = "ok"
    events_verified: int = 0
    tree_size: int = 0
    checkpoints_verified: int = 0
    first_bad_seq: int | None = None
    reason: str | None = None
    origin: str | None = None
    origins: dict[str, int] = field(default_factory=dict)
    pinned: dict[str, Any] | None = None
    verdict: str | None = None
    witnessed: dict[str, int] = field(default_factory=dict)
    redacted: list[int] = field(default_factory=list)
    payloads_verified: int = 0

    def fail(
        self, origin: str, seq: int | None, reason: str, verdict: str | None = None
    ) -> VerifyReport:
        """Mark invalid (the first failure wins); `verdict` is a stable machine-readable code."""
        if self.status == "ok":
            self.status, self.origin, self.first_bad_seq, self.reason = (
                "invalid",
                origin,
                seq,
                reason,
            )
            self.verdict = verdict
        return self

    def as_dict(self) -> dict[str, Any]:
        """JSON form for `--json`."""
        return asdict(self)


class _Invalid(Exception):
    def __init__(self, seq: int | None, reason: str, verdict: str = "invalid") -> None:
        super().__init__(reason)
        self.seq, self.reason, self.verdict = seq, reason, verdict


def trusted_verifiers(settings: Settings, extra: Iterable[Path] = ()) -> list[Verifier]:
    """Log keys trusted for checkpoints: the root key file (written at the first rotation,
    `keys/root.pub`) or else the local key's public half, plus any `--trust` files."""
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


_ts_cache: dict[str, int] = {}


def _occurred_us(text: str) -> int:
    """Microseconds since the epoch exactly as PostgreSQL stores the body's timestamp.

    PostgreSQL parses the fraction with strtod and rounds `frac * 1e6` with rint (a double
    computation), so this reproduces that arithmetic rather than exact decimal rounding.
    """
    ns = ids.parse_timestamp(text) if not (len(text) == 30 and text[19] == ".") else None
    if ns is not None:
        seconds, frac_digits = divmod(ns, 1_000_000_000)[0], f"{ns % 1_000_000_000:09d}"
    else:
        head = text[:19]
        cached = _ts_cache.get(head)
        if cached is None:
            cached = ids.parse_timestamp(head + "Z") // 1_000_000_000
            _ts_cache[head] = cached
        seconds, frac_digits = cached, text[20:29]
    return seconds * 1_000_000 + round(float("0." + frac_digits) * 1_000_000)


_KEY_EVENTS = (
    "SELECT seq, body FROM ledger_events WHERE origin = %s AND type = ANY(%s) ORDER BY seq"
)


def key_ring(conn: psycopg.Connection, origin: str, roots: Sequence[Verifier]) -> KeyRing:
    """The key ring of `origin`: trusted roots plus endorsed key events from the log."""
    ring = KeyRing(roots)
    for seq, body in conn.execute(_KEY_EVENTS, (origin, list(KEY_EVENT_TYPES))).fetchall():
        try:
            problem = ring.apply(int(seq), origin, orjson.loads(bytes(body)))
        except orjson.JSONDecodeError:
            problem = f"key event at seq {seq}: body is not JSON"
        if problem:
            raise _Invalid(int(seq), problem, "key_event_invalid")
    return ring


def _checkpoints(
    conn: psycopg.Connection, origin: str, verifiers: Sequence[Verifier]
) -> list[tuple[int, bytes]]:
    """Authenticated (size, root) of every stored checkpoint, smallest first."""
    checked: list[tuple[int, bytes]] = []
    previous = 0
    ring = key_ring(conn, origin, verifiers)
    for size, root, note in conn.execute(query("all_checkpoints"), (origin,)).fetchall():
        try:
            opened = open_note(note.encode("utf-8"), ring.verifiers())
            cp = Checkpoint.parse(opened.body)
        except (NoteError, ValueError) as exc:
            raise _Invalid(
                previous, f"checkpoint at size {size}: {exc}", "bad_checkpoint"
            ) from None
        if cp.origin != origin or cp.size != size or cp.root != bytes(root):
            raise _Invalid(
                previous,
                f"checkpoint at size {size}: columns do not match the note",
                "bad_checkpoint",
            )
        if not any(ring.valid(v, cp.size) for v in opened.verified_by):
            names = ", ".join(f"{v.name} ({v.key_id.hex()})" for v in opened.verified_by)
            raise _Invalid(
                previous,
                f"checkpoint at size {size}: key {names} not valid at size {size}",
                "key_not_valid",
            )
        checked.append((int(size), cp.root))
        previous = int(size)
    return checked


def _verify_origin(
    conn: psycopg.Connection,
    origin: str,
    verifiers: Sequence[Verifier],
    report: VerifyReport,
    pin: Checkpoint | None,
) -> None:
    checkpoints = _checkpoints(conn, origin, verifiers)
    report.checkpoints_verified += len(checkpoints)
    targets = dict(checkpoints)
    pinned = pin if pin is not None and pin.origin == origin else None
    if pinned is not None:
        stored = targets.get(pinned.size)
        if stored is not None and stored != pinned.root:
            raise _Invalid(
                max((s for s in targets if s < pinned.size), default=0),
                f"equivocation: two different signed roots for size {pinned.size} "
                "(the stored checkpoint and the pinned one)",
                "equivocation",
            )
        targets.setdefault(pinned.size, pinned.root)
    tree = CompactRange()
    heads: dict[Any, tuple[int, str]] = {}
    expected = 0
    sha256 = hashlib.sha256
    loads = orjson.loads
    private = _privacy_scanner(conn, origin)
    if private is not None:
        private.verifiers = key_ring(conn, origin, verifiers).verifiers()
    with conn.cursor().copy(query("copy_verify"), (origin,)) as copy:
        copy.set_types(["int8", "uuid", "uuid", "int8", "text", "timestamptz", "bytea", "bytea"])
        for seq, event_id, run_id, run_seq, type_, occurred, body, leaf in copy.rows():
            if seq != expected:
                raise _Invalid(
                    expected, f"missing seq {expected} (next stored is {seq})", "missing_seq"
                )
            if sha256(b"\x00" + body).digest() != leaf:
                raise _Invalid(
                    seq,
                    f"leaf hash mismatch at seq {seq}: stored bytes were changed",
                    "leaf_mismatch",
                )
            try:
                value = loads(body)
                mismatch = _column_mismatch(
                    value, origin, event_id, run_id, run_seq, type_, occurred
                )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                mismatch = "body is not a valid event"
            if mismatch:
                raise _Invalid(
                    seq, f"column/body mismatch at seq {seq}: {mismatch}", "column_mismatch"
                )
            head = heads.get(run_id)
            want_seq, want_prev = (0, None) if head is None else (head[0] + 1, head[1])
            if run_seq != want_seq or value.get("prev_run_hash") != want_prev:
                raise _Invalid(
                    seq,
                    f"run chain break at seq {seq}: run {run_id} expected run_seq {want_seq} "
                    f"after the previous event, found {run_seq}",
                    "chain_break",
                )
            if private is not None and (b'"$commitment"' in body or type_ == "redaction"):
                private.scan(seq, value)
            leaf_hex = leaf.hex()
            heads[run_id] = (run_seq, leaf_hex)
            tree.append(leaf)
            expected += 1
            want_root = targets.get(expected)
            if want_root is not None and tree.root() != want_root:
                start = max((s for s in targets if s < expected), default=0)
                at_pin = pinned is not None and expected == pinned.size
                what = "pinned checkpoint" if at_pin else "checkpoint"
                raise _Invalid(
                    start,
                    f"root mismatch at {what} size {expected}: "
                    f"events in seq {start}..{expected - 1}"
                    " were changed, inserted, removed or reordered"
                    + (" (history rewritten since the pin)" if at_pin else ""),
                    "rewritten" if at_pin else "root_mismatch",
                )
            report.events_verified += 1
    size = expected
    report.origins[origin] = size
    report.tree_size += size
    newest = checkpoints[-1][0] if checkpoints else 0
    if pinned is not None and pinned.size > size:
        raise _Invalid(
            size,
            f"truncated: the log has {size} events but the pinned checkpoint has {pinned.size}"
            f" (newest stored checkpoint: size {newest})",
            "truncated",
        )
    if newest > size:
        raise _Invalid(
            size,
            f"checkpoint at size {newest} but the log has only {size} events: tail removed",
            "tail_removed",
        )
    if pinned is not None and newest < pinned.size:
        raise _Invalid(
            newest,
            f"replayed older checkpoint: the newest stored checkpoint has size {newest} "
            f"< pinned size {pinned.size}",
            "replayed_checkpoint",
        )
    if size > newest:
        raise _Invalid(
            newest,
            f"unpublished tail: seq {newest}..{size - 1} not covered by a signed checkpoint",
            "unpublished_tail",
        )
    if private is not None:
        problem = private.finish(report)
        if problem is not None:
            raise _Invalid(problem[0], problem[1], problem[2])


def _privacy_scanner(conn: psycopg.Connection, origin: str) -> Any:
    """The payload checker of `ledger.privacy` (None when its tables are absent)."""
    try:
        from ledger.privacy import PayloadScanner
    except ImportError:
        return None
    return PayloadScanner.for_origin(conn, origin)


def _column_mismatch(  # noqa: PLR0917 - positional helper with a fixed, documented order
    value: dict[str, Any],
    origin: str,
    event_id: Any,
    run_id: Any,
    run_seq: int,
    type_: str,
    occurred: datetime,
) -> str | None:
    if value["event_id"] != str(event_id):
        return "event_id"
    if value["run_id"] != str(run_id):
        return "run_id"
    if value["run_seq"] != run_seq:
        return "run_seq"
    if value["type"] != type_:
        return "type"
    if not origin.endswith("/" + value.get("tenant", "default")):
        return "origin/tenant"
    if (occurred - _EPOCH) // _US != _occurred_us(value["occurred_at"]):
        return "occurred_at"
    return None


def verify_ledger(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    verifiers: Sequence[Verifier] | None = None,
    pin: Checkpoint | None = None,
    only_origin: str | None = None,
    witnesses: Sequence[CosignatureVerifier] = (),
) -> VerifyReport:
    """Verify every origin (or one) of the ledger; never raises for an invalid ledger.

    With `witnesses`, the newest checkpoint of every origin must carry a valid cosignature by
    each of them (stored in ledger_cosigned by a sequencer configured with a witness).
    """
    trusted = list(verifiers) if verifiers is not None else trusted_verifiers(settings)
    report = VerifyReport()
    if pin is not None:
        report.pinned = {"origin": pin.origin, "size": pin.size, "root": pin.root.hex()}
    names = [only_origin] if only_origin else origins(conn)
    if pin is not None and pin.origin not in names:
        names.append(pin.origin)
    for origin in names:
        try:
            with gc_paused():
                _verify_origin(conn, origin, trusted, report, pin)
            if witnesses:
                ring = key_ring(conn, origin, trusted)
                size = report.origins.get(origin, 0)
                problem = witness_problem(conn, origin, size, ring.verifiers(), witnesses)
                if problem:
                    raise _Invalid(size, problem, "unwitnessed")
                report.witnessed[origin] = size
        except _Invalid as bad:
            report.fail(origin, bad.seq, bad.reason, bad.verdict)
            break
    return report


def report_line(report: VerifyReport) -> str:
    """One-line human summary (CloudTrail-style)."""
    if report.status == "ok":
        pin = f"; consistent with pinned size {report.pinned['size']}" if report.pinned else ""
        return (
            f"OK: {report.events_verified} events in {len(report.origins)} log(s), "
            f"{report.checkpoints_verified} signed checkpoints verified{pin}"
        )
    return f"INVALID at seq {report.first_bad_seq} ({report.origin}): {report.reason}"


def dumps(report: VerifyReport) -> str:
    """Report as JSON text."""
    return orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode()
