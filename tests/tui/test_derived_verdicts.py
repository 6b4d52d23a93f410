"""Attacks on the board's derived verdicts (`ledger_verdicts`): deleting or forging rows as the
database owner must never make an incident look clean.

One recording (four runs failing `max_tool_calls` under the published policy), one attack per
run, one Pilot session: at first paint every attacked run carries a marker (missing, stale, or
stored-with-age), and once the worker has recomputed the verdicts from the log each shows the
failure again and the stored rows are restored. The recheck's write is held back by a table lock
the test owns, so "first paint" is observed deterministically (no sleeps).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from textual.widgets import DataTable

import ledger.hooks as hooks
from ledger.config import Settings
from replay.policy.loader import load_pack_text
from replay.policy.published import publish_policy
from replay.policy.service import check_in_force
from tests.replay.conftest_db import record, spec, tool
from tests.tui.conftest import SIZE, settle
from tui.data import parse_filter

PACK = "max_tool_calls: 1\n"
NAMES = ("deleted", "old_events", "other_policy", "forged_pass")


@pytest.fixture
def failing_runs(ledger_settings: Settings, ledger_conn: psycopg.Connection) -> dict[str, str]:
    """Four runs that fail the published policy, checked once (verdict rows stored)."""
    policy = publish_policy(ledger_conn, ledger_settings, load_pack_text(PACK)).policy_hash
    hooks.configure(ledger_settings, sequence=True, retry_interval=0.05, sequence_interval=0.0)
    try:
        runs = {
            n: record(spec(tool("search"), tool("delete_record"), policy_hash=policy, agent=n))
            for n in NAMES
        }
    finally:
        hooks.shutdown()
    ids = [uuid.UUID(r) for r in runs.values()]
    assert check_in_force(ledger_conn, ledger_settings, ids).failed
    return {**runs, "policy": policy}


def _verdict_cells(app: Any) -> dict[str, str]:
    table = app.screen.query_one("#runs", DataTable)
    agent, verdict = table.get_column_index("agent"), table.get_column_index("verdict")
    return {
        str(table.get_row_at(i)[agent]): str(table.get_row_at(i)[verdict])
        for i in range(table.row_count)
    }


def _stored(conn: psycopg.Connection, run_id: str, policy: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT rule_id, outcome FROM ledger_verdicts WHERE run_id = %s AND policy_hash = %s "
        "ORDER BY rule_id",
        (run_id, policy),
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


@pytest.fixture
def verdict_lock(ledger_settings: Settings) -> Iterator[psycopg.Connection]:
    """A connection that can hold ledger_verdicts against writes (reads still pass)."""
    with psycopg.connect(ledger_settings.dsn) as conn:
        yield conn


def test_deleted_or_forged_verdicts_are_flagged_at_first_paint_then_recomputed(
    failing_runs: dict[str, str],
    ledger_conn: psycopg.Connection,
    verdict_lock: psycopg.Connection,
    make_app: Any,
) -> None:
    runs = failing_runs
    before = _stored(ledger_conn, runs["deleted"], runs["policy"])
    assert ("max_tool_calls", "fail") in before
    # the attacks, as the table owner
    ledger_conn.execute("DELETE FROM ledger_verdicts WHERE run_id = %s", (runs["deleted"],))
    ledger_conn.execute(
        "UPDATE ledger_verdicts SET outcome = 'pass', through_seq = through_seq - 1 "
        "WHERE run_id = %s",
        (runs["old_events"],),
    )
    ledger_conn.execute(
        "UPDATE ledger_verdicts SET outcome = 'pass', policy_hash = %s WHERE run_id = %s",
        ("ab" * 32, runs["other_policy"]),
    )
    ledger_conn.execute(
        "UPDATE ledger_verdicts SET outcome = 'pass' WHERE run_id = %s", (runs["forged_pass"],)
    )

    app = make_app()

    async def main() -> None:
        verdict_lock.execute("LOCK TABLE ledger_verdicts IN EXCLUSIVE MODE")
        try:
            async with app.run_test(size=SIZE) as pilot:
                for _ in range(200):  # until the first paint (the recheck cannot save yet)
                    await pilot.pause()
                    if len(_verdict_cells(app)) == 4:
                        break
                first = _verdict_cells(app)
                verdict_lock.rollback()  # let the recheck save
                await settle(pilot)
                after = _verdict_cells(app)
        finally:
            verdict_lock.rollback()
        assert first["deleted"] == "verdicts missing ⟳"
        assert first["old_events"] == "stale: events ⟳"
        assert first["other_policy"] == "stale: policy ⟳"
        assert first["forged_pass"].startswith("pass · stored ") and first["forged_pass"].endswith(
            " ⟳"
        )
        assert after == dict.fromkeys(NAMES, "1 fail")

    asyncio.run(main())
    for name in NAMES:
        assert (
            _stored(ledger_conn, runs[name], runs["policy"]) == before
        )  # recomputed and saved again


def test_readonly_board_recomputes_without_writing(
    failing_runs: dict[str, str], ledger_conn: psycopg.Connection, make_app: Any
) -> None:
    """An auditor's `--readonly` session shows the recomputed failure and writes no verdicts;
    until then a run with deleted verdicts matches `verdict:fail`, never `verdict:pass`."""
    ledger_conn.execute("DELETE FROM ledger_verdicts")
    app = make_app(readonly=True)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert _verdict_cells(app) == dict.fromkeys(NAMES, "1 fail")

    asyncio.run(main())
    assert ledger_conn.execute("SELECT count(*) FROM ledger_verdicts").fetchone() == (0,)
    flt = parse_filter("verdict:pass")
    board = app.data.board(flt)
    assert board.runs == []  # missing verdicts are never a pass
    assert len(app.data.board(parse_filter("verdict:fail")).runs) == 4
