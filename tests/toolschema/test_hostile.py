"""A hostile writer's schemas: a permissive `{}` for a tool whose contract declares one, a
schema filed under another schema's digest, a malformed one, a huge one, a deeply nested one.
Each has one clear outcome; none makes an invalid call valid, none crashes replay."""

from __future__ import annotations

import hashlib

import ledger
import ledger.hooks as hooks
from ledger.canonical import canonical_bytes
from ledger.hooks.toolschema import ToolSchema, tool_schema
from replay.toolvalid import CallFacts, Validity, call_validity, compile_schema, load_schemas
from replay.undo.contracts import Contract, ContractRegistry

from .conftest import calls_of

REFUND = {"type": "object", "required": ["order_id"],
          "properties": {"order_id": {"type": "string"}}}


def _digest(schema: object) -> str:
    return hashlib.sha256(canonical_bytes(schema)).hexdigest()


def _forged(writer, tool: str, args: object, schema: ToolSchema) -> object:
    """A writer recording `schema` with its call (what a compromised agent process can do)."""
    with hooks.run(agent="hostile", user="mallory") as run:
        call = run.tool_started(tool, args, args_schema=schema)
        run.tool_ended(call, result="ok")
    writer.flush()
    return run


def _verdict(conn, settings, run, contracts: ContractRegistry | None = None) -> Validity:
    schemas = load_schemas(conn, settings, settings.origin(),
                           contracts=contracts or ContractRegistry())
    (facts,) = calls_of(conn, run.run_id)
    return call_validity(facts, schemas)


def test_permissive_schema_does_not_beat_the_contract(writer, ledger_conn, ledger_settings):
    run = _forged(writer, "refund", {"order_id": 7}, tool_schema({}))  # type: ignore[arg-type]
    assert _verdict(ledger_conn, ledger_settings, run).verdict == "valid"  # no contract
    contracts = ContractRegistry()
    contracts.add(Contract(tool="refund", version=1, effect_class="irreversible",
                           args_schema=REFUND))
    got = _verdict(ledger_conn, ledger_settings, run, contracts)
    assert got == Validity("invalid", "order_id: 7 is not of type 'string'")


def test_schema_under_another_digest_is_refused(writer, ledger_conn, ledger_settings):
    run = _forged(writer, "refund", {"order_id": 7}, ToolSchema(_digest(REFUND), {}))
    got = _verdict(ledger_conn, ledger_settings, run)
    assert got == Validity("unknown", "recorded schema refused: schema does not match its "
                                      "recorded digest")
    genuine = _forged(writer, "refund", {"order_id": "A"}, ToolSchema(_digest(REFUND), REFUND))
    assert _verdict(ledger_conn, ledger_settings, genuine).verdict == "valid"
    # once the genuine schema is on record, the forged copy no longer hides it
    assert _verdict(ledger_conn, ledger_settings, run) == Validity(
        "invalid", "order_id: 7 is not of type 'string'")


def test_malformed_schema_is_unknown(writer, ledger_conn, ledger_settings):
    bad = {"type": "intger"}
    run = _forged(writer, "refund", {"order_id": "A"}, ToolSchema(_digest(bad), bad))
    got = _verdict(ledger_conn, ledger_settings, run)
    assert got.verdict == "unknown"
    assert got.reason.startswith("recorded schema refused: not a valid JSON Schema: 'intger'")


def test_huge_schema_is_unknown(writer, ledger_conn, ledger_settings):
    huge = {"type": "object", "description": "x" * 70_000}
    assert tool_schema(huge) is None  # the hooks never capture one this big
    run = _forged(writer, "refund", {"order_id": "A"}, ToolSchema(_digest(huge), huge))
    got = _verdict(ledger_conn, ledger_settings, run)
    assert got == Validity("unknown", "recorded schema refused: schema too large "
                                      "(70034 bytes, at most 65536)")


def test_recorded_digest_without_schema_is_unknown():
    facts = CallFacts("refund", {"order_id": "A"}, schema_digest="0" * 64)
    from replay.toolvalid import Schemas

    assert call_validity(facts, Schemas()) == Validity(
        "unknown", "schema digest recorded but no schema")


def test_deep_and_odd_schemas_never_crash():
    deep: object = {"type": "string"}
    for _ in range(400):
        deep = {"not": deep}
    assert compile_schema(deep).refused == "schema is not canonical JSON"
    odd = compile_schema({"$schema": "http://example.invalid/none", "type": "object"})
    assert odd.is_valid is not None  # an unknown $schema falls back to 2020-12
    ref = compile_schema({"$ref": "http://example.invalid/schema.json"})
    assert ref.is_valid is not None
    from replay.toolvalid import Schemas

    schemas = Schemas(recorded={ref.digest: {"$ref": "http://example.invalid/schema.json"}})
    got = call_validity(CallFacts("t", {}, schema_digest=ref.digest), schemas)
    assert got.verdict == "unknown" and "could not be applied" in got.reason


@ledger.tool(name="noop")
def noop() -> None:
    """A tool without args still has a schema (an empty object)."""


def test_catastrophic_pattern_runs_in_linear_time():
    """`^(a+)+$` on 40 a's and a '!' backtracks ~2^40 steps under `re`: under RE2 it is a
    plain no, on the fast path and on jsonschema's (which a oneOf-free `not` forces)."""
    evil = {"type": "object", "properties": {"q": {"type": "string", "pattern": "^(a+)+$"}}}
    args = {"q": "a" * 40 + "!"}
    assert compile_schema(evil).is_valid(args) is False  # type: ignore[misc]
    slow_path = {"type": "object", "not": {"required": ["z"]},
                 "properties": {"q": {"type": "string", "pattern": "^(a+)+$"}}}
    compiled = compile_schema(slow_path)
    assert compiled.is_valid(args) is False  # type: ignore[misc]
    assert compiled.explain is not None and "does not match" in compiled.explain(args)


def test_patterns_re2_cannot_run_are_unknown_never_applied():
    for schema in ({"type": "string", "pattern": "(a)\\1"},
                   {"type": "object", "patternProperties": {"^(a+)+$": {"type": "string"}}}):
        got = compile_schema(schema)
        assert got.is_valid is None
        assert got.refused in {"schema has a pattern RE2 cannot run (backreference or "
                               "lookaround): not applied",
                               "schema uses patternProperties: not applied"}
