"""Writer confinement (issue 15, item 2; migration 0010), from the attacker's side.

The agent host holds a writer credential and may be hostile. A real LOGIN role, created and
bound to tenant "a" by `ledger db writer add`, connects by password: it must not read keys,
payloads, the log or other tenants' intake, must not plant a subject key or write tenant "b",
and still submits its own events through the hooks, `ledger ingest`'s code and private
payload capture. A separate `ledger serve` process (the sequencer, owner credentials) orders
them; the writer learns through the tenant-scoped read API that they were sequenced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.events import args_hash, leaf_hash, make_event, to_json
from ledger.ingest import SUBMITTED, ingest
from ledger.privacy import redact_subject, submit_private
from ledger.store.append import encode_for_intake, submit
from ledger.store.read import receipt_states, run_head
from ledger.store.roles import add_writer
from ledger.verify import verify_ledger
from tests.ledgerkit import append, chained_run

LEDGER_BIN = str(Path(sys.executable).with_name("ledger"))
SENSITIVE = ["/data/args"]


@dataclass
class Confined:
    """The owner's side and the hostile writer's side of one ledger."""

    owner: psycopg.Connection
    settings: Settings
    writer: psycopg.Connection
    writer_settings: Settings
    role: str
    b_event: uuid.UUID
    b_run: uuid.UUID


@pytest.fixture
def confined(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: object
) -> Iterator[Confined]:
    b_events = chained_run(1, tenant="b")
    append(ledger_conn, ledger_settings, b_events)  # tenant b's log (and the KEK) exist
    submit(ledger_conn, chained_run(1, tenant="b"), ledger_settings)  # b's pending intake
    role = f"w_a_{uuid.uuid4().hex[:8]}"
    res = cli("db", "writer", "add", role, "--tenant", "a",  # type: ignore[operator]
              "--password-env", "W_PW", env={"W_PW": "pw-a"})
    assert res.exit_code == 0, res.stderr
    assert res.stdout.splitlines() == [
        f"created LOGIN role {role} (with password)",
        f"granted ledger_writer to {role}",
        f"bound {role} to tenant a: it may insert only that tenant's events",
    ]
    dsn = conninfo.make_conninfo(ledger_settings.dsn or "", user=role, password="pw-a")
    writer = psycopg.connect(dsn, autocommit=True)
    try:
        yield Confined(ledger_conn, ledger_settings, writer,
                       Settings(home=ledger_settings.home, dsn=dsn), role,
                       b_events[0].event_id, b_events[0].run_id)
    finally:
        writer.close()
        ledger_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


DENIED_READS = [
    "SELECT * FROM ledger_subject_keys",
    "SELECT * FROM ledger_payloads",
    "SELECT body FROM ledger_intake",
    "SELECT event_id FROM ledger_events",
    "SELECT * FROM ledger_writer_bindings",
    "SELECT * FROM ledger_rejects",
]


def test_writer_reads_nothing_and_writes_only_its_tenant(confined: Confined) -> None:
    w = confined.writer
    for statement in DENIED_READS:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            w.execute(statement)  # type: ignore[call-overload]
    # intake: only the ids of rows it submitted itself (b's pending rows are invisible)
    assert w.execute("SELECT event_id FROM ledger_intake").fetchall() == []
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        w.execute("INSERT INTO ledger_subject_keys (origin, subject, scheme, public_key, "
                  "wrapped_key, kek_id) VALUES ('agent-ledger.local/a', 'bob', 'x25519-sealed', "
                  "'\\x" + "00" * 32 + "', '\\x00', 'k')")
    for origin in ("agent-ledger.local/b", "agent-ledger.local/a-b", "agent-ledger.local/default"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            w.execute("INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body) "
                      "VALUES (gen_random_uuid(), %s, gen_random_uuid(), 0, '\\x7b7d')", (origin,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        w.execute("INSERT INTO ledger_payloads (commitment, origin, subject, event_id, path, "
                  "ciphertext) VALUES ('sha256:' || repeat('0', 64), 'agent-ledger.local/b', "
                  "'bob', gen_random_uuid(), '/data/args', '\\x00')")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        w.execute("INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body, "
                  "submitted_by) VALUES (gen_random_uuid(), 'agent-ledger.local/a', "
                  "gen_random_uuid(), 0, '\\x7b7d', 'postgres')")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        w.execute("INSERT INTO ledger_writer_bindings VALUES (current_user, '*', NULL)")
    # the read API answers for its own tenant only: b's events and runs do not exist for it
    assert w.execute("SELECT state FROM ledger_receipts(%s)",
                     ([confined.b_event],)).fetchall() == [("unknown",)]
    assert run_head(w, confined.b_run) is None
    assert receipt_states(w, [confined.b_event]) == {}
    assert w.execute("SELECT * FROM ledger_registries('agent-ledger.local/b')").fetchall() == []
    # bound to an agent too: an event naming another agent is refused, its own is taken
    assert add_writer(confined.owner, confined.role, "a", "bot", None)[-1] == (
        f"re-bound {confined.role} to tenant a, agent bot: it may insert only that tenant's events")
    insert = ("INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body) VALUES "
              "(gen_random_uuid(), 'agent-ledger.local/a', gen_random_uuid(), 0, %s)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        w.execute(insert, (b'{"agent":{"name":"evil"}}',))
    w.execute(insert, (b'{"agent":{"name":"bot"}}',))
    assert len(w.execute("SELECT event_id FROM ledger_intake").fetchall()) == 1  # its own row
    # an unbound writer is refused once any writer is bound (fail closed)
    stray = f"w_x_{uuid.uuid4().hex[:8]}"
    ident = sql.Identifier(stray)
    confined.owner.execute(sql.SQL("CREATE ROLE {} IN ROLE ledger_writer").format(ident))
    try:
        confined.owner.execute(sql.SQL("SET ROLE {}").format(ident))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            confined.owner.execute(
                "INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body) VALUES "
                "(gen_random_uuid(), 'agent-ledger.local/a', gen_random_uuid(), 0, '\\x7b7d')")
    finally:
        confined.owner.execute("RESET ROLE")
        confined.owner.execute(sql.SQL("DROP ROLE {}").format(ident))


def _serve_until_sequenced(c: Confined, ids: list[uuid.UUID]) -> None:
    """Run `ledger serve` as its own process (owner credentials) until the writer's receipts
    say every id is logged; polls the writer's read API, then stops the process it started."""
    env = {**os.environ, "LEDGER_DSN": c.settings.dsn or "", "LEDGER_HOME": str(c.settings.home)}
    proc = subprocess.Popen([LEDGER_BIN, "serve"], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = receipt_states(c.writer, ids)
            if all(s.logged_leaf is not None for s in states.values()) and len(states) == len(ids):
                return
            time.sleep(0.05)
        pytest.fail(f"not sequenced: {receipt_states(c.writer, ids)}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_writer_submits_and_a_separate_serve_sequences(confined: Confined) -> None:
    c, ws = confined, confined.writer_settings
    # 1. the hooks, with the writer's DSN: its opportunistic sequencing is skipped, not fatal
    writer = hooks.configure(ws, sequence=True, sequence_interval=0.0)
    try:
        with hooks.run(agent="bot", tenant="a") as run:
            run.custom("note", size=1)
        flushed = writer.flush()
        assert (flushed, writer.stats.errors) == (True, []), writer.stats.errors
    finally:
        hooks.shutdown()
    assert run_head(c.writer, run.run_id) is not None  # its own run, still pending
    # 2. ingest's per-line accounting: acknowledged, waiting for the sequencer
    lines = [json.dumps(to_json(e)).encode() for e in chained_run(1, tenant="a")]
    result = ingest(c.writer, lines, ws)
    assert [o.outcome for o in result.lines] == [SUBMITTED] * 4
    # 3. private capture: sealed to a one-off envelope wrapped by the KEK's public key (in a run
    # that starts with run.started: a writer's run may not start with a tool call)
    started = make_event("run.started", run_id=uuid.uuid4(), run_seq=0, tenant="a", data={})
    submit(c.writer, [started], ws)
    event = make_event("tool.call.started", run_id=started.run_id, run_seq=1, tenant="a",
                       prev_run_hash=leaf_hash(encode_for_intake(started, ws).body).hex(),
                       data={"tool_call_id": "t", "tool": "crm", "args": {"ssn": "123-45-6789"},
                             "args_hash": args_hash({"ssn": "123-45-6789"})})
    receipts = submit_private(c.writer, [event], ws, SENSITIVE, "alice")
    ids = [uuid.UUID(str(o.event_id)) for o in result.lines] + [r.event_id for r in receipts]
    ids.append(started.event_id)
    _serve_until_sequenced(c, ids)
    assert all(s.seq is not None for s in receipt_states(c.writer, ids).values())
    head = run_head(c.writer, run.run_id)
    assert head is not None and head.run_seq == 2  # run.started, custom, run.ended
    stamped = c.owner.execute("SELECT count(*) FROM ledger_events WHERE origin = "
                              "'agent-ledger.local/a'").fetchone()
    assert stamped == (3 + 4 + 2,)
    assert c.owner.execute("SELECT count(*) FROM ledger_subject_keys").fetchone() == (0,)
    report = verify_ledger(c.owner, c.settings)
    assert (report.status, report.payloads_verified) == ("ok", 1)
    # 4. erasure still makes it unreadable: the payload row and its envelope are deleted
    redact_subject(c.owner, c.settings, "alice", "GDPR art. 17", None, "a")
    assert c.owner.execute("SELECT count(*) FROM ledger_payloads").fetchone() == (0,)
