"""Who a run acted for, as replay judges it: verified from a recorded token, or asserted.

Why replay and not capture: the agent host records the token, and the agent host is the party
we distrust, so whatever it checked is worth nothing. Here the compact token recorded in
`run.started` (behind a salted commitment) is opened and verified against the providers of the
registry in force at that event's seq, at the sequencer's `recorded_at`. Only then do its claims
(issuer, subject, e-mail, the RFC 8693 actor chain) count, and only a verified identity maps to a
registry principal (by its (issuer, subject) pair). Everything else is `asserted`, with the reason,
and nothing asserted satisfies a rule that requires authority.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

from ledger.authority.history import RegistryHistory
from ledger.authority.recorded import (
    RecordedTokens,
    StartedTokens,
    ns_of,
    open_recorded_tokens,
    recorded_tokens,
)
from ledger.authority.token_judge import judge_token
from ledger.authority.tokens import VerifiedIdentity
from ledger.authority.trust import NO_TRUST_ROOT
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.identity import normalise_principal
from ledger.privacy import PayloadOpener
from replay.authority import RunAuthority

__all__ = [
    "ASSERTED",
    "Identity",
    "RunIdentity",
    "identity_lines",
    "identity_of",
    "prefetch_tokens",
    "resolve_run_identity",
]

Assurance = Literal["verified", "asserted"]


@dataclass(frozen=True, slots=True)
class Identity:
    """One principal of a run (the user, or the agent's workload) and how sure we are of it."""

    assurance: Assurance
    recorded: str | None  # the name the writer recorded
    reason: str  # why asserted, or which token verified it
    verified: VerifiedIdentity | None = None
    principal: str | None = None  # the registry principal the verified token belongs to

    @property
    def is_verified(self) -> bool:
        return self.assurance == "verified"

    def key(self) -> str | None:
        """The comparison form: registry principal id, else verified e-mail, else issuer|subject,
        else (asserted) the normalised recorded name."""
        if self.verified is None:
            return normalise_principal(self.recorded) if self.recorded else None
        if self.principal is not None:
            return normalise_principal(self.principal)
        if self.verified.email is not None:
            return normalise_principal(self.verified.email)
        return f"{self.verified.issuer}|{self.verified.subject}"

    def facts(self) -> dict[str, Any]:
        """The CEL view (`principal.user` / `principal.agent`)."""
        v = self.verified
        return {
            "verified": self.is_verified,
            "id": self.principal or (v.display if v else self.recorded),
            "issuer": v.issuer if v else None,
            "subject": v.subject if v else None,
            "email": v.email if v else None,
            "actors": [sub for _, sub in v.actors] if v else [],
        }


@dataclass(frozen=True, slots=True)
class RunIdentity:
    user: Identity
    agent: Identity


def identity_lines(identity: RunIdentity) -> list[str]:
    """Who the run acted for, one line per principal, as `ledger replay` and the TUI's Trace
    tab print it: `user: ID VERIFIED (which token)` or `user: NAME asserted (why)`.

    Why one function: the console and the CLI must give the same answer to "who did this"."""
    out = []
    for role, who in (("user", identity.user), ("agent", identity.agent)):
        if who.is_verified:
            facts = who.facts()
            recorded = f"; recorded as {who.recorded!r}" if who.recorded else ""
            out.append(f"{role}: {facts['id']} VERIFIED ({who.reason}){recorded}")
        else:
            out.append(f"{role}: {who.recorded or '-'} asserted ({who.reason})")
    return out


def asserted(recorded: str | None, reason: str) -> Identity:
    return Identity("asserted", recorded, reason)


ASSERTED = RunIdentity(asserted(None, "no identity token recorded"),
                       asserted(None, "no identity token recorded"))


def _judge(
    role: str, token: str | None, *, erased: bool, recorded: str | None,
    history: RegistryHistory, started_seq: int, at_ns: int | None,
) -> Identity:
    """The shared rule (ledger.authority.token_judge), as an Identity of this run."""
    if token is None:
        why = "its identity token was erased" if erased else "no identity token recorded"
        return asserted(recorded, f"{role}: {why}")
    judged = judge_token(token, history.at(started_seq), role, at_ns)
    if judged.principal is None:
        return asserted(recorded, judged.reason)
    return Identity("verified", recorded, judged.reason, judged.verified, judged.principal)


def resolve_run_identity(
    conn: psycopg.Connection,
    opener: PayloadOpener | Settings,
    origin: str,
    run_id: uuid.UUID,
    *,
    recorded_user: str | None,
    history: RegistryHistory,
    started_seq: int,
    tokens: RecordedTokens | None = None,
    recorded_agent: str | None = None,
) -> RunIdentity:
    """Open (unless `tokens` were opened already) and verify the run's recorded tokens; each
    principal verified or asserted (`recorded_agent`: the agent name run.started recorded)."""
    if tokens is None:
        tokens = recorded_tokens(conn, opener, origin, run_id)
    erased = set(tokens.erased)
    at_ns = tokens.recorded_at_ns
    user = _judge("user", tokens.user, erased="user" in erased, recorded=recorded_user,
                  history=history, started_seq=started_seq, at_ns=at_ns)
    agent = _judge("agent", tokens.agent, erased="agent" in erased, recorded=recorded_agent,
                   history=history, started_seq=started_seq, at_ns=at_ns)
    return RunIdentity(user, agent)


def _slot(event: Any) -> Any:
    """The `identity_tokens` attribute of a run.started (pydantic or bulk msgspec form)."""
    if getattr(event, "type", None) != "run.started":
        return None
    attrs = getattr(event.data, "attributes", None)
    if isinstance(attrs, dict):
        return attrs.get("identity_tokens")
    return getattr(attrs, "identity_tokens", None)


def _recorded_agent(event: Any) -> str | None:
    """The agent name run.started recorded (the writer's word, shown as asserted), or None."""
    name = getattr(getattr(event, "agent", None), "name", None)
    return str(name) if name else None


def _token_roles(event: Any) -> frozenset[str]:
    """Which identity tokens a run.started recorded."""
    slot = _slot(event)
    return frozenset(slot) if isinstance(slot, dict) else frozenset()


def prefetch_tokens(
    conn: psycopg.Connection, opener: PayloadOpener, firsts: Sequence[Any]
) -> dict[uuid.UUID, RecordedTokens]:
    """The recorded tokens of many runs (their first stored rows), one query per log."""
    by_origin: dict[str, list[StartedTokens]] = {}
    for first in firsts:
        if _token_roles(first.event):
            item = StartedTokens(uuid.UUID(str(first.event.event_id)),
                                 ns_of(first.recorded_at), _slot(first.event))
            by_origin.setdefault(first.origin, []).append(item)
    out: dict[uuid.UUID, RecordedTokens] = {}
    for origin, items in by_origin.items():
        out.update(open_recorded_tokens(conn, opener, origin, items))
    return out


def identity_of(
    conn: psycopg.Connection,
    opener: PayloadOpener | None,
    authority: RunAuthority | None,
    first: Any,
    tokens: RecordedTokens | None = None,
) -> RunIdentity:
    """The identity of the run whose first stored row is `first` (queries only when it
    recorded tokens and a trust root was given: every other run is asserted for free)."""
    user = first.event.principal.initiating_user
    agent = _recorded_agent(first.event)
    roles = _token_roles(first.event)
    if not roles:
        return RunIdentity(asserted(user, "user: no identity token recorded"),
                           asserted(agent, "agent: no identity token recorded"))
    if authority is None or authority.history.root is None or opener is None:
        reason = NO_TRUST_ROOT if opener is not None else "no ledger settings to open it with"

        def why(role: str) -> str:
            if role not in roles:
                return f"{role}: no identity token recorded"
            return f"{role}: token not verifiable: {reason}"

        return RunIdentity(asserted(user, why("user")), asserted(agent, why("agent")))
    try:
        run_id = uuid.UUID(str(first.event.run_id))
        return resolve_run_identity(conn, opener, authority.origin, run_id, recorded_user=user,
                                    history=authority.history, started_seq=first.seq,
                                    tokens=tokens, recorded_agent=agent)
    except LedgerError as exc:  # e.g. no key-encryption key here: judge what we can, say why
        problem = f"identity token cannot be opened: {exc}"
        return RunIdentity(asserted(user, f"user: {problem}"), asserted(agent, f"agent: {problem}"))
