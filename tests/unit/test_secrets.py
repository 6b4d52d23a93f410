"""Test vectors for every secret detector of ledger.secrets: each positive must be scrubbed (the
secret gone, the detector named), each near miss must pass through untouched."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ledger.secrets import DETECTORS, scrub_event_json, scrub_secrets

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PAT = "github_pat_11ABCDEFG0123456789abcd_" + "Z9y8X7w6V5u4T3s2R1q0" * 3
GHP = "ghp_" + "b" * 36


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


POSITIVE = [
    # (text, detector, the secret that must not survive)
    (f"aws_secret_access_key={AWS_SECRET}", "aws_secret_access_key", AWS_SECRET),
    (f'export AWS_SECRET_ACCESS_KEY="{AWS_SECRET}"', "aws_secret_access_key", AWS_SECRET),
    (f"aws_secret_access_key : '{AWS_SECRET}'", "aws_secret_access_key", AWS_SECRET),
    (f"token {PAT} here", "github_pat", PAT),
    ("curl -H 'X-Api-Key: 8f2a9c1d7e6b5a4f3c2d1e0f' https://x", "api_key_header", "8f2a9c1d7e6b"),
    ("x-goog-api-key=abcd1234efgh5678", "api_key_header", "abcd1234efgh5678"),
    ("X-Auth-Token: tok_live_0123456789", "api_key_header", "tok_live_0123456789"),
    ("api_key: zq8w7e6r5t4y", "api_key_header", "zq8w7e6r5t4y"),
    (f"Authorization: Basic {b64('admin:hunter2x')}", "basic_auth", b64("admin:hunter2x")),
    (f"blob {b64('aws_secret_access_key=' + AWS_SECRET)} end", "base64:aws_secret_access_key",
     b64("aws_secret_access_key=" + AWS_SECRET)),
    (b64(GHP), "base64:github_token", b64(GHP)),
    (base64.urlsafe_b64encode(f"key={PAT}".encode()).decode().rstrip("="), "base64:github_pat",
     base64.urlsafe_b64encode(f"key={PAT}".encode()).decode()[:30]),
    (b64(f"line one\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"), "base64:aws_secret_access_key",
     b64("line one")[:8]),
    # the detectors that were there before, still found
    ("key sk-proj-abcdefghijklmnopqrstuvwxyz012345", "openai_api_key", "abcdefghijklmnop"),
    ("Authorization: Bearer abcdefghijklmnop.qrstuvwx", "bearer_token", "abcdefghijklmnop"),
    ("postgres://admin:hunter2@db.internal/x", "url_password", "hunter2"),
    (GHP, "github_token", "b" * 36),
    ("AKIAIOSFODNN7EXAMPLE", "aws_access_key_id", "IOSFODNN7"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIB\n-----END RSA PRIVATE KEY-----", "private_key",
     "MIIEpAIB"),
    ("id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
     "jwt", "dozjgNryP4J3jVmNHl0w5N"),
    ("xoxb-1234567890-abcdefghij", "slack_token", "1234567890-abcdefghij"),
    ("AIza" + "Sy" + "A" * 33, "google_api_key", "A" * 33),
]

NEAR_MISSES = [
    "aws_secret_access_key=<your secret access key here>",
    "aws_secret_access_key=tooShort0123456789",
    f"aws_secret_access_key={AWS_SECRET}X",  # 41 characters: not an AWS secret key
    "the github_pat_ prefix marks fine-grained tokens",
    "github_pat_example_short",
    "set the X-Api-Key header on every request",
    "X-Api-Key: short",
    "Basic idea: keep it simple",
    "basic arithmetic and basic reasoning",
    f"Authorization: Basic {b64('no colon in here')}",
    b64("hello world, this is a plain sentence"),
    hashlib.sha256(b"x").hexdigest(),
    "sha256:" + hashlib.sha256(b"y").hexdigest(),
    "AKIAIOSFODNN7EXAMPL",  # one character short
]


@pytest.mark.parametrize(("text", "detector", "secret"), POSITIVE)
def test_detector_finds(text: str, detector: str, secret: str) -> None:
    scrubbed, findings = scrub_secrets({"args": {"cmd": text}})
    assert [f["detector"] for f in findings] == [detector]
    assert findings[0]["path"] == "/args/cmd"
    assert f"[secret:{detector} sha256:" in scrubbed["args"]["cmd"]
    assert secret not in str(scrubbed)


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_miss_untouched(text: str) -> None:
    assert scrub_secrets({"t": text}) == ({"t": text}, [])


def test_secret_named_keys() -> None:
    value = {
        "headers": {"X-Api-Key": "k1", "x-goog-api-key": "k2", "Authorization": "Basic xyzzy"},
        "aws_secret_access_key": "k3",
        "AWS_SESSION_TOKEN": "k4",
        "client_secret": "k5",
        "api_key_id": "id1", "passage": "p", "token_count": "5", "bypass": "b", "keys": "x",
    }
    scrubbed, findings = scrub_secrets(value)
    assert sorted((f["path"], f["detector"]) for f in findings) == [
        ("/AWS_SESSION_TOKEN", "key:AWS_SESSION_TOKEN"),
        ("/aws_secret_access_key", "key:aws_secret_access_key"),
        ("/client_secret", "key:client_secret"),
        ("/headers/Authorization", "key:Authorization"),
        ("/headers/X-Api-Key", "key:X-Api-Key"),
        ("/headers/x-goog-api-key", "key:x-goog-api-key"),
    ]
    for secret in ("k1", "k2", "xyzzy", "k3", "k4", "k5"):  # none can occur in a marker's hex
        assert secret not in str(scrubbed)
    assert {k: scrubbed[k] for k in ("api_key_id", "passage", "token_count", "bypass", "keys")} == {
        "api_key_id": "id1", "passage": "p", "token_count": "5", "bypass": "b", "keys": "x",
    }


def test_markers_are_salted_commitments() -> None:
    """The same secret twice gives two different commitments: nothing to compare or guess."""
    a, fa = scrub_secrets(GHP)
    b, fb = scrub_secrets(GHP)
    assert a != b and fa[0]["commitment"] != fb[0]["commitment"]
    assert scrub_secrets(a) == (a, [])  # scrubbing is idempotent on its own markers


def test_event_envelope_untouched() -> None:
    event = {"type": "custom", "run_id": "r", "prev_run_hash": hashlib.sha256(b"z").hexdigest(),
             "data": {"attributes": {"k": GHP}}, "raw": {"schema": "s", "payload": [PAT]}}
    out, findings = scrub_event_json(event)
    assert [(f["path"], f["detector"]) for f in findings] == [
        ("/data/attributes/k", "github_token"), ("/raw/payload/0", "github_pat"),
    ]
    assert {k: out[k] for k in ("type", "run_id", "prev_run_hash")} == {
        k: event[k] for k in ("type", "run_id", "prev_run_hash")
    }
    assert GHP not in str(out) and PAT not in str(out)


def test_every_detector_has_a_vector() -> None:
    assert {d.name for d in DETECTORS} <= {p[1] for p in POSITIVE}


def test_secret_as_a_dict_key() -> None:
    """A token used as a key (a header map keyed by token, a cache) is scrubbed too; the
    finding names the dict, not the key, so the secret is not in the findings either."""
    scrubbed, findings = scrub_secrets({"cache": {GHP: 1, "plain": 2}})
    assert GHP not in str(scrubbed) and GHP not in str(findings)
    assert scrubbed["cache"]["plain"] == 2 and len(scrubbed["cache"]) == 2
    assert [(f["path"], f["detector"]) for f in findings] == [("/cache", "github_token")]
