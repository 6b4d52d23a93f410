"""A fast yes/no JSON Schema check for the subset tool schemas use, as plain closures.

`jsonschema`'s `is_valid` costs ~50-100 us a call (its error machinery runs even for a yes), so
an SLO window of 200k calls took tens of seconds. Tool argument schemas (pydantic's, the Agents
SDK's, MCP's) use a small subset: types, properties, required, additionalProperties, items,
enum/const, bounds, anyOf/allOf/oneOf and local `$ref`s into `$defs`. This module compiles
that subset into closures (no code generation: a hostile recorded schema stays data, never
source, which is why fastjsonschema, which execs generated code, is not used); any other
keyword returns None and the caller uses jsonschema. tests/toolschema/test_fast.py checks that
both agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from typing import Any

from ledger.errors import LedgerError

__all__ = ["fast_validator", "regex_patterns", "safe_regex"]

Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "format", "$comment",
                          "deprecated", "readOnly", "writeOnly", "$defs", "definitions",
                          "$schema"})
_DRAFTS = frozenset({None, "https://json-schema.org/draft/2020-12/schema",
                     "https://json-schema.org/draft/2019-09/schema",
                     "http://json-schema.org/draft-07/schema#",
                     "http://json-schema.org/draft-07/schema"})
_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and math.isfinite(v) and v.is_integer()),
}


class _Outside(LedgerError):
    """The schema uses something this subset does not implement (caught here, never raised
    out of this module: the caller falls back to jsonschema)."""


def fast_validator(schema: Any) -> Check | None:
    """A yes/no check equal to JSON Schema validation for this schema, or None when the schema
    is outside the subset (the caller then uses jsonschema). The schema must already have
    passed `check_schema`."""
    if schema is True or schema == {}:
        return lambda v: True
    if not isinstance(schema, dict) or schema.get("$schema") not in _DRAFTS:
        return None
    if "draft-07" in str(schema.get("$schema")) and '"$ref"' in repr(schema).replace("'", '"'):
        return None  # draft 7 ignores a $ref's siblings; 2019-09 and later apply them
    defs: dict[str, Check] = {}
    try:
        for key in ("$defs", "definitions"):
            for name in schema.get(key) or {}:
                defs[f"#/{key}/{name}"] = _lazy(defs, f"#/{key}/{name}")
        compiled = {ref: _compile(_resolve(schema, ref), defs) for ref in list(defs)}
        defs.update(compiled)
        return _compile(schema, defs)
    except (_Outside, KeyError, TypeError, ValueError, re.error, RecursionError):
        return None


def _resolve(root: dict[str, Any], ref: str) -> Any:
    _, key, name = ref.split("/", 2)
    return root[key][name]


def _lazy(defs: dict[str, Check], ref: str) -> Check:
    return lambda v: defs[ref](v)  # noqa: PLW0108 (late: the entry is replaced once built)


def _compile(schema: Any, defs: dict[str, Check]) -> Check:
    if schema is True:
        return lambda v: True
    if schema is False:
        return lambda v: False
    if not isinstance(schema, dict):
        raise _Outside
    checks: list[Check] = []
    if "$ref" in schema:
        ref = schema["$ref"]
        if ref not in defs:
            raise _Outside
        checks.append(_lazy(defs, ref))
    for key, value in schema.items():
        if key in _ANNOTATIONS or key == "$ref" or key in _OBJECT or key in _SIBLINGS:
            continue
        build = _KEYWORDS.get(key)
        if build is None:
            raise _Outside
        checks.append(build(value, defs))
    if any(k in schema for k in _OBJECT):
        checks.append(_object(schema, defs))
    if any(k in schema for k in _SIBLINGS):
        checks.append(_bounds(schema))
    return _every(checks)


def _every(checks: list[Check]) -> Check:
    """All of the checks, with the common one- and two-check cases unrolled."""
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)

    def every(v: Any) -> bool:
        for check in checks:
            if not check(v):
                return False
        return True

    return every


def _type(value: Any, defs: dict[str, Check]) -> Check:
    names = [value] if isinstance(value, str) else list(value)
    tests = [_TYPES[n] for n in names]
    if len(tests) == 1:
        return tests[0]
    return lambda v: any(t(v) for t in tests)


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1; arrays and objects compared deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _enum(value: Any, defs: dict[str, Check]) -> Check:
    options = list(value)
    return lambda v: any(_equal(v, o) for o in options)


def _const(value: Any, defs: dict[str, Check]) -> Check:
    return lambda v: _equal(v, value)


def _any_of(value: Any, defs: dict[str, Check]) -> Check:
    subs = [_compile(s, defs) for s in value]
    return lambda v: any(s(v) for s in subs)


def _all_of(value: Any, defs: dict[str, Check]) -> Check:
    subs = [_compile(s, defs) for s in value]
    return lambda v: all(s(v) for s in subs)


def _one_of(value: Any, defs: dict[str, Check]) -> Check:
    subs = [_compile(s, defs) for s in value]
    return lambda v: sum(1 for s in subs if s(v)) == 1


def _items(value: Any, defs: dict[str, Check]) -> Check:
    if not isinstance(value, dict | bool):  # draft-4 tuple form: not in the subset
        raise _Outside
    sub = _compile(value, defs)
    return lambda v: not isinstance(v, list) or all(sub(x) for x in v)


def _pattern(value: Any, defs: dict[str, Check]) -> Check:
    rx = safe_regex(value)
    if rx is None:
        raise _Outside
    return lambda v: not isinstance(v, str) or rx.search(v) is not None


@cache
def _quiet() -> Any:
    import re2  # type: ignore[import-untyped]

    options = re2.Options()
    options.log_errors = False  # re2 would print the (writer's) pattern to stderr
    return options


@lru_cache(maxsize=1024)
def safe_regex(pattern: Any) -> Any | None:
    """A recorded schema's `pattern`, compiled by RE2 (linear time), or None when RE2 cannot
    take it (backreferences, lookaround). Why not `re`: a schema is the writer's data, and a
    catastrophic-backtracking pattern would stall every SLO computation that validates args."""
    import re2

    if not isinstance(pattern, str):
        return None
    try:
        return re2.compile(pattern, _quiet())
    except Exception:  # re2.error and friends: not an RE2 pattern
        return None


def regex_patterns(schema: Any) -> Iterator[Any]:
    """Every `pattern` a schema holds (anywhere, also where a keyword is only a property name:
    refusing a schema too often is unknown, never a wrong verdict)."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    yield value
                stack.append(value)


_KEYWORDS: dict[str, Callable[[Any, dict[str, Check]], Check]] = {
    "type": _type, "enum": _enum, "const": _const, "anyOf": _any_of, "allOf": _all_of,
    "oneOf": _one_of, "items": _items, "pattern": _pattern,
}
_OBJECT = frozenset({"properties", "required", "additionalProperties"})
_SIBLINGS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                       "minLength", "maxLength", "minItems", "maxItems"})


def _object(schema: dict[str, Any], defs: dict[str, Check]) -> Check:
    props = {k: _compile(s, defs) for k, s in (schema.get("properties") or {}).items()}
    required = list(schema.get("required") or ())
    extra = schema.get("additionalProperties", True)
    other = None if extra is True else _compile(extra, defs)

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        if any(k not in v for k in required):
            return False
        for key, item in v.items():
            sub = props.get(key, other)
            if sub is not None and not sub(item):
                return False
        return True

    return check


def _bounds(schema: dict[str, Any]) -> Check:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if any(isinstance(b, bool) for b in (xlo, xhi)):  # draft-4 boolean form
        raise _Outside
    nlo, nhi = schema.get("minLength"), schema.get("maxLength")
    ilo, ihi = schema.get("minItems"), schema.get("maxItems")

    def check(v: Any) -> bool:
        if isinstance(v, int | float) and not isinstance(v, bool):
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                return False
            if (xlo is not None and v <= xlo) or (xhi is not None and v >= xhi):
                return False
        elif isinstance(v, str):
            if (nlo is not None and len(v) < nlo) or (nhi is not None and len(v) > nhi):
                return False
        elif isinstance(v, list):
            if (ilo is not None and len(v) < ilo) or (ihi is not None and len(v) > ihi):
                return False
        return True

    return check
