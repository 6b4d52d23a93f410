"""The everyday CLI surface against a real PostgreSQL: the docs example ingests and verifies,
listing and showing runs, database and key status, checkpoints that pin, and a repeatable demo.
"""

from __future__ import annotations

import json
import re
import stat
import uuid
from pathlib import Path
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.note import Verifier, open_note
from ledger.store.read import run_events
from tests.ledgerkit import append, chained_run

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def _jsonl_block() -> bytes:
    blocks = re.findall(r"```jsonl\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    return blocks[0].encode("utf-8")


def test_every_json_block_in_the_docs_is_valid() -> None:
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        json.loads(block)
    for line in _jsonl_block().splitlines():
        assert isinstance(json.loads(line), dict)


def test_docs_example_ingests_and_verifies(ledger_conn: psycopg.Connection, cli: Any) -> None:
    payload = _jsonl_block()
    lines = [json.loads(line) for line in payload.splitlines()]
    res = cli("ingest", "-", input=payload)
    assert res.exit_code == 0, res.stderr
    assert cli("verify").exit_code == 0
    run = run_events(ledger_conn, uuid.UUID(lines[0]["run_id"]))
    assert [s.event.type for s in run] == [line["type"] for line in lines if line["run_id"] ==
                                           lines[0]["run_id"]]
    ended = run[-1].event
    assert ended.data.last_hash == run[-2].leaf_hash.hex()  # type: ignore[attr-defined]
    assert ended.data.event_count == len(run)  # type: ignore[attr-defined]
    count = ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone()
    assert count is not None and count[0] == len(lines)


def test_runs_and_show_json(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any
) -> None:
    events = chained_run(2)
    append(ledger_conn, ledger_settings, events)
    res = cli("runs", "--json")
    assert res.exit_code == 0, res.stderr
    runs = json.loads(res.stdout)["runs"]
    assert [r["run_id"] for r in runs] == [str(events[0].run_id)]
    assert runs[0]["event_count"] == len(events)
    res = cli("show", str(events[0].run_id), "--json")
    assert res.exit_code == 0, res.stderr
    shown = json.loads(res.stdout)
    assert [item["event"]["run_seq"] for item in shown] == list(range(len(events)))
    assert [item["event"]["event_id"] for item in shown] == [str(e.event_id) for e in events]
    assert all(re.fullmatch(r"[0-9a-f]{64}", item["leaf_hash"]) for item in shown)


def test_db_status_json(cli: Any) -> None:
    res = cli("db", "status", "--json")
    assert res.exit_code == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["mode"] == "external"
    assert info["schema_version"] >= 1
    assert info["intake_pending"] == 0


def test_keys_show_json(ledger_settings: Settings, cli: Any) -> None:
    res = cli("keys", "show", "--json")
    assert res.exit_code == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["vkey"].startswith(info["name"] + "+")
    assert info["fingerprint"]
    key_file = Path(info["key_file"])
    assert key_file == ledger_settings.log_key_path
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = json.loads(cli("keys", "show", "--json").stdout)
    assert again == info


def test_checkpoint_is_a_signed_note_that_pins(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any, tmp_path: Path
) -> None:
    assert cli("checkpoint").exit_code == 1  # empty log: nothing to pin yet
    append(ledger_conn, ledger_settings, chained_run(1))
    res = cli("checkpoint")
    assert res.exit_code == 0, res.stderr
    vkey = json.loads(cli("keys", "show", "--json").stdout)["vkey"]
    note = open_note(res.stdout.encode(), [Verifier.from_vkey(vkey)])
    assert note.body.startswith(ledger_settings.origin(None).encode() + b"\n4\n")
    pin = tmp_path / "pin.note"
    pin.write_text(res.stdout)
    assert cli("verify", "--pin", str(pin)).exit_code == 0
    append(ledger_conn, ledger_settings, chained_run(1))
    assert cli("verify", "--pin", str(pin)).exit_code == 0  # the log grew consistently
    pin.write_text(res.stdout.replace("\n4\n", "\n5\n", 1))
    assert cli("verify", "--pin", str(pin)).exit_code == 2  # signature no longer matches


def test_demo_twice_adds_runs(ledger_conn: psycopg.Connection, cli: Any) -> None:
    first = cli("demo")
    assert first.exit_code == 0, first.stderr
    runs_once = len(json.loads(cli("runs", "--json").stdout)["runs"])
    assert runs_once >= 1
    second = cli("demo")
    assert second.exit_code == 0, second.stderr
    runs_twice = json.loads(cli("runs", "--json").stdout)["runs"]
    assert len(runs_twice) == 2 * runs_once
    assert cli("verify").exit_code == 0
