"""Stop targets, signed stop claims and the grant judge (issue 16), without a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.authority.registry import Registry
from ledger.authority.stops import StopClaim, granted_scope, sign_stop, verify_stop
from ledger.errors import InputError
from ledger.keys import load_or_create_signer
from ledger.note import Verifier
from ledger.stops import parse_target

RUN = "0193a1b2-7c00-7000-8000-000000000001"


@pytest.mark.parametrize(("target", "parsed"), [
    (f"run:{RUN}", ("run", RUN)),
    ("agent:support", ("agent", "support")),
    ("agent:support@1.2", ("agent", "support@1.2")),
    ("tenant:acme", ("tenant", "acme")),
    ("tool:payments.*", ("tool", "payments.*")),
    ("model:gpt-4o*", ("model", "gpt-4o*")),
    ("prompt:support/v3", ("prompt", "support/v3")),
])  # fmt: skip
def test_targets_parse(target: str, parsed: tuple[str, str]) -> None:
    assert parse_target(target) == parsed


@pytest.mark.parametrize("target", [
    "run:not-a-uuid", "agent:", "fleet:all", "prompt:support", "agent:a\x1b[2J", "tool:a\nb",
    "agent:a\u009b", "agent: x", "tenant:Bad Name!",
])  # fmt: skip
def test_malformed_targets_are_refused(target: str) -> None:
    with pytest.raises(InputError, match=r"^stop target "):
        parse_target(target)


def _claim(**changes: str) -> StopClaim:
    fields = {"action": "stop", "origin": "agent-ledger.local/acme", "target": "agent:support",
              "reason": "refund storm", "principal": "ivan", "registry": "ab" * 32,
              "issued_at": "2026-12-05T17:00:00.000000Z"} | changes  # fmt: skip
    return StopClaim(**fields)  # type: ignore[arg-type]


def test_a_signed_claim_verifies_and_binds_every_field(tmp_path: Path) -> None:
    signer = load_or_create_signer(tmp_path / "ivan.key", "ivan")
    key = Verifier.from_vkey(signer.vkey)
    signed = sign_stop(_claim(), signer)
    assert verify_stop(_claim(), signed, key) is None
    for field, value in (("action", "resume"), ("origin", "agent-ledger.local/other"),
                         ("target", "tenant:acme"), ("reason", "x"), ("principal", "mallory"),
                         ("registry", "cd" * 32), ("issued_at", "2027-01-01T00:00:00.000000Z")):
        assert verify_stop(_claim(**{field: value}), signed, key) is not None, field
    other = load_or_create_signer(tmp_path / "ivan2.key", "ivan")
    assert verify_stop(_claim(), signed, Verifier.from_vkey(other.vkey)) == (
        f"stop signed by key {signed.signing_key!r}, not the registered key")
    assert verify_stop(_claim(), None, key) == "stop is not signed"


def test_grants_judge_the_target_or_its_tenant() -> None:
    registry = Registry.model_validate({
        "registry": {"name": "acme", "version": 1, "logs": ["*"]},
        "principals": [{"id": "ivan", "roles": ["sre"]}, {"id": "dana"}],
        "stop": [{"roles": ["sre"], "scopes": ["tenant:acme"]},
                 {"principals": ["dana"], "scopes": ["tool:payments.*"]}],
        "resume": [{"principals": ["dana"], "scopes": ["agent:*"]}],
    })  # fmt: skip
    assert granted_scope(registry, "stop", "ivan", "agent:support", "acme") == "tenant:acme"
    assert granted_scope(registry, "stop", "ivan", "agent:support", "other") is None
    assert granted_scope(registry, "stop", "dana", "tool:payments.refund", "acme") == (
        "tool:payments.refund")
    assert granted_scope(registry, "stop", "dana", "agent:support", "acme") is None
    assert granted_scope(registry, "resume", "ivan", "agent:support", "acme") is None
    assert granted_scope(registry, "resume", "dana", "agent:support", "acme") == "agent:support"
    assert granted_scope(registry, "stop", "mallory", "agent:support", "acme") is None
