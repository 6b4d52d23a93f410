"""`@ledger.tool` records its argument schema: from the type hints, or `args_schema=`; the
schema once per run per digest, the digest on every call."""

from __future__ import annotations

from pydantic import BaseModel

import ledger
import ledger.hooks as hooks
from ledger.hooks.toolschema import function_schema, tool_schema

from .conftest import starts_of


@ledger.tool(name="refund")
def refund(order_id: str, amount_usd: int, note: str = "") -> str:
    """Refund an order."""
    return f"refunded {order_id}"


class Ticket(BaseModel):
    ticket_id: str


@ledger.tool(name="close", args_schema=Ticket)
def close(**kwargs: object) -> str:
    """A tool whose signature says nothing: its schema is declared."""
    return "closed"


def test_schema_from_type_hints_recorded_once_per_run(writer, ledger_conn):
    runs = []
    for _ in range(2):
        with hooks.run(agent="schemas", user="alice") as run:
            refund("A-1", 10)
            refund("A-2", 20)
        runs.append(run)
    writer.flush()
    expected = function_schema(refund.__wrapped__)  # type: ignore[attr-defined]
    assert expected is not None
    assert expected.schema["required"] == ["order_id", "amount_usd"]
    assert expected.schema["properties"]["amount_usd"]["type"] == "integer"
    for run in runs:
        first, second = starts_of(ledger_conn, run.run_id)
        assert first.args_schema_digest == second.args_schema_digest == expected.digest
        assert first.args_schema == expected.schema
        assert second.args_schema is None


def test_declared_args_schema_wins_over_the_signature(writer, ledger_conn):
    with hooks.run(agent="schemas", user="alice") as run:
        close(ticket_id="T-1")
    writer.flush()
    (start,) = starts_of(ledger_conn, run.run_id)
    declared = tool_schema(Ticket.model_json_schema())
    assert declared is not None
    assert start.args_schema_digest == declared.digest
    assert start.args_schema["required"] == ["ticket_id"]


def test_varargs_tool_has_no_schema(writer, ledger_conn):
    @ledger.tool(name="anything")
    def anything(*args: object) -> int:
        return len(args)

    with hooks.run(agent="schemas", user="alice") as run:
        anything(1, 2)
    writer.flush()
    (start,) = starts_of(ledger_conn, run.run_id)
    assert start.args_schema_digest is None and start.args_schema is None
