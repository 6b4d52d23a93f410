"""The principal registry document: providers, principals, roles, keys and grants.

Why a document and not a table: the registry is what judges every approval, stop and undo, so
it must be as tamper-evident as the events it judges. It is YAML an administrator writes, made
content-addressed (`registry_hash`, the SHA-256 of its RFC 8785 canonical JSON), signed by an
administrator key (ledger.authority.signed) and published into the log like a policy pack.
The model is `extra="forbid"` throughout, so a misspelt key is an error, never a silently
missing grant. Principals are looked up by their normalised id (ledger.identity), or by the
(issuer, subject) pair of a verified token, never by the raw text a writer chose.
"""

from __future__ import annotations

import fnmatch
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ledger.canonical import content_hash
from ledger.identity import normalise_principal
from ledger.note import NoteError, Verifier

__all__ = [
    "Grant",
    "Principal",
    "Provider",
    "Registry",
    "RegistryMeta",
    "TokenIdentity",
    "registry_document",
    "registry_hash",
]

Algorithm = Literal["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


def _vkey(value: str) -> str:
    """An Ed25519 public key in note verifier form (`name+keyid+base64`), checked now."""
    try:
        Verifier.from_vkey(value)
    except NoteError as exc:
        raise ValueError(f"not a public verifier key ({exc})") from None
    if value.startswith("PRIVATE+KEY"):
        raise ValueError("a private key has no place in the registry")
    return value.strip()


VKey = Annotated[str, AfterValidator(_vkey)]
Name = Annotated[str, Field(min_length=1, max_length=320)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Provider(_Strict):
    """A trusted OIDC identity provider: its issuer, the ledger's own audience, a JWKS snapshot.

    `audience` is the ledger's audience at this provider, so a token issued for the ledger is
    useless anywhere else (and a token for anything else is refused here). `jwks` is the key set
    as it was when the registry was signed; verification never fetches keys at check time.
    """

    issuer: Annotated[str, Field(min_length=1)]
    audience: Annotated[str, Field(min_length=1)]
    jwks: dict[str, Any]
    algorithms: tuple[Algorithm, ...] = ("RS256", "ES256", "EdDSA")


class TokenIdentity(_Strict):
    """An OIDC identity that is this principal: the (issuer, subject) pair of its tokens."""

    issuer: Name
    subject: Name


class Principal(_Strict):
    """A person, service or agent with roles, token identities and (for approvers) a public key.

    `approver_key` is only ever a public key: where the private half lives (a file, a PKCS#11
    token) is the signer's own configuration and never appears in the ledger.
    """

    id: Name
    kind: Literal["person", "service", "agent"] = "person"
    roles: tuple[Name, ...] = ()
    identities: tuple[TokenIdentity, ...] = ()
    approver_key: VKey | None = None


class Grant(_Strict):
    """Who (principals by id, or anyone holding a role) may act on what (glob patterns)."""

    principals: tuple[Name, ...] = ()
    roles: tuple[Name, ...] = ()
    scopes: tuple[Name, ...] = Field(default=("*",), min_length=1)

    @model_validator(mode="after")
    def _someone(self) -> Grant:
        if not self.principals and not self.roles:
            raise ValueError("name principals or roles")
        return self


class RegistryMeta(_Strict):
    """Which registry, which version, and which logs it governs.

    Versions only go up (an older one cannot come back). `logs` are glob patterns over log
    origins (`agent-ledger.local/default`, `acme.example/*`): the signature covers them, so a
    registry signed for one tenant cannot be replayed into another tenant's log (one trust root
    usually serves every tenant of a ledger).
    """

    name: Annotated[str, Field(min_length=1, max_length=200)]
    version: Annotated[int, Field(ge=1)]
    logs: tuple[Name, ...] = Field(min_length=1)
    description: str | None = None

    def governs(self, origin: str) -> bool:
        """True when `origin` matches one of the `logs` patterns."""
        return any(fnmatch.fnmatchcase(origin, pattern) for pattern in self.logs)


class Registry(_Strict):
    """One version of the registry, with the lookups every judge of *who* uses."""

    registry: RegistryMeta
    providers: tuple[Provider, ...] = ()
    principals: tuple[Principal, ...] = ()
    service_key: VKey | None = None
    stop: tuple[Grant, ...] = ()
    resume: tuple[Grant, ...] = ()
    undo: tuple[Grant, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        seen: set[str] = set()
        for p in self.principals:
            key = normalise_principal(p.id)
            if key in seen:
                raise ValueError(f"principal {p.id!r} is listed twice (ids compare normalised)")
            seen.add(key)
        pairs = [(i.issuer, i.subject) for p in self.principals for i in p.identities]
        if len(pairs) != len(set(pairs)):
            raise ValueError("a token identity (issuer, subject) may belong to one principal")
        issuers = [p.issuer for p in self.providers]
        if len(issuers) != len(set(issuers)):
            raise ValueError("each identity provider issuer may appear once")
        return self

    @cached_property
    def _by_id(self) -> dict[str, Principal]:
        return {normalise_principal(p.id): p for p in self.principals}

    @cached_property
    def _by_token(self) -> dict[tuple[str, str], Principal]:
        return {(i.issuer, i.subject): p for p in self.principals for i in p.identities}

    @cached_property
    def _verifiers(self) -> dict[str, Verifier]:
        return {
            normalise_principal(p.id): Verifier.from_vkey(p.approver_key)
            for p in self.principals
            if p.approver_key is not None
        }

    @property
    def version(self) -> int:
        return self.registry.version

    def principal(self, principal_id: str | None) -> Principal | None:
        """The registered principal with this id (compared normalised), or None."""
        return None if principal_id is None else self._by_id.get(normalise_principal(principal_id))

    def principal_for_token(self, issuer: str, subject: str) -> Principal | None:
        """The principal a verified token's (issuer, subject) belongs to, or None."""
        return self._by_token.get((issuer, subject))

    def roles_of(self, principal_id: str | None) -> frozenset[str]:
        """The roles the registry grants this principal (none when it is not registered)."""
        found = self.principal(principal_id)
        return frozenset(found.roles) if found is not None else frozenset()

    def approver_verifier(self, principal_id: str | None) -> Verifier | None:
        """The registered public key this principal's approvals must verify against."""
        if principal_id is None:
            return None
        return self._verifiers.get(normalise_principal(principal_id))

    def provider(self, issuer: str) -> Provider | None:
        return next((p for p in self.providers if p.issuer == issuer), None)

    def allows(self, grants: tuple[Grant, ...], principal_id: str | None, scope: str) -> bool:
        """True when a grant names this principal (or one of its roles) and matches `scope`."""
        found = self.principal(principal_id)
        if found is None:
            return False
        me = normalise_principal(found.id)
        roles = set(found.roles)
        for grant in grants:
            named = me in {normalise_principal(p) for p in grant.principals}
            if (named or roles & set(grant.roles)) and any(
                fnmatch.fnmatchcase(scope, pattern) for pattern in grant.scopes
            ):
                return True
        return False


def registry_hash(registry: Registry) -> str:
    """The content address of a registry version: hex SHA-256 of its canonical JSON document."""
    return content_hash(registry_document(registry))


def registry_document(registry: Registry) -> dict[str, Any]:
    """The normalised JSON document: defaults omitted, so a new optional field keeps old hashes."""
    return registry.model_dump(mode="json", exclude_defaults=True)
