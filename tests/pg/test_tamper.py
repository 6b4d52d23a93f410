"""Tamper detection: each attack on a real PostgreSQL ledger is caught at the right first bad seq.

The attacker holds the superuser password (so triggers can be switched off with
session_replication_role) but not the log key. Each test applies one attack and asserts the
verdict, the first bad `seq` and the reason.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ledger.events import leaf_hash, make_event
from ledger.merkle import CompactRange
from ledger.note import Checkpoint, Signer
from ledger.verify import load_pin, trusted_verifiers, verify_ledger
from tests.ledgerkit import (
    append,
    append_one_per_checkpoint,
    attacker,
    chained_run,
)


def body_of(conn: psycopg.Connection, seq: int) -> bytes:
    row = conn.execute("SELECT body FROM ledger_events WHERE seq = %s", (seq,)).fetchone()
    assert row is not None
    return bytes(row[0])


pytestmark = pytest.mark.usefixtures("bulk_pass_agrees")


@pytest.fixture
def ledger(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> psycopg.Connection:
    """Two interleaved-free runs of 8 events each (seq 0..15), one checkpoint per event."""
    append_one_per_checkpoint(ledger_conn, ledger_settings, chained_run(3) + chained_run(3))
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"
    return ledger_conn


def test_untampered_ledger_verifies(ledger: psycopg.Connection, ledger_settings: Settings) -> None:
    report = verify_ledger(ledger, ledger_settings)
    assert (report.status, report.events_verified, report.tree_size) == ("ok", 16, 16)
    assert report.checkpoints_verified == 16


def test_edited_event_bytes(ledger: psycopg.Connection, ledger_settings: Settings) -> None:
    forged = body_of(ledger, 5).replace(b'"crm.update"', b'"crm.delete"')
    with attacker(ledger):
        ledger.execute("UPDATE ledger_events SET body = %s WHERE seq = 5", (forged,))
    report = verify_ledger(ledger, ledger_settings)
    assert (report.status, report.first_bad_seq) == ("invalid", 5)
    assert "leaf hash mismatch at seq 5" in (report.reason or "")


def test_edited_stored_leaf_hash_only(
    ledger: psycopg.Connection, ledger_settings: Settings
) -> None:
    """The bodies and the tree still agree, but the stored leaf column was changed (readers
    and proofs that trust that column would be misled)."""
    with attacker(ledger):
        ledger.execute("UPDATE ledger_events SET leaf_hash = %s WHERE seq = 7", (b"\x00" * 32,))
    report = verify_ledger(ledger, ledger_settings)
    assert (report.status, report.first_bad_seq) == ("invalid", 7)
    assert "leaf hash mismatch at seq 7" in (report.reason or "")


def test_edited_bytes_with_recomputed_leaf(
    ledger: psycopg.Connection, ledger_settings: Settings
) -> None:
    forged = body_of(ledger, 9).replace(b'"crm.update"', b'"crm.delete"')
    with attacker(ledger):
        ledger.execute(
            "UPDATE ledger_events SET body = %s, leaf_hash = %s WHERE seq = 9",
            (forged, leaf_hash(forged)),
        )
    report = verify_ledger(ledger, ledger_settings)
    assert (report.status, report.first_bad_seq) == ("invalid", 9)
    assert "root mismatch" in (report.reason or "")


@pytest.mark.parametrize(
    ("column", "value"),
    [("type", "custom"), ("occurred_at", "2020-01-01T00:00:00Z"), ("run_seq", 99)],
)
def test_edited_column_not_in_hash(
    ledger: psycopg.Connection, ledger_settings: Settings, column: str, value: object
) -> None:
    with attacker(ledger):
        ledger.execute(
            psycopg.sql.SQL("UPDATE ledger_events SET {} = %s WHERE seq = 3").format(
                psycopg.sql.Identifier(column)
            ),
            (value,),
        )
    report = verify_ledger(ledger, ledger_settings)
    assert (report.status, report.first_bad_seq) == ("invalid", 3)
    assert f"column/body mismatch at seq 3: {column}" in (report.reason or "")


def test_deleted_event_in_the_middle(ledger: psycopg.Connection, ledger_settings: Settings) -> None:
    with attacker(ledger):
        ledger.execute("DELETE FROM ledger_events WHERE seq = 6")
    report = verify_ledger(ledger, ledger_settings)
    assert (report.status, report.first_bad_seq) == ("invalid", 6)
    assert "missing seq 6" in (report.reason or "")


def _swap(conn: psycopg.Connection, a: int, b: int) -> None:
    with attacker(conn):
        conn.execute("UPDATE ledger_events SET seq = 1000000 WHERE seq = %s", (a,))
        conn.execute("UPDATE ledger_events SET seq = %s WHERE seq = %s", (a, b))
        conn.execute("UPDATE ledger_events SET seq = %s WHERE seq = 1000000", (b,))


def test_swapped_events_within_a_run(ledger: psycopg.Connection, ledger_settings: Settings) -> None:
    _swap(ledger, 2, 4)
    report = verify_ledger(ledger, ledger_settings)
    assert (report.status, report.first_bad_seq) == ("invalid", 2)
    assert "run chain break at seq 2" in (report.reason or "")


def test_swapped_events_across_runs(ledger: psycopg.Connection, ledger_settings: Settings) -> None:
    _swap(ledger, 7, 8)  # last event of run 1 <-> first event of run 2: both chains stay intact
    report = verify_ledger(ledger, ledger_settings)
    assert (report.status, report.first_bad_seq) == ("invalid", 7)
    assert "root mismatch" in (report.reason or "")


def test_forged_event_inserted_in_the_middle(
    ledger: psycopg.Connection, ledger_settings: Settings
) -> None:
    forged = chained_run(0)[0]  # a valid run.started of a new run, with a correct leaf
    from ledger.events import encode_event

    body = encode_event(forged)
    with attacker(ledger):
        ledger.execute("UPDATE ledger_events SET seq = seq + 1000 WHERE seq >= 4")
        ledger.execute("UPDATE ledger_events SET seq = seq - 999 WHERE seq >= 1000")
        ledger.execute(
            "INSERT INTO ledger_events (origin, seq, event_id, run_id, run_seq, type, occurred_at,"
            " body, leaf_hash) VALUES (%s, 4, %s, %s, 0, 'run.started', %s, %s, %s)",
            (
                ledger_settings.origin(),
                forged.event_id,
                forged.run_id,
                forged.occurred_at,
                body,
                leaf_hash(body),
            ),
        )
    report = verify_ledger(ledger, ledger_settings)
    assert (report.status, report.first_bad_seq) == ("invalid", 4)
    assert "root mismatch at checkpoint size 5" in (report.reason or "")


def _tail_event(conn: psycopg.Connection, settings: Settings) -> tuple[bytes, object]:
    """A well-formed event continuing the last run, as an attacker would craft it."""
    last = body_of(conn, 15)
    from ledger.events import decode_event, encode_event

    prev = decode_event(last)
    event = make_event(
        "custom",
        run_id=prev.run_id,
        run_seq=prev.run_seq + 1,
        prev_run_hash=leaf_hash(last).hex(),
        data={"name": "forged"},
    )
    return encode_event(event), event


def test_appended_events_without_the_log_key(
    ledger: psycopg.Connection, ledger_settings: Settings
) -> None:
    body, event = _tail_event(ledger, ledger_settings)
    with attacker(ledger):
        ledger.execute(
            "INSERT INTO ledger_events (origin, seq, event_id, run_id, run_seq, type, occurred_at,"
            " body, leaf_hash) VALUES (%s, 16, %s, %s, %s, 'custom', %s, %s, %s)",
            (
                ledger_settings.origin(),
                event.event_id,
                event.run_id,
                event.run_seq,  # type: ignore[attr-defined]
                event.occurred_at,
                body,
                leaf_hash(body),
            ),  # type: ignore[attr-defined]
        )
    report = verify_ledger(ledger, ledger_settings)
    assert (report.status, report.first_bad_seq) == ("invalid", 16)
    assert "unpublished tail: seq 16..16" in (report.reason or "")

    # The attacker also signs a checkpoint with a key of their own: still refused.
    leaves = [
        bytes(r[0]) for r in ledger.execute("SELECT leaf_hash FROM ledger_events ORDER BY seq")
    ]
    tree = CompactRange.from_leaf_hashes(leaves)
    rogue = Signer.generate(ledger_settings.origin_prefix)
    note = rogue.sign_note(Checkpoint(ledger_settings.origin(), 17, tree.root()).body())
    ledger.execute(
        "INSERT INTO ledger_checkpoints (origin, tree_size, root_hash, note, frontier) "
        "VALUES (%s, 17, %s, %s, %s)",
        (ledger_settings.origin(), tree.root(), note.decode(), tree.to_bytes()),
    )
    report = verify_ledger(ledger, ledger_settings)
    assert (report.status, report.first_bad_seq) == ("invalid", 16)
    assert "checkpoint at size 17" in (report.reason or "")
    assert "no signature by a trusted key" in (report.reason or "")


def _pin(conn: psycopg.Connection, settings: Settings, tmp_path: Path) -> Path:
    note = conn.execute(
        "SELECT note FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1"
    ).fetchone()
    assert note is not None
    path = tmp_path / "pin.note"
    path.write_text(note[0])
    return path


def test_truncated_tail_is_not_detectable_without_a_pin(
    ledger: psycopg.Connection, ledger_settings: Settings
) -> None:
    """Honesty test: with the tail and its checkpoints gone, the database alone looks fine."""
    with attacker(ledger):
        ledger.execute("DELETE FROM ledger_events WHERE seq >= 12")
        ledger.execute("DELETE FROM ledger_checkpoints WHERE tree_size > 12")
    assert verify_ledger(ledger, ledger_settings).status == "ok"


def test_truncated_tail_is_detected_against_a_pin(
    ledger: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    pin_path = _pin(ledger, ledger_settings, tmp_path)
    with attacker(ledger):
        ledger.execute("DELETE FROM ledger_events WHERE seq >= 12")
        ledger.execute("DELETE FROM ledger_checkpoints WHERE tree_size > 12")
    verifiers = trusted_verifiers(ledger_settings)
    report = verify_ledger(ledger, ledger_settings, pin=load_pin(pin_path, verifiers))
    assert (report.status, report.first_bad_seq) == ("invalid", 12)
    assert "truncated: the log has 12 events but the pinned checkpoint has 16" in (
        report.reason or ""
    )


def test_rewritten_log_without_the_key_is_detected(
    ledger: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    pin_path = _pin(ledger, ledger_settings, tmp_path)
    with attacker(ledger):
        ledger.execute("DELETE FROM ledger_events")
        ledger.execute("DELETE FROM ledger_checkpoints")
    # The attacker rebuilds a different history and signs it with a key of their own.
    rogue_home = Settings(home=tmp_path / "rogue", dsn=ledger_settings.dsn)
    append(ledger, rogue_home, chained_run(5))
    verifiers = trusted_verifiers(ledger_settings)
    report = verify_ledger(ledger, ledger_settings)
    assert (report.status, report.first_bad_seq) == ("invalid", 0)
    assert "no signature by a trusted key" in (report.reason or "")
    pinned = verify_ledger(ledger, ledger_settings, pin=load_pin(pin_path, verifiers))
    assert (pinned.status, pinned.first_bad_seq) == ("invalid", 0)


def test_cli_verify_names_the_first_bad_seq(
    ledger: psycopg.Connection, ledger_settings: Settings, cli: object
) -> None:
    import json

    with attacker(ledger):
        ledger.execute("DELETE FROM ledger_events WHERE seq = 6")
    result = cli("verify", "--json")  # type: ignore[operator]
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("status", "first_bad_seq", "events_verified", "tree_size")} == {
        "status": "invalid",
        "first_bad_seq": 6,
        "events_verified": 6,
        "tree_size": 0,
    }
    assert report["reason"].startswith("missing seq 6")
