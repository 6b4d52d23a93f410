"""A key problem is detected before anything is stored (issue 15 item 3), from the operator's side.

With the log key file broken (unsafe permissions, not a key), every command that writes must fail
with one line and exit 4 *before* its event reaches intake: otherwise the event waits there, the
operator fixes the key and retries, and the retry stores a second copy of the same decision.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.keys import load_or_create_signer
from tests.ledgerkit import append, chained_run

POLICY = Path(__file__).resolve().parents[2] / "exporters/demo/policies/sales-support-v1.yaml"


def _counts(conn: psycopg.Connection) -> tuple[int, int]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM ledger_intake), (SELECT count(*) FROM ledger_events)"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _break(settings: Settings, how: str) -> None:
    key = settings.log_key_path
    if how == "mode":
        key.chmod(0o644)
    else:
        key.write_bytes(b"this is not a key\n")


def _registry(cli: Any, tmp_path: Path) -> tuple[Path, Path]:
    source = tmp_path / "registry.yaml"
    source.write_text("registry: {name: acme, version: 1, logs: ['*']}\nprincipals: [{id: dana}]\n")
    load_or_create_signer(tmp_path / "adm.key", "adm")
    assert cli("registry", "sign", str(source), "--key", str(tmp_path / "adm.key")).exit_code == 0
    return tmp_path / "registry.signed.json", tmp_path / "adm.key.pub"


def test_bad_log_key_stores_nothing_and_retry_does_not_duplicate(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any, tmp_path: Path
) -> None:
    append(ledger_conn, ledger_settings, chained_run(1))
    signed, root = _registry(cli, tmp_path)
    line = json.dumps({"type": "custom", "run_id": "0193f5b2-0000-7000-8000-0000000000aa",
                       "event_id": "0193f5b2-0000-7000-8000-0000000000ab",
                       "run_seq": 0, "data": {"name": "x"}}).encode() + b"\n"
    commands: list[tuple[tuple[str, ...], bytes | None]] = [
        (("ingest", "-"), line),
        (("policy", "publish", str(POLICY)), None),
        (("registry", "publish", str(signed), "--trust-root", str(root)), None),
    ]
    before = _counts(ledger_conn)
    good = ledger_settings.log_key_path.read_bytes()
    for (args, stdin), how in zip(commands, ["mode", "format", "mode"], strict=True):
        _break(ledger_settings, how)
        res = cli(*args, input=stdin)
        assert res.exit_code == 4, (args, res.stdout, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1 and "log.key" in res.stderr, res.stderr
        assert _counts(ledger_conn) == before, args  # nothing in intake, nothing in the log
    ledger_settings.log_key_path.write_bytes(good)
    ledger_settings.log_key_path.chmod(0o600)
    for args, stdin in commands:  # the retry stores each event exactly once
        assert cli(*args, input=stdin).exit_code == 0, args
    assert _counts(ledger_conn) == (0, before[1] + 3)
