"""Who a run acted for, as replay judges it: a recorded token verified against the registry in
force when the run started, or `asserted` with the reason.

The writer (the agent host) records the tokens; nothing it claims about them counts. A token for
another audience, a registry published only after the run, no trust root, an erased token: each
leaves the principal asserted, with its reason.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from joserfc.jwk import Key

import ledger.hooks as hooks
from ledger.authority.registry import Provider
from ledger.authority.service import load_history, publish_registry
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.note import Signer
from ledger.privacy import redact_subject
from ledger.store.read import run_started_event
from ledger.store.sequencer import try_sequence
from replay.identity import RunIdentity, resolve_run_identity
from tests.authority.conftest import signed
from tests.authority.jose_kit import ISS, claims, sign


def _token(keys: dict[str, Key], **over: Any) -> str:
    now = int(time.time())
    return sign(keys["RS256"], "RS256", claims(iat=now - 5, exp=now + 600, **over))


def _publish(conn: psycopg.Connection, settings: Settings, admin: Signer, root: TrustRoot,
             provider: Provider) -> None:
    dana = {"id": "dana@example.com", "roles": ["finance_lead"],
            "identities": [{"issuer": ISS, "subject": "u-123"}]}
    publish_registry(conn, settings, signed(admin, providers=[provider.model_dump()],
                                            principals=[dana]), root)


def _identity(conn: psycopg.Connection, settings: Settings, run_id: Any,
              root: TrustRoot | None) -> RunIdentity:
    origin = settings.origin()
    started = run_started_event(conn, origin, run_id)
    assert started is not None and started.seq is not None
    return resolve_run_identity(conn, settings, origin, run_id, recorded_user="mallory",
                                history=load_history(conn, origin, root), started_seq=started.seq)


def _run(writer: Writer, token: str) -> Any:
    with hooks.run(agent="support-bot", user="mallory", user_token=token) as run:
        run.custom("note")
    assert writer.flush()
    return run.run_id


def test_token_verified_against_registry_in_force_maps_to_principal(
    keys: dict[str, Key], provider: Provider, writer: Writer, ledger_conn: psycopg.Connection,
    ledger_settings: Settings, admin: Signer, root: TrustRoot,
) -> None:
    _publish(ledger_conn, ledger_settings, admin, root, provider)
    run_id = _run(writer, _token(keys))
    who = _identity(ledger_conn, ledger_settings, run_id, root)
    assert who.user.assurance == "verified" and who.user.principal == "dana@example.com"
    assert who.user.recorded == "mallory"  # what the writer typed is kept, and loses
    assert who.user.key() == "dana@example.com"
    assert who.user.facts()["email"] == "alice@example.com"
    assert who.agent.assurance == "asserted"


@pytest.mark.parametrize("case", ["no_trust_root", "registry_after_run", "wrong_audience"])
def test_unverifiable_tokens_leave_the_user_asserted(
    case: str, keys: dict[str, Key], provider: Provider, writer: Writer,
    ledger_conn: psycopg.Connection, ledger_settings: Settings, admin: Signer, root: TrustRoot,
) -> None:
    if case != "registry_after_run":
        _publish(ledger_conn, ledger_settings, admin, root, provider)
    token = _token(keys, aud="some-other-app") if case == "wrong_audience" else _token(keys)
    run_id = _run(writer, token)
    if case == "registry_after_run":
        _publish(ledger_conn, ledger_settings, admin, root, provider)
    who = _identity(ledger_conn, ledger_settings, run_id, None if case == "no_trust_root" else root)
    assert who.user.assurance == "asserted" and who.user.key() == "mallory"
    expected = {
        "no_trust_root": "user: token not verifiable: no trust root given",
        "registry_after_run": "user: token not verifiable: no signed principal registry in force",
        "wrong_audience": "user: token refused: token audience 'some-other-app' does not "
        "include 'agent-ledger:acme'",
    }[case]
    assert who.user.reason.startswith(expected), who.user.reason


def test_erased_token_leaves_the_user_asserted(
    keys: dict[str, Key], provider: Provider, writer: Writer, ledger_conn: psycopg.Connection,
    ledger_settings: Settings, admin: Signer, root: TrustRoot,
) -> None:
    _publish(ledger_conn, ledger_settings, admin, root, provider)
    run_id = _run(writer, _token(keys))
    redact_subject(ledger_conn, ledger_settings, "u-123", "GDPR art. 17")
    try_sequence(ledger_conn, ledger_settings, wait=True)
    who = _identity(ledger_conn, ledger_settings, run_id, root)
    assert (who.user.assurance, who.user.reason) == (
        "asserted", "user: its identity token was erased"
    )


@pytest.mark.parametrize(
    ("sub", "why"),
    [
        ("svc-support", "names agent 'support-agent' registered as person"),
        ("u-nobody", "names no principal registered as person"),
    ],
    ids=["workload-token-as-user", "unregistered-subject"],
)
def test_a_valid_token_that_names_no_person_leaves_the_user_asserted(
    sub: str, why: str, keys: dict[str, Key], provider: Provider, writer: Writer,
    ledger_conn: psycopg.Connection, ledger_settings: Settings, admin: Signer, root: TrustRoot,
) -> None:
    """The host records the agent's own workload token (or any token the IdP signed for someone
    the registry does not list) in the user slot: genuine, but it proves no person started it."""
    people = [
        {"id": "dana@example.com", "identities": [{"issuer": ISS, "subject": "u-123"}]},
        {"id": "support-agent", "kind": "agent",
         "identities": [{"issuer": ISS, "subject": "svc-support"}]},
    ]
    publish_registry(ledger_conn, ledger_settings,
                     signed(admin, providers=[provider.model_dump()], principals=people), root)
    run_id = _run(writer, _token(keys, sub=sub, email=None))
    who = _identity(ledger_conn, ledger_settings, run_id, root)
    assert who.user.assurance == "asserted" and who.user.key() == "mallory"
    assert who.user.reason == f"user: token of {ISS} for {sub!r} verified, but it {why}"
