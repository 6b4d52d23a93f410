"""OIDC ID tokens, verified with a real JOSE library against a JWKS served over loopback HTTP.

Each attack is built the way an attacker with writer rights would build it (hand-made headers,
re-signed or unsigned payloads) and must be refused with its exact one-line reason. The JWKS is
fetched over HTTP from a server this module starts, as publication of a registry would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from joserfc.jwk import RSAKey

import ledger.hooks as hooks
from ledger.authority.recorded import recorded_tokens
from ledger.authority.registry import Provider
from ledger.authority.tokens import TokenRefused, VerifiedIdentity, verify_token
from ledger.privacy import redact_subject
from ledger.store.read import run_started_event
from ledger.store.sequencer import try_sequence
from ledger.verify import verify_ledger
from tests.authority.jose_kit import AUD, ISS, NOW, NOW_NS, claims, sign


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def refused(token: str, provider: Provider, at: int = NOW_NS) -> str:
    with pytest.raises(TokenRefused) as info:
        verify_token(token, [provider], at_ns=at)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_valid_rs256_token_verifies(keys, provider):
    token = sign(keys["RS256"], "RS256", claims())
    ident = verify_token(token, [provider], at_ns=NOW_NS)
    assert ident == VerifiedIdentity(issuer=ISS, subject="u-123", email="alice@example.com",
                                     actors=(), expires_at_ns=(NOW + 300) * 1_000_000_000)
    assert ident.principal_key == (ISS, "u-123")
    assert ident.display == "alice@example.com"


def test_valid_eddsa_agent_token_with_act_chain(keys, provider):
    act = {"sub": "svc-orchestrator", "iss": ISS, "act": {"sub": "spiffe://acme/agent"}}
    token = sign(keys["EdDSA"], "EdDSA", claims(sub="agent-7", email=None, aud=[AUD, "other"],
                                                act=act))
    ident = verify_token(token, [provider], at_ns=NOW_NS)
    assert ident.subject == "agent-7" and ident.email is None and ident.display == "agent-7"
    assert ident.actors == ((ISS, "svc-orchestrator"), (None, "spiffe://acme/agent"))


def test_unverified_email_is_not_carried(keys, provider):
    token = sign(keys["RS256"], "RS256", claims(email_verified=False))
    assert verify_token(token, [provider], at_ns=NOW_NS).email is None


def test_expired_token_refused(keys, provider):
    token = sign(keys["RS256"], "RS256", claims(exp=NOW - 61))
    assert refused(token, provider) == f"token expired (exp {NOW - 61}), 60s skew allowed"
    # within the skew it still passes
    verify_token(sign(keys["RS256"], "RS256", claims(exp=NOW - 59)), [provider], at_ns=NOW_NS)


def test_not_yet_valid_token_refused(keys, provider):
    token = sign(keys["RS256"], "RS256", claims(nbf=NOW + 120))
    assert refused(token, provider) == f"token not valid until {NOW + 120} (nbf), 60s skew allowed"


def test_wrong_audience_refused(keys, provider):
    token = sign(keys["RS256"], "RS256", claims(aud="some-other-app"))
    assert refused(token, provider) == (
        "token audience 'some-other-app' does not include 'agent-ledger:acme'"
    )


def test_wrong_issuer_refused(keys, provider):
    token = sign(keys["RS256"], "RS256", claims(iss="https://evil.example\nforged line"))
    assert refused(token, provider) == "no provider for issuer 'https://evil.example\\nforged line'"


def test_alg_none_refused(provider):
    head = b64(json.dumps({"alg": "none", "kid": "rsa-1"}).encode())
    token = f"{head}.{b64(json.dumps(claims()).encode())}."
    assert refused(token, provider) == "token algorithm 'none' is refused (unsigned token)"


def test_key_confusion_hs256_with_rsa_public_key_refused(keys, provider):
    # The attacker knows the public key and MACs with its PEM; joserfc itself refuses to make
    # an oct key of it, so the attack is built by hand, as an attacker would.
    secret = keys["RS256"].as_pem(private=False)
    head = b64(json.dumps({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert refused(f"{head}.{body}.{b64(mac)}", provider) == (
        f"token algorithm 'HS256' is not allowed for issuer '{ISS}'"
    )


def test_unknown_kid_refused(provider):
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rsa-stranger"})
    token = sign(stranger, "RS256", claims())
    assert refused(token, provider) == f"unknown key id 'rsa-stranger' for issuer '{ISS}'"


def test_tampered_payload_refused(keys, provider):
    head, _, sig = sign(keys["RS256"], "RS256", claims()).split(".")
    forged = b64(json.dumps(claims(sub="admin")).encode())
    assert refused(f"{head}.{forged}.{sig}", provider) == "token signature does not verify"


def test_alg_outside_provider_allow_list_refused(keys, provider):
    rs_only = provider.model_copy(update={"algorithms": ("RS256",)})
    token = sign(keys["EdDSA"], "EdDSA", claims())
    assert refused(token, rs_only) == f"token algorithm 'EdDSA' is not allowed for issuer '{ISS}'"


def test_key_of_another_type_under_a_known_kid_refused(keys, provider):
    # RS256 header naming the Ed25519 key: the key type must fit the algorithm.
    token = sign(keys["RS256"], "RS256", claims(), kid="ed-1")
    assert refused(token, provider) == "key 'ed-1' does not fit algorithm 'RS256'"


def test_not_a_compact_jws_refused(provider):
    assert refused("not-a-token", provider) == (
        "token is not a compact JWS (header.payload.signature)"
    )


def test_key_sets_are_cached(keys, provider):
    token = sign(keys["RS256"], "RS256", claims())
    verify_token(token, [provider], at_ns=NOW_NS)
    start = time.perf_counter()
    for _ in range(50):
        verify_token(token, [provider], at_ns=NOW_NS)
    assert (time.perf_counter() - start) / 50 < 0.005  # an RSA verify, no JWKS import per call


# ----------------------------------------------------------------------------- capture
def _now_claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    return claims(iat=now - 5, exp=now + 600, **over)


def test_run_stores_tokens_only_as_commitments(keys, provider, writer, ledger_conn,
                                               ledger_settings):
    user_tok = sign(keys["RS256"], "RS256", _now_claims())
    agent_tok = sign(keys["EdDSA"], "EdDSA", _now_claims(sub="agent-7", email=None,
                                                         act={"sub": "u-123", "iss": ISS}))
    with hooks.run(agent="support-bot", user="alice", user_token=user_tok,
                   agent_token=agent_tok, attributes={"channel": "chat"}) as run:
        run.custom("note")
    assert writer.flush()
    origin = ledger_settings.origin(None)
    started = run_started_event(ledger_conn, origin, run.run_id)
    assert started is not None
    for tok in (user_tok, agent_tok):
        for part in tok.split("."):
            assert part.encode() not in started.body  # not even one segment of the JWS
    slot = started.event.data.attributes["identity_tokens"]
    assert set(slot) == {"user", "agent"}
    assert all(v["$commitment"].startswith("sha256:") and v["subject"] == "u-123"
               for v in slot.values())
    assert started.event.data.attributes["channel"] == "chat"
    got = recorded_tokens(ledger_conn, ledger_settings, origin, run.run_id)
    assert (got.user, got.agent, got.erased) == (user_tok, agent_tok, ())
    # what replay will do: re-verify the opened token at the sequencer's recorded_at
    assert got.recorded_at_ns is not None
    ident = verify_token(got.agent, [provider], at_ns=got.recorded_at_ns)
    assert ident.actors == ((ISS, "u-123"),)
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.payloads_verified) == ("ok", 2)
    # erasure of the user's subject shreds both tokens; the record stays valid
    redact_subject(ledger_conn, ledger_settings, "u-123", "GDPR art. 17")
    try_sequence(ledger_conn, ledger_settings, wait=True)
    gone = recorded_tokens(ledger_conn, ledger_settings, origin, run.run_id)
    assert (gone.user, gone.agent, gone.erased) == (None, None, ("user", "agent"))
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.payloads_verified, report.redacted) == ("ok", 0, [started.seq])


def test_run_without_tokens_records_none(writer, ledger_conn, ledger_settings):
    with hooks.run(agent="support-bot", user="alice") as run:
        pass
    assert writer.flush()
    got = recorded_tokens(ledger_conn, ledger_settings, ledger_settings.origin(None), run.run_id)
    assert (got.user, got.agent, got.erased) == (None, None, ())
    assert got.recorded_at_ns is not None


def test_expired_token_refused_at_run(keys, writer):
    now = int(time.time())
    stale = sign(keys["RS256"], "RS256", claims(exp=now - 3600))
    with pytest.raises(TokenRefused) as info:
        hooks.run(agent="support-bot", user_token=stale)
    assert str(info.value) == f"user_token: token expired (exp {now - 3600}), at capture"
    assert writer.stats.encoded == 0  # nothing was recorded


def test_malformed_token_refused_at_run(writer):
    with pytest.raises(TokenRefused) as info:
        hooks.run(agent="support-bot", agent_token="Bearer abc.def")
    assert str(info.value) == (
        "agent_token: token is not a compact JWS (header.payload.signature)"
    )


def test_token_captured_while_database_away_is_sealed_when_spool_delivers(
        keys, writer, flaky, ledger_conn, ledger_settings):
    user_tok = sign(keys["RS256"], "RS256", _now_claims())
    assert writer.flush()
    flaky.go_down()
    with hooks.run(agent="support-bot", user_token=user_tok) as run:
        run.custom("note")
    assert not writer.flush()  # only spooled: the payload waits with the writer
    flaky.come_back()
    assert writer.flush()
    got = recorded_tokens(ledger_conn, ledger_settings, ledger_settings.origin(None), run.run_id)
    assert (got.user, got.agent, got.erased) == (user_tok, None, ())
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.payloads_verified) == ("ok", 1)


def test_writer_reusing_another_runs_token_commitment_opens_nothing(
        keys, writer, ledger_conn, ledger_settings):
    origin = ledger_settings.origin(None)
    user_tok = sign(keys["RS256"], "RS256", _now_claims())
    with hooks.run(agent="support-bot", user_token=user_tok) as genuine:
        pass
    assert writer.flush()
    started = run_started_event(ledger_conn, origin, genuine.run_id)
    assert started is not None
    stolen = started.event.data.attributes["identity_tokens"]
    # the attacker, with writer rights only, names the victim's commitment in a run of its own
    with hooks.run(agent="rogue-bot", attributes={"identity_tokens": stolen}) as rogue:
        pass
    assert writer.flush()
    got = recorded_tokens(ledger_conn, ledger_settings, origin, rogue.run_id)
    assert (got.user, got.agent, got.erased) == (None, None, ("user",))
    assert recorded_tokens(ledger_conn, ledger_settings, origin, genuine.run_id).user == user_tok
