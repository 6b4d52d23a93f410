"""Bad input through the real `ledger` command: one clear line per bad event, exit codes that
scripts can rely on, nothing partial stored, and existing data untouched after every failure.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest

from ledger.config import Settings
from tests.ledgerkit import append, chained_run

MIB = 1_048_576


def _counts(conn: psycopg.Connection) -> tuple[int, int, int]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM ledger_events), (SELECT count(*) FROM ledger_intake),"
        " (SELECT count(*) FROM ledger_checkpoints)"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _snapshot(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT origin, seq, event_id, body, leaf_hash FROM ledger_events ORDER BY origin, seq"
    ).fetchall()


@pytest.fixture
def seeded(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> list[tuple[Any, ...]]:
    """A ledger that already holds one verified run; returns its rows to compare later."""
    append(ledger_conn, ledger_settings, chained_run(2))
    return _snapshot(ledger_conn)


def _line(type_name: str = "custom", **fields: Any) -> bytes:
    obj: dict[str, Any] = {"type": type_name, "run_id": str(uuid.uuid4()), "data": {"name": "ok"}}
    obj.update(fields)
    return json.dumps(obj).encode()


BAD_LINES: dict[str, tuple[bytes, str]] = {
    "malformed-json": (b'{"type": "custom", "run_id": ', "malformed JSON"),
    "not-an-object": (b"[1, 2, 3]", "JSON object"),
    "duplicate-key": (b'{"type": "custom", "type": "custom"}', "duplicate key"),
    "nan": (b'{"type": "custom", "run_id": "x", "data": {"name": NaN}}', "not valid JSON"),
    "unknown-type": (_line("tool.call.exploded"), "unknown event type"),
    "missing-run-id": (b'{"type": "custom", "data": {"name": "x"}}', "run_id"),
    "bad-run-id": (_line(run_id="not-a-uuid"), "UUID"),
    "wrong-field-type": (_line(run_seq="zero", data={"name": "x"}), "run_seq"),
    "wrong-data-type": (_line(data={"name": ["not", "a", "string"]}), "name"),
    "missing-data-field": (_line("tool.call.ended", data={"tool": "x"}), "data"),
    "money-as-float": (
        _line(
            "llm.call.ended",
            data={"call_id": "c", "cost": {"amount_usd": 0.5, "price_table_version": "v"}},
        ),
        "amount_usd",
    ),
    "bad-timestamp": (_line(occurred_at="yesterday"), "occurred_at"),
    "unknown-field": (_line(surprise=1), "surprise"),
    "oversized": (
        _line(data={"name": "big", "attributes": {"blob": "x" * (MIB + 10)}}),
        "limit is 1048576",
    ),
    "non-utf8": (
        b'{"type": "custom", "run_id": "'
        + str(uuid.uuid4()).encode()
        + b'", "data": {"name": "caf\xe9"}}',
        "UTF-8",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_line_is_rejected_with_its_line_number(
    case: str, ledger_conn: psycopg.Connection, seeded: list[tuple[Any, ...]], cli: Any
) -> None:
    line, reason = BAD_LINES[case]
    before = _counts(ledger_conn)
    res = cli("ingest", "-", input=line + b"\n")
    assert res.exit_code == 1, res.stderr
    errors = [e for e in res.stderr.splitlines() if e.startswith("line ")]
    assert len(errors) == 1, res.stderr
    assert errors[0].startswith("line 1: ")
    assert reason.lower() in errors[0].lower(), errors[0]
    assert len(errors[0]) < 300  # one readable line, not a dump of the input
    assert "Traceback" not in res.stderr
    assert _counts(ledger_conn) == before
    assert _snapshot(ledger_conn) == seeded
    assert cli("verify").exit_code == 0


def test_mix_of_good_and_bad_lines(
    ledger_conn: psycopg.Connection, seeded: list[tuple[Any, ...]], cli: Any
) -> None:
    run_id = str(uuid.uuid4())
    good = [
        json.dumps({"type": "run.started", "run_id": run_id, "data": {"task": "mix"}}).encode(),
        json.dumps({"type": "custom", "run_id": run_id, "data": {"name": "a"}}).encode(),
        json.dumps(
            {
                "type": "run.ended",
                "run_id": run_id,
                "data": {"status": "succeeded", "event_count": 3},
            }
        ).encode(),
    ]
    lines = [
        good[0],  # 1
        BAD_LINES["malformed-json"][0],  # 2
        b"",  # 3 (blank: skipped)
        good[1],  # 4
        BAD_LINES["unknown-type"][0],  # 5
        BAD_LINES["non-utf8"][0],  # 6
        BAD_LINES["oversized"][0],  # 7
        good[2],  # 8
        BAD_LINES["wrong-field-type"][0],  # 9
    ]
    before_events, _, _ = _counts(ledger_conn)
    res = cli("ingest", "-", "--json", input=b"\n".join(lines) + b"\n")
    assert res.exit_code == 1, res.stderr
    numbers = [
        int(e.split(":")[0].removeprefix("line "))
        for e in res.stderr.splitlines()
        if e.startswith("line ")
    ]
    assert numbers == [2, 5, 6, 7, 9]
    summary = json.loads(res.stdout)
    assert (summary["sequenced"], summary["already_present"], summary["rejected"]) == (3, 0, 5)
    assert [(e["line"], e["outcome"]) for e in summary["lines"]] == [
        (n, "rejected" if n in numbers else "sequenced") for n in (1, 2, 4, 5, 6, 7, 8, 9)
    ]
    assert res.stderr.splitlines()[-1] == "3 sequenced, 0 already present, 5 rejected"
    events, intake, _ = _counts(ledger_conn)
    assert events == before_events + 3
    assert intake == 0
    stored = ledger_conn.execute(
        "SELECT run_seq, type FROM ledger_events WHERE run_id = %s ORDER BY run_seq", (run_id,)
    ).fetchall()
    assert stored == [(0, "run.started"), (1, "custom"), (2, "run.ended")]
    assert _snapshot(ledger_conn)[: len(seeded)] == seeded
    assert cli("verify").exit_code == 0


def test_missing_file_is_a_usage_error(
    seeded: list[tuple[Any, ...]], cli: Any, ledger_conn: psycopg.Connection
) -> None:
    res = cli("ingest", "/nonexistent/events.jsonl")
    assert res.exit_code == 2
    assert res.stderr.strip().count("\n") == 0 and "no such file" in res.stderr
    assert _snapshot(ledger_conn) == seeded


# Known bug (reported): typer 0.29 raises its vendored `typer._click` exceptions, which
# `ledger.cli.main` does not recognise as `click.ClickException`, so click usage errors exit 1.


@pytest.mark.parametrize(
    "args",
    [
        ("verify", "--pin", "/nonexistent"),
        ("verify", "--trust", "/nonexistent"),
        ("show", "not-a-uuid"),
        ("show", "00000000-0000-7000-8000-000000000000"),
        ("verify", "--no-such-flag"),
        ("no-such-command",),
    ],
)
def test_usage_errors_exit_2(
    args: tuple[str, ...],
    ledger_conn: psycopg.Connection,
    seeded: list[tuple[Any, ...]],
    cli: Any,
) -> None:
    res = cli(*args)
    assert res.exit_code == 2, (res.exit_code, res.stderr)
    assert "Traceback" not in res.stderr
    assert res.stderr.strip()
    assert _snapshot(ledger_conn) == seeded


@pytest.mark.parametrize(
    "args", [("verify",), ("runs", "--json"), ("db", "status"), ("ingest", "-"), ("demo",)]
)
def test_unreachable_database_exits_3(
    args: tuple[str, ...],
    ledger_conn: psycopg.Connection,
    seeded: list[tuple[Any, ...]],
    cli: Any,
) -> None:
    res = cli(*args, input=_line() + b"\n", env={"LEDGER_DSN": "postgresql://x@127.0.0.1:1/x"})
    assert res.exit_code == 3, (res.exit_code, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "database" in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert _snapshot(ledger_conn) == seeded
    assert cli("verify").exit_code == 0
