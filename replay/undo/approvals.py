"""Approvals: an approver signs the plan digest with their own Ed25519 key (DESIGN §8).

Separation of duties is checked here, not left to process: the approver may be neither an
original actor of the runs the plan repairs nor one of their original approvers (CC6.3). An
approval binds the exact plan digest, and the plan embeds the precondition snapshot it was
generated from, so any change to the plan — or drift found at apply time — needs a new approval.
"""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import psycopg

from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.events import Approver
from ledger.identity import normalise_principal, principal_set
from ledger.keys import load_or_create_signer
from ledger.note import Verifier, is_valid_name
from ledger.store import undo as store
from replay.undo.model import UndoPlan, UndoStep
from replay.undo.record import record_event, record_plan

__all__ = [
    "Approval",
    "ApprovalRefused",
    "approval_message",
    "approvals_for",
    "approve",
    "approver_key_path",
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


def approver_key_path(settings: Settings, name: str) -> Path:
    return settings.keys_dir / "approvers" / f"{name}.key"


def approve(
    conn: psycopg.Connection,
    settings: Settings,
    plan: UndoPlan,
    approver: str,
    roles: tuple[str, ...] = (),
) -> Approval:
    """Check SoD, sign the digest with the approver's key, record undo.plan.approved."""
    if not is_valid_name(approver) or "/" in approver:
        raise ApprovalRefused(
            f"approver name {approver!r} must be a plain name (no spaces, '+' or '/')"
        )
    who = normalise_principal(approver)
    if who in principal_set(plan.original_actors):
        raise ApprovalRefused(
            f"separation of duties: {approver} is an original actor of the runs this plan repairs"
        )
    if who in principal_set(plan.original_approvers):
        raise ApprovalRefused(
            f"separation of duties: {approver} approved the original actions this plan repairs"
        )
    key_path = approver_key_path(settings, approver)
    key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    signer = load_or_create_signer(key_path, approver)
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
    """Approvals of this digest whose signatures verify and that still satisfy SoD."""
    found: list[Approval] = []
    conflicted = principal_set((*plan.original_actors, *plan.original_approvers))
    for row in store.approvals(conn, plan.digest):
        verifier = Verifier.from_vkey(row.vkey)
        if verifier.name != row.approver:
            continue
        if not verifier.verify(approval_message(plan.digest, row.approver), row.signature):
            continue
        if normalise_principal(row.approver) in conflicted:
            continue
        found.append(Approval(row.approver, row.roles, row.vkey))
    return found


def step_approved(step: UndoStep, approvals: list[Approval]) -> bool:
    """Enough approvers, with a required role when the contract names roles."""
    rule = step.approvals
    fitting = [a for a in approvals if not rule.roles or set(rule.roles) & set(a.roles)]
    return len(fitting) >= rule.min_approvers
