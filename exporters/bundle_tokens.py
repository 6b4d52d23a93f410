"""Export side of the bundle's identity tokens: open each recorded token and disclose it.

Why disclose: the offline verifier can only prove who started a run by verifying the token
itself; the body of `run.started` carries just its salted commitment. The tokens are short-lived
credentials issued for the ledger's own audience (useless elsewhere, normally expired by audit
time); `--no-identity-tokens` leaves them out, and the verifier then reports those principals as
asserted ("token not disclosed"). A token whose subject was erased cannot be opened: it is
simply absent and counted in the manifest, so a silently dropped row is caught by the count.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg

from exporters.bundle_identity import IDENTITY_TOKENS, StartedSlots, started_slots
from exporters.bundle_seal import file_entry
from ledger import ids
from ledger.authority.recorded import ns_of
from ledger.authority.token_judge import token_path
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.privacy import PayloadOpener, PayloadRow, open_payload_rows_of
from ledger.store.export import recorded_at_of

__all__ = ["TokenDisclosure", "write_identity_tokens"]


@dataclass
class TokenDisclosure:
    """What the export disclosed: the manifest section and the file entries it wrote."""

    section: dict[str, Any]
    files: list[dict[str, Any]]


class TokensUnreadable(LedgerError):
    """The recorded tokens cannot be opened here (e.g. no key-encryption key)."""


def _open(
    conn: psycopg.Connection, settings: Settings, origin: str, slots: list[StartedSlots]
) -> dict[tuple[uuid.UUID, str], PayloadRow]:
    event_ids = [uuid.UUID(s.event_id) for s in slots]
    commitments = [c for s in slots for c in s.commitments.values()]
    try:
        return open_payload_rows_of(conn, PayloadOpener(settings), origin, event_ids, commitments)
    except LedgerError as exc:
        raise TokensUnreadable(
            f"cannot open the identity tokens to disclose ({exc}); "
            "pass --no-identity-tokens to leave them out"
        ) from None


def _rows(
    slots: list[StartedSlots], opened: dict[tuple[uuid.UUID, str], PayloadRow],
    recorded: dict[int, Any],
) -> tuple[list[dict[str, Any]], int]:
    """The disclosure rows, and how many committed tokens could not be opened (erased)."""
    rows, erased = [], 0
    for s in slots:
        at_ns = ns_of(recorded.get(s.seq))
        for role, commitment in s.commitments.items():
            row = opened.get((uuid.UUID(s.event_id), commitment))
            if row is None or row.path != token_path(role) or not isinstance(row.value, str) \
                    or at_ns is None:
                erased += 1
                continue
            rows.append({
                "seq": s.seq, "event_id": s.event_id, "role": role, "path": row.path,
                "commitment": commitment, "salt": base64.b64encode(row.salt).decode(),
                "token": row.value, "recorded_at": ids.format_timestamp(at_ns),
            })
    return rows, erased


def write_identity_tokens(
    conn: psycopg.Connection, settings: Settings, origin: str, out: Path, disclose: bool
) -> TokenDisclosure:
    """identity/tokens.jsonl for the period's `run.started` events (read back from the
    events.parquet just written, so exactly the bundle's runs), or nothing when withheld."""
    slots = started_slots(out)
    tokens = sum(len(s.commitments) for s in slots)
    if not disclose:
        return TokenDisclosure({"file": None, "tokens": tokens, "disclosed": 0, "erased": None,
                                "withheld": tokens}, [])
    opened = _open(conn, settings, origin, slots) if slots else {}
    recorded = recorded_at_of(conn, origin, [s.seq for s in slots]) if slots else {}
    rows, erased = _rows(slots, opened, recorded)
    (out / "identity").mkdir(exist_ok=True)
    with (out / IDENTITY_TOKENS).open("wb") as fh:
        for item in rows:
            fh.write(orjson.dumps(item, option=orjson.OPT_SORT_KEYS) + b"\n")
    section = {"file": IDENTITY_TOKENS, "tokens": tokens, "disclosed": len(rows),
               "erased": erased, "withheld": 0}
    return TokenDisclosure(section, [file_entry(out, IDENTITY_TOKENS, "application/jsonl",
                                                len(rows))])
