"""Rules that judge *who* see verified identities, not the names a writer records.

A hostile writer records `mallory` as the initiating user while the run's ID token says dana;
dana then approves the refund. Judged by the recorded name it looks independent; judged by the
verified token it is a self-approval, and it fails. `principals: {require_verified: true}` fails
a run that recorded no token, and CEL rules see `principal.user.verified` and the token's claims.
All through the real hooks, a real JOSE library and a signed, published registry.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from joserfc.jwk import Key

import ledger
from ledger.approver_keys import create_approver_key, load_approver_signer
from ledger.authority.registry import Provider
from ledger.authority.service import publish_registry
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.hooks import configure, shutdown
from ledger.note import Signer
from replay.policy import load_pack_text
from replay.policy.service import check_in_force
from tests.authority.conftest import signed
from tests.authority.jose_kit import ISS, claims, sign

DANA, BOB = "dana@example.com", "bob@example.com"
ARGS = {"charge_id": "ch_1", "amount_usd": "450.00"}
PACK = """\
schema: 2
policies:
  require_approval_for:
    - action: payments.refund
      any: true
      approver_roles: [finance_lead]
      forbid_self_approval: true
      principals: {require_verified: true}
rules:
  - id: verified-staff
    expr: principal.user.verified && principal.user.email.endsWith("@example.com")
"""


@pytest.fixture
def dana(ledger_conn: psycopg.Connection, ledger_settings: Settings, admin: Signer,
         root: TrustRoot, provider: Provider) -> Signer:
    """A registry naming the test IdP, dana (finance_lead, approver key) and bob."""
    key = create_approver_key(ledger_settings, DANA)
    people = [
        {"id": DANA, "roles": ["finance_lead"], "approver_key": key.vkey,
         "identities": [{"issuer": ISS, "subject": "u-dana"}]},
        {"id": BOB, "roles": ["support"], "identities": [{"issuer": ISS, "subject": "u-bob"}]},
    ]
    publish_registry(ledger_conn, ledger_settings,
                     signed(admin, providers=[provider.model_dump()], principals=people), root)
    return load_approver_signer(ledger_settings, DANA)


@pytest.fixture
def hooks_on(ledger_settings: Settings, root_file: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LEDGER_TRUST_ROOT", str(root_file))
    configure(ledger_settings, sequence=True, sequence_interval=0.0)
    yield
    shutdown()


def _token(keys: dict[str, Key], sub: str, email: str) -> str:
    now = int(time.time())
    return sign(keys["RS256"], "RS256", claims(sub=sub, email=email, iat=now - 5, exp=now + 600))


def _refund_run(dana: Signer, token: str | None, recorded_user: str) -> uuid.UUID:
    """The writer's run: any recorded name, the given token, dana's signed approval, the call."""
    with ledger.run(agent="support", user=recorded_user, user_token=token) as run:
        approval = run.request_approval("payments.refund", ARGS)
        ledger.decide(approval, approver=DANA, signer=dana)
        call = run.tool_started("payments.refund", ARGS, side_effect=True)
        run.tool_ended(call, result={"refund_id": "rf_1"})
    assert run.writer.flush()
    return run.run_id


def _verdicts(conn: psycopg.Connection, settings: Settings, run_id: uuid.UUID,
              root: TrustRoot) -> dict[str, tuple[str, str]]:
    report = check_in_force(conn, settings, [run_id], policy=load_pack_text(PACK),
                            trust_root=root)
    (entry,) = report.entries
    return {v.rule_id: (v.outcome, v.explanation) for v in entry.verdicts}


def test_writer_renaming_the_user_does_not_hide_a_self_approval(
    hooks_on: None, dana: Signer, keys: dict[str, Key], ledger_conn: psycopg.Connection,
    ledger_settings: Settings, root: TrustRoot,
) -> None:
    run_id = _refund_run(dana, _token(keys, "u-dana", DANA), recorded_user="mallory")
    got = _verdicts(ledger_conn, ledger_settings, run_id, root)
    outcome, why = got["approval.payments.refund"]
    assert outcome == "fail" and why.startswith(f"{DANA} approved their own payments.refund"), why
    assert got["rules.verified-staff"][0] == "pass"


def test_verified_other_user_and_registered_approver_pass(
    hooks_on: None, dana: Signer, keys: dict[str, Key], ledger_conn: psycopg.Connection,
    ledger_settings: Settings, root: TrustRoot,
) -> None:
    run_id = _refund_run(dana, _token(keys, "u-bob", BOB), recorded_user=BOB)
    got = _verdicts(ledger_conn, ledger_settings, run_id, root)
    assert got["approval.payments.refund"][0] == "pass", got
    assert got["rules.verified-staff"][0] == "pass"


def test_an_asserted_user_never_satisfies_require_verified(
    hooks_on: None, dana: Signer, ledger_conn: psycopg.Connection, ledger_settings: Settings,
    root: TrustRoot,
) -> None:
    run_id = _refund_run(dana, None, recorded_user=BOB)
    got = _verdicts(ledger_conn, ledger_settings, run_id, root)
    assert got["approval.payments.refund"] == (
        "fail",
        "initiating user is asserted (user: no identity token recorded); the rule requires "
        "verified",
    )
    outcome, why = got["rules.verified-staff"]
    assert outcome == "fail", why


def test_a_token_for_another_audience_leaves_the_user_asserted(
    hooks_on: None, dana: Signer, keys: dict[str, Key], ledger_conn: psycopg.Connection,
    ledger_settings: Settings, root: TrustRoot,
) -> None:
    now = int(time.time())
    elsewhere = sign(keys["RS256"], "RS256",
                     claims(sub="u-bob", email=BOB, aud="another-app", iat=now - 5, exp=now + 600))
    run_id = _refund_run(dana, elsewhere, recorded_user=BOB)
    outcome, why = _verdicts(ledger_conn, ledger_settings, run_id, root)[
        "approval.payments.refund"]
    assert outcome == "fail"
    assert why.startswith("initiating user is asserted (user: token refused: token audience "
                          "'another-app' does not include"), why


def test_without_a_trust_root_require_verified_is_unknown(
    hooks_on: None, dana: Signer, keys: dict[str, Key], ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
) -> None:
    run_id = _refund_run(dana, _token(keys, "u-bob", BOB), recorded_user=BOB)
    report = check_in_force(ledger_conn, ledger_settings, [run_id], policy=load_pack_text(PACK))
    (entry,) = report.entries
    got: dict[str, Any] = {v.rule_id: v.outcome for v in entry.verdicts}
    assert got["approval.payments.refund"] == "unknown"


def test_schema_2_self_approval_rule_is_unknown_for_an_asserted_user(
    hooks_on: None, dana: Signer, ledger_conn: psycopg.Connection, ledger_settings: Settings,
    root: TrustRoot,
) -> None:
    """The writer records `bob` and no token, and dana approves: in a `schema: 2` pack
    independence must be proven, so the rule is unknown, never pass (without `schema` the
    recorded names are compared as before)."""
    run_id = _refund_run(dana, None, recorded_user=BOB)
    strict = PACK.replace("      principals: {require_verified: true}\n", "")
    for text, expected in ((strict, "unknown"), (strict.replace("schema: 2\n", ""), "pass")):
        report = check_in_force(ledger_conn, ledger_settings, [run_id],
                                policy=load_pack_text(text), trust_root=root)
        (entry,) = report.entries
        got = {v.rule_id: (v.outcome, v.explanation) for v in entry.verdicts}
        outcome, why = got["approval.payments.refund"]
        assert outcome == expected, why
    report = check_in_force(ledger_conn, ledger_settings, [run_id],
                            policy=load_pack_text(strict), trust_root=root)
    why = next(v.explanation for v in report.entries[0].verdicts
               if v.rule_id == "approval.payments.refund")
    assert why.startswith("separation of duties not proven for payments.refund (")
    assert why.endswith("): the initiating user is asserted (user: no identity token recorded)")


def test_a_decision_naming_another_runs_call_does_not_shadow_the_genuine_one(
    hooks_on: None, dana: Signer, keys: dict[str, Key], ledger_conn: psycopg.Connection,
    ledger_settings: Settings, root: TrustRoot, cli: Any,
) -> None:
    """A writer appends, later, a rejection that reuses the call's tool_call_id but names
    another run (call_run_id): it is not a decision about this run's call."""
    import json

    from ledger.store.read import run_events

    run_id = _refund_run(dana, _token(keys, "u-bob", BOB), recorded_user=BOB)
    started = next(s.event for s in run_events(ledger_conn, run_id)
                   if s.event.type == "approval.decided")
    line = {"type": "approval.decided", "run_id": str(uuid.uuid4()), "run_seq": 0,
            "data": {"approval_id": started.data.approval_id,
                     "tool_call_id": started.data.tool_call_id,
                     "args_hash": started.data.args_hash, "decision": "rejected",
                     "approver": {"id": "mallory"}, "call_run_id": str(uuid.uuid4())}}
    assert cli("ingest", "-", input=(json.dumps(line) + "\n").encode()).exit_code == 0
    got = _verdicts(ledger_conn, ledger_settings, run_id, root)
    assert got["approval.payments.refund"][0] == "pass", got


def test_undo_separation_of_duties_counts_the_verified_user(
    hooks_on: None, dana: Signer, keys: dict[str, Key], ledger_conn: psycopg.Connection,
    ledger_settings: Settings, root: TrustRoot,
) -> None:
    """The writer recorded `mallory` for a run whose token says dana: dana is an original actor
    of that run, so she may not approve its undo (with the trust root that proves it)."""
    from replay.undo.approvals import original_parties
    from replay.undo.model import UndoPlan

    run_id = _refund_run(dana, _token(keys, "u-dana", DANA), recorded_user="mallory")
    plan = UndoPlan(plan_id="p-1", scope={"runs": [str(run_id)]},
                    created_at="2026-12-05T00:00:00Z")
    recorded_only = original_parties(ledger_conn, plan)
    proven = original_parties(ledger_conn, plan, ledger_settings, root)
    assert "dana@example.com" not in recorded_only.actors
    assert "dana@example.com" in proven.actors and "mallory" in proven.actors
    assert proven.refusal(DANA) is not None
