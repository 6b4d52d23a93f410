"""The verifier's occurred_at check must round exactly as PostgreSQL does (found by bench)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import psycopg

from ledger.verify_bulk import pg_micros

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
