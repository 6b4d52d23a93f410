"""Review r17a: `ledger serve` as operations.md deploys it, a LOGIN role in ledger_sequencer
(least privilege, not a superuser), must be able to end an abandoned run: the run.ended it
writes goes through intake like every event. And only it: a writer (the agent host) that ends
its own failed run as `abandoned`, dressed as serve's, is refused with the reason, so nobody
reading the record takes a run the agent itself gave up on for one the ledger gave up waiting
for."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import conninfo, sql

import ledger
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.serve_abandon import abandon_idle
from ledger.store.sequencer import try_sequence

from .conftest import stored
from .test_continuity_attacks import writer_a

__all__ = ["writer_a"]
FUTURE = datetime.now(UTC) + timedelta(days=30)


@pytest.fixture
def serve_conn(ledger_conn: psycopg.Connection,
               ledger_settings: Settings) -> Iterator[psycopg.Connection]:
    role = f"seq_{uuid.uuid4().hex[:8]}"
    ledger_conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw-s' IN ROLE ledger_sequencer"
                                ).format(sql.Identifier(role)))
    dsn = conninfo.make_conninfo(ledger_settings.dsn or "", user=role, password="pw-s")
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()
        ledger_conn.execute(sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(
            sql.Identifier(role), sql.Identifier(role)))


def test_serve_as_the_sequencer_role_ends_an_abandoned_run(
    writer: Writer, serve_conn: psycopg.Connection, ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
) -> None:
    with ledger.run(agent="idle-bot", user="ann") as run:
        run.suspend("approval", resume_key="k:idle")
    assert writer.flush()
    try_sequence(ledger_conn, ledger_settings)
    assert abandon_idle(serve_conn, ledger_settings, 3600, now=FUTURE) == [run.run_id]
    try_sequence(ledger_conn, ledger_settings)  # COPY under RLS: apart
    end = stored(ledger_conn, run.run_id)[-1]
    assert (end.type, end.data.status) == ("run.ended", "abandoned")


def test_a_writer_cannot_end_its_own_run_abandoned(
    writer_a: tuple[Writer, psycopg.Connection], ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
) -> None:
    hostile, _ = writer_a
    with ledger.run(agent="a-bot", user="ann", tenant="a", writer=hostile,
                    source={"framework": "ledger", "integration": "serve"}) as run:
        run.end("abandoned")  # the agent failed; it says the ledger gave up waiting
    assert hostile.flush()
    try_sequence(ledger_conn, ledger_settings)
    ended = [e for e in stored(ledger_conn, run.run_id) if e.type == "run.ended"]
    assert ended == []
    reasons = [r for (r,) in ledger_conn.execute("SELECT reason FROM ledger_rejects")]
    role = hostile.settings.dsn and conninfo.conninfo_to_dict(hostile.settings.dsn)["user"]
    assert reasons == [f"run.ended (abandoned) from writer role {role!r} refused: only "
                       "`ledger serve` ends a run as abandoned"]
