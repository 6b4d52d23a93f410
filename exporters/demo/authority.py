"""The demo's authority, made explicitly and printed: an administrator key, a local identity
provider, approver keys and a signed principal registry.

Why explicit: a real deployment gets its trust root out of band (docs/identity.md), and the demo
should show that shape rather than hide it. Everything lives under `HOME/demo/authority/`, is
created once (kept on later runs) and announced with its path. The identity provider is a local
RSA key whose public JWKS the registry snapshots; the demo signs each user's ID token with it,
for the ledger's own audience, the way a real IdP would after a login.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml

from ledger.approver_keys import create_approver_key, load_approver_signer
from ledger.authority.service import RegistryPublication, publish_registry
from ledger.authority.signed import load_registry_yaml, sign_registry
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.keys import load_or_create_signer, pub_path
from ledger.note import Signer

__all__ = ["ISSUER", "ONCALL", "DemoAuthority", "demo_authority"]

ISSUER = "https://idp.demo.agent-ledger.test"
AUDIENCE = "agent-ledger:demo"
APPROVERS = ("dana@example.com", "ivan@example.com")
ONCALL = "ivan@example.com"  # the only stop grant (role oncall) and an undo grant (sre)
PEOPLE: dict[str, list[str]] = {
    "alice@example.com": ["sales"],
    "bob@example.com": ["support"],
    "carol@example.com": ["support"],
    "dana@example.com": ["finance_lead"],
    "erin@example.com": ["support"],
    "ivan@example.com": ["sre", "oncall"],
}


@dataclass(frozen=True)
class DemoAuthority:
    """Where the demo's authority lives, and the pieces the story signs with."""

    directory: Path
    admin_key: Path
    trust_root_file: Path
    registry_file: Path
    jwks_file: Path
    idp_key: Any  # joserfc RSAKey: the demo identity provider's signing key

    @property
    def trust_root(self) -> TrustRoot:
        return TrustRoot.read(self.trust_root_file)

    def user_token(self, user: str, now_s: int | None = None) -> str:
        """An ID token for `user` from the demo IdP, for the ledger's audience (valid 1 hour)."""
        from joserfc import jwt

        now = int(time.time()) if now_s is None else now_s
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": _subject(user), "email": user,
                  "email_verified": True, "iat": now, "exp": now + 3600}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return jwt.encode({"alg": "RS256", "kid": "demo-idp-1"}, claims, self.idp_key)

    def approver(self, settings: Settings, name: str) -> Signer:
        return load_approver_signer(settings, name)

    def lines(self) -> list[str]:
        """What the demo prints, so a reader can find and reuse every piece."""
        return [
            f"administrator key: {self.admin_key}",
            f"trust root:        {self.trust_root_file}  (LEDGER_TRUST_ROOT)",
            f"principal registry: {self.registry_file} (signed, published into the log)",
            f"identity provider: {ISSUER} (keys {self.jwks_file})",
        ]


def _subject(user: str) -> str:
    return "demo|" + user.split("@", 1)[0]


def _idp_key(directory: Path) -> Any:
    """The demo IdP's RSA key (kept in the demo directory, 0600) and its public JWKS file."""
    from joserfc.jwk import RSAKey

    path = directory / "idp-key.json"
    if path.exists():
        return RSAKey.import_key(json.loads(path.read_text(encoding="utf-8")))
    key = RSAKey.generate_key(2048, parameters={"kid": "demo-idp-1", "use": "sig"})
    path.touch(mode=0o600)
    path.write_text(json.dumps(key.as_dict(private=True)), encoding="utf-8")
    return key


def _registry_yaml(settings: Settings, jwks_file: Path) -> dict[str, Any]:
    keys = {name: create_approver_key(settings, name).vkey for name in APPROVERS}
    principals = [
        {"id": user, "roles": roles, "identities": [{"issuer": ISSUER, "subject": _subject(user)}],
         **({"approver_key": keys[user]} if user in keys else {})}
        for user, roles in PEOPLE.items()
    ]
    principals += [{"id": "sales-ops", "kind": "agent"}, {"id": "support", "kind": "agent"}]
    return {
        "registry": {"name": "demo", "version": 1, "logs": [settings.origin()]},
        "providers": [{"issuer": ISSUER, "audience": AUDIENCE, "jwks_file": jwks_file.name,
                       "algorithms": ["RS256"]}],
        "principals": principals,
        "stop": [{"roles": ["oncall"], "scopes": ["*"]}],
        "resume": [{"roles": ["oncall"], "scopes": ["*"]}],
        "undo": [{"roles": ["finance_lead"], "scopes": ["tool:payments.*"]},
                 {"roles": ["sre"], "scopes": ["*"]}],  # the incident commander
    }


def demo_authority(settings: Settings) -> DemoAuthority:
    """Create (once) the demo's administrator key, IdP, approver keys and registry file."""
    directory = settings.home / "demo" / "authority"
    directory.mkdir(parents=True, exist_ok=True)
    admin_key = directory / "admin.key"
    load_or_create_signer(admin_key, "demo-admin")
    idp = _idp_key(directory)
    jwks_file = directory / "idp-jwks.json"
    jwks_file.write_text(json.dumps({"keys": [idp.as_dict(private=False)]}), encoding="utf-8")
    registry_file = directory / "registry.yaml"
    registry_file.write_text(
        yaml.safe_dump(_registry_yaml(settings, jwks_file), sort_keys=False), encoding="utf-8"
    )
    return DemoAuthority(directory, admin_key, pub_path(admin_key), registry_file, jwks_file, idp)


def publish_demo_registry(
    conn: psycopg.Connection, settings: Settings, authority: DemoAuthority
) -> RegistryPublication:
    """Sign the registry with the demo administrator key and publish it (once per content)."""
    admin = load_or_create_signer(authority.admin_key, "demo-admin")
    signed = sign_registry(load_registry_yaml(authority.registry_file), admin)
    return publish_registry(conn, settings, signed, authority.trust_root)
