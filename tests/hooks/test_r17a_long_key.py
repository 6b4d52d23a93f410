"""Review r17a: the sequencer kept only the first 1000 characters of a resume key, so a run
suspended later under a longer key sharing those characters took over the shorter key: the
next `find_suspended` (every integration's `open_run`) continued the wrong run. A key the
table cannot hold as it is is not stored at all (the run is found by its id, never by a key
that is not its own)."""

from __future__ import annotations

import psycopg

import ledger
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence


def test_a_longer_key_never_takes_over_a_shorter_one(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    key = "langgraph:" + "t" * 990  # 1000 characters: the table's limit
    with ledger.run(agent="bot", user="bob") as bobs:
        bobs.suspend(resume_key=key)
    with ledger.run(agent="bot", user="mallory") as planted:
        planted.suspend(resume_key=key + "-mallory")
    assert writer.flush()
    try_sequence(ledger_conn, ledger_settings)
    assert ledger.find_suspended(key) == bobs.run_id
    assert ledger.find_suspended(key + "-mallory") is None  # too long to keep: not by key
