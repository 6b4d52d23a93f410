"""`ledger ingest`, nothing lost in silence (issue 15 item 3), from the writer's side.

Every line ends sequenced, already present (same event_id, same bytes) or rejected with a
one-line reason naming its line; a bad line never drops a later one silently nor leaves it in
intake; what the ledger already holds is never changed; `ledger verify` stays OK.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest

from ledger.config import Settings
from tests.ledgerkit import append, chained_run


def _snapshot(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT origin, seq, event_id, body, leaf_hash FROM ledger_events ORDER BY origin, seq"
    ).fetchall()


def _intake(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM ledger_intake").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def seeded(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> list[tuple[Any, ...]]:
    append(ledger_conn, ledger_settings, chained_run(2))
    return _snapshot(ledger_conn)


def _ev(run_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "custom", "run_id": run_id, "data": {"name": name}, **extra}


def _ingest(cli: Any, lines: list[Any]) -> tuple[Any, list[tuple[int, str, str]], dict[str, Any]]:
    payload = b"\n".join(
        line if isinstance(line, bytes) else json.dumps(line).encode() for line in lines
    )
    res = cli("ingest", "-", "--json", input=payload + b"\n")
    assert "Traceback" not in res.stderr, res.stderr
    out = json.loads(res.stdout)
    account = [(e["line"], e["outcome"], e["reason"] or "") for e in out["lines"]]
    return res, account, out


def _after(conn: psycopg.Connection, cli: Any, seeded: list[tuple[Any, ...]]) -> None:
    assert _snapshot(conn)[: len(seeded)] == seeded  # nothing already stored is lost or changed
    assert _intake(conn) == 0  # nothing left waiting in intake forever
    assert cli("verify").exit_code == 0


def _run_types(conn: psycopg.Connection, run_id: str) -> list[tuple[int, str]]:
    rows = conn.execute(
        "SELECT run_seq, convert_from(body, 'UTF8')::jsonb #>> '{data,name}' FROM ledger_events"
        " WHERE run_id = %s ORDER BY run_seq",
        (run_id,),
    ).fetchall()
    return [(int(a), str(b)) for a, b in rows]


def test_event_id_reused_for_other_bytes_is_rejected_not_dropped(
    ledger_conn: psycopg.Connection, seeded: list[tuple[Any, ...]], cli: Any
) -> None:
    run, other = str(uuid.uuid4()), str(uuid.uuid4())
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    res, account, _ = _ingest(cli, [_ev(run, "a", event_id=first), _ev(run, "b", event_id=second)])
    assert res.exit_code == 0 and [o for _, o, _ in account] == ["sequenced", "sequenced"]
    stored = _snapshot(ledger_conn)
    res, account, out = _ingest(
        cli,
        [
            _ev(other, "x", event_id=second),  # 1: the stored id, other bytes
            _ev(other, "y", event_id=str(uuid.uuid4())),  # 2: run `other` broken at line 1
            _ev(run, "c", event_id=first),  # 3: stored id, other bytes, in run `run`
        ],
    )
    assert res.exit_code == 1
    assert account == [
        (1, "rejected", f"event_id {second} is already used in the ledger for different content"),
        (2, "rejected", f"run {other} broken at line 1"),
        (3, "rejected", f"event_id {first} is already used in the ledger for different content"),
    ]
    assert (out["sequenced"], out["already_present"], out["rejected"]) == (0, 0, 3)
    assert res.stderr.splitlines()[-1] == "0 sequenced, 0 already present, 3 rejected"
    assert _snapshot(ledger_conn) == stored
    _after(ledger_conn, cli, seeded)


def test_event_id_repeated_within_one_file_with_other_bytes(
    ledger_conn: psycopg.Connection, seeded: list[tuple[Any, ...]], cli: Any
) -> None:
    run, dup = str(uuid.uuid4()), str(uuid.uuid4())
    res, account, _ = _ingest(
        cli,
        [
            _ev(run, "a", event_id=dup),
            _ev(run, "a", event_id=dup),  # identical: a retry
            _ev(run, "evil", event_id=dup),  # same id, other bytes
            _ev(run, "later"),  # later line of the broken run
        ],
    )
    assert res.exit_code == 1
    assert account == [
        (1, "sequenced", ""),
        (2, "already present", ""),
        (3, "rejected", f"event_id {dup} is already used in line 1 for different content"),
        (4, "rejected", f"run {run} broken at line 3"),
    ]
    assert _run_types(ledger_conn, run) == [(0, "a")]
    _after(ledger_conn, cli, seeded)


def test_reingesting_the_same_file_is_already_present(
    ledger_conn: psycopg.Connection, seeded: list[tuple[Any, ...]], cli: Any
) -> None:
    run = str(uuid.uuid4())
    # run_seq, prev_run_hash and occurred_at are left for the ledger to fill in
    lines = [_ev(run, n, event_id=str(uuid.uuid4())) for n in ("a", "b", "c")]
    assert _ingest(cli, lines)[0].exit_code == 0
    stored = _snapshot(ledger_conn)
    res, account, _ = _ingest(cli, [*lines, _ev(run, "d", event_id=str(uuid.uuid4()))])
    assert res.exit_code == 0, res.stderr
    assert [o for _, o, _ in account] == ["already present"] * 3 + ["sequenced"]
    assert res.stderr.splitlines()[-1] == "1 sequenced, 3 already present, 0 rejected"
    assert _snapshot(ledger_conn)[: len(stored)] == stored
    assert _run_types(ledger_conn, run) == [(0, "a"), (1, "b"), (2, "c"), (3, "d")]
    _after(ledger_conn, cli, seeded)


@pytest.mark.parametrize(("seqs", "bad"), [((0, 2, 3), 2), ((0, 0, 1), 0)], ids=["gap", "dup"])
def test_run_seq_that_does_not_continue_the_run_is_rejected(
    seqs: tuple[int, int, int],
    bad: int,
    ledger_conn: psycopg.Connection,
    seeded: list[tuple[Any, ...]],
    cli: Any,
) -> None:
    run, fine = str(uuid.uuid4()), str(uuid.uuid4())
    res, account, _ = _ingest(
        cli,
        [
            _ev(run, "a", run_seq=seqs[0]),
            _ev(run, "b", run_seq=seqs[1]),
            _ev(fine, "other run"),
            _ev(run, "c", run_seq=seqs[2]),
        ],
    )
    assert res.exit_code == 1
    assert account == [
        (1, "sequenced", ""),
        (2, "rejected", f"run_seq {bad} does not continue run {run}: expected 1"),
        (3, "sequenced", ""),
        (4, "rejected", f"run {run} broken at line 2"),
    ]
    assert res.stderr.splitlines()[:2] == [
        f"line 2: run_seq {bad} does not continue run {run}: expected 1",
        f"line 4: run {run} broken at line 2",
    ]
    assert _run_types(ledger_conn, run) == [(0, "a")]
    assert _run_types(ledger_conn, fine) == [(0, "other run")]
    _after(ledger_conn, cli, seeded)


def test_run_seq_continuing_a_stored_run_and_a_wrong_prev_hash(
    ledger_conn: psycopg.Connection, seeded: list[tuple[Any, ...]], cli: Any
) -> None:
    run = str(uuid.uuid4())
    assert _ingest(cli, [_ev(run, "a")])[0].exit_code == 0
    res, account, _ = _ingest(
        cli, [_ev(run, "b", run_seq=1, prev_run_hash="0" * 64), _ev(run, "c", run_seq=5)]
    )
    assert res.exit_code == 1
    assert account[0][2].startswith(f"prev_run_hash does not match run {run} at run_seq 0")
    assert account[1] == (2, "rejected", f"run {run} broken at line 1")
    res, account, _ = _ingest(cli, [_ev(run, "b", run_seq=1)])
    assert res.exit_code == 0 and account == [(1, "sequenced", "")]
    _after(ledger_conn, cli, seeded)


@pytest.mark.parametrize(
    ("raw", "kind"), [('"0"', "a string"), ("true", "true"), ("1.0", "a number with a fraction")]
)
def test_run_seq_must_be_a_json_integer(
    raw: str, kind: str, ledger_conn: psycopg.Connection, seeded: list[tuple[Any, ...]], cli: Any
) -> None:
    run, fine = str(uuid.uuid4()), str(uuid.uuid4())
    coerced = b'{"type": "custom", "run_id": "%s", "run_seq": %s, "data": {"name": "a"}}' % (
        run.encode(),
        raw.encode(),
    )
    res, account, _ = _ingest(cli, [coerced, _ev(fine, "b")])
    assert res.exit_code == 1
    assert account[0][:2] == (1, "rejected")
    assert account[0][2].startswith(f"run_seq must be a non-negative JSON integer, not {kind}")
    assert account[1] == (2, "sequenced", "")
    assert res.stderr.splitlines()[0].startswith("line 1: run_seq must be")
    assert _run_types(ledger_conn, run) == []
    _after(ledger_conn, cli, seeded)


def test_deep_nesting_and_lone_surrogates_reject_one_line_each(
    ledger_conn: psycopg.Connection, seeded: list[tuple[Any, ...]], cli: Any
) -> None:
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    deep = b'{"type": "custom", "run_id": "%s", "data": {"name": "d", "attributes": {"x": %s}}}'
    lines = [
        _ev(a, "a0"),  # 1
        deep % (a.encode(), b"[" * 100_000 + b"]" * 100_000),  # 2: 10^5 deep
        _ev(b, "b0"),  # 3
        deep % (b.encode(), b"[" * 70 + b"]" * 70),  # 4: deep, yet under the parser's limit
        b'{"type": "custom", "run_id": "%s", "data": {"name": "\\ud800"}}' % c.encode(),  # 5
        b'{"type": "custom", "run_id": "%s", "data": {"\\udfff": 1, "name": "k"}}' % c.encode(),
        _ev(c, "c0"),  # 7
        _ev(str(uuid.uuid4()), "tail"),  # 8
    ]
    res, account, _ = _ingest(cli, lines)
    assert res.exit_code == 1
    assert account == [
        (1, "sequenced", ""),
        (2, "rejected", "JSON nested deeper than 64 levels"),
        (3, "sequenced", ""),
        (4, "rejected", "JSON nested deeper than 64 levels"),
        (5, "rejected", "lone surrogate \\ud800 in a string"),
        (6, "rejected", "lone surrogate \\udfff in a string"),  # its own defect named first
        (7, "rejected", f"run {c} broken at line 5"),
        (8, "sequenced", ""),
    ]
    assert all(len(line) < 300 for line in res.stderr.splitlines())
    assert _run_types(ledger_conn, a) == [(0, "a0")]
    assert _run_types(ledger_conn, c) == []
    _after(ledger_conn, cli, seeded)


def test_line_behind_another_writers_gap_is_reported_not_exit_0(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    seeded: list[tuple[Any, ...]],
    cli: Any,
) -> None:
    """Another writer (a hook, through the door) put run_seq 1 of a run into intake without 0.

    The ingested line continues that head, so it cannot be sequenced either: it must be counted
    as rejected with a reason (exit 1), not reported as stored.
    """
    skipped = chained_run(2)[1]  # run_seq 1; its run_seq 0 never arrives
    append(ledger_conn, ledger_settings, [skipped])
    assert _intake(ledger_conn) == 1
    run = str(skipped.run_id)
    res, account, out = _ingest(cli, [_ev(run, "after the gap"), _ev(str(uuid.uuid4()), "x")])
    assert res.exit_code == 1
    assert account == [
        (1, "rejected", "still in intake: its run predecessor was not sequenced (another writer?)"),
        (2, "sequenced", ""),
    ]
    assert (out["sequenced"], out["rejected"]) == (1, 1)
    assert _snapshot(ledger_conn)[: len(seeded)] == seeded
    assert cli("verify").exit_code == 0
