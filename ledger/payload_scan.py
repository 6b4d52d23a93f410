"""Which committed fields of a log verify, are redacted or are missing (`ledger verify`).

Why its own module: ledger.privacy writes (commits, seals, shreds); this only reads, once per
origin during verification, opening each stored payload with the KEK (PayloadOpener) and
checking it against its commitment, and accepting a missing payload only when a signed
`redaction` event names it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg

from ledger.commitment import commitment_of
from ledger.config import Settings
from ledger.note import Verifier
from ledger.privacy import COMMITMENT_KEY, PayloadOpener, PayloadUnreadable, redaction_message
from ledger.store.privacy import SubjectKey, has_payload_tables, origin_payloads, payloads_of

__all__ = ["PayloadScanner"]

def _walk(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        c = value.get(COMMITMENT_KEY)
        if isinstance(c, str):
            found.append(c)
            return
        for v in value.values():
            _walk(v, found)
    elif isinstance(value, list):
        for v in value:
            _walk(v, found)


class PayloadScanner:
    """Collects commitments/redactions while `verify` streams an origin; then checks payloads."""

    def __init__(self, conn: psycopg.Connection, origin: str, opener: PayloadOpener) -> None:
        self.conn, self.origin, self.opener = conn, origin, opener
        self.committed: list[tuple[int, str]] = []
        self.known: set[str] = set()
        self.redacted: set[str] = set()
        self.problem: tuple[int, str, str] | None = None
        self.verifiers: Sequence[Verifier] = ()
        self.start = 0  # > 0: an incremental verify that sees only the events from this seq

    @classmethod
    def for_origin(
        cls, conn: psycopg.Connection, origin: str, settings: Settings
    ) -> PayloadScanner | None:
        """A scanner opening payloads with `settings`' KEK (None without the privacy tables)."""
        return cls(conn, origin, PayloadOpener(settings)) if has_payload_tables(conn) else None

    def scan(self, seq: int, value: dict[str, Any]) -> None:
        if value.get("type") == "redaction":
            data = value.get("data") or {}
            if not self._signed(data) and self.problem is None:
                self.problem = (
                    seq,
                    f"redaction at seq {seq} is not signed by a trusted log key",
                    "redaction_unsigned",
                )
            for c in data.get("commitments", []):
                # from `start` on, a commitment of an event before `start` is not seen here:
                # the redaction's signature by a log key is what vouches for it
                if c not in self.known and self.problem is None and self.start == 0:
                    self.problem = (
                        seq,
                        f"redaction at seq {seq} names unknown commitment {c}",
                        "redaction_unknown",
                    )
                self.redacted.add(c)
            return
        found: list[str] = []
        _walk(value, found)
        for c in found:
            self.committed.append((seq, c))
            self.known.add(c)

    def _signed(self, data: dict[str, Any]) -> bool:
        try:
            raw = base64.b64decode(str(data.get("signature")), validate=True)
        except ValueError:
            return False
        message = redaction_message(self.origin, data)
        return any(raw[:4] == v.key_id and v.verify(message, raw[4:]) for v in self.verifiers)

    def finish(self, report: Any) -> tuple[int, str, str] | None:
        """Check every committed field: verified, redacted or missing (first problem wins)."""
        if self.problem is not None:
            return self.problem
        if not self.committed:
            return None
        stored = (
            origin_payloads(self.conn, self.origin) if self.start == 0
            else payloads_of(self.conn, self.origin, [c for _seq, c in self.committed])
        )
        for seq, c in self.committed:
            row = stored.get(c)
            if row is not None and row.key is not None:
                problem = self._check(row.key, row.ciphertext, c)
                if problem:
                    return (
                        seq,
                        f"payload does not match its commitment at seq {seq}{problem}",
                        "payload_mismatch",
                    )
                report.payloads_verified += 1
            elif c in self.redacted:
                if not report.redacted or report.redacted[-1] != seq:
                    report.redacted.append(seq)
            else:
                return (
                    seq,
                    f"payload missing without authorisation at seq {seq} ({c})",
                    "payload_missing",
                )
        return None

    def _check(self, key: SubjectKey, ciphertext: bytes, commitment: str) -> str:
        """'' when the payload opens and matches `commitment`, else ' (why)'."""

        try:
            doc = orjson.loads(self.opener.open(key, ciphertext))
            salt = base64.b64decode(doc["salt"])
            ok = commitment_of(salt, doc["path"], doc["value"]) == commitment
        except PayloadUnreadable as exc:
            return f" ({exc})"
        except (ValueError, KeyError, TypeError):
            ok = False
        return "" if ok else " (opened payload commits to another value)"
