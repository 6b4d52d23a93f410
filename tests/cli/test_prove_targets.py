"""`ledger prove TARGET`: an event id, the tool_call_id `ledger check` cites, or a seq.

Issue 18: `prove` refused the tool_call_id that `check` prints as evidence. Each form must name
exactly one event, and the proof must verify offline with `ledger verify-proof`; a target
naming several events is a usage error (exit 2, one line with the candidates), one naming none
is ProofUnavailable (exit 1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.config import Settings
from ledger.errors import ExitCode, InputError
from ledger.proofs import ProofUnavailable, resolve_event
from tests.cli.conftest import Main
from tests.ledgerkit import append, chained_run


def _env(settings: Settings) -> dict[str, str]:
    return {"LEDGER_DSN": settings.dsn or "", "LEDGER_HOME": str(settings.home)}


def test_a_tool_call_id_and_a_seq_prove_the_event_they_name(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any, main: Main,
    tmp_path: Path,
) -> None:
    run = chained_run(2)  # tool calls t0 and t1: seq 1 is t0's tool.call.started
    append(ledger_conn, ledger_settings, run)
    started = run[3]  # t1's tool.call.started
    res = cli("prove", "t1", "--out", str(tmp_path / "call.json"))  # the console script
    assert res.exit_code == 0, res.stderr
    doc = json.loads((tmp_path / "call.json").read_text())
    assert (doc["event_id"], doc["seq"]) == (str(started.event_id), 3)
    env = _env(ledger_settings)
    ok = main("verify-proof", str(tmp_path / "call.json"), env=env)
    assert (ok.exit_code, ok.stdout.split(" against")[0]) == (0, "OK: inclusion proof valid")
    by_seq = main("prove", "3", env=env)
    assert by_seq.exit_code == 0, by_seq.stderr
    assert json.loads(by_seq.stdout)["event_id"] == str(started.event_id)
    origin = ledger_settings.origin()
    assert resolve_event(ledger_conn, str(started.event_id), origin) == started.event_id


def test_a_target_naming_several_events_is_refused_with_them(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, main: Main
) -> None:
    first, second = chained_run(1), chained_run(1, tenant="acme")  # both use tool_call_id t0
    append(ledger_conn, ledger_settings, first)
    append(ledger_conn, ledger_settings, second)
    res = main("prove", "t0", env=_env(ledger_settings))
    assert res.exit_code == ExitCode.USAGE, res.stderr
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("error: 't0' names 2 events (tool_call_id in ")
    assert line.endswith("prove one by its event id or narrow it with --tenant")
    acme = ledger_settings.origin("acme")
    assert resolve_event(ledger_conn, "t0", acme) == second[1].event_id
    with pytest.raises(InputError, match=r"'1' names 2 events \(seq 1 of "):
        resolve_event(ledger_conn, "1", None)  # seq 1 exists in both logs
    assert resolve_event(ledger_conn, "1", acme) == second[1].event_id
    with pytest.raises(ProofUnavailable, match="no sequenced event with event id, seq or"):
        resolve_event(ledger_conn, "t9", None)
    with pytest.raises(ProofUnavailable):
        resolve_event(ledger_conn, str(first[0].event_id), acme)  # in another log
