"""The hooks decide every start of an enforced run and count in-flight LLM calls as unknown
cost (review r16b, findings 4 and 13): `enforcement.decisions` then holds for an honest run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

import ledger
from ledger.hooks.writer import Writer

from .conftest import stored
from .test_enforce_rules import check, publish

PACK = """\
mode: enforce
tools: {allow: [search, lookup]}
budgets: {max_usd_per_run: '1', on_unknown_cost: deny}
"""


@ledger.tool(name="lookup", side_effect=False)
def lookup(q: str) -> str:
    return q


def test_read_only_and_unwaited_starts_are_decided(
    writer: Writer, ledger_conn: psycopg.Connection, cli: Any, tmp_path: Path
) -> None:
    publish(cli, tmp_path, PACK)
    with ledger.run(agent="ro", user="ann") as run:
        assert lookup("a") == "a"
        call = run.tool_started("search", {"q": "b"})  # un-waited manual start
        run.tool_ended(call, result="done")
        run.flush()
        rid = run.run_id
    events = [(e.type, getattr(e.data, "tool", None)) for e in stored(ledger_conn, rid)
              if e.type in ("policy.decided", "tool.call.started")]
    assert events == [("policy.decided", "lookup"), ("tool.call.started", "lookup"),
                      ("policy.decided", "search"), ("tool.call.started", "search")]
    assert check(cli, rid)["enforcement.decisions"][0] == "pass"


def test_an_llm_call_in_flight_is_unknown_cost(
    writer: Writer, ledger_conn: psycopg.Connection, cli: Any, tmp_path: Path
) -> None:
    publish(cli, tmp_path, PACK)
    with ledger.run(agent="ro", user="ann") as run:
        llm = run.llm_started(model="gpt-4o")
        try:
            lookup("a")
            raise AssertionError("lookup ran with an LLM call of unknown cost in flight")
        except ledger.PolicyDenied as exc:
            assert exc.rules == ("budgets.max_usd_per_run",)
        run.llm_ended(llm, response_model="gpt-4o", input_tokens=1, output_tokens=1)
        assert lookup("b") == "b"
        rid = run.run_id
    assert check(cli, rid)["enforcement.decisions"][0] == "pass"
