"""Real JOSE pieces for the authority tests: constants, claims and signing with joserfc."""

from __future__ import annotations

import warnings
from typing import Any

from joserfc import jwt
from joserfc.jwk import Key

ISS = "https://idp.example.test"
AUD = "agent-ledger:acme"
NOW = 1_800_000_000
NOW_NS = NOW * 1_000_000_000


def claims(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"iss": ISS, "aud": AUD, "sub": "u-123", "email": "alice@example.com",
                            "iat": NOW - 10, "exp": NOW + 300}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Key, alg: str, body: dict[str, Any], kid: str | None = None) -> str:
    with warnings.catch_warnings():  # joserfc flags "EdDSA" as superseded by "Ed25519"
        warnings.simplefilter("ignore")
        return jwt.encode({"alg": alg, "kid": kid or str(key.kid)}, body, key, algorithms=[alg])
