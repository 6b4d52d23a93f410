"""Approvals: an approver signs the plan digest with their own Ed25519 key (DESIGN §8, §13).

Separation of duties is checked here, not left to process: the approver may be neither an
original actor of the runs the plan repairs nor one of their original approvers (CC6.3). Those
parties are re-derived from the ledger at approve and at apply time (the plan file is written
by whoever made it and can be edited and re-digested), and names compare normalised
(ledger.identity), so `Alice@Example.com` is `alice@example.com`. Who may approve at all, with
which roles, for which effects and with which key is the principal registry's word
(replay.undo.authority), never the approver's: a self-declared role counts for nothing, and a
key that is not the registered one signs nothing that counts. The signature binds the log, the
plan digest, the approver and the registry version that judged it; apply re-checks every
approval from the `undo.plan.approved` events against the registry in force at its seq (the
projection table is the writer's and is not trusted). Any change to the plan (or drift found at
apply time) needs a new approval.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Any

import psycopg

from ledger.approver_keys import approver_key_path, load_approver_signer
from ledger.authority.history import RegistryHistory
from ledger.authority.service import load_history
from ledger.authority.trust import TrustRoot
from ledger.canonical import canonical_bytes
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.events import Approver, EventBase, decode_event
from ledger.identity import normalise_principal
from ledger.note import is_valid_name
from ledger.store import read
from ledger.store import undo as store
from replay.undo.authority import registry_in_force, registry_refusal, undo_scopes
from replay.undo.model import UndoPlan, UndoStep
from replay.undo.parties import OriginalParties, approver_refusal, original_parties
from replay.undo.record import record_event, record_plan

__all__ = [
    "UNDO_APPROVAL_DOMAIN",
    "Approval",
    "ApprovalRefused",
    "Judged",
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


UNDO_APPROVAL_DOMAIN = "agent-ledger/undo-approval/v2"


@dataclasses.dataclass(frozen=True)
class Approval:
    """A verified approval of one plan digest; roles are the registry's, `registry` its digest."""

    approver: str
    roles: tuple[str, ...]
    vkey: str
    registry: str = ""


def approval_message(origin: str, plan_digest: str, approver: str, registry: str) -> bytes:
    """The exact bytes an approver signs: RFC 8785 canonical JSON, domain-separated.

    Why these fields: the log (an approval cannot be carried to another ledger), the plan digest
    (nor to another plan), the approver (nor to another name) and the registry version that
    judged it (nor to a registry that would judge it differently)."""
    return canonical_bytes(
        {
            "domain": UNDO_APPROVAL_DOMAIN,
            "origin": origin,
            "plan_digest": plan_digest,
            "approver": approver,
            "registry": registry,
        }
    )


def _check_name(approver: str) -> None:
    if not is_valid_name(approver) or "/" in approver:
        raise ApprovalRefused(
            f"approver name {approver!r} must be a plain name (no spaces, '+' or '/')"
        )


def approve(
    conn: psycopg.Connection,
    settings: Settings,
    plan: UndoPlan,
    approver: str,
    *,
    root: TrustRoot | None,
    key: str | None = None,
) -> Approval:
    """Judge `approver` by the registry in force (registered, undo grants for every step, SoD
    from the ledger), sign with their existing key, check the signature against the registered
    key, and record undo.plan.approved with the registry digest. Refuses in one line.

    `key` (a key file or `pkcs11:` URI; ledger.approver_keys) picks where the key lives; only
    its public key and the signature are recorded, never the spec itself."""
    _check_name(approver)
    in_force = registry_in_force(conn, settings, root, "approve undo")
    registry, digest = in_force.registry, in_force.digest or ""
    assert registry is not None  # registry_in_force raises otherwise
    scopes = undo_scopes(conn, plan)
    parties = original_parties(conn, plan, settings, root)
    refusal = approver_refusal(registry, parties, approver, scopes)  # the TUI's list asks it too
    if refusal is not None:
        raise ApprovalRefused(refusal)
    signer = load_approver_signer(settings, approver, key)
    message = approval_message(settings.origin(), plan.digest, approver, digest)
    signature = signer.sign(message)
    registered = registry.approver_verifier(approver)
    if registered is None or not registered.verify(message, signature):
        raise ApprovalRefused(
            f"the key of {approver!r} ({signer.name}+{signer.key_id.hex()}) is not the approver "
            f"key registered for them in registry version {registry.version}"
        )
    roles = tuple(sorted(registry.roles_of(approver)))
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
                "registry_hash": digest,
                "registry_version": registry.version,
                "scopes": list(scopes),
            },
        },
        approver,
    )
    store.insert_approval(
        conn, plan.digest, approver, roles, signer.vkey, signature, event.event_id
    )
    return Approval(approver, roles, signer.vkey, digest)


@dataclasses.dataclass(frozen=True)
class Judged:
    """The approvals of a plan that count, and why each other recorded one does not."""

    valid: list[Approval]
    refused: list[str]


def _judge_one(  # noqa: PLR0917 - private, one caller
    history: RegistryHistory,
    origin: str,
    plan: UndoPlan,
    scopes: tuple[str, ...],
    seq: int,
    event: EventBase,
) -> Approval | str:
    """One recorded approval judged by the registry in force at its seq: Approval, or why not."""
    data: Any = event.data
    who = data.approver.id if data.approver is not None else ""
    where = f"approval by {who!r} at seq {seq}"
    in_force = history.at(seq)
    registry = in_force.registry
    if registry is None:
        return f"{where}: {in_force.reason}"
    claimed = str(data.details.get("registry_hash", ""))
    if claimed != in_force.digest:
        return f"{where}: signed under registry {claimed[:12] or '(none)'}, not the one in force"
    refusal = registry_refusal(registry, who, scopes)
    if refusal is not None:
        return f"{where}: {refusal}"
    key = registry.approver_verifier(who)
    try:
        raw = base64.b64decode(str(data.details.get("signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if key is None or not key.verify(approval_message(origin, plan.digest, who, claimed), raw):
        return f"{where}: signature does not verify against the registered approver key"
    return Approval(who, tuple(sorted(registry.roles_of(who))), key.vkey, claimed)


def approvals_for(
    conn: psycopg.Connection, settings: Settings, plan: UndoPlan, root: TrustRoot | None
) -> Judged:
    """Every `undo.plan.approved` of this digest in the log, re-judged now: registry in force at
    its seq, signature against the registered key, SoD against the parties re-derived from the
    ledger (not at approve time, not from the file, not from the projection table)."""
    registry_in_force(conn, settings, root, "apply undo")  # refuses with no root or registry
    origin = settings.origin()
    history = load_history(conn, origin, root)
    parties = original_parties(conn, plan, settings, root)
    scopes = undo_scopes(conn, plan)
    judged = Judged([], [])
    seen: set[str] = set()
    for seq, body in read.events_of_types(conn, origin, ["undo.plan.approved"]):
        event = decode_event(body)
        if getattr(event.data, "plan_digest", None) != plan.digest:
            continue
        outcome = _judge_one(history, origin, plan, scopes, seq, event)
        if isinstance(outcome, str):
            judged.refused.append(outcome)
            continue
        sod = parties.refusal(outcome.approver)
        if sod is not None:
            judged.refused.append(f"approval by {outcome.approver!r} at seq {seq}: {sod}")
        elif normalise_principal(outcome.approver) not in seen:
            seen.add(normalise_principal(outcome.approver))
            judged.valid.append(outcome)
    return judged


def step_approved(step: UndoStep, approvals: list[Approval]) -> bool:
    """Enough approvers, with a required role (from the registry) when the contract names roles."""
    rule = step.approvals
    fitting = [a for a in approvals if not rule.roles or set(rule.roles) & set(a.roles)]
    return len(fitting) >= rule.min_approvers
