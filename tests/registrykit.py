"""A real principal registry for tests that judge *who*: an administrator key outside the ledger
home, approver keys made the explicit way (`create_approver_key`), a registry signed by the
administrator and published into the test ledger through the real service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.approver_keys import create_approver_key
from ledger.authority.registry import Registry
from ledger.authority.service import publish_registry
from ledger.authority.signed import sign_registry
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.keys import load_or_create_signer
from ledger.note import Signer


@dataclass
class Authority:
    """The administrator's side: publish registry versions the trust root accepts."""

    conn: psycopg.Connection
    settings: Settings
    admin: Signer
    root_file: Path

    @property
    def root(self) -> TrustRoot:
        return TrustRoot.read(self.root_file)

    def person(self, name: str, *roles: str, key: bool = True) -> dict[str, Any]:
        """A principal entry; with `key`, its approver key is created now and registered."""
        entry: dict[str, Any] = {"id": name, "roles": list(roles)}
        if key:
            entry["approver_key"] = create_approver_key(self.settings, name).vkey
        return entry

    def publish(self, version: int = 1, **parts: Any) -> str:
        """Sign and publish a registry version (principals, stop, undo, ...); its digest."""
        meta = {"name": "acme", "version": version, "logs": ["*"]}
        doc = Registry.model_validate({"registry": meta, **parts})
        done = publish_registry(self.conn, self.settings, sign_registry(doc, self.admin), self.root)
        return done.digest


@pytest.fixture
def authority(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> Authority:
    admin = load_or_create_signer(tmp_path / "admin" / "sec-admin.key", "sec-admin")
    return Authority(ledger_conn, ledger_settings, admin, tmp_path / "admin" / "sec-admin.key.pub")


def undo_registry(auth: Authority, version: int = 1) -> str:
    """The undo tests' registry: carol (finance-oncall) and dave (no role) may approve any
    undo; erin only CRM and mail undo; alice and bob hold keys and grants (so only separation
    of duties refuses them); ivan is a registered operator without an approver key."""
    people = [
        auth.person("carol", "finance-oncall"),
        auth.person("dave"),
        auth.person("erin", "finance-oncall"),
        auth.person("alice", "finance-oncall"),
        auth.person("bob", "finance-oncall"),
        auth.person("ivan", "sre", key=False),
    ]
    return auth.publish(
        version,
        principals=people,
        undo=[
            {"principals": ["carol", "dave", "alice", "bob"], "scopes": ["tool:*"]},
            {"principals": ["erin"], "scopes": ["tool:crm.*", "tool:email.*"]},
        ],
        stop=[{"roles": ["sre"], "scopes": ["tenant:*"]}],
    )
