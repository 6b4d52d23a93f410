"""MCP 2.x (MCPServer + Client, in memory): implicit runs outside `ledger.run`, and 12
concurrent calls through ONE LedgerMCPSession in separate runs, in one process and several."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer

import ledger.hooks as hooks
from ledger.events import args_hash
from ledger.integrations.mcp import LedgerMCPSession, is_error
from ledger.store.sequencer import try_sequence

from .conftest import stored
from .enforced import check

REPO = Path(__file__).resolve().parents[2]
CONCURRENT = 12
closed: list[str] = []


def crm() -> MCPServer:
    server = MCPServer("crm")

    @server.tool()
    async def close_ticket(ticket_id: str) -> str:
        """Close a ticket."""
        await asyncio.sleep(0)  # let the other calls interleave
        closed.append(ticket_id)
        return f"closed {ticket_id}"

    return server


def _runs(conn: Any) -> list[Any]:
    return [r[0] for r in conn.execute(
        "SELECT run_id FROM ledger_events WHERE type = 'run.started' ORDER BY seq").fetchall()]


def assert_one_call_run(events: list[Any], *, user: str | None, ticket: str) -> None:
    """run.started, intent, outcome, run.ended: one ticket, one call id, one user."""
    assert [e.type for e in events] == ["run.started", "tool.call.started", "tool.call.ended",
                                        "run.ended"]
    assert {e.principal.initiating_user for e in events} == {user}
    start, end = events[1].data, events[2].data
    assert start.tool == "close_ticket" and start.args == {"ticket_id": ticket}
    assert start.args_hash == args_hash({"ticket_id": ticket})
    assert start.resources == ("mcp:crm",) and start.side_effect is True
    assert end.tool_call_id == start.tool_call_id and end.status == "ok"
    assert f"closed {ticket}" in str(end.result)
    assert events[-1].data.status == "succeeded" and events[-1].data.totals.tool_calls == 1


def test_outside_a_run_each_call_gets_an_implicit_run(writer, ledger_conn, ledger_settings):
    async def main() -> Any:
        async with Client(crm()) as client:
            session = LedgerMCPSession(client.session, server="crm", user="ivy")
            return await session.call_tool("close_ticket", {"ticket_id": "T-1"})

    result = asyncio.run(main())
    assert not is_error(result)
    writer.flush()
    (run_id,) = _runs(ledger_conn)
    events = stored(ledger_conn, run_id)
    assert_one_call_run(events, user="ivy", ticket="T-1")
    assert events[0].agent.name == "mcp-client:crm"
    assert events[0].data.attributes == {"implicit": True, "mcp_server": "crm"}
    outcomes = check(ledger_settings, run_id)
    assert outcomes and all(outcome != "fail" for outcome, _ in outcomes.values())


def test_outside_a_run_the_call_still_fails_closed(writer, flaky, ledger_conn):
    closed.clear()

    async def main() -> None:
        async with Client(crm()) as client:
            session = LedgerMCPSession(client.session, server="crm")
            flaky.go_down()
            with pytest.raises(hooks.LedgerUnavailable):
                await session.call_tool("close_ticket", {"ticket_id": "T-2"})

    asyncio.run(main())
    assert closed == []  # the request was never sent
    flaky.come_back()
    assert writer.flush()
    (run_id,) = _runs(ledger_conn)
    events = stored(ledger_conn, run_id)
    # the run could not read the pack in force: it refused the call, and the attempt is kept
    # (intent and an error outcome, delivered from the spool once the ledger is back)
    assert [e.type for e in events] == ["run.started", "tool.call.started", "tool.call.ended",
                                        "run.ended"]
    assert events[2].data.status == "error"
    assert events[2].data.error.type == "LedgerUnavailable"
    assert events[-1].data.status == "failed"
    assert events[-1].data.error.type == "LedgerUnavailable"
    assert "the tool was not run" in events[-1].data.error.message


async def concurrent_calls(session: LedgerMCPSession, tickets: list[int]) -> dict[str, str]:
    """Each ticket in its own `ledger.run` (user u<n>), all at once: run id -> ticket."""
    async def one(n: int) -> tuple[str, str]:
        async with hooks.run(agent="mcp-agent", user=f"u{n}") as run:
            result = await session.call_tool("close_ticket", {"ticket_id": f"T-{n}"})
            assert not is_error(result)
        return str(run.run_id), f"T-{n}"

    return dict(await asyncio.gather(*(one(n) for n in tickets)))


def assert_runs(conn: Any, runs: dict[str, str]) -> None:
    ids = set()
    for run_id, ticket in runs.items():
        events = stored(conn, run_id)
        assert_one_call_run(events, user=f"u{ticket[2:]}", ticket=ticket)
        ids.add(events[1].data.tool_call_id)
    assert len(ids) == len(runs)


def test_concurrent_calls_through_one_session(writer, ledger_conn):
    async def main() -> dict[str, str]:
        async with Client(crm()) as client:
            session = LedgerMCPSession(client.session, server="crm")
            return await concurrent_calls(session, list(range(CONCURRENT)))

    runs = asyncio.run(main())
    assert len(runs) == CONCURRENT
    writer.flush()
    assert_runs(ledger_conn, runs)


CHILD = """
import asyncio, sys
from pathlib import Path
from mcp import Client
import ledger.hooks as hooks
from ledger.config import Settings
from ledger.integrations.mcp import LedgerMCPSession
from tests.integrations.test_mcp_runs import concurrent_calls, crm

hooks.configure(Settings(home=Path(sys.argv[1]), dsn=sys.argv[2]), sequence=True)
base = int(sys.argv[3])

async def main():
    async with Client(crm()) as client:
        session = LedgerMCPSession(client.session, server="crm")
        return await concurrent_calls(session, list(range(base, base + 4)))

runs = asyncio.run(main())
assert hooks.flush(60)
hooks.shutdown()
for run_id, ticket in runs.items():
    print(run_id, ticket)
"""


def test_calls_from_several_processes(writer, ledger_conn, ledger_settings):
    procs = [subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(ledger_settings.home),
         ledger_settings.dsn, str(100 * (i + 1))],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}) for i in range(3)]
    runs: dict[str, str] = {}
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
        runs.update(dict(line.split() for line in out.splitlines()))
    assert len(runs) == 12
    try_sequence(ledger_conn, ledger_settings, wait=True)
    assert_runs(ledger_conn, runs)
