"""Commitments, encrypted payloads, crypto-shredding and redaction abuse (#16); secret scrubbing."""

from __future__ import annotations

import psycopg
import pytest

from ledger.config import Settings
from ledger.events import args_hash, make_event
from ledger.privacy import (
    commit_fields,
    commitment_of,
    redact_subject,
    scrub_secrets,
    submit_private,
)
from ledger.store.sequencer import try_sequence
from ledger.verify import verify_ledger
from tests.integrity.conftest import Cli
from tests.ledgerkit import append, chained_run

SENSITIVE = ["/data/args", "/data/result"]


def private_run(conn: psycopg.Connection, settings: Settings, subject: str) -> list[int]:
    """A run whose tool args/results are committed; returns the seqs of committed events."""
    import uuid

    from ledger.events import leaf_hash
    from ledger.store.append import encode_for_intake

    run_id, prev, events = uuid.uuid4(), None, []
    specs = [
        ("run.started", {"task": "crm"}),
        (
            "tool.call.started",
            {
                "tool_call_id": "t",
                "tool": "crm.update",
                "args": {"email": f"{subject}@example.com"},
                "args_hash": args_hash({"email": "x"}),
            },
        ),
        (
            "tool.call.ended",
            {
                "tool_call_id": "t",
                "tool": "crm.update",
                "status": "ok",
                "result": {"name": subject},
            },
        ),
    ]
    receipts = []
    for n, (kind, data) in enumerate(specs):
        event = make_event(kind, run_id=run_id, run_seq=n, prev_run_hash=prev, data=data)
        receipts += submit_private(conn, [event], settings, SENSITIVE, subject)
        prev = receipts[-1].leaf_hash.hex()
        events.append(event)
    del encode_for_intake, leaf_hash
    start = conn.execute("SELECT count(*) FROM ledger_events").fetchone()[0]  # type: ignore[index]
    try_sequence(conn, settings, wait=True)
    return [start + 1, start + 2]


def test_commitment_definition() -> None:
    committed, rows = commit_fields(
        {"data": {"args": {"a": 1}, "x": 2}}, ["/data/args", "/nope"], "alice"
    )
    assert committed["data"]["x"] == 2
    assert committed["data"]["args"] == {"$commitment": rows[0].commitment, "subject": "alice"}
    assert rows[0].commitment == commitment_of(rows[0].salt, "/data/args", {"a": 1})
    assert len(rows) == 1 and len(rows[0].salt) == 32


def test_verified_then_redacted_still_verifies(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, icli: Cli
) -> None:
    seqs_a = private_run(ledger_conn, ledger_settings, "alice")
    private_run(ledger_conn, ledger_settings, "bob")
    body = bytes(ledger_conn.execute("SELECT body FROM ledger_events WHERE seq = 1").fetchone()[0])  # type: ignore[index]
    assert b"alice@example.com" not in body and b'"$commitment"' in body
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.payloads_verified, report.redacted) == ("ok", 4, [])
    res = icli("redact", "--subject", "alice", "--reason", "GDPR art. 17")
    assert res.exit_code == 0, res.stderr
    assert "redacted 2 field(s)" in res.stdout
    assert ledger_conn.execute(
        "SELECT count(*) FROM ledger_subject_keys WHERE subject = 'alice'"
    ).fetchone() == (0,)
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.payloads_verified, report.redacted) == ("ok", 2, seqs_a)
    assert icli("verify").exit_code == 0


def test_16_payload_deleted_without_redaction(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    private_run(ledger_conn, ledger_settings, "alice")
    ledger_conn.execute("DELETE FROM ledger_subject_keys WHERE subject = 'alice'")
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.verdict, report.first_bad_seq) == (
        "invalid",
        "payload_missing",
        1,
    )


def test_16_payload_swapped(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> None:
    private_run(ledger_conn, ledger_settings, "alice")
    rows = ledger_conn.execute(
        "SELECT commitment, ciphertext FROM ledger_payloads ORDER BY path"
    ).fetchall()
    ledger_conn.execute(
        "UPDATE ledger_payloads SET ciphertext = %s WHERE commitment = %s", (rows[1][1], rows[0][0])
    )
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.verdict) == ("invalid", "payload_mismatch")


def test_16_forged_redaction_event(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    """An attacker with DB access deletes payloads and submits an unsigned redaction event."""
    private_run(ledger_conn, ledger_settings, "alice")
    commitments = [r[0] for r in ledger_conn.execute("SELECT commitment FROM ledger_payloads")]
    ledger_conn.execute("DELETE FROM ledger_subject_keys")
    import uuid

    forged = make_event(
        "redaction",
        run_id=uuid.uuid4(),
        run_seq=0,
        data={"subject": "alice", "reason": "x", "commitments": commitments, "signature": "AAAA"},
    )
    append(ledger_conn, ledger_settings, [forged])
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.verdict, report.first_bad_seq) == (
        "invalid",
        "redaction_unsigned",
        3,
    )


def test_16_redaction_for_unknown_commitment(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    append(ledger_conn, ledger_settings, chained_run(1))
    ledger_conn.execute(
        "INSERT INTO ledger_payloads (commitment, origin, subject, event_id, path, ciphertext) "
        "VALUES (%s, %s, 'ghost', gen_random_uuid(), '/x', '\\x00')",
        ("sha256:" + "ab" * 32, ledger_settings.origin()),
    )
    redact_subject(ledger_conn, ledger_settings, "ghost", "cover-up")
    try_sequence(ledger_conn, ledger_settings, wait=True)
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.verdict, report.first_bad_seq) == (
        "invalid",
        "redaction_unknown",
        4,
    )


def test_string_typed_field_cannot_hold_a_commitment(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    import uuid

    event = make_event("message.input", run_id=uuid.uuid4(), run_seq=0, data={"content": "hi"})
    with pytest.raises(ValueError, match="cannot commit"):
        submit_private(ledger_conn, [event], ledger_settings, ["/data/content"], "alice")


@pytest.mark.parametrize(
    ("text", "detector"),
    [
        ("key sk-proj-abcdefghijklmnopqrstuvwxyz012345", "openai_api_key"),
        ("Authorization: Bearer abcdefghijklmnop.qrstuvwx", "bearer_token"),
        ("postgres://admin:hunter2@db.internal/x", "url_password"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA\n-----END OPENSSH PRIVATE KEY-----",
            "private_key",
        ),
        ("AKIAIOSFODNN7EXAMPLE", "aws_access_key_id"),
        ("ghp_" + "a" * 36, "github_token"),
    ],
)
def test_scrub_secrets(text: str, detector: str) -> None:
    scrubbed, findings = scrub_secrets({"args": {"cmd": text}, "n": 1})
    assert [f["detector"] for f in findings] == [detector]
    assert findings[0]["path"] == "/args/cmd"
    assert f"[secret:{detector} sha256:" in scrubbed["args"]["cmd"]
    secret_part = {
        "openai_api_key": "abcdefghijklmnop",
        "bearer_token": "abcdefghijklmnop",
        "url_password": "hunter2",
        "private_key": "b3BlbnNzaA",
        "aws_access_key_id": "IOSFODNN7",
        "github_token": "a" * 36,
    }[detector]
    assert secret_part not in str(scrubbed)


def test_scrub_secret_named_keys() -> None:
    scrubbed, findings = scrub_secrets(
        {"password": "pw", "user": "bob", "nested": [{"api_key": "k"}]}
    )
    assert scrubbed["user"] == "bob" and "pw" not in str(scrubbed)
    assert [(f["path"], f["detector"]) for f in findings] == [
        ("/password", "key:password"),
        ("/nested/0/api_key", "key:api_key"),
    ]
