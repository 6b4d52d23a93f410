"""OIDC ID token verification against the registry's providers (DESIGN §13, issue 14).

Why here and why this strict: the agent host records the tokens and may be hostile, so a token
is worth something only once replay re-verifies it from the record against the provider
snapshot of the registry in force, with the sequencer's `recorded_at` as the clock. Nothing in
the token is trusted before its signature is: the header only *selects* (algorithm, key id), and
each selection is checked against the provider (its algorithm allow-list, its JWKS snapshot), so
`alg: none`, HS256 keyed with the RSA public key (key confusion) and unknown keys are refused
before any cryptography runs. Signatures are checked by joserfc's algorithm models.

Every refusal is a `TokenRefused` with one line that never echoes attacker text raw (values
appear through `_show`: repr, truncated).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ledger.authority.registry import Provider

if TYPE_CHECKING:  # joserfc (and cryptography under it) load when a signature is checked
    from joserfc.jwk import Key
from ledger.errors import InputError

__all__ = ["TokenRefused", "VerifiedIdentity", "token_claims", "verify_token"]

_NS = 1_000_000_000
_MAX_ACT_DEPTH = 8
_MAX_TOKEN = 16 * 1024


class TokenRefused(InputError):
    """An identity token that does not verify (the message says why, in one line)."""


def _show(value: Any, limit: int = 60) -> str:
    """Attacker-supplied text as it may appear in a message: repr, one line, truncated."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """The claims of a token whose signature, issuer, audience and validity window all held.

    `actors` is the RFC 8693 `act` chain, outermost first: who acts for `subject`, then who
    acts for that actor, and so on; each is (issuer or None, subject).
    """

    issuer: str
    subject: str
    email: str | None
    actors: tuple[tuple[str | None, str], ...]
    expires_at_ns: int

    @property
    def principal_key(self) -> tuple[str, str]:
        """What identities compare on: (issuer, subject), never a display string."""
        return (self.issuer, self.subject)

    @property
    def display(self) -> str:
        """A name for people: the e-mail when the provider gave one, else the subject."""
        return self.email or self.subject


@dataclass(frozen=True, slots=True)
class _Parsed:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _b64json(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = orjson.loads(raw)
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise TokenRefused(f"token {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise TokenRefused(f"token {what} is not a JSON object")
    return value


def _parse(token: str) -> _Parsed:
    """Split a compact JWS without trusting anything in it."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN:
        raise TokenRefused("token is not a compact JWS string of at most 16 KiB")
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise TokenRefused("token is not a compact JWS (header.payload.signature)")
    header = _b64json(parts[0], "header")
    claims = _b64json(parts[1], "payload")
    try:
        signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
    except (ValueError, binascii.Error):
        raise TokenRefused("token signature is not base64url") from None
    return _Parsed(header, claims, f"{parts[0]}.{parts[1]}".encode("ascii", "replace"), signature)


def token_claims(token: str) -> dict[str, Any]:
    """The UNVERIFIED claims of a well-formed compact JWS (capture's fast fail, never trust).

    Raises TokenRefused when the token is not a compact JWS with a JSON object payload.
    """
    return _parse(token).claims


@functools.lru_cache(maxsize=64)
def _keys_by_digest(digest: str, jwks_json: bytes) -> Mapping[str, Key]:
    """The imported JWKS snapshot by key id; cached by the digest of its JSON."""
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    del digest  # the cache key; the JSON is what is imported
    try:
        key_set = KeySet.import_key_set(orjson.loads(jwks_json))
    except (JoseError, ValueError, KeyError, TypeError):
        return {}
    out: dict[str, Key] = {}
    for key in key_set.keys:
        key.ensure_kid()
        if key.kid is not None:
            out.setdefault(key.kid, key)
    return out


def _provider_keys(provider: Provider) -> Mapping[str, Key]:
    blob = orjson.dumps(provider.jwks, option=orjson.OPT_SORT_KEYS)
    return _keys_by_digest(hashlib.sha256(blob).hexdigest(), blob)


def _provider_for(claims: Mapping[str, Any], providers: Sequence[Provider]) -> Provider:
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise TokenRefused("token has no issuer (iss)")
    for provider in providers:
        if provider.issuer == issuer:
            return provider
    raise TokenRefused(f"no provider for issuer {_show(issuer)}")


def _check_signature(parsed: _Parsed, provider: Provider, alg: str) -> None:
    """Alg allow-list, key id, key type, then the signature itself (joserfc's models)."""
    from joserfc import jws
    from joserfc.errors import JoseError

    if alg not in provider.algorithms:
        raise TokenRefused(
            f"token algorithm {_show(alg)} is not allowed for issuer {_show(provider.issuer)}"
        )
    if "crit" in parsed.header:
        raise TokenRefused("token header names critical extensions (crit), none are understood")
    kid = parsed.header.get("kid")
    if not isinstance(kid, str):
        raise TokenRefused("token header names no key id (kid)")
    key = _provider_keys(provider).get(kid)
    if key is None:
        raise TokenRefused(f"unknown key id {_show(kid)} for issuer {_show(provider.issuer)}")
    model = jws.JWSRegistry.algorithms.get(alg)
    if model is None:
        raise TokenRefused(f"token algorithm {_show(alg)} is not supported")
    try:
        model.check_key(key)
        ok = model.verify(parsed.signing_input, parsed.signature, key)
    except (JoseError, ValueError, TypeError):
        raise TokenRefused(f"key {_show(kid)} does not fit algorithm {_show(alg)}") from None
    if not ok:
        raise TokenRefused("token signature does not verify")


def _seconds(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRefused(f"token claim {name} is not a number")
    return float(value)


def _check_claims(claims: Mapping[str, Any], provider: Provider, at_ns: int, skew: int) -> int:
    """Audience, expiry and not-before against `at_ns`; returns exp in nanoseconds."""
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if provider.audience not in audiences:
        raise TokenRefused(
            f"token audience {_show(aud)} does not include {_show(provider.audience)}"
        )
    exp = _seconds(claims, "exp")
    if exp is None:
        raise TokenRefused("token has no expiry (exp)")
    exp_ns = int(exp * _NS)
    if at_ns >= exp_ns + skew * _NS:
        raise TokenRefused(f"token expired (exp {int(exp)}), {skew}s skew allowed")
    nbf = _seconds(claims, "nbf")
    if nbf is not None and at_ns + skew * _NS < int(nbf * _NS):
        raise TokenRefused(f"token not valid until {int(nbf)} (nbf), {skew}s skew allowed")
    return exp_ns


def _actors(claims: Mapping[str, Any]) -> tuple[tuple[str | None, str], ...]:
    out: list[tuple[str | None, str]] = []
    act = claims.get("act")
    while act is not None:
        if not isinstance(act, dict) or not isinstance(act.get("sub"), str):
            raise TokenRefused("token act claim is not an object with a sub")
        if len(out) == _MAX_ACT_DEPTH:
            raise TokenRefused(f"token act chain is deeper than {_MAX_ACT_DEPTH}")
        iss = act.get("iss")
        out.append((iss if isinstance(iss, str) else None, act["sub"]))
        act = act.get("act")
    return tuple(out)


def verify_token(
    token: str, providers: Sequence[Provider], *, at_ns: int, skew_seconds: int = 60
) -> VerifiedIdentity:
    """Verify an OIDC ID token (compact JWS) against `providers` at time `at_ns`.

    `at_ns` is the sequencer's `recorded_at` of the event carrying the token (replay), or now
    (capture). Raises TokenRefused with a one-line reason.
    """
    parsed = _parse(token)
    alg = parsed.header.get("alg")
    if not isinstance(alg, str):
        raise TokenRefused("token header names no algorithm (alg)")
    if alg.lower() == "none":
        raise TokenRefused("token algorithm 'none' is refused (unsigned token)")
    provider = _provider_for(parsed.claims, providers)
    _check_signature(parsed, provider, alg)
    exp_ns = _check_claims(parsed.claims, provider, at_ns, skew_seconds)
    subject = parsed.claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenRefused("token has no subject (sub)")
    email = parsed.claims.get("email")
    if not isinstance(email, str) or parsed.claims.get("email_verified") is False:
        email = None
    return VerifiedIdentity(
        issuer=provider.issuer,
        subject=subject,
        email=email,
        actors=_actors(parsed.claims),
        expires_at_ns=exp_ns,
    )
