"""A real administrator key, a signed and published principal registry, and approver keys.

The replay tests judge approvals against the registry in force, so a genuine approval needs
what production needs: an administrator key outside the ledger home (the trust root), a
registry version signed by it and published into the log, and an approver key registered in
that registry. `Kit.signed_fields` makes the signature fields of an `approval.decided` event
the way `ledger approve` does: over the claim rebuilt from the call (origin, run, call, tool,
args hash, decision, expiry, approver, registry version).
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any

import psycopg

from ledger.authority.approvals import ApprovalClaim, sign_approval
from ledger.authority.registry import Registry
from ledger.authority.service import publish_registry
from ledger.authority.signed import sign_registry
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.events import args_hash
from ledger.keys import load_or_create_signer
from ledger.note import Signer

#: approver id -> roles the registry grants (each gets an approver key)
PEOPLE: dict[str, tuple[str, ...]] = {
    "bob@example.com": ("finance_lead",),
    "carol@example.com": ("intern",),
    "alice@example.com": ("finance_lead",),
    "bob": ("finance_lead",),
    "alice": ("finance_lead",),
    "carol": ("intern",),
}


@dataclasses.dataclass
class Kit:
    """What a verifier holds (the trust root file) and what approvers hold (their keys)."""

    root_file: Path
    root: TrustRoot
    admin: Signer
    keys: dict[str, Signer]
    origin: str
    digest: str = ""
    version: int = 0

    def publish(
        self, conn: psycopg.Connection, settings: Settings, people: dict[str, tuple[str, ...]]
    ) -> str:
        """Sign and publish the next registry version granting `people` their roles."""
        self.version += 1
        principals = [
            {"id": who, "roles": list(roles), "approver_key": self.key(who).vkey}
            for who, roles in people.items()
        ]
        registry = Registry.model_validate(
            {"registry": {"name": "acme", "version": self.version, "logs": ["*"]},
             "principals": principals}
        )
        done = publish_registry(conn, settings, sign_registry(registry, self.admin), self.root)
        self.digest = done.digest
        return done.digest

    def key(self, who: str) -> Signer:
        if who not in self.keys:
            self.keys[who] = Signer.generate(f"approver-{len(self.keys)}")
        return self.keys[who]

    def signed_fields(
        self,
        *,
        run_id: uuid.UUID | str,
        call: str,
        tool: str,
        args: Any,
        approver: str,
        decision: str = "approved",
        expires_at: str | None = None,
        signer: Signer | None = None,
        registry: str | None = None,
    ) -> dict[str, Any]:
        """The signature fields of approval.decided, signed by `approver`'s key (or `signer`)."""
        claim = ApprovalClaim(
            origin=self.origin,
            run_id=uuid.UUID(str(run_id)),
            tool_call_id=call,
            tool=tool,
            args_hash=args_hash(args),
            decision=decision,
            expires_at=expires_at,
            approver=approver,
            registry=registry or self.digest,
        )
        signed = sign_approval(claim, signer or self.key(approver))
        return {
            "signature": signed.signature,
            "signing_key": signed.signing_key,
            "tool": tool,
            "call_run_id": str(run_id),
            "expires_at": expires_at,
            "registry_hash": claim.registry,
        }


def make_kit(tmp_path: Path, settings: Settings) -> Kit:
    """An administrator key kept outside the ledger home, and its public half as trust root."""
    admin = load_or_create_signer(tmp_path / "admin" / "sec-admin.key", "sec-admin")
    root_file = tmp_path / "admin" / "sec-admin.key.pub"
    return Kit(root_file, TrustRoot.read(root_file), admin, {}, settings.origin(None))
