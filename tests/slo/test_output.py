"""What `ledger slo` / `ledger versions` print for the cases a reader could misread
(walk-through findings 7 and 16): writer-recorded text with line breaks and escapes, a version
with only gate runs, spend nobody priced, and a name that matches nothing."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

import ledger
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence

from .conftest import GATE, judge, lookup

FORGED = "m\r\nPASS: every SLO met\x1b[2J"


def _sync(conn: psycopg.Connection, settings: Settings, writer: Writer) -> None:
    writer.flush(10)
    try_sequence(conn, settings, wait=True)


def test_writer_text_cannot_forge_lines(ledger_conn: psycopg.Connection,
                                        ledger_settings: Settings, writer: Writer, icli: Any,
                                        tmp_path: Any) -> None:
    with ledger.run(agent="evil\x1b]0;pwned\x07", prompt_version="p/v1\nFAKE", model=FORGED):
        lookup("acct")
    _sync(ledger_conn, ledger_settings, writer)
    objectives = tmp_path / "slo.yaml"
    objectives.write_text("objectives: [{sli: task_completion, target: 0.5, window: 30d}]\n")
    res = icli("slo", "--objectives", str(objectives))
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == ("evil\\x1b]0;pwned\\x07  prompt=p/v1\\x0aFAKE "
                        "model=m\\x0d\\x0aPASS: every SLO met\\x1b[2J  (1 runs)")
    assert not any(x.startswith(("PASS", "FAKE")) for x in lines)
    assert "\x1b" not in res.stdout and "\r" not in res.stdout
    row = [x for x in lines if x.startswith("task_completion ")][-1]  # the objectives table
    assert "evil\\x1b]0;pwned\\x07" in row and "m\\x0d\\x0aPASS" in row


def test_gate_only_version_unpriced_spend_and_nothing_matched(
        ledger_conn: psycopg.Connection, ledger_settings: Settings, writer: Writer,
        icli: Any) -> None:
    gate_ids = []
    for _ in range(3):
        with ledger.run(agent="helper", prompt_version="helper/v1", model="gpt-4o-mini",
                        attributes={"gate": GATE}) as run:
            lookup("acct")
        gate_ids.append(run.run_id)
    with ledger.run(agent="helper", prompt_version="helper/v2", model="m1") as run:
        run.llm_call(model="m1", input_tokens=1000, output_tokens=10)  # no price for m1
    _sync(ledger_conn, ledger_settings, writer)
    judge(ledger_conn, ledger_settings, gate_ids)
    res = icli("slo", "--agent", "helper")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == ("helper  prompt=helper/v1 model=gpt-4o-mini  (0 runs: only 3 gate runs, "
                        "excluded; --include-gate to count them)")
    assert lines[1] == "helper  prompt=helper/v2 model=m1  (1 runs)"
    cost = next(x for x in lines if x.startswith("cost_per_resolved_usd "))
    assert cost.split()[1] == "unknown" and "0.0000" not in cost
    assert "no priced spend recorded" in cost
    (row,) = [r for r in json.loads(icli("slo", "--agent", "helper", "--json").stdout)["rows"]
              if r["runs"]]
    (sli,) = [s for s in row["slis"] if s["name"] == "cost_per_resolved_usd"]
    assert (sli["value"], sli["numerator"], sli["denominator"]) == (None, None, 1)

    nobody = icli("slo", "--agent", "nobody")
    assert (nobody.exit_code, nobody.stdout) == (
        1, "nothing matched: no runs of that agent/version in the window\n")
    versions = icli("versions", "nobody")
    assert (versions.exit_code, versions.stdout) == (
        1, "nothing matched: no runs of agent nobody in the ledger\n")


@pytest.mark.parametrize("args", [("slo",), ("slo", "--since", "2099-01-01")])
def test_no_filter_and_no_runs_is_not_an_error(icli: Any, args: tuple[str, ...]) -> None:
    res = icli(*args)
    assert (res.exit_code, res.stdout) == (0, "no runs in the window\n")
