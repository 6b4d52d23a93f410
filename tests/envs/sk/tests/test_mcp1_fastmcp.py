"""MCP 1.x (FastMCP, ClientSession over memory streams, `isError`): the integration as a user of
mcp<2 writes it, against a real PostgreSQL. Runs in the tests/envs/sk environment (mcp<2).

Self-contained (this environment has no repo test fixtures): the database is `LEDGER_TEST_DSN`
(an admin DSN) when set, else an embedded server started for the session. The docs' 1.x MCP
example (the ```py block in docs/hooks.md) is executed here, as the main docs tests execute
the 2.x one.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

# Collected by the main suite too (mcp 2.x, where this module raises): it belongs to the mcp<2
# environment, which runs it (tests/envs/sk).
pytest.importorskip("mcp.server.fastmcp", reason="mcp 1.x only: runs in tests/envs/sk")

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.shared.memory import create_connected_server_and_client_session
from psycopg import conninfo

import ledger
import ledger.hooks as hooks
import ledger.integrations.mcp as ledger_mcp
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.db.migrate import apply_migrations
from ledger.errors import DatabaseUnavailable
from ledger.events import args_hash
from ledger.integrations.mcp import LedgerMCPSession, is_error
from ledger.store.read import run_events

DOCS = Path(ledger.__file__).resolve().parents[1] / "docs" / "hooks.md"
MARK = "# mcp 1.x (pip install 'mcp<2')"
CONCURRENT = 12
closed: list[str] = []


@pytest.fixture(scope="session")
def mcp1_admin_dsn() -> Iterator[str]:
    external = os.environ.get("LEDGER_TEST_DSN")
    if external:
        yield external
        return
    from ledger.db.embedded import DEFAULT_IDLE_SECONDS, embedded_dsn, stop_embedded

    data = Path(tempfile.mkdtemp(prefix="ledger-mcp1-pg-"))
    try:
        yield embedded_dsn(data / "data", idle=DEFAULT_IDLE_SECONDS)
    finally:
        stop_embedded(data / "data")
        shutil.rmtree(data, ignore_errors=True)


class Flaky:
    """A connect() the test can switch off (closing the live connections), then on again."""

    def __init__(self, settings: Settings) -> None:
        self.settings, self.down, self.conns = settings, False, []  # type: ignore[var-annotated]
        self.lock = threading.Lock()

    def __call__(self) -> psycopg.Connection:
        if self.down:
            raise DatabaseUnavailable("cannot reach the ledger database: (test) down")
        conn = connect(self.settings)
        with self.lock:
            self.conns.append(conn)
        return conn

    def go_down(self) -> None:
        with self.lock:
            self.down = True
            for conn in self.conns:
                conn.close()


@pytest.fixture
def mcp1_ledger(mcp1_admin_dsn: str, tmp_path: Path) -> Iterator[tuple[psycopg.Connection, Flaky]]:
    """A fresh migrated database, the hooks configured on it; (connection, flaky switch)."""
    name = f"mcp1_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(mcp1_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    settings = Settings(home=tmp_path / "home", dsn=conninfo.make_conninfo(mcp1_admin_dsn,
                                                                           dbname=name))
    with psycopg.connect(settings.dsn, autocommit=True) as fresh:
        apply_migrations(fresh)
    conn = connect(settings)
    flaky = Flaky(settings)
    hooks.configure(settings, connect=flaky, sequence=True, retry_interval=0.05,
                    sequence_interval=0.0)
    try:
        yield conn, flaky
    finally:
        hooks.shutdown()
        conn.close()
        with psycopg.connect(mcp1_admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stored(conn: psycopg.Connection, run_id: Any) -> list[Any]:
    return [s.event for s in run_events(conn, run_id)]


def crm() -> FastMCP:
    server = FastMCP("crm")

    @server.tool()
    async def close_ticket(ticket_id: str) -> str:
        """Close a ticket."""
        await asyncio.sleep(0)
        closed.append(ticket_id)
        return f"closed {ticket_id}"

    @server.tool()
    def broken() -> str:
        """Always fails."""
        raise ToolError("crm is down")

    return server


def test_it_is_mcp_1x_and_the_integration_chose_fastmcp() -> None:
    assert not hasattr(__import__("mcp"), "Client")  # 1.x: no mcp.Client
    assert ledger_mcp.ToolError is ToolError


def test_the_docs_1x_example_runs(mcp1_ledger: Any) -> None:
    conn, _ = mcp1_ledger
    (block,) = [b for b in re.findall(r"```py\n(.*?)```", DOCS.read_text("utf-8"), re.S)
                if b.startswith(MARK)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "docs/hooks.md#mcp1", "exec"), {"__name__": "docs_mcp1"})
    assert out.getvalue() == "False closed T-7\n"
    assert hooks.flush(60)
    (run_id,) = [r[0] for r in conn.execute(
        "SELECT run_id FROM ledger_events WHERE type = 'run.started'").fetchall()]
    events = stored(conn, run_id)
    assert [e.type for e in events] == ["run.started", "tool.call.started", "tool.call.ended",
                                        "run.ended"]
    assert {e.principal.initiating_user for e in events} == {"ivy"}
    assert events[1].data.args == {"ticket_id": "T-7"}
    assert events[1].data.args_hash == args_hash({"ticket_id": "T-7"})
    assert events[1].data.resources == ("mcp:crm",)
    assert events[2].data.tool_call_id == events[1].data.tool_call_id
    assert events[2].data.status == "ok" and "closed T-7" in str(events[2].data.result)
    assert events[1].source.schema_.startswith("mcp@1.")


def test_is_error_is_recorded_as_error(mcp1_ledger: Any) -> None:
    conn, _ = mcp1_ledger

    async def main() -> Any:
        async with create_connected_server_and_client_session(crm()) as client:
            session = LedgerMCPSession(client, server="crm")
            async with hooks.run(agent="mcp1-agent", user="bob") as run:
                result = await session.call_tool("broken", {})
            return run, result

    run, result = asyncio.run(main())
    assert result.isError and is_error(result) and "crm is down" in result.content[0].text
    assert hooks.flush(60)
    ended = [e for e in stored(conn, run.run_id) if e.type == "tool.call.ended"]
    assert [(e.data.status, e.data.error.message) for e in ended] == [
        ("error", "MCP tool returned isError")]


def test_fails_closed_when_the_database_is_down(mcp1_ledger: Any) -> None:
    _, flaky = mcp1_ledger
    closed.clear()

    async def main() -> None:
        async with create_connected_server_and_client_session(crm()) as client:
            session = LedgerMCPSession(client, server="crm")
            async with hooks.run(agent="mcp1-agent"):
                flaky.go_down()
                with pytest.raises(hooks.LedgerUnavailable):
                    await session.call_tool("close_ticket", {"ticket_id": "T-2"})

    asyncio.run(main())
    assert closed == []  # never sent
    flaky.down = False
    assert hooks.flush(60)


def test_concurrent_calls_through_one_session_in_separate_runs(mcp1_ledger: Any) -> None:
    conn, _ = mcp1_ledger

    async def one(session: LedgerMCPSession, n: int) -> tuple[Any, int]:
        async with hooks.run(agent="mcp1-agent", user=f"u{n}") as run:
            result = await session.call_tool("close_ticket", {"ticket_id": f"T-{n}"})
            assert not result.isError
        return run.run_id, n

    async def main() -> list[tuple[Any, int]]:
        async with create_connected_server_and_client_session(crm()) as client:
            session = LedgerMCPSession(client, server="crm")
            return await asyncio.gather(*(one(session, n) for n in range(CONCURRENT)))

    runs = asyncio.run(main())
    assert hooks.flush(60)
    ids = set()
    for run_id, n in runs:
        events = stored(conn, run_id)
        assert [e.type for e in events] == ["run.started", "tool.call.started",
                                            "tool.call.ended", "run.ended"]
        assert {e.principal.initiating_user for e in events} == {f"u{n}"}
        assert events[1].data.args == {"ticket_id": f"T-{n}"}
        assert events[2].data.tool_call_id == events[1].data.tool_call_id
        assert f"closed T-{n}" in str(events[2].data.result)
        ids.add(events[1].data.tool_call_id)
    assert len(ids) == CONCURRENT


PACK = """\
policy: {id: mcp1-enforced, version: "1"}
mode: enforce
scope: {agents: [mcp1-enforced]}
tools: {allow: [refund]}
"""
BODIES: list[str] = []
SERVED: list[Any] = []


@hooks.tool(name="wire", side_effect=True)
def _wire(to: str) -> str:
    """Wire money (not allowed by the pack): the server's own hooks refuse it."""
    BODIES.append(f"wire {to}")
    return f"wired {to}"


def payments() -> FastMCP:
    server = FastMCP("payments")

    @server.tool(name="wire")
    def wire(to: str) -> str:
        """Wire money (never reached: the client refuses the call)."""
        BODIES.append(f"served wire {to}")
        return f"wired {to}"

    @server.tool(name="wire_gated")
    @ledger_mcp.surface_refusals
    def wire_gated(to: str) -> str:
        """The server's own `@ledger.tool` in the server's own run (1.x memory streams do not
        carry the client's context over, as a separate server process would not)."""
        with hooks.run(agent="mcp1-enforced") as served:
            SERVED.append(served)
            return _wire(to)

    return server


def test_a_real_denial_is_an_is_error_result_client_and_server_side(mcp1_ledger: Any) -> None:
    from ledger.store.sequencer import try_sequence
    from replay.policy import load_pack_text
    from replay.policy.published import publish_policy

    conn, flaky = mcp1_ledger
    publish_policy(conn, flaky.settings, load_pack_text(PACK, "mcp1.yaml"))
    try_sequence(conn, flaky.settings, wait=True)
    BODIES.clear()

    async def main() -> Any:
        async with create_connected_server_and_client_session(payments()) as client:
            async with hooks.run(agent="mcp1-enforced", user="eve") as run:
                session = LedgerMCPSession(client, server="payments")
                denied = await session.call_tool("wire", {"to": "acct-9"})
            gated = await client.call_tool("wire_gated", {"to": "acct-9"})
        return run, denied, gated

    SERVED.clear()
    run, denied, gated = asyncio.run(main())
    (served,) = SERVED
    assert BODIES == []  # neither the request nor the server's body ran
    assert denied.isError and "denied by policy" in denied.content[0].text
    assert "tools.allow" in denied.content[0].text
    assert gated.isError and "denied by policy" in gated.content[0].text
    assert hooks.flush(60)
    for run_id in (run.run_id, served.run_id):
        decided = [e.data for e in stored(conn, run_id) if e.type == "policy.decided"]
        assert [(d.tool, d.decision) for d in decided] == [("wire", "deny")]
