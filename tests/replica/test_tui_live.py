"""The TUI on a replica: its board reads the replica; live updates LISTEN on the primary when it
is reachable, else poll the replica (a hot standby refuses LISTEN), the interval in the header.

Driven through Textual's Pilot against the session's real primary and replica; the runs that
must appear are recorded on the primary by the hooks and reach the board through replication.
"""

from __future__ import annotations

import asyncio

import psycopg

from ledger.config import Settings
from tests.conftest import free_port
from tests.replica.conftest import GROUP, Replicated
from tests.tui.test_live_recovery import run_ids, until
from tui.app import LedgerApp

pytestmark = GROUP

LISTENING = ("SELECT count(*) FROM pg_stat_activity WHERE datname = 'ledger' "
             "AND pid <> pg_backend_pid() AND query LIKE '%LISTEN ledger_appended%'")


def port_of(conn: psycopg.Connection) -> int:
    """The server port a connection reached."""
    return int(conn.info.port)


def test_live_views_listen_on_the_primary_and_read_the_replica(replicated: Replicated) -> None:
    pair = replicated.pair
    app = LedgerApp(replicated.replica_settings, user="tester")

    async def main() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.live_state == "live" and len(run_ids(app)) >= 3,
                        "the loaded board, live")  # fmt: skip
            assert app.sub_title == "live · reads: replica"
            assert app.data.read(port_of) == pair.ports[1]
            assert pair.query("primary", LISTENING) == 1
            assert pair.query("replica", LISTENING) == 0
            new = await asyncio.to_thread(replicated.record_runs, 1, "listen-path")
            await until(pilot, lambda: new[0] in run_ids(app), "the run, notified by the primary")
            await pilot.press("q")

    asyncio.run(main())


def test_live_views_poll_the_replica_when_the_primary_is_unreachable(
    replicated: Replicated,
) -> None:
    pair = replicated.pair
    unreachable = f"host=127.0.0.1 port={free_port()} user=postgres dbname=ledger"
    settings = Settings(home=replicated.home, dsn=unreachable, read_dsn=pair.dsn("replica"))
    app = LedgerApp(settings, user="tester")
    app.poll_seconds = 0.2

    async def main() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.live_state == "polling" and len(run_ids(app)) >= 3,
                        "the loaded board, polling")  # fmt: skip
            assert app.sub_title == "polling the replica every 0.2 s (no LISTEN) · reads: replica"
            assert app.live_detail.startswith("primary unreachable: ")
            new = await asyncio.to_thread(replicated.record_runs, 1, "poll-path")
            await until(pilot, lambda: new[0] in run_ids(app), "the run, found by polling")
            await pilot.press("q")

    asyncio.run(main())
