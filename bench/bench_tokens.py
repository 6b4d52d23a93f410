"""OIDC ID token verification (cached JWKS) vs decoding canonical events, in the same run.

`ledger check` re-verifies one token per recorded identity (at most two per run), so the cost
that matters is a token's verification next to the event decodes a check does anyway. This
script verifies N RS256 and N EdDSA tokens against a provider whose JWKS is imported once
(cached by digest) and decodes N canonical `tool.call.started` bodies with
`ledger.events.decode_event`; it prints microseconds per token and the ratio token/decode, the
figure to compare across machines.

Usage: python bench/bench_tokens.py [--tokens 2000] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from joserfc import jwt
from joserfc.jwk import Key, KeySet, OKPKey, RSAKey

from bench.report import Report, parse_args
from ledger import ids
from ledger.authority.registry import Provider
from ledger.authority.tokens import verify_token
from ledger.events import decode_event, encode_event, make_event

QUICK = {"tokens": 300}
ISS, AUD = "https://idp.bench.test", "agent-ledger:bench"


def tokens(key: Key, alg: str, n: int, now: int) -> list[str]:
    """N distinct tokens (different subjects) signed by `key`."""
    out = []
    with warnings.catch_warnings():  # joserfc flags "EdDSA" as superseded by "Ed25519"
        warnings.simplefilter("ignore")
        for i in range(n):
            claims = {"iss": ISS, "aud": AUD, "sub": f"user-{i}", "exp": now + 3600,
                      "iat": now, "email": f"user{i}@example.com"}
            out.append(jwt.encode({"alg": alg, "kid": str(key.kid)}, claims, key,
                                  algorithms=[alg]))
    return out


def tool_call_body(i: int) -> bytes:
    """A typical `tool.call.started` as the hooks record it, canonical bytes."""
    args = {"order_id": f"ord-{i}", "amount": {"value": "250.00", "currency": "EUR"},
            "reason": "damaged on arrival", "notify": True}
    event = make_event(
        "tool.call.started", run_id=ids.new_id(), run_seq=3, prev_run_hash="ab" * 32,
        principal={"initiating_user": "alice@example.com", "roles": ["support"]},
        agent={"name": "support-bot", "version": "1.4.0"},
        data={"tool_call_id": f"call-{i}", "tool": "payments.refund", "side_effect": True,
              "args": args, "args_hash": hashlib.sha256(str(i).encode()).hexdigest()},
    )
    return encode_event(event)


def per_item_us(fn: object, items: list[object]) -> float:
    t0 = time.perf_counter()
    for item in items:
        fn(item)  # type: ignore[operator]
    return (time.perf_counter() - t0) / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=2000)
    args = parse_args(parser, QUICK)
    n = args.tokens
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    ed = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})
    provider = Provider(issuer=ISS, audience=AUD, algorithms=("RS256", "EdDSA"),
                        jwks=KeySet([rsa, ed]).as_dict(private=False))
    now = int(time.time())
    at_ns = now * 1_000_000_000
    rs_tokens, ed_tokens = tokens(rsa, "RS256", n, now), tokens(ed, "EdDSA", n, now)
    bodies: list[object] = [tool_call_body(i) for i in range(n)]

    def check(token: object) -> None:
        verify_token(str(token), [provider], at_ns=at_ns)

    check(rs_tokens[0])  # import the JWKS once: what the cache makes of every later call
    decode_us = per_item_us(decode_event, bodies)
    rs_us = per_item_us(check, list(rs_tokens))
    ed_us = per_item_us(check, list(ed_tokens))
    print(f"event decode (baseline): {decode_us:8.1f} us/event")
    for label, us in (("RS256", rs_us), ("EdDSA", ed_us)):
        print(f"{label} token verify:      {us:8.1f} us/token  ratio token/decode "
              f"{us / decode_us:.1f}")
    figures = Report("tokens")
    figures.add("event_decode_us", decode_us, "us", better="lower")
    figures.add("rs256_verify_us", rs_us, "us", better="lower", baseline=decode_us)
    figures.add("eddsa_verify_us", ed_us, "us", better="lower", baseline=decode_us)
    figures.emit(args)


if __name__ == "__main__":
    main()
