"""Canonical bytes for hashing: RFC 8785 (JSON Canonicalization Scheme).

The ledger hashes and stores the exact canonical bytes of every event. JCS gives one byte
sequence per JSON value (sorted keys, minimal escapes, ES6 number form), so any language can
recompute a leaf from the parsed event. Parsing is strict: duplicate keys, NaN/Infinity and
non-UTF-8 input are refused, and `ensure_canonical` rejects bytes that are valid JSON but not in
canonical form, so two different byte strings can never stand for the same event.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import orjson
import rfc8785

from ledger.errors import InputError

__all__ = [
    "CanonicalError",
    "canonical_bytes",
    "content_hash",
    "ensure_canonical",
    "ensure_storable",
    "loads_strict",
]


class CanonicalError(InputError, ValueError):
    """Input that cannot be, or is not, in canonical form."""


def _orjson_safe(value: Any) -> bool:
    """True when orjson's sorted output is byte-identical to RFC 8785 for `value`.

    That holds for JSON without floats, with integers in the I-JSON range and without object
    keys outside the Basic Multilingual Plane (JCS sorts keys by UTF-16 code units, orjson by
    code points; they agree except for astral characters). Property-tested against rfc8785.
    """
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return bool(-_SAFE_INTEGER < value < _SAFE_INTEGER)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not _orjson_safe(item):
                return False
            if not key.isascii() and any(ord(c) > 0xFFFF for c in key):
                return False
        return True
    if kind is list:
        return all(_orjson_safe(item) for item in value)
    return False


def canonical_bytes(value: Any) -> bytes:
    """Serialise a JSON-compatible value to its RFC 8785 canonical bytes.

    Uses orjson (5-10x faster) where its sorted output is provably identical, else rfc8785.
    """
    try:
        if _orjson_safe(value):
            data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        else:
            data = bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        if "surrogate" in str(exc) or "non-UTF-8 codepoints" in str(exc):
            raise CanonicalError("a string holds a lone UTF-16 surrogate (not Unicode)") from None
        raise CanonicalError(f"value cannot be canonicalised: {exc}") from None
    return data


# In canonical JSON U+0000 can only appear as the escape \u0000 inside a string (RFC 8785 escapes
# every control character); it is that escape unless the backslash is itself escaped (\\u0000).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def ensure_storable(data: bytes) -> None:
    """Refuse canonical JSON holding U+0000 in a string or key (CanonicalError, one line).

    It is valid JSON, but PostgreSQL cannot hold it in `text` or `jsonb` ("\\u0000 cannot be
    converted to text"), and the log's expression indexes and readers cast bodies to jsonb: one
    such event stored would fail every sequencer batch that carries it (issue 15). Events are
    checked where they are made (`encode_event`) and at intake (`submit_encoded`); JCS itself
    (`canonical_bytes`, `ensure_canonical`, `content_hash`) allows U+0000.
    """
    if b"\\u0000" in data and _NUL_ESCAPE.search(data):
        raise CanonicalError(
            "a string or key holds U+0000 (NUL), which PostgreSQL cannot store in text or jsonb"
        )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CanonicalError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise CanonicalError(f"{name} is not valid JSON")


_SAFE_INTEGER = 2**53


def _parse_int(text: str) -> int | float:
    # JCS numbers are IEEE doubles: an integer beyond 2**53 is what a double serialises to
    # (e.g. 1e16 -> "10000000000000000"), so read it back as the double it stands for.
    value = int(text)
    return float(text) if abs(value) >= _SAFE_INTEGER else value


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise CanonicalError(f"number {text[:40]} is out of range for a double")
    return value


def loads_strict(data: bytes | str) -> Any:
    """Parse JSON, refusing duplicate keys, NaN/Infinity, out-of-range numbers, invalid UTF-8."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise CanonicalError(f"not valid UTF-8 at byte {exc.start}") from None
    try:
        return json.loads(
            data,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
        )
    except json.JSONDecodeError as exc:
        raise CanonicalError(f"malformed JSON: {exc.msg} at column {exc.colno}") from None


def ensure_canonical(data: bytes) -> Any:
    """Parse `data` and check that it already is in canonical form; return the parsed value."""
    try:
        fast = orjson.loads(data)
    except orjson.JSONDecodeError:
        fast = None
    else:
        # orjson drops duplicate keys and accepts nothing loads_strict refuses, so equal bytes
        # from a value whose orjson form is JCS-identical prove the input is canonical.
        if _orjson_safe(fast) and orjson.dumps(fast, option=orjson.OPT_SORT_KEYS) == data:
            return fast
    value = loads_strict(data)
    if canonical_bytes(value) != data:
        raise CanonicalError("JSON is not in RFC 8785 canonical form")
    return value


def content_hash(value: Any) -> str:
    """Hex SHA-256 of a value's canonical bytes (used for args_hash, policy_hash, digests)."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()
