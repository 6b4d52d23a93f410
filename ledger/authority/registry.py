"""The principal registry document: providers, principals, roles, keys and grants.

Why a document and not a table: the registry is what judges every approval, stop and undo, so
it must be as tamper-evident as the events it judges. It is YAML an administrator writes, made
content-addressed (the SHA-256 of its RFC 8785 canonical JSON), signed by an administrator key
and published into the log like a policy pack. The model is `extra="forbid"` throughout, so a
misspelt key is an error, never a silently missing grant.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Provider"]

Algorithm = Literal["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


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
