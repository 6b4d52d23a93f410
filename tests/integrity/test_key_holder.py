"""Attacks by someone who also holds the log key and re-signs every checkpoint afterwards.

The tree roots then agree with the edited log, so each attack below is caught by exactly one
of verify's other checks (run chain, tenant, contiguous seq, body form, rows outside the log).
Each is asserted through `verify_ledger` and, with `assert_bulk_pass_agrees`, through the fast
bulk pass directly: a check missing from either pass fails here.
"""

from __future__ import annotations

import threading

import psycopg
import pytest

from ledger import verify_bulk
from ledger.config import Settings
from ledger.events import leaf_hash
from ledger.merkle import CompactRange
from ledger.note import Checkpoint
from ledger.readahead import THREAD_NAME
from ledger.stamps import EMPTY_HEAD, fold, stamp_note_body
from ledger.store.sequencer import log_signer
from ledger.verify import verify_ledger
from tests.ledgerkit import (
    append_one_per_checkpoint,
    assert_bulk_pass_agrees,
    attacker,
    chained_run,
)


def resign(conn: psycopg.Connection, settings: Settings) -> None:
    """Replace every checkpoint with one over the stored leaf column, signed with the log key."""
    origin = settings.origin()
    rows = conn.execute(
        "SELECT leaf_hash, (extract(epoch FROM recorded_at) * 1000000)::int8, submitted_by"
        " FROM ledger_events WHERE origin = %s ORDER BY seq",
        (origin,),
    ).fetchall()
    signer = log_signer(settings)
    tree = CompactRange()
    head = EMPTY_HEAD  # the key holder re-signs the stamp chain too (ledger.stamps)
    with attacker(conn):
        conn.execute("DELETE FROM ledger_checkpoints WHERE origin = %s", (origin,))
        for size, (leaf, recorded_us, role) in enumerate(rows, start=1):
            tree.append(bytes(leaf))
            head = fold(head, bytes(leaf), size - 1, int(recorded_us), str(role))
            note = signer.sign_note(Checkpoint(origin, size, tree.root()).body())
            stamp = signer.sign_note(stamp_note_body(origin, size, 0, head)).decode()
            conn.execute(
                "INSERT INTO ledger_checkpoints (origin, tree_size, root_hash, note, frontier,"
                " stamp_start, stamp_head, stamp_note) VALUES (%s, %s, %s, %s, %s, 0, %s, %s)",
                (origin, size, tree.root(), note.decode(), tree.to_bytes(), head, stamp),
            )


def rewrite_body(conn: psycopg.Connection, seq: int, body: bytes) -> None:
    with attacker(conn):
        conn.execute(
            "UPDATE ledger_events SET body = %s, leaf_hash = %s WHERE seq = %s",
            (body, leaf_hash(body), seq),
        )


def body_of(conn: psycopg.Connection, seq: int) -> bytes:
    row = conn.execute("SELECT body FROM ledger_events WHERE seq = %s", (seq,)).fetchone()
    assert row is not None
    return bytes(row[0])


@pytest.fixture
def ledger(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> psycopg.Connection:
    """Two runs of 8 events (seq 0..15), one signed checkpoint per size."""
    append_one_per_checkpoint(ledger_conn, ledger_settings, chained_run(3) + chained_run(3))
    return ledger_conn


def _verdict(conn: psycopg.Connection, settings: Settings) -> tuple[str, str | None, int | None]:
    resign(conn, settings)
    assert_bulk_pass_agrees(conn, settings)
    report = verify_ledger(conn, settings)
    return report.status, report.verdict, report.first_bad_seq


def test_resigning_an_untouched_log_keeps_it_valid(
    ledger: psycopg.Connection, ledger_settings: Settings
) -> None:
    assert _verdict(ledger, ledger_settings) == ("ok", None, None)


def test_events_swapped_within_a_run_break_its_chain(
    ledger: psycopg.Connection, ledger_settings: Settings
) -> None:
    with attacker(ledger):
        ledger.execute("UPDATE ledger_events SET seq = 1000 WHERE seq = 3")
        ledger.execute("UPDATE ledger_events SET seq = 3 WHERE seq = 4")
        ledger.execute("UPDATE ledger_events SET seq = 4 WHERE seq = 1000")
    assert _verdict(ledger, ledger_settings) == ("invalid", "chain_break", 3)


def test_event_moved_to_another_tenant(
    ledger: psycopg.Connection, ledger_settings: Settings
) -> None:
    """The last event of a run, so no later event's chain link notices the new bytes."""
    rewrite_body(ledger, 7, body_of(ledger, 7).replace(b'"tenant":"default"', b'"tenant":"acme"'))
    assert _verdict(ledger, ledger_settings) == ("invalid", "column_mismatch", 7)


def test_body_that_is_not_an_event(ledger: psycopg.Connection, ledger_settings: Settings) -> None:
    rewrite_body(ledger, 15, b'{"hello":"world"}')
    assert _verdict(ledger, ledger_settings) == ("invalid", "column_mismatch", 15)


def test_gap_in_seq(ledger: psycopg.Connection, ledger_settings: Settings) -> None:
    with attacker(ledger):
        ledger.execute("UPDATE ledger_events SET seq = seq + 100 WHERE seq >= 12")
    assert _verdict(ledger, ledger_settings)[1:] == ("missing_seq", 12)


def test_row_with_a_negative_seq(ledger: psycopg.Connection, ledger_settings: Settings) -> None:
    """Needs no key: a row stored before seq 0, where a reader scanning from 0 never looks."""
    with attacker(ledger):
        ledger.execute("ALTER TABLE ledger_events DROP CONSTRAINT ledger_events_seq_check")
        ledger.execute(
            "INSERT INTO ledger_events (origin, seq, event_id, run_id, run_seq, type,"
            " occurred_at, recorded_at, body, leaf_hash) SELECT origin, -5, gen_random_uuid(),"
            " gen_random_uuid(), 0, type, occurred_at, recorded_at, body, leaf_hash"
            " FROM ledger_events WHERE seq = 0"
        )
    assert_bulk_pass_agrees(ledger, ledger_settings)
    report = verify_ledger(ledger, ledger_settings)
    assert (report.status, report.verdict, report.first_bad_seq) == ("invalid", "missing_seq", 0)


@pytest.mark.parametrize("rows", [1, 3, 5])
def test_small_batches_cross_checkpoints_and_stop_early(
    ledger: psycopg.Connection,
    ledger_settings: Settings,
    rows: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Batches smaller than the log: checkpoints fall inside and on batch edges, and a doubt in
    an early batch stops the reader thread with later batches still queued."""
    monkeypatch.setattr(verify_bulk, "BATCH_ROWS", rows)
    assert _verdict(ledger, ledger_settings) == ("ok", None, None)
    with attacker(ledger):
        ledger.execute("UPDATE ledger_events SET leaf_hash = %s WHERE seq = 2", (b"\x01" * 32,))
    assert _verdict(ledger, ledger_settings) == ("invalid", "leaf_mismatch", 2)
    assert not any(t.name == THREAD_NAME for t in threading.enumerate())
