"""Issue 15.1, "no event can stop the log": content PostgreSQL cannot hold in text/jsonb.

A JSON string holding U+0000 is valid JSON and canonicalises fine, but jsonb refuses it, and the
expression indexes on `ledger_events` cast `approval.decided` and `policy.published` bodies to
jsonb. Written from the attacker's side (a writer with intake credentials): before the fix such
an event made every sequencer batch fail from then on, so no tenant's events were sequenced
and no checkpoint was signed. Now the write door refuses it at submit with a one-line reason,
and a sequencer that still meets one (bytes put in intake by hand) moves it to `ledger_rejects`
and sequences everything else.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from typing import Any

import psycopg
import pytest

from ledger.canonical import CanonicalError
from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.events import encode_event, make_event
from ledger.store.append import EncodedEvent
from ledger.store.door import append, append_encoded
from ledger.store.read import latest_checkpoint, run_events
from ledger.store.sequencer import try_sequence


def _decided(run_id: str, reason: str, tenant: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "approval.decided",
        "run_id": run_id,
        "data": {
            "approval_id": "ap-1",
            "tool_call_id": "call-1",
            "args_hash": "0" * 64,
            "decision": "approved",
            "approver": {"id": "alice"},
            "reason": reason,
        },
    }
    if tenant:
        obj["tenant"] = tenant
    return obj


def _custom(run_id: str, name: str, tenant: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": "custom", "run_id": run_id, "data": {"name": name}}
    if tenant:
        obj["tenant"] = tenant
    return obj


def _lines(*objs: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


POISON_LINES: dict[str, tuple[bytes, str]] = {
    # json.dumps escapes U+0000 as \u0000; the ledger's canonical form keeps that escape
    "nul-in-string": (_lines(_decided(str(uuid.uuid4()), "ok\x00then")), "U+0000"),
    "nul-in-key": (
        _lines(
            _custom(str(uuid.uuid4()), "n") | {"data": {"name": "n", "attributes": {"k\x00": 1}}}
        ),
        "U+0000",
    ),
    "lone-surrogate": (
        b'{"type": "custom", "run_id": "'
        + str(uuid.uuid4()).encode()
        + b'", "data": {"name": "x\\ud800y"}}\n',
        "surrogate",
    ),
}


@pytest.mark.parametrize("case", sorted(POISON_LINES))
def test_ingest_refuses_content_postgres_cannot_hold_and_stores_the_rest(
    case: str, ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any
) -> None:
    poison, reason = POISON_LINES[case]
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    good = _lines(_custom(mine, "after-poison"), _custom(theirs, "other-tenant", tenant="b"))
    res = cli("ingest", "-", "--json", input=poison + good)
    assert res.exit_code == 1, res.stderr
    errors = [e for e in res.stderr.splitlines() if e.startswith("line ")]
    assert len(errors) == 1 and errors[0].startswith("line 1: "), res.stderr
    assert reason in errors[0] and len(errors[0]) < 200, errors[0]
    assert "Traceback" not in res.stderr
    summary = json.loads(res.stdout)
    assert (summary["sequenced"], summary["already_present"], summary["rejected"]) == (2, 0, 1)
    assert _count(ledger_conn, "ledger_intake") == 0
    for run_id, tenant in ((mine, "default"), (theirs, "b")):
        assert [e.event.run_seq for e in run_events(ledger_conn, uuid.UUID(run_id))] == [0]
        head = latest_checkpoint(ledger_conn, ledger_settings.origin(tenant))
        assert head is not None and head.tree_size == 1
    assert cli("verify").exit_code == 0


def test_write_door_refuses_nul_before_anything_is_stored(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    run_id = uuid.uuid4()
    poison = make_event(
        "approval.decided",
        run_id=run_id,
        run_seq=0,
        data=_decided(str(run_id), "ok\x00then")["data"],
    )
    with pytest.raises(CanonicalError) as caught:
        append(ledger_conn, [poison], ledger_settings)
    message = str(caught.value)
    assert "U+0000" in message and "\n" not in message, message
    # bytes made elsewhere (hooks, spool, a hostile writer's library) are checked at intake too
    poison_id, body = _poison_body("nul", run_id)
    item = EncodedEvent(poison_id, ledger_settings.origin(), run_id, 0, body)
    with pytest.raises(CanonicalError, match="U\\+0000"):
        append_encoded(ledger_conn, [item], ledger_settings, sequence=True)
    assert _count(ledger_conn, "ledger_intake") == 0
    assert _count(ledger_conn, "ledger_events") == 0


def _poison_body(kind: str, run_id: uuid.UUID) -> tuple[uuid.UUID, bytes]:
    """An approval.decided body (its tool_call_id is indexed through a jsonb cast)."""
    data = _decided(str(run_id), "ok-then")["data"]
    if kind == "index-row-too-large":  # passes every check of the write door
        data["tool_call_id"] = base64.b64encode(random.randbytes(6000)).decode()
    decided = make_event("approval.decided", run_id=run_id, run_seq=0, data=data)
    body = encode_event(decided)
    if kind == "nul":  # the bytes a hostile writer puts in intake without the write door
        body = body.replace(b"ok-then", b"ok\\u0000then")
    return decided.event_id, body


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("nul", "unsupported Unicode escape sequence (\\u0000 cannot be converted to text.)"),
        ("index-row-too-large", "index row"),
    ],
)
def test_sequencer_moves_a_poison_row_to_rejects_and_sequences_every_tenant(
    kind: str, reason: str, ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any
) -> None:
    """A hostile writer's row in intake (its role may INSERT there) ahead of good events."""
    poison_run = uuid.uuid4()
    poison_id, body = _poison_body(kind, poison_run)
    origin = ledger_settings.origin("default")
    ledger_conn.execute(query("submit_events"), ([poison_id], [origin], [poison_run], [0], [body]))
    mine = make_event("custom", run_id=uuid.uuid4(), run_seq=0, data={"name": "mine"})
    theirs = make_event(
        "custom", run_id=uuid.uuid4(), run_seq=0, data={"name": "theirs"}, tenant="b"
    )
    appended = append(ledger_conn, [mine, theirs], ledger_settings, sequence=False)
    assert not any(r.duplicate for r in appended.receipts)

    assert try_sequence(ledger_conn, ledger_settings, wait=True) == 2

    assert _count(ledger_conn, "ledger_intake") == 0
    rejects = ledger_conn.execute(
        "SELECT event_id, origin, body, reason FROM ledger_rejects"
    ).fetchall()
    assert len(rejects) == 1
    assert (rejects[0][0], rejects[0][1], bytes(rejects[0][2])) == (poison_id, origin, body)
    assert rejects[0][3].startswith("PostgreSQL cannot store this event: " + reason)
    assert "\n" not in rejects[0][3]
    for event, tenant in ((mine, "default"), (theirs, "b")):
        assert [e.event.event_id for e in run_events(ledger_conn, event.run_id)] == [event.event_id]
        head = latest_checkpoint(ledger_conn, ledger_settings.origin(tenant))
        assert head is not None and head.tree_size == 1
    # the log keeps moving afterwards too
    later = make_event("custom", run_id=uuid.uuid4(), run_seq=0, data={"name": "later"})
    assert append(ledger_conn, [later], ledger_settings).sequenced == 1
    head = latest_checkpoint(ledger_conn, origin)
    assert head is not None and head.tree_size == 2
    assert cli("verify").exit_code == 0


def test_several_poison_rows_among_good_ones_in_one_batch(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any
) -> None:
    """The bisection finds every refused row; the good ones around them keep their order."""
    origin = ledger_settings.origin("default")
    goods = []
    poisons = []
    for i, kind in enumerate(["good", "nul", "good", "index-row-too-large", "good", "nul"]):
        if kind == "good":
            event = make_event(
                "custom", run_id=uuid.uuid4(), run_seq=0, data={"name": f"g{i}"},
                tenant="b" if i == 2 else "default",
            )  # fmt: skip
            append(ledger_conn, [event], ledger_settings, sequence=False)
            goods.append(event)
            continue
        run_id = uuid.uuid4()
        poison_id, body = _poison_body(kind, run_id)
        ledger_conn.execute(query("submit_events"), ([poison_id], [origin], [run_id], [0], [body]))
        poisons.append(poison_id)

    assert try_sequence(ledger_conn, ledger_settings, wait=True) == 3

    rejected = ledger_conn.execute("SELECT event_id FROM ledger_rejects ORDER BY intake_id")
    assert [r[0] for r in rejected.fetchall()] == poisons
    assert _count(ledger_conn, "ledger_intake") == 0
    default = [s.event.event_id for s in run_events(ledger_conn, goods[0].run_id)]
    assert default == [goods[0].event_id]
    rows = ledger_conn.execute(
        "SELECT origin, seq, event_id FROM ledger_events ORDER BY origin, seq"
    ).fetchall()
    assert sorted(rows) == sorted([
        (origin, 0, goods[0].event_id),
        (origin, 1, goods[2].event_id),
        (ledger_settings.origin("b"), 0, goods[1].event_id),
    ])  # fmt: skip
    assert cli("verify").exit_code == 0
