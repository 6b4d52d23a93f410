"""The local durable spool: where events go while the database is unreachable.

Each writer process appends the canonical bodies of its events, one per line (RFC 8785 output
never contains a raw newline), to its own file under `<home>/spool/`, and fsyncs before it counts
them as kept, so they survive a crash of the agent. Files are named by creation time, so sorting
them replays events in the order they were written. A writer holds an exclusive `flock` on the
file it is appending to; a flusher (the writer itself when the database returns, or
`ledger spool flush`) skips locked files, so two processes never deliver a file that is still
growing. Delivery is idempotent by `event_id`, so a crash between delivering and deleting a file
only causes harmless resubmission. A line that cannot be read (a torn write from a crash) or a
file the database refuses becomes a `ledger.gap` event: nothing is lost silently.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg

from ledger import ids
from ledger.errors import DatabaseUnavailable
from ledger.events import encode_event, make_event
from ledger.hooks.rejects import rejected_count
from ledger.store.append import EncodedEvent

__all__ = ["FlushResult", "Spool", "SpoolStatus", "is_unavailable", "parse_line"]

SUFFIX = ".jsonl"
BATCH = 500
Submit = Callable[[Sequence[EncodedEvent]], object]
OriginOf = Callable[[str], str]


def is_unavailable(exc: BaseException) -> bool:
    """True for failures that mean "the database is not there right now" (retry later)."""
    return isinstance(
        exc,
        DatabaseUnavailable | psycopg.OperationalError | psycopg.InterfaceError
        | ConnectionError | TimeoutError,
    )


@dataclass
class SpoolStatus:
    """What is waiting in the spool."""

    directory: str
    files: int = 0
    events: int = 0
    bytes: int = 0
    locked_files: int = 0
    failed_files: int = 0
    oldest: str | None = None
    rejected: int = 0  # events the sequencer rejected after a writer here submitted them


@dataclass
class FlushResult:
    """Outcome of one delivery pass over the spool."""

    delivered: int = 0
    files: int = 0
    skipped_locked: int = 0
    gaps: int = 0
    quarantined: int = 0
    unavailable: bool = False
    errors: list[str] = field(default_factory=list)


def parse_line(line: bytes, origin_of: OriginOf) -> EncodedEvent:
    """Rebuild the intake record of one spooled body (raises ValueError when unreadable)."""
    if not line.endswith(b"\n"):
        raise ValueError("torn line (no newline): the writer crashed mid-write")
    body = line[:-1]
    value: Any = json.loads(body.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError("spooled line is not a JSON object")
    return EncodedEvent(
        uuid.UUID(str(value["event_id"])),
        origin_of(str(value.get("tenant", "default"))),
        uuid.UUID(str(value["run_id"])),
        int(value["run_seq"]),
        body,
    )


def _gap(
    reason: str, missing: int, tenant: str, origin_of: OriginOf, **details: Any
) -> EncodedEvent:
    """A single-event run recording lost events (their own runs' ids may be unreadable)."""
    event = make_event(
        "ledger.gap",
        run_id=ids.new_id(),
        run_seq=0,
        tenant=tenant,
        source={"integration": "spool"},
        data={"reason": reason, "missing_events": missing, "details": details},
    )
    return EncodedEvent(event.event_id, origin_of(tenant), event.run_id, 0, encode_event(event))


class Spool:
    """Append-only JSONL files of canonical event bodies in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self.own: set[Path] = set()

    # -- writing -----------------------------------------------------------------------------
    def append(self, bodies: Sequence[bytes]) -> None:
        """Append bodies and fsync; raises OSError if the disk refuses (caller records a gap)."""
        if not bodies:
            return
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{ids.now_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}{SUFFIX}"
            self._path = self.directory / name
            self._file = open(self._path, "ab")
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
            self.own.add(self._path)
        self._file.write(b"".join(body + b"\n" for body in bodies))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close (and unlock) the file being appended to, so it can be delivered."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._path = None

    # -- reading -----------------------------------------------------------------------------
    def files(self) -> list[Path]:
        """Spool files in write order."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.suffix == SUFFIX and p.is_file())

    def has_own_pending(self) -> bool:
        """True while a file this process wrote has not been delivered yet."""
        self.own = {p for p in self.own if p.exists()}
        return bool(self.own)

    def status(self) -> SpoolStatus:
        """Count files, events and bytes waiting (a torn last line still counts as one)."""
        status = SpoolStatus(directory=str(self.directory))
        for path in self.files():
            data = path.read_bytes()
            status.files += 1
            status.bytes += len(data)
            status.events += data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
            if status.oldest is None:
                status.oldest = ids.format_timestamp(int(path.name.split("-", 1)[0]))
            if path != self._path and _locked_elsewhere(path):
                status.locked_files += 1
        failed = self.directory / "failed"
        status.failed_files = len(list(failed.glob(f"*{SUFFIX}"))) if failed.is_dir() else 0
        status.rejected = rejected_count(self.directory)
        return status

    def flush(self, submit: Submit, origin_of: OriginOf, tenant: str = "default") -> FlushResult:
        """Deliver every unlocked file in order; stop at the first "database unavailable"."""
        self.close()
        result = FlushResult()
        for path in self.files():
            try:
                handle = open(path, "rb")
            except FileNotFoundError:
                continue  # another flusher delivered it meanwhile
            try:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    result.skipped_locked += 1
                    continue
                if not path.exists():
                    continue
                if not self._deliver_file(path, data=handle.read(), submit=submit,
                                          origin_of=origin_of, tenant=tenant, result=result):
                    return result
                path.unlink()
                self.own.discard(path)
                result.files += 1
            finally:
                handle.close()
        return result

    def _deliver_file(
        self, path: Path, *, data: bytes, submit: Submit, origin_of: OriginOf, tenant: str,
        result: FlushResult,
    ) -> bool:
        records: list[EncodedEvent] = []
        bad: list[int] = []
        for number, line in enumerate(data.splitlines(keepends=True), start=1):
            try:
                records.append(parse_line(line, origin_of))
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                bad.append(number)
        if bad:
            records.append(_gap("spool line unreadable", len(bad), tenant, origin_of,
                                file=path.name, lines=bad[:100]))
            result.gaps += 1
        try:
            for start in range(0, len(records), BATCH):
                submit(records[start : start + BATCH])
        except Exception as exc:
            if is_unavailable(exc):
                result.unavailable = True
                result.errors.append(f"{path.name}: database unavailable: {exc}")
                return False
            self._quarantine(path, data=data, exc=exc, submit=submit, origin_of=origin_of,
                             tenant=tenant, result=result)
            return True
        result.delivered += len(records)
        return True

    def _quarantine(
        self, path: Path, *, data: bytes, exc: Exception, submit: Submit, origin_of: OriginOf,
        tenant: str, result: FlushResult,
    ) -> None:
        """Move a refused file aside (kept for forensics) and record the loss as a gap."""
        failed = self.directory / "failed"
        failed.mkdir(parents=True, exist_ok=True)
        (failed / path.name).write_bytes(data)
        result.quarantined += 1
        result.errors.append(f"{path.name}: refused by the database: {type(exc).__name__}: {exc}")
        try:
            submit([_gap("spool file refused by the database", data.count(b"\n"), tenant,
                         origin_of, file=path.name, error=f"{type(exc).__name__}: {exc}"[:500])])
            result.gaps += 1
        except Exception as gap_exc:  # the file is kept in failed/; report, don't raise
            result.errors.append(f"could not record gap: {gap_exc}")


def _locked_elsewhere(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False
    except FileNotFoundError:
        return False
