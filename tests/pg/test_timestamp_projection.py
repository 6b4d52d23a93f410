"""The verifier's occurred_at check must round exactly as PostgreSQL does (found by bench)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from ledger.config import Settings
from ledger.events import encode_event, leaf_hash, make_event
from ledger.pgtime import pg_micros
from tests.ledgerkit import append

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def test_occurred_at_projection_matches_postgres_rounding(ledger_conn: psycopg.Connection) -> None:
    rng = random.Random(7)
    texts = [
        f"2026-11-24T12:10:{rng.randint(10, 59)}.{rng.randint(0, 999_999):06d}500Z"
        for _ in range(500)
    ]  # exactly half a microsecond: where rounding rules differ
    texts += [f"2026-11-24T12:10:16.{rng.randint(0, 999_999_999):09d}Z" for _ in range(500)]
    texts += ["2026-11-24T23:59:59.999999500Z", "2026-11-24T12:00:00.000000000Z"]
    texts += ["2026-11-24T23:59:59.999999600Z", "2026-12-31T23:59:59.999999999Z"]  # carries
    texts += ["2026-11-24T12:10:16.5Z", "2026-11-24T12:10:16+02:00", "2026-11-24T12:10:16.25-05:30"]
    for text in texts:
        stored = ledger_conn.execute("SELECT %s::timestamptz", (text,)).fetchone()
        assert stored is not None
        assert (stored[0] - EPOCH) // timedelta(microseconds=1) == pg_micros(text), text


def test_sequencer_stores_occurred_at_as_postgres_parses_the_body(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    """The sequencer sends occurred_at in binary (microseconds it computes itself)."""
    stamps = [
        "2026-11-24T12:10:16.123456500Z",  # ties: the double arithmetic decides
        "2026-11-24T12:10:16.000000500Z",
        "2026-11-24T23:59:59.999999500Z",  # carries into the next day
        "2026-11-24T12:10:16.999999999Z",
        "2026-11-24T12:10:16.000000000Z",
    ]
    run_id = uuid.uuid4()
    prev: str | None = None
    events = []
    for i, stamp in enumerate(stamps):
        event = make_event(
            "annotation" if i else "run.started",
            run_id=run_id,
            run_seq=i,
            prev_run_hash=prev,
            occurred_at=stamp,
            data={"text": stamp} if i else {"task": "timestamps"},
        )
        prev = leaf_hash(encode_event(event)).hex()
        events.append(event)
    append(ledger_conn, ledger_settings, events)
    rows = ledger_conn.execute(
        "SELECT occurred_at = (convert_from(body, 'UTF8')::jsonb ->> 'occurred_at')::timestamptz"
        " FROM ledger_events WHERE run_id = %s ORDER BY run_seq",
        (run_id,),
    ).fetchall()
    assert [r[0] for r in rows] == [True] * len(stamps)
