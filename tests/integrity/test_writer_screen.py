"""Issue 15 item 2, hostile review: what a writer credential must not get past the sequencer.

The attacker is an agent host with a real LOGIN role in ledger_writer that INSERTs into intake
what it likes (the columns it may set; `submitted_by` is PostgreSQL's). Each attack asserts the
exact reject reason, and that the next good events of every tenant are sequenced and
checkpointed: no body can fail a batch, and so none can stop `ledger serve`.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import psycopg

from ledger.config import Settings
from ledger.events import EventBase, args_hash, leaf_hash, make_event, to_json
from ledger.store.append import encode_for_intake, submit
from ledger.store.door import append, single_event
from ledger.store.sequencer import try_sequence
from tests.integrity.conftest import fate
from tests.integrity.test_writer_control_plane import registry_event
from tests.ledgerkit import chained_run

Writer = tuple[str, psycopg.Connection]


def _raw(conn: psycopg.Connection, origin: str, body: dict[str, Any]) -> uuid.UUID:
    """INSERT a body as the writer may, bypassing every client-side check; its event id."""
    conn.execute(
        "INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body) "
        "VALUES (%s, %s, %s, %s, %s)",
        (body["event_id"], origin, body["run_id"], body["run_seq"], orjson.dumps(body)),
    )
    return uuid.UUID(body["event_id"])


def _others_go_on(conn: psycopg.Connection, settings: Settings) -> None:
    """Good runs of two tenants submitted after the attack are sequenced and checkpointed."""
    runs = [chained_run(0), chained_run(0, tenant="b")]
    for run in runs:
        submit(conn, run, settings)
    try_sequence(conn, settings, wait=True)
    for run in runs:
        assert [fate(conn, e) for e in run] == ["sequenced", "sequenced"]
        size = conn.execute(
            "SELECT max(tree_size) FROM ledger_checkpoints WHERE origin = %s",
            (settings.origin(run[0].tenant),),
        ).fetchone()
        count = conn.execute(
            "SELECT count(*) FROM ledger_events WHERE origin = %s",
            (settings.origin(run[0].tenant),),
        ).fetchone()
        assert size == count


def test_malformed_registry_bodies_are_rejected_not_raised(
    writer: Writer,
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    tmp_path: Path,
    trusted_admin: Path,
) -> None:
    role, conn = writer
    bad: dict[uuid.UUID, str] = {}
    for data, problem in (
        ("x", "registry.published data must be an object"),
        (
            {"document": {"registry": {"name": "acme", "version": 1, "logs": ["*"]}},
             "signatures": 5},
            "registry.published: signatures must be a list",
        ),
    ):  # fmt: skip
        body = to_json(registry_event(tmp_path / "mallory.key", "sec-admin"))
        body["data"] = data
        event_id = _raw(conn, ledger_settings.origin(), body)
        bad[event_id] = (
            f"control-plane event registry.published from writer role {role!r} refused: {problem}"
        )
    _others_go_on(ledger_conn, ledger_settings)
    assert {event_id: fate(ledger_conn, event_id) for event_id in bad} == bad


def test_tenant_that_is_not_a_tenant_name_is_rejected(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    _, conn = writer
    bad: dict[uuid.UUID, str] = {}
    for tenant in ("x\ny/default", "evil/default"):  # a checkpoint origin of two lines; a new log
        body = to_json(make_event("run.started", run_id=uuid.uuid4(), run_seq=0, data={}))
        body["tenant"] = tenant
        event_id = _raw(conn, ledger_settings.origin(tenant), body)
        bad[event_id] = (
            f"field 'tenant' {tenant!r} is not a tenant name (^[a-z0-9][a-z0-9_.-]{{0,62}}$)"
        )
    _others_go_on(ledger_conn, ledger_settings)
    assert {event_id: fate(ledger_conn, event_id) for event_id in bad} == bad
    origins = ledger_conn.execute("SELECT DISTINCT origin FROM ledger_checkpoints").fetchall()
    assert sorted(o for (o,) in origins) == [ledger_settings.origin(t) for t in ("b", "default")]


def _follows(first: EventBase, settings: Settings, type_name: str = "custom") -> EventBase:
    """The event at run_seq 1 of `first`'s run, correctly chained onto it."""
    prev = encode_for_intake(first, settings)
    return make_event(
        type_name, run_id=first.run_id, run_seq=1, prev_run_hash=leaf_hash(prev.body).hex(),
        data={"name": "exfiltrate", "attributes": {}}, tenant=first.tenant,
    )  # fmt: skip


def test_writer_cannot_hide_a_run(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    role, conn = writer
    call = {"tool_call_id": "t0", "tool": "crm.update", "args": {}, "args_hash": args_hash({})}
    # a run starting with tool.call.started is listed by neither `ledger runs` nor `ledger check`
    headless = [make_event("tool.call.started", run_id=uuid.uuid4(), run_seq=0, data=call)]
    gap = single_event("ledger.gap", {"reason": "spool", "missing_events": 1})
    submit(conn, [*headless, gap], ledger_settings)
    # a single-event run (an operator's annotation) then an event appended to it, by either role
    note = single_event("annotation", {"text": "reviewed", "author": "alice"})
    append(ledger_conn, [note], ledger_settings)
    by_writer, by_owner = _follows(note, ledger_settings), _follows(note, ledger_settings)
    submit(conn, [by_writer], ledger_settings)
    submit(ledger_conn, [by_owner], ledger_settings)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    assert fate(ledger_conn, headless[0]) == (
        f"run {headless[0].run_id} from writer role {role!r} refused: it starts with "
        "tool.call.started, not run.started or a single-event type"
    )
    assert (fate(ledger_conn, gap), fate(ledger_conn, note)) == ("sequenced", "sequenced")
    closed = f"run {note.run_id} is a single-event run (annotation): nothing may follow it"
    assert (fate(ledger_conn, by_writer), fate(ledger_conn, by_owner)) == (closed, closed)


def test_writer_cannot_speak_for_people(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    role, conn = writer
    events = [
        single_event("annotation", {"text": "all fine", "author": "alice"}),
        single_event("export.created", {"manifest_digest": "a" * 64, "exported_by": "alice"}),
        single_event("undo.plan.approved", {"plan_digest": "b" * 64}),
        single_event("undo.step.started", {"plan_digest": "b" * 64}),
        single_event("exercise.answered", {"milestone": "trace", "answered_by": "alice",
                     "elapsed_ms": 1, "recorded_by": "dana"}, tenant="exercise-drill"),
    ]
    submit(conn, events, ledger_settings)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    assert [fate(ledger_conn, e) for e in events] == [
        f"control-plane event {e.type} from writer role {role!r} refused: only ledger_operator "
        "roles may write it (no registry-authorised signature)"
        for e in events
    ]


def test_writer_registry_must_be_the_next_in_history(
    writer: Writer,
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    tmp_path: Path,
    trusted_admin: Path,
) -> None:
    role, conn = writer
    admin = trusted_admin
    append(ledger_conn, [registry_event(admin, "sec-admin")], ledger_settings)  # acme v1
    origin = ledger_settings.origin()
    attacks = [  # each genuinely signed by the administrator, for some registry and log
        (
            registry_event(admin, "sec-admin", registry="other", version=5),
            "registry 'other' is not 'acme', the registry in force",
        ),
        (registry_event(admin, "sec-admin", version=1), "stale: version 1 not above 1"),
        (
            registry_event(admin, "sec-admin", version=3, logs="elsewhere/default"),
            f"registry 'acme' is for logs ['elsewhere/default'], not {origin!r}",
        ),
    ]
    genuine = registry_event(admin, "sec-admin", version=2)
    replayed = registry_event(admin, "sec-admin", version=2)  # the same, again in this batch
    submit(conn, [*(e for e, _ in attacks), genuine, replayed], ledger_settings)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    prefix = f"control-plane event registry.published from writer role {role!r} refused: "
    assert [fate(ledger_conn, e) for e, _ in attacks] == [prefix + p for _, p in attacks]
    assert fate(ledger_conn, genuine) == "sequenced"
    assert fate(ledger_conn, replayed) == prefix + "stale: version 2 not above 2"
