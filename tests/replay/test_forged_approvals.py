"""Forged approvals written as a hostile writer would: raw events through `ledger ingest`.

The agent host holds writer credentials (issue 14), so it can record any approval it likes.
Without a registry, an approval by the initiating user spelled with other case must still fail;
everything else that needs authority is `unknown`, never pass. With a trust root and a signed,
published registry, roles come from the registry in force at the decision and the approval's
signature is verified over a claim rebuilt from the record: declared roles, unsigned approvals,
unregistered keys, signatures moved to another call, run or args, a registry that was not in
force, and roles granted later all fail; a genuinely signed approval by the registered
finance_lead passes. Each case is checked on both replay paths: the bulk check (`ledger check`,
msgspec fast decoding) and the per-run fold (`replay.dbread.fold_run`, pydantic), which must
give the same verdict and reason. Approvals bound to the hash of other args, and forged args
hashes on calls: tests/replay/test_forged_args_hash.py (refused at the door since issue 17).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.authority.trust import NO_TRUST_ROOT
from ledger.events import args_hash
from ledger.note import Signer
from replay.authority import NO_TRUST_NOTE
from replay.policy.schema import ApprovalRule
from tests.replay.authority_kit import Kit
from tests.replay.conftest_db import verdicts, write
from tests.replay.forged_kit import (
    LARGE,
    PACK,
    RULE,
    SMALL,
    Cli,
    both_paths,
    in_force_seq,
    ingest_run,
    signer,
)


def test_pack_binds_args_and_forbids_self_approval() -> None:
    """The attacks below are against the rule the issue names; keep the pack honest."""
    rule = ApprovalRule(action="refund", threshold_usd="200", approver_roles=("finance_lead",),
                        forbid_self_approval=True, bind_args=True)
    assert rule.bind_args and rule.forbid_self_approval


def test_self_approval_by_case_fails(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path
) -> None:
    """`Alice@Example.com` approving `alice@example.com`'s refund is self-approval."""
    pack = write(tmp_path / "p.yaml", PACK)
    run_id = ingest_run(cli, user="alice@example.com", approver=" Alice@Example.COM",
                        approved=LARGE, ran=LARGE)
    outcome, why = both_paths(cli, ledger_conn, pack, run_id)
    assert outcome == "fail"
    assert why == "alice@example.com approved their own refund (call-1)", why


def test_honest_looking_approval_without_a_trust_root_is_unknown(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Another person declaring the role approves exactly the args that ran: without a trust
    root nothing proves who approved or with which role, so unknown (never pass), and
    `ledger check` says why in one line on stderr (asserted in `both_paths`)."""
    pack = write(tmp_path / "p.yaml", PACK)
    run_id = ingest_run(cli, user="alice@example.com", approver="bob@example.com",
                        approved=LARGE, ran=LARGE)
    outcome, why = both_paths(cli, ledger_conn, pack, run_id)
    assert outcome == "unknown", why
    assert why == f"approval ap-1 of refund (call-1) cannot be judged: {NO_TRUST_ROOT}", why


def test_genuinely_signed_approval_by_the_finance_lead_passes(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path, signing: Kit
) -> None:
    pack = write(tmp_path / "p.yaml", PACK)
    run_id = ingest_run(cli, user="alice@example.com", approver="bob@example.com",
                        approved=LARGE, ran=LARGE,
                        sign=signer(signing, "bob@example.com", LARGE))
    outcome, why = both_paths(cli, ledger_conn, pack, run_id)
    assert (outcome, why) == ("pass", "1 call(s) needing approval, all properly approved")
    shown = cli("replay", run_id, "--trust-root", str(signing.root_file))
    assert shown.exit_code == 0 and not shown.stderr, shown.stderr
    assert "by bob@example.com; signature verified (registry version 1)" in shown.stdout
    bare = cli("replay", run_id)
    assert bare.exit_code == 0 and bare.stderr.splitlines() == [NO_TRUST_NOTE], bare.stderr
    assert f"signature not verified: {NO_TRUST_ROOT}" in bare.stdout


def test_declared_role_not_in_the_registry_fails(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path, signing: Kit
) -> None:
    """Carol signs genuinely and her event says finance_lead; the registry says intern."""
    pack = write(tmp_path / "p.yaml", PACK)
    run_id = ingest_run(cli, user="alice@example.com", approver="carol@example.com",
                        approved=LARGE, ran=LARGE,
                        sign=signer(signing, "carol@example.com", LARGE))
    seq = in_force_seq(ledger_conn, signing, signing.digest)
    outcome, why = both_paths(cli, ledger_conn, pack, run_id)
    assert outcome == "fail"
    assert why == (
        "approver carol@example.com is not granted a required role (finance_lead) by the "
        f"registry in force (version 1, published at seq {seq})"
    ), why


def test_role_granted_after_the_decision_does_not_validate_it(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Any, tmp_path: Path,
    signing: Kit,
) -> None:
    pack = write(tmp_path / "p.yaml", PACK)
    first = signing.digest
    run_id = ingest_run(cli, user="alice@example.com", approver="carol@example.com",
                        approved=LARGE, ran=LARGE,
                        sign=signer(signing, "carol@example.com", LARGE))
    signing.publish(ledger_conn, ledger_settings,
                    {"carol@example.com": ("finance_lead",), "bob@example.com": ("support",)})
    seq = in_force_seq(ledger_conn, signing, first)
    outcome, why = both_paths(cli, ledger_conn, pack, run_id)
    assert outcome == "fail"
    assert why == (
        "approver carol@example.com is not granted a required role (finance_lead) by the "
        f"registry in force (version 1, published at seq {seq})"
    ), why


def test_signed_self_approval_by_case_fails(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path, signing: Kit
) -> None:
    """A registered finance_lead approving their own run, their id spelt in other case."""
    pack = write(tmp_path / "p.yaml", PACK)
    run_id = ingest_run(cli, user="alice@example.com", approver="Alice@Example.COM",
                        approved=LARGE, ran=LARGE,
                        sign=signer(signing, "Alice@Example.COM", LARGE,
                                    signer=signing.key("alice@example.com")))
    outcome, why = both_paths(cli, ledger_conn, pack, run_id)
    assert (outcome, why) == ("fail", "alice@example.com approved their own refund (call-1)")


SCHEMA2 = """\
schema: 2
policies:
  require_approval_for:
    - action: refund
      threshold_usd: 200
"""


def test_unsigned_approval_fails_roles_rule_and_is_unknown_under_schema_2(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path, signing: Kit
) -> None:
    run_id = ingest_run(cli, user="alice@example.com", approver="bob@example.com",
                        approved=LARGE, ran=LARGE)
    strict = write(tmp_path / "p.yaml", PACK)
    assert both_paths(cli, ledger_conn, strict, run_id) == (
        "fail", "approval ap-1 of refund (call-1): approval is not signed")
    signed_only = write(tmp_path / "s2.yaml", SCHEMA2)
    assert both_paths(cli, ledger_conn, signed_only, run_id, SCHEMA2) == (
        "unknown", "refund (call-1): approval is not signed; the pack requires signed approvals")


@pytest.mark.parametrize(
    ("forgery", "reason"),
    [
        ("unregistered key", "approval signed by key 'approver-"),
        ("another call", "approval signature does not match the call, args, decision or approver"),
        ("another run", "approval signature does not match the call, args, decision or approver"),
        ("other args", "approval signature does not match the call, args, decision or approver"),
        ("unknown registry", "approval signed under a registry that was not in force"),
    ],
)
def test_forged_or_moved_signature_fails(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path, signing: Kit,
    forgery: str, reason: str,
) -> None:
    """Signatures the writer can make or copy: its own key claiming to be bob, bob's genuine
    signature of another call, another run or other args, or one naming an unknown registry."""
    pack = write(tmp_path / "p.yaml", PACK)
    kw: dict[str, Any] = {
        "unregistered key": {"signer": Signer.generate("approver-mallory")},
        "another call": {"call": "call-2"},
        "another run": {"run_id": str(uuid.uuid4())},
        "other args": {"args": SMALL},
        "unknown registry": {"registry": "ab" * 32},
    }[forgery]
    run_id = ingest_run(cli, user="alice@example.com", approver="bob@example.com",
                        approved=LARGE, ran=LARGE,
                        sign=signer(signing, "bob@example.com", LARGE, **kw))
    outcome, why = both_paths(cli, ledger_conn, pack, run_id)
    assert outcome == "fail"
    assert why.startswith(f"approval ap-1 of refund (call-1): {reason}"), why


@pytest.mark.parametrize("ran", ["edited", "original"])
def test_signed_edit_binds_the_edited_args(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path, signing: Kit, ran: str
) -> None:
    """Bob edits the $9,999 refund down to $250 and signs the edited args: running the edit
    passes, running the original args fails (the binding, and the signature over what ran)."""
    pack = write(tmp_path / "p.yaml", PACK)
    run_id = ingest_run(cli, user="alice@example.com", approver="bob@example.com",
                        approved=LARGE, ran=SMALL if ran == "edited" else LARGE, edited=SMALL,
                        sign=signer(signing, "bob@example.com", SMALL, decision="edited"))
    outcome, why = both_paths(cli, ledger_conn, pack, run_id)
    if ran == "edited":
        assert (outcome, why) == ("pass", "1 call(s) needing approval, all properly approved")
    else:
        assert outcome == "fail"
        assert why == (
            "refund (call-1) ran with args that differ from the approved args: approval ap-1 "
            f"binds args_hash {args_hash(SMALL)} but the call's recorded args hash to "
            f"{args_hash(LARGE)} (+1 more)"
        ), why


def test_expired_approval_fails(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path, signing: Kit
) -> None:
    pack = write(tmp_path / "p.yaml", PACK)
    expiry = "2001-01-01T00:00:00.000000000Z"
    run_id = ingest_run(cli, user="alice@example.com", approver="bob@example.com",
                        approved=LARGE, ran=LARGE,
                        sign=signer(signing, "bob@example.com", LARGE, expires_at=expiry))
    assert both_paths(cli, ledger_conn, pack, run_id) == (
        "fail", f"approval ap-1 expired at {expiry} before the call refund (call-1) started")


def test_planted_truncation_marker_is_not_a_pass(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Args the writer claims were truncated cannot be rehashed: unknown, never pass."""
    pack = write(tmp_path / "p.yaml", PACK)
    marker = {"$truncated": True, "original_bytes": 10, "original_sha256": "0" * 64,
              "preview": "", "amount_usd": "9999.00"}
    run_id = ingest_run(cli, user="alice@example.com", approver="bob@example.com",
                        approved=LARGE, ran=marker, started_hash=args_hash(LARGE))
    outcome, why = both_paths(cli, ledger_conn, pack, run_id)
    assert outcome == "unknown", why
    assert why == (
        "refund (call-1) args are not fully recorded (truncated, scrubbed or held privately); "
        "approval ap-1 binding cannot be recomputed (+1 more)"
    ), why


def test_scrubbed_secret_in_approved_args_is_unknown_not_a_pass_or_a_false_fail(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Args carrying a secret are scrubbed by `ledger ingest` (a fresh salted marker in the
    request and another in the call), so they cannot be rehashed: unknown, like truncation;
    neither a pass nor a claim that the call ran with other args."""
    pack = write(tmp_path / "p.yaml", PACK)
    secret_args = {**LARGE, "note": "key ghp_" + "s" * 36}
    run_id = ingest_run(cli, user="alice@example.com", approver="bob@example.com",
                        approved=secret_args, ran=secret_args)
    rows = ledger_conn.execute("SELECT convert_from(body, 'UTF8') FROM ledger_events").fetchall()
    assert not any("s" * 36 in r[0] for r in rows)
    outcome, why = both_paths(cli, ledger_conn, pack, run_id)
    assert outcome == "unknown", why
    assert why == (
        "refund (call-1) args are not fully recorded (truncated, scrubbed or held privately); "
        "approval ap-1 binding cannot be recomputed (+1 more)"
    ), why


def test_worker_processes_judge_like_the_serial_and_per_run_paths(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Any, tmp_path: Path,
    signing: Kit, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Forked workers inherit the registry history read before the fork: the same verdicts as
    the serial bulk path and the per-run fold, for a genuine and three forged approvals."""
    from replay import batch
    from replay.policy import load_pack_text

    cases: list[tuple[str, dict[str, Any] | None]] = [
        ("bob@example.com", {}),  # genuine
        ("carol@example.com", {}),  # genuine signature, role not granted
        ("bob@example.com", None),  # unsigned
        ("bob@example.com", {"call": "call-9"}),  # signature of another call
    ]
    ids = []
    for n, (who, kw) in enumerate(cases):
        call = f"call-w{n}"
        sign = None if kw is None else signer(signing, who, LARGE, **{"call": call, **kw})
        ids.append(ingest_run(cli, user="alice@example.com", approver=who, approved=LARGE,
                              ran=LARGE, sign=sign, call=call))
    runs = [uuid.UUID(i) for i in ids]
    pack = load_pack_text(PACK, "pack.yaml")
    serial = batch.check_runs(ledger_conn, ledger_settings, runs, fixed=pack,
                              trust_root=signing.root)
    monkeypatch.setattr(batch, "CHUNK_RUNS", 1)
    monkeypatch.setattr(batch, "MIN_PARALLEL_RUNS", 2)
    parallel = batch.check_runs(ledger_conn, ledger_settings, runs, fixed=pack, jobs=2,
                                trust_root=signing.root)
    assert [e.to_json() for e in parallel.entries] == [e.to_json() for e in serial.entries]
    got = [next(v for v in e.verdicts if v.rule_id == RULE) for e in serial.entries]
    per_run = [verdicts(ledger_conn, PACK, i)[RULE] for i in ids]
    assert [(v.outcome, v.explanation) for v in got] == [
        (v.outcome, v.explanation) for v in per_run
    ]
    assert [v.outcome for v in got] == ["pass", "fail", "fail", "fail"], got
