"""`ledger verify --jobs 2` against `--jobs 1` on one real multi-tenant ledger, good and tampered.

Chunks of 8 events (LEDGER_VERIFY_CHUNK) cut every tenant's log into several chunks, with runs
interleaved so that run chains cross chunk edges and checkpoints fall inside chunks. Each attack
must give the very report `--jobs 1` gives (first bad seq, reason, verdict, counts), and a good
ledger must really be stitched from the workers' chunks, not verified serially in disguise.
"""

from __future__ import annotations

import logging
from itertools import zip_longest

import orjson
import psycopg
import pytest

from ledger.config import Settings
from ledger.events import EventBase, leaf_hash
from ledger.merkle import leaf_hash as tree_leaf
from ledger.note import Checkpoint
from ledger.store.sequencer import log_signer
from ledger.verify import verify_ledger
from ledger.verify_parallel import CHUNK_ENV, verify_parallel
from tests.conftest import run_main
from tests.ledgerkit import append, attacker, chained_run

TENANTS = ("a", "b", "c")
CHUNK = 8


@pytest.fixture
def ledger(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> psycopg.Connection:
    """Three tenants of three interleaved 10-event runs (30 events each, 4 chunks of 8), sequenced
    in batches of 7 so checkpoints land inside chunks."""
    monkeypatch.setenv(CHUNK_ENV, str(CHUNK))
    runs = [chained_run(4, tenant=t) for t in TENANTS for _ in range(3)]
    events: list[EventBase] = [e for row in zip_longest(*runs) for e in row if e is not None]
    for i in range(0, len(events), 7):
        append(ledger_conn, ledger_settings, events[i : i + 7])
    return ledger_conn


def _origin(settings: Settings, tenant: str) -> str:
    return settings.origin(tenant)


def _both(conn: psycopg.Connection, settings: Settings) -> tuple[dict[str, object], ...]:
    serial = verify_ledger(conn, settings).as_dict()
    parallel = verify_parallel(conn, settings, jobs=2).as_dict()
    return serial, parallel


def _body(conn: psycopg.Connection, origin: str, seq: int) -> bytes:
    row = conn.execute(
        "SELECT body FROM ledger_events WHERE origin = %s AND seq = %s", (origin, seq)
    ).fetchone()
    assert row is not None
    return bytes(row[0])


@pytest.mark.usefixtures("ledger")
def test_cli_reports_are_identical(
    ledger_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real CLI (in this process; its workers are real spawned processes)."""
    monkeypatch.setenv("LEDGER_DSN", ledger_settings.dsn or "")
    monkeypatch.setenv("LEDGER_HOME", str(ledger_settings.home))
    one = run_main(monkeypatch, capsys, "verify", "--json", "--jobs", "1")
    two = run_main(monkeypatch, capsys, "verify", "--json", "--jobs", "2")
    assert (one.exit_code, two.exit_code) == (0, 0), two.stderr
    assert orjson.loads(two.stdout) == orjson.loads(one.stdout)
    assert orjson.loads(one.stdout)["events_verified"] == 90
    bad = run_main(monkeypatch, capsys, "verify", "--jobs", "0")
    assert bad.exit_code == 2
    monkeypatch.setenv(CHUNK_ENV, "12")
    bad = run_main(monkeypatch, capsys, "verify", "--jobs", "2")
    assert (bad.exit_code, bad.stderr.strip()) == (
        2, "error: LEDGER_VERIFY_CHUNK must be a power of two, got '12'"
    )


def test_good_ledger_is_stitched_not_serial(
    ledger: psycopg.Connection, ledger_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ledger.verify_parallel"):
        serial, parallel = _both(ledger, ledger_settings)
    assert parallel == serial
    assert serial["status"] == "ok"
    stitched = [r.getMessage() for r in caplog.records if "stitched from 4 chunks" in r.message]
    assert len(stitched) == 3, caplog.text
    assert "serially" not in caplog.text


def test_body_edited(ledger: psycopg.Connection, ledger_settings: Settings) -> None:
    origin = _origin(ledger_settings, "b")
    body = _body(ledger, origin, 13)
    with attacker(ledger):
        ledger.execute(
            "UPDATE ledger_events SET body = %s WHERE origin = %s AND seq = 13",
            (body.replace(b'"data":{', b'"data":{"x":1,', 1), origin),
        )
    serial, parallel = _both(ledger, ledger_settings)
    assert parallel == serial
    assert (serial["origin"], serial["first_bad_seq"], serial["verdict"]) == (
        origin, 13, "leaf_mismatch"
    )


def test_leaf_and_projection_columns_edited(
    ledger: psycopg.Connection, ledger_settings: Settings
) -> None:
    a, c = _origin(ledger_settings, "a"), _origin(ledger_settings, "c")
    with attacker(ledger):
        ledger.execute(
            "UPDATE ledger_events SET type = 'run.ended' WHERE origin = %s AND seq = 20", (c,)
        )
        ledger.execute(
            "UPDATE ledger_events SET leaf_hash = %s WHERE origin = %s AND seq = 17",
            (bytes(32), a),
        )
    serial, parallel = _both(ledger, ledger_settings)
    assert parallel == serial
    assert (serial["origin"], serial["first_bad_seq"], serial["verdict"]) == (
        a, 17, "leaf_mismatch"
    )
    with attacker(ledger):
        ledger.execute(
            "UPDATE ledger_events SET leaf_hash = %s WHERE origin = %s AND seq = 17",
            (tree_leaf(_body(ledger, a, 17)), a),
        )
    serial, parallel = _both(ledger, ledger_settings)
    assert parallel == serial
    assert (serial["origin"], serial["first_bad_seq"], serial["verdict"]) == (
        c, 20, "column_mismatch"
    )


def test_run_chain_broken_at_a_chunk_edge(
    ledger: psycopg.Connection, ledger_settings: Settings
) -> None:
    """The first event of chunk 2 names another previous leaf, with its leaf recomputed: only
    the chain across the edge (checked by the parent's stitch) is wrong."""
    origin = _origin(ledger_settings, "a")
    body = _body(ledger, origin, 2 * CHUNK)
    prev = orjson.loads(body)["prev_run_hash"]
    assert prev is not None
    forged = body.replace(prev.encode(), b"0" * 64)
    with attacker(ledger):
        ledger.execute(
            "UPDATE ledger_events SET body = %s, leaf_hash = %s WHERE origin = %s AND seq = %s",
            (forged, leaf_hash(forged), origin, 2 * CHUNK),
        )
    serial, parallel = _both(ledger, ledger_settings)
    assert parallel == serial
    assert (serial["origin"], serial["first_bad_seq"], serial["verdict"]) == (
        origin, 2 * CHUNK, "chain_break"
    )


def test_checkpoint_root_forged(ledger: psycopg.Connection, ledger_settings: Settings) -> None:
    """A checkpoint inside a chunk re-signed with the (stolen) log key over another root."""
    origin = _origin(ledger_settings, "c")
    sizes = [
        int(r[0])
        for r in ledger.execute(
            "SELECT tree_size FROM ledger_checkpoints WHERE origin = %s ORDER BY tree_size",
            (origin,),
        )
    ]
    size = next(s for s in sizes if s > CHUNK and s % CHUNK)
    root = bytes(range(32))
    note = log_signer(ledger_settings).sign_note(Checkpoint(origin, size, root).body())
    with attacker(ledger):
        ledger.execute(
            "UPDATE ledger_checkpoints SET root_hash = %s, note = %s "
            "WHERE origin = %s AND tree_size = %s",
            (root, note.decode(), origin, size),
        )
    serial, parallel = _both(ledger, ledger_settings)
    assert parallel == serial
    assert (serial["origin"], serial["verdict"]) == (origin, "root_mismatch")
    assert serial["first_bad_seq"] == max(s for s in sizes if s < size)


def test_stamp_edited(ledger: psycopg.Connection, ledger_settings: Settings) -> None:
    """The stamp check runs in a worker: its verdict must be the parent's own."""
    origin = _origin(ledger_settings, "b")
    with attacker(ledger):
        ledger.execute(
            "UPDATE ledger_events SET submitted_by = 'mallory' WHERE origin = %s AND seq = 21",
            (origin,),
        )
    serial, parallel = _both(ledger, ledger_settings)
    assert parallel == serial
    assert (serial["origin"], serial["verdict"]) == (origin, "stamp_tampered")
