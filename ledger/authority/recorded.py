"""Identity tokens at capture (commit them) and after (read them back for re-verification).

Why the token itself is recorded, not its claims: the agent host is the party we distrust, so
what it says it verified is worth nothing. The compact token goes into `run.started` behind a
salted commitment (the value lives encrypted under its subject's key, so erasure shreds it) and
replay re-verifies it against the registry in force at the event's `recorded_at`. Capture only
fails fast on explicit misuse: a string that is no compact JWS, or a token already expired.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ledger.authority.token_judge import TOKEN_ROLES, token_commitments, token_path
from ledger.authority.tokens import TokenRefused, token_claims
from ledger.config import Settings
from ledger.privacy import PayloadOpener, PayloadRow, commit_fields, open_payloads_of
from ledger.store.read import run_started_event

__all__ = [
    "TOKEN_ROLES",
    "RecordedTokens",
    "StartedTokens",
    "commit_tokens",
    "ns_of",
    "open_recorded_tokens",
    "recorded_tokens",
]

_NS = 1_000_000_000
_SKEW_SECONDS = 60


def _checked_subject(role: str, token: str, now_ns: int) -> str:
    """Capture's fast fail: well-formed, has a subject, not already expired (with skew)."""
    try:
        claims = token_claims(token)
    except TokenRefused as exc:
        raise TokenRefused(f"{role}_token: {exc}") from None
    sub, exp = claims.get("sub"), claims.get("exp")
    if not isinstance(sub, str) or not sub:
        raise TokenRefused(f"{role}_token: token has no subject (sub)")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise TokenRefused(f"{role}_token: token has no expiry (exp)")
    if now_ns >= int(exp * _NS) + _SKEW_SECONDS * _NS:
        raise TokenRefused(f"{role}_token: token expired (exp {int(exp)}), at capture")
    return sub


def commit_tokens(
    tokens: Mapping[str, str | None], now_ns: int
) -> tuple[dict[str, Any], list[PayloadRow]]:
    """Check and commit the given tokens; returns (the `identity_tokens` attribute, payloads).

    The subject of every payload is the user token's claimed `sub` (else the agent's), so
    erasing that person shreds the tokens that name them. Raises TokenRefused (one line).
    """
    given = {r: t for r, t in tokens.items() if t is not None}
    unknown = set(given) - set(TOKEN_ROLES)
    if unknown:
        raise TokenRefused(f"unknown token role {sorted(unknown)!r}")
    if not given:
        return {}, []
    subjects = {role: _checked_subject(role, tok, now_ns) for role, tok in given.items()}
    subject = subjects.get("user") or subjects["agent"]
    doc = {"data": {"attributes": {"identity_tokens": dict(given)}}}
    committed, rows = commit_fields(doc, [token_path(role) for role in given], subject)
    return committed["data"]["attributes"]["identity_tokens"], rows


@dataclass(frozen=True, slots=True)
class RecordedTokens:
    """A run's recorded identity tokens, opened; None where absent or erased.

    `recorded_at_ns` is the sequencer's time of the `run.started` that carries them: the clock
    their `exp`/`nbf` are judged against. `erased` names the roles whose token was committed but
    can no longer be opened (its subject shredded): such a principal is `asserted`.
    """

    user: str | None
    agent: str | None
    recorded_at_ns: int | None
    erased: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StartedTokens:
    """What a `run.started` says about its tokens: its event id, the sequencer's time, and the
    `identity_tokens` attribute (commitments), as already read by the caller."""

    event_id: uuid.UUID
    recorded_at_ns: int | None
    slot: Any


def open_recorded_tokens(
    conn: psycopg.Connection,
    opener: PayloadOpener,
    origin: str,
    started: Sequence[StartedTokens],
) -> dict[uuid.UUID, RecordedTokens]:
    """The tokens of many runs of one log, opened with one query (what `ledger check` uses).

    A payload counts only if it was committed at the token's place of that very event: a body
    naming a commitment stored for another event opens nothing."""
    wanted = {s.event_id: token_commitments(s.slot) for s in started}
    commitments = [c for roles in wanted.values() for c in roles.values()]
    opened = (
        open_payloads_of(conn, opener, origin, list(wanted), commitments) if commitments else {}
    )
    out: dict[uuid.UUID, RecordedTokens] = {}
    for s in started:
        tokens: dict[str, str | None] = {}
        for role, c in wanted[s.event_id].items():
            path, value = opened.get((s.event_id, c), ("", None))
            tokens[role] = value if path == token_path(role) and isinstance(value, str) else None
        erased = tuple(r for r in TOKEN_ROLES if r in wanted[s.event_id] and tokens[r] is None)
        out[s.event_id] = RecordedTokens(
            tokens.get("user"), tokens.get("agent"), s.recorded_at_ns, erased
        )
    return out


def ns_of(at: datetime | None) -> int | None:
    """A database timestamp as integer nanoseconds (None stays None)."""
    if at is None:
        return None
    return calendar.timegm(at.utctimetuple()) * _NS + at.microsecond * 1000


def recorded_tokens(
    conn: psycopg.Connection, opener: PayloadOpener | Settings, origin: str, run_id: uuid.UUID
) -> RecordedTokens:
    """Open the identity tokens recorded in one run's `run.started` (for replay to re-verify).

    Opening needs the subject key-encryption key (ledger.kek): pass one PayloadOpener for many
    runs so each subject key is unwrapped once."""
    if isinstance(opener, Settings):
        opener = PayloadOpener(opener)
    stored = run_started_event(conn, origin, run_id)
    if stored is None:
        return RecordedTokens(None, None, None)
    attrs = getattr(stored.event.data, "attributes", {}) or {}
    item = StartedTokens(stored.event.event_id, ns_of(stored.recorded_at),
                         attrs.get("identity_tokens"))
    return open_recorded_tokens(conn, opener, origin, [item])[item.event_id]
