"""Issue 18 item 2: on the incident ledger (the seeded incident and quiet runs recorded under a
published pack the incident breaks, prompts.registered included) the board marks what matters
and every screen reports the rule failures `ledger check` reports: the board's per-run failure
counts equal `ledger check --json`'s, failing runs come first and are red at 80x24 (the verdict
column visible), `o` sorts newest first; the incident's timeline badges the events check cites,
its Trace panel lists each failing rule with its evidence, and Replay `c` includes
`prompts.registered`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg
import pytest
from rich.text import Text
from textual.widgets import DataTable, Static

from ledger.config import Settings
from ledger.scenarios import incident_events
from replay.policy.loader import load_pack_text
from replay.policy.published import publish_policy
from tests.ledgerkit import append
from tests.tui.conftest import quiet_run, settle
from tui.widgets.event_log import EventLog

PACK = """
max_tool_calls: 1
prompts: {registered: {support: [v3], ops: [v2]}}
"""


@pytest.fixture
def recorded(ledger_settings: Settings, ledger_conn: psycopg.Connection, cli: Any) -> Any:
    """The runs recorded under the pack, and what `ledger check --json` says of them."""
    publish_policy(ledger_conn, ledger_settings, load_pack_text(PACK))
    incident = incident_events()
    append(ledger_conn, ledger_settings, incident)
    append(ledger_conn, ledger_settings, quiet_run())
    res = cli("check", "--json")
    assert res.exit_code == 1, res.stderr  # the incident fails
    verdicts = {r["run_id"]: r["verdicts"] for r in json.loads(res.stdout)["runs"]}
    return str(incident[0].run_id), verdicts


def _verdict_cell(table: DataTable[Any], row: int) -> Text:
    cell = table.get_cell_at((row, table.get_column_index("verdict")))  # type: ignore[arg-type]
    assert isinstance(cell, Text)
    return cell


def _fails(cell: str) -> int:
    return int(cell.split(maxsplit=1)[0]) if cell.endswith("fail") else 0


def test_board_trace_timeline_and_replay_agree_with_check(recorded: Any, make_app: Any) -> None:
    incident, checked = recorded
    fails = {run: sum(v["outcome"] == "fail" for v in vs) for run, vs in checked.items()}
    cited = {
        e for v in checked[incident] if v["outcome"] != "pass" for e in v["evidence"]
    }
    app = make_app()

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            board = app.screen
            runs = board.query_one("#runs", DataTable)
            lines = list(board.lines.values())
            shown = {line.run_id: _fails(_verdict_cell(runs, i).plain)
                     for i, line in enumerate(lines)}  # fmt: skip
            assert shown == {run: fails.get(run, 0) for run in shown}
            assert set(shown) >= {run for run, n in fails.items() if n}
            order = [shown[line.run_id] > 0 for line in lines]
            assert order == sorted(order, reverse=True)  # failing first
            assert "red" in str(_verdict_cell(runs, 0).style)
            assert "failing " in str(board.query_one("#chain-status", Static).render())
            await pilot.press("o")  # newest first
            await settle(pilot)
            assert "sort: newest" in str(board.query_one("#chain-status", Static).render())
            runs.move_cursor(row=[ln.run_id for ln in board.lines.values()].index(incident))
            await pilot.press("enter")
            await settle(pilot)
            log = app.screen.query_one(EventLog)
            badged = {e for e in cited if log.findings(e)}
            assert badged == cited and cited
            await pilot.press("S")  # Trace / Stop / Undo, Trace tab
            await settle(pilot)
            trace = str(app.screen.query_one("#trace-body", Static).render())
            for verdict in checked[incident]:
                if verdict["outcome"] == "fail":
                    assert f"FAIL    {verdict['rule_id']}: " in trace
                    assert all(e in trace for e in verdict["evidence"])
            await pilot.press("escape", "R", "c")
            await settle(pilot)
            replay = str(app.screen.query_one("#replay-verdicts", Static).render())
            assert "FAIL    prompts.registered" in replay

    asyncio.run(main())
