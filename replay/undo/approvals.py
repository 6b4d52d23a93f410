"""Approvals: an approver signs the plan digest with their own Ed25519 key (DESIGN §8).

Separation of duties is checked here, not left to process: the approver may be neither an
original actor of the runs the plan repairs nor one of their original approvers (CC6.3). Those
parties are re-derived from the ledger at approve and at apply time (the plan file is written
by whoever made it and can be edited and re-digested), and names compare normalised
(ledger.identity), so `Alice@Example.com` is `alice@example.com`. Approving needs an approver
key made beforehand (`ledger keys approver NAME`); none is created on first use. An approval
binds the exact plan digest, and the plan embeds the precondition snapshot it was generated
from, so any change to the plan — or drift found at apply time — needs a new approval.
"""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import Iterable
from typing import Any

import psycopg

from ledger.approver_keys import approver_key_path, load_approver_signer
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.events import Approver, EventBase
from ledger.identity import normalise_principal
from ledger.note import Verifier, is_valid_name
from ledger.store import read
from ledger.store import undo as store
from replay.undo.model import UndoPlan, UndoStep
from replay.undo.record import record_event, record_plan

__all__ = [
    "Approval",
    "ApprovalRefused",
    "OriginalParties",
    "approval_message",
    "approvals_for",
    "approve",
    "approver_key_path",
    "original_parties",
    "step_approved",
]


class ApprovalRefused(LedgerError):
    """An approval that separation of duties or the key rules do not allow."""


@dataclasses.dataclass(frozen=True)
class Approval:
    """A verified approval of one plan digest."""

    approver: str
    roles: tuple[str, ...]
    vkey: str


def approval_message(plan_digest: str, approver: str) -> bytes:
    """The exact bytes an approver signs."""
    return f"agent-ledger/undo-approval/v1\n{plan_digest}\n{approver}\n".encode()


@dataclasses.dataclass(frozen=True)
class OriginalParties:
    """Who acted in, and who approved calls of, the runs a plan repairs (normalised names)."""

    actors: frozenset[str]
    approvers: frozenset[str]

    def refusal(self, name: str) -> str | None:
        """Why `name` may not approve this plan, or None when separation of duties allows it."""
        who = normalise_principal(name)
        if who in self.actors:
            return (
                f"separation of duties: {name} is an original actor of the runs this plan repairs"
            )
        if who in self.approvers:
            return f"separation of duties: {name} approved the original actions this plan repairs"
        return None


def _uuid(text: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text))
    except ValueError:
        return None


def _target_runs(conn: psycopg.Connection, plan: UndoPlan) -> list[uuid.UUID]:
    """Every run the plan names: in its scope, on its steps, and the runs that really hold the
    actions its steps target (so editing a step's run id does not move it out of reach)."""
    scope_runs = plan.scope.get("runs")
    named = [*(scope_runs if isinstance(scope_runs, list) else []), *(s.run_id for s in plan.steps)]
    runs = {r for r in map(_uuid, named) if r is not None}
    for step in plan.steps:
        action = _uuid(step.target_action_id)
        stored = read.event_by_id(conn, action) if action is not None else None
        if stored is not None:
            runs.add(stored.event.run_id)
    return sorted(runs, key=str)


def _parties_of(events: Iterable[EventBase], actors: set[str], approvers: set[str]) -> None:
    for e in events:
        data: Any = getattr(e, "data", None)
        if e.principal.initiating_user:
            actors.add(normalise_principal(e.principal.initiating_user))
        elif e.type == "tool.call.started" and e.agent is not None:
            actors.add(normalise_principal(e.agent.name))
        if e.type == "approval.decided" and data.decision != "rejected":
            approvers.add(normalise_principal(data.approver.id))


def original_parties(conn: psycopg.Connection, plan: UndoPlan) -> OriginalParties:
    """Original actors and approvers from the ledger itself (never only from the plan file):
    initiating users (or the agent, when none) of the target runs, and the approvers of their
    calls, including decisions recorded in other runs of the same log. The plan file's own
    lists are added too: they can only make the check stricter."""
    actors = {normalise_principal(a) for a in plan.original_actors}
    approvers = {normalise_principal(a) for a in plan.original_approvers}
    stored = read.runs_events(conn, _target_runs(conn, plan))
    _parties_of((s.event for s in stored), actors, approvers)
    calls: dict[str, set[str]] = {}
    for s in stored:
        if s.event.type == "tool.call.started":
            data: Any = s.event.data
            calls.setdefault(s.origin, set()).add(data.tool_call_id)
    for origin, ids in calls.items():
        found = read.decisions_for_calls(conn, origin, sorted(ids))
        _parties_of((s.event for _, s in found), set(), approvers)
    return OriginalParties(frozenset(actors), frozenset(approvers))


def approve(
    conn: psycopg.Connection,
    settings: Settings,
    plan: UndoPlan,
    approver: str,
    roles: tuple[str, ...] = (),
    *,
    key: str | None = None,
) -> Approval:
    """Check SoD against the ledger, sign the digest with the approver's existing key, record
    undo.plan.approved. UnknownApprover (exit 2) when no key was created for `approver`.

    `key` (a key file or `pkcs11:` URI; ledger.approver_keys) picks where the key lives; only
    its public key and the signature are recorded, never the spec itself."""
    if not is_valid_name(approver) or "/" in approver:
        raise ApprovalRefused(
            f"approver name {approver!r} must be a plain name (no spaces, '+' or '/')"
        )
    refusal = original_parties(conn, plan).refusal(approver)
    if refusal is not None:
        raise ApprovalRefused(refusal)
    signer = load_approver_signer(settings, approver, key)
    signature = signer.sign(approval_message(plan.digest, approver))
    record_plan(conn, settings, plan, plan.created_by)
    event = record_event(
        conn,
        settings,
        "undo.plan.approved",
        {
            "plan_digest": plan.digest,
            "status": "approved",
            "approver": Approver(id=approver, roles=roles).model_dump(mode="json"),
            "details": {
                "signature": base64.b64encode(signature).decode(),
                "vkey": signer.vkey,
                "message": approval_message(plan.digest, approver).decode(),
            },
        },
        approver,
    )
    store.insert_approval(
        conn, plan.digest, approver, roles, signer.vkey, signature, event.event_id
    )
    return Approval(approver, roles, signer.vkey)


def approvals_for(conn: psycopg.Connection, plan: UndoPlan) -> list[Approval]:
    """Approvals of this digest whose signatures verify and that still satisfy SoD, judged
    against the parties re-derived from the ledger now (not at approve time, not from the file)."""
    parties = original_parties(conn, plan)
    found: list[Approval] = []
    for row in store.approvals(conn, plan.digest):
        verifier = Verifier.from_vkey(row.vkey)
        if verifier.name != row.approver:
            continue
        if not verifier.verify(approval_message(plan.digest, row.approver), row.signature):
            continue
        if parties.refusal(row.approver) is not None:
            continue
        found.append(Approval(row.approver, row.roles, row.vkey))
    return found


def step_approved(step: UndoStep, approvals: list[Approval]) -> bool:
    """Enough approvers, with a required role when the contract names roles."""
    rule = step.approvals
    fitting = [a for a in approvals if not rule.roles or set(rule.roles) & set(a.roles)]
    return len(fitting) >= rule.min_approvers
