"""Tool-call validity says whose schema judged a call (walk-through finding 8): a schema the
writer recorded is the agent's own claim (a permissive `{}` passes every call), a schema the
effect contract declares wins over it. Recorded through the real hooks, the real CLI."""

from __future__ import annotations

import json
from typing import Any

import psycopg

import ledger
import ledger.hooks as hooks
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence

CONTRACT = """\
tool: crm.delete
version: 1
description: Delete a CRM record.
effect_class: irreversible
args_schema:
  type: object
  required: [record]
  properties: {record: {type: string}}
"""


@hooks.tool(name="crm.delete", args_schema={})
def delete(record: Any, **kw: Any) -> str:
    return "ok"


@hooks.tool(name="crm.note", args_schema={})
def note(text: Any, **kw: Any) -> str:
    return "ok"


def test_share_of_calls_judged_by_contract_and_writer_schema(
        ledger_conn: psycopg.Connection, ledger_settings: Settings, writer: Writer,
        icli: Any) -> None:
    (ledger_settings.home / "contracts").mkdir(parents=True, exist_ok=True)
    (ledger_settings.home / "contracts" / "crm.yaml").write_text(CONTRACT)
    with ledger.run(agent="schemaatk", prompt_version="sa/v1", model="gpt-4o-mini"):
        delete({"drop": "everything"}, junk=1)  # the contract's schema: invalid
        note({"drop": "everything"}, junk=1)    # only the writer's `{}`: "valid"
    writer.flush(10)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    res = icli("slo", "--agent", "schemaatk")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[1] == ("  tool calls judged by a schema: 1 by a contract-declared one, 1 by a "
                        "writer-recorded one (the agent's own claim)")
    row = next(x for x in lines if x.startswith("tool_call_validity "))
    assert row.split()[1:3] == ["50.0%", "1/2"]
    assert row.endswith("0 tool errors, 0 of 2 calls without a schema, 1 judged by a contract "
                        "schema, 1 by a writer-recorded one")
    (data,) = json.loads(icli("slo", "--agent", "schemaatk", "--json").stdout)["rows"]
    assert data["calls_judged_by_schema"] == {"contract": 1, "writer_recorded": 1}
