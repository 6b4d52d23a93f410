"""`micros_of` takes a batch shortcut when every timestamp has our form; it must agree with
converting one at a time (tests/pg/test_timestamp_projection.py checks those against the server)."""

from __future__ import annotations

import random

import pytest

from ledger.pgtime import micros_of, pg_micros


def test_batch_shortcut_agrees_with_one_at_a_time() -> None:
    rng = random.Random(5)
    ours = [
        f"2026-11-24T12:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}."
        f"{rng.choice([rng.randint(0, 999_999_999), rng.randint(0, 999_999) * 1000 + 500]):09d}Z"
        for _ in range(400)
    ]
    others = ["2026-11-24T12:10:16.5Z", "2026-11-24T12:10:16+02:00", "2026-11-24T12:10:16.25-05:30"]
    expected = [pg_micros(text) for text in ours + others]
    assert micros_of(ours) == expected[: len(ours)]
    assert micros_of(ours + others) == expected  # one text not in our form: no shortcut
    assert micros_of([]) == []


def test_a_text_hiding_a_line_break_is_not_taken_for_two() -> None:
    stamp = "2026-11-24T12:10:16.123456789Z"
    with pytest.raises(ValueError):
        micros_of([stamp + "\n" + stamp])


def test_a_cached_second_does_not_let_a_two_line_text_through() -> None:
    """Found by the suite: once the whole second is cached, the shortcut must still refuse."""
    stamp = "2026-11-24T12:10:16.123456789Z"
    pg_micros(stamp)  # caches 2026-11-24T12:10:16
    with pytest.raises(ValueError):
        micros_of([stamp + "\n" + stamp])
    assert micros_of([stamp, stamp]) == [pg_micros(stamp)] * 2
