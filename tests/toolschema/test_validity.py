"""Verdicts on real recorded calls, read back through `load_schemas` (the SQL path the SLO
computation uses): valid, wrong type, missing required arg, tool error, no schema; the effect
contract's schema wins over the recorded one."""

from __future__ import annotations

import pytest

import ledger
import ledger.hooks as hooks
from replay.toolvalid import Validity, call_validity, load_schemas
from replay.undo.contracts import Contract, ContractError, ContractRegistry

from .conftest import calls_of


@ledger.tool(name="refund")
def refund(order_id: str, amount_usd: int) -> str:
    """Refund an order."""
    return f"refunded {order_id}"


@ledger.tool(name="flaky")
def flaky_tool(order_id: str) -> str:
    """Always fails."""
    raise RuntimeError("crm is down")


def _record(writer) -> list:
    with hooks.run(agent="validity", user="alice") as run:
        refund("A-1", 10)                    # valid
        refund("A-2", "ten")                 # wrong type (Python does not check)
        with pytest.raises(TypeError):
            refund(order_id="A-3")           # missing required arg (the call raises too)
        with pytest.raises(RuntimeError):
            flaky_tool("A-4")                # valid args, tool error
        call = run.tool_started("legacy", {"x": 1})  # no schema captured
        run.tool_ended(call, result="ok")
    writer.flush()
    return run


def _contract(**schema_overrides: object) -> ContractRegistry:
    registry = ContractRegistry()
    registry.add(Contract(tool="refund", version=1, effect_class="irreversible", args_schema={
        "type": "object", "required": ["order_id", "amount_usd"],
        "properties": {"order_id": {"type": "string"},
                       "amount_usd": {"type": "integer", "maximum": 5}}, **schema_overrides}))
    return registry


def test_verdicts_of_recorded_calls(writer, ledger_conn, ledger_settings):
    run = _record(writer)
    schemas = load_schemas(ledger_conn, ledger_settings, ledger_settings.origin(),
                           contracts=ContractRegistry())
    got = [call_validity(c, schemas) for c in calls_of(ledger_conn, run.run_id)]
    assert got[0] == Validity("valid", "args match the recorded schema")
    assert got[1] == Validity("invalid", "amount_usd: 'ten' is not of type 'integer'")
    assert got[2].verdict == "invalid" and "required" in got[2].reason
    assert got[3] == Validity("invalid", "tool error")
    assert got[4] == Validity("unknown", "no schema")


def test_contract_schema_wins(writer, ledger_conn, ledger_settings):
    run = _record(writer)
    schemas = load_schemas(ledger_conn, ledger_settings, ledger_settings.origin(),
                           contracts=_contract())
    first = call_validity(calls_of(ledger_conn, run.run_id)[0], schemas)
    assert first == Validity("invalid", "amount_usd: 10 is greater than the maximum of 5")


def test_contract_args_schema_must_be_json_schema():
    with pytest.raises(ValueError, match="not a JSON Schema"):
        Contract(tool="refund", version=1, effect_class="irreversible",
                 args_schema={"type": "intger"})
    assert issubclass(ContractError, ValueError)


def test_contract_digest_unchanged_without_args_schema():
    plain = Contract(tool="refund", version=1, effect_class="irreversible")
    assert "args_schema" not in plain.model_dump(mode="json", exclude_none=True)
