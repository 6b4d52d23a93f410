"""Tool-call validity: were a call's args valid against its tool's JSON Schema, and did it work?

The "tool-call validity" SLI (replay/slo) asks this of every recorded call. The schema is the
one the tool's effect contract declares (`args_schema` in replay/undo/contracts.py) when it has
one, else the one the hooks captured from the framework's tool definition and recorded in the
run (docs/hooks.md "Tool schemas"). A writer-recorded schema never overrides a contract's: a
writer that records `{}` for a tool whose contract declares a schema changes nothing.

Where the facts live (for SQL; `ledger_events.body` is canonical JSON bytes, read it as
`convert_from(body, 'UTF8')::jsonb`):

- `type = 'tool.call.started'`: `#>> '{data,tool}'`, `#> '{data,args}'`,
  `#>> '{data,args_schema_digest}'` (every call whose tool had a schema),
  `#> '{data,args_schema}'` (the schema, on the first call of that digest in each run),
  `#>> '{data,contract_digest}'`.
- `type = 'tool.call.ended'` (same `{data,tool_call_id}`): `#>> '{data,status}'`
  (`ok`/`error`/`cancelled`/`refused`) and `#> '{data,error}'`.

Verdicts: `invalid` when the args fail the schema or the tool ended with `error` (reason
"tool error"); `unknown` when there is no schema, or the only schema is unusable (not JSON
Schema, too big, not matching its digest); else `valid`. Validators are compiled once per schema
digest and cached for the process (schemas are content-addressed, so a cached validator is
never stale); format checking is off (formats are annotations in JSON Schema 2020-12).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import orjson

from ledger.canonical import canonical_bytes
from ledger.db.sqlfiles import query
from ledger.event_data import MAX_ARGS_SCHEMA_BYTES

if TYPE_CHECKING:
    import psycopg

    from ledger.config import Settings
    from replay.undo.contracts import Contract, ContractRegistry

__all__ = ["CallFacts", "Compiled", "Schemas", "Validity", "call_validity", "compile_schema",
           "load_schemas", "many_validity"]

Verdict = Literal["valid", "invalid", "unknown"]
_REASON_CHARS = 200  # a reason quotes attacker-controlled args: keep it short
_MAX_COMPILED = 10_000


@dataclass(frozen=True, slots=True)
class CallFacts:
    """One recorded call: its tool.call.started data and its tool.call.ended status."""

    tool: str
    args: Any
    schema_digest: str | None = None
    contract_digest: str | None = None
    status: str | None = None  # None: the call has no recorded outcome (open)
    error: Any = None


@dataclass(frozen=True, slots=True)
class Validity:
    """A call's verdict and why (reason text may quote recorded args: print it escaped)."""

    verdict: Verdict
    reason: str


@dataclass(frozen=True, slots=True)
class Compiled:
    """A schema ready to apply, or the reason it is refused (then `is_valid` is None)."""

    digest: str
    is_valid: Callable[[Any], bool] | None
    explain: Callable[[Any], str] | None = None
    refused: str | None = None


def _refused(digest: str, reason: str) -> Compiled:
    return Compiled(digest, None, None, reason)


def compile_schema(schema: Any, digest: str | None = None) -> Compiled:
    """Check a schema and build its validator (cached by digest). `digest` is what the event
    claimed; a schema that does not hash to it is refused, never filed under it."""
    try:
        data = canonical_bytes(schema)
    except Exception:
        return _refused(digest or "", "schema is not canonical JSON")
    actual = hashlib.sha256(data).hexdigest()
    if digest is not None and digest != actual:
        return _refused(digest, "schema does not match its recorded digest")
    hit = _CACHE.get(actual)
    if hit is not None:
        return hit
    compiled = _compile(schema, actual, len(data))
    _CACHE.put(actual, compiled)
    return compiled


def _compile(schema: Any, digest: str, size: int) -> Compiled:
    from jsonschema import SchemaError
    from jsonschema.exceptions import best_match
    from jsonschema.validators import Draft202012Validator, validator_for
    from jsonschema_specifications import REGISTRY as METASCHEMAS

    if size > MAX_ARGS_SCHEMA_BYTES:
        return _refused(digest, f"schema too large ({size} bytes, at most "
                                f"{MAX_ARGS_SCHEMA_BYTES})")
    if not isinstance(schema, dict | bool):
        return _refused(digest, "schema is not a JSON object")
    from replay.toolvalid_fast import regex_patterns, safe_regex

    if '"patternProperties"' in canonical_bytes(schema).decode():
        return _refused(digest, "schema uses patternProperties: not applied")
    if any(safe_regex(p) is None for p in regex_patterns(schema)):
        return _refused(digest, "schema has a pattern RE2 cannot run (backreference or "
                                "lookaround): not applied")
    try:
        cls = _re2_patterns(validator_for(schema, default=Draft202012Validator))
        cls.check_schema(schema)
        # no format_checker (formats are not asserted); a registry without retrieval, so a
        # recorded `$ref` to a URL is never fetched (unresolvable: the verdict is unknown)
        validator = cls(schema, registry=METASCHEMAS)
    except SchemaError as exc:
        return _refused(digest, f"not a valid JSON Schema: {_short(exc.message)}")
    except Exception as exc:  # a hostile schema (deep nesting, odd $schema): refused, no crash
        return _refused(digest, f"schema could not be compiled ({type(exc).__name__})")

    from replay.toolvalid_fast import fast_validator

    fast = fast_validator(schema)  # the common subset as closures; else jsonschema's own

    def explain(args: Any) -> str:
        error = best_match(validator.iter_errors(args))
        if error is None:
            return "args do not match the schema"
        where = "/".join(str(p) for p in error.absolute_path) or "args"
        return _short(f"{where}: {error.message}")

    return Compiled(digest, fast or validator.is_valid, explain)


def _re2_patterns(cls: Any) -> Any:
    """jsonschema's validator class with `pattern` / `patternProperties` run by RE2, never by
    `re` (a recorded schema is a writer's data: no backtracking blow-up). `patternProperties`
    is refused before (jsonschema matches its keys with `re` inside additionalProperties)."""
    from jsonschema import ValidationError
    from jsonschema.validators import extend

    from replay.toolvalid_fast import safe_regex

    def pattern(validator: Any, value: str, instance: Any, _schema: Any) -> Any:
        rx = safe_regex(value)
        if validator.is_type(instance, "string") and rx is not None and not rx.search(instance):
            yield ValidationError(f"{instance!r} does not match {value!r}")

    return extend(cls, {"pattern": pattern})


def _matches(schema: Any, digest: str) -> bool:
    try:
        return hashlib.sha256(canonical_bytes(schema)).hexdigest() == digest
    except Exception:
        return False


def _short(text: str) -> str:
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."


class _Compiled:
    """The process-wide validators by digest (content-addressed: never stale), bounded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_digest: dict[str, Compiled] = {}

    def get(self, digest: str) -> Compiled | None:
        return self._by_digest.get(digest)

    def put(self, digest: str, compiled: Compiled) -> None:
        with self._lock:
            if len(self._by_digest) >= _MAX_COMPILED:
                self._by_digest.clear()
            self._by_digest[digest] = compiled

    def clear(self) -> None:
        with self._lock:
            self._by_digest.clear()


_CACHE = _Compiled()


@dataclass
class Schemas:
    """The schemas a window of calls may use: recorded ones by digest, and the contracts."""

    recorded: dict[str, Any] = field(default_factory=dict)  # digest -> schema as recorded
    contracts: ContractRegistry | None = None
    _compiled: dict[str, Compiled] = field(default_factory=dict, repr=False)
    _by_contract: dict[tuple[str, str | None], Compiled | None] = field(
        default_factory=dict, repr=False)

    def add_recorded(self, digest: str, schema: Any) -> None:
        """File a recorded schema under its digest; one that does not hash to it is kept only
        while nothing better is known (then refused when compiled), so a forged schema
        recorded first cannot hide the genuine one."""
        if digest in self.recorded and not _matches(self.recorded[digest], digest):
            del self.recorded[digest]
            self._compiled.pop(digest, None)
        if digest not in self.recorded:
            self.recorded[digest] = schema

    def for_digest(self, digest: str) -> Compiled | None:
        """The recorded schema of this digest, compiled once; None when none was recorded."""
        hit = self._compiled.get(digest)
        if hit is None:
            if digest not in self.recorded:
                return None
            hit = compile_schema(self.recorded[digest], digest)
            self._compiled[digest] = hit
        return hit

    def for_contract(self, tool: str, contract_digest: str | None) -> Compiled | None:
        """The schema the tool's contract declares: the recorded contract's when it declares
        one, else the one in force (a writer cannot dodge it with a wrong contract digest)."""
        key = (tool, contract_digest)
        if key in self._by_contract:
            return self._by_contract[key]
        found: Compiled | None = None
        contract = self._declaring(tool, contract_digest)
        if contract is not None:
            found = compile_schema(contract.args_schema)
        self._by_contract[key] = found
        return found

    def _declaring(self, tool: str, contract_digest: str | None) -> Contract | None:
        if self.contracts is None:
            return None
        recorded = self.contracts.by_digest.get(contract_digest) if contract_digest else None
        for contract in (recorded, self.contracts.in_force(tool)):
            if contract is not None and contract.tool == tool and contract.args_schema is not None:
                return contract
        return None


def call_validity(facts: CallFacts, schemas: Schemas) -> Validity:
    """The verdict of one call: args against the contract's schema (else the recorded one),
    then its outcome. A tool error is invalid even without a schema."""
    compiled = schemas.for_contract(facts.tool, facts.contract_digest)
    source = "contract"
    if compiled is None and facts.schema_digest is not None:
        compiled = schemas.for_digest(facts.schema_digest)
        source = "recorded"
        if compiled is None:
            return _outcome(facts, "unknown", "schema digest recorded but no schema")
    if compiled is None:
        return _outcome(facts, "unknown", "no schema")
    if compiled.is_valid is None:
        return _outcome(facts, "unknown", f"{source} schema refused: {compiled.refused}")
    try:
        ok = compiled.is_valid(facts.args)
    except Exception as exc:  # an unresolvable $ref, a recursion: undecided, never a crash
        return _outcome(facts, "unknown", f"{source} schema could not be applied "
                                          f"({type(exc).__name__})")
    if not ok:
        assert compiled.explain is not None
        return Validity("invalid", compiled.explain(facts.args))
    return _outcome(facts, "valid", f"args match the {source} schema")


def _outcome(facts: CallFacts, verdict: Verdict, reason: str) -> Validity:
    if facts.status == "error":
        return Validity("invalid", "tool error")
    return Validity(verdict, reason)


def many_validity(calls: Iterable[CallFacts], schemas: Schemas) -> list[Validity]:
    """`call_validity` of each call (one Schemas, so each validator is compiled once)."""
    return [call_validity(facts, schemas) for facts in calls]


def load_schemas(conn: psycopg.Connection[Any], settings: Settings, origin: str, *,
                 contracts: ContractRegistry | None = None,
                 digests: Iterable[str] | None = None) -> Schemas:
    """The schemas recorded in `origin` (all, or only `digests`) and the effect contracts
    (`contracts`, else the ones `ledger undo` reads: --contracts, $LEDGER_CONTRACTS,
    <home>/contracts, the shipped examples). Validators compile lazily, once per digest."""
    if contracts is None:
        from replay.undo.service import contract_sources, load_registry

        contracts = load_registry(contract_sources(settings))
    wanted = sorted(set(digests)) if digests is not None else None
    schemas = Schemas(contracts=contracts)
    with conn.cursor() as cur:
        cur.execute(query("tool_args_schemas"), {"origin": origin, "digests": wanted})
        for digest, raw in cur:
            schemas.add_recorded(str(digest), _decode(raw))
    return schemas


def _decode(raw: Any) -> Any:
    """The schema column (jsonb text): decoded here, so a huge one costs one parse."""
    if isinstance(raw, bytes | str):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
    return raw


def schemas_from(recorded: Mapping[str, Any],
                 contracts: ContractRegistry | None = None) -> Schemas:
    """A Schemas from schemas already in hand (tests, a caller that read the events)."""
    schemas = Schemas(contracts=contracts)
    for digest, schema in recorded.items():
        schemas.add_recorded(digest, schema)
    return schemas
