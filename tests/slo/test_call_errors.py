"""Tool errors in the tool-call validity SLI are decided at insert (migration 0023's
`ledger_call_errored`, the partial index the SLI counts from): a call that ended with status
"error" counts, a call that succeeded with a result quoting `"status":"error"` does not."""

from __future__ import annotations

import psycopg

import ledger
import ledger.hooks as hooks
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence
from replay.slo.slis import compute_slis

from .conftest import broken


@hooks.tool(name="crm.report")
def report(record: str) -> dict[str, str]:
    return {"record": record, "status": "error"}  # the tool worked; its answer says "error"


def test_a_result_quoting_error_is_not_a_tool_error(ledger_conn: psycopg.Connection,
                                                    ledger_settings: Settings,
                                                    writer: Writer) -> None:
    with ledger.run(agent="sales", prompt_version="sales/v4", model="gpt-4o-mini"):
        report("acct-1")
        try:
            broken("acct-2")
        except ValueError:
            pass
    writer.flush(10)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    quoted = ledger_conn.execute(
        "SELECT count(*) FROM ledger_events WHERE type = 'tool.call.ended'"
        " AND position('\"status\":\"error\"'::bytea IN body) > 0").fetchone()
    assert quoted == (2,)  # both bodies hold the bytes: only one call errored
    (row,) = compute_slis(ledger_conn, ledger_settings).rows
    validity = row.sli("tool_call_validity")
    assert "1 tool errors" in validity.note
    assert (validity.numerator, validity.denominator) == (1, 2)


@hooks.tool(name="crm.count", args_schema={
    "type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
def count_tool(n: object) -> object:
    return n


def test_repeated_calls_each_count_once_per_call(ledger_conn: psycopg.Connection,
                                                 ledger_settings: Settings,
                                                 writer: Writer) -> None:
    """Identical calls are validated once (slo_tool_calls groups them) but counted per call."""
    with ledger.run(agent="sales", prompt_version="sales/v4", model="gpt-4o-mini"):
        for _ in range(3):
            count_tool(n=1)
        for _ in range(2):
            count_tool(n="one")  # against the declared schema: invalid args, no tool error
    writer.flush(10)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    (row,) = compute_slis(ledger_conn, ledger_settings).rows
    validity = row.sli("tool_call_validity")
    assert (validity.numerator, validity.denominator) == (3, 5)
    assert "0 tool errors" in validity.note
