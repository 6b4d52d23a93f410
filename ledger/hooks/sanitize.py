"""Turn arbitrary agent values into JSON the ledger can canonicalise, without ever crashing.

Agents pass whatever they like to tools: dataclasses, sockets, bytes that are not UTF-8, ints
beyond the I-JSON range, NaN. The ledger must record *something* faithful for each and must never
raise into the agent, so every unknown value degrades to a marked, repr-based form instead of an
exception. Oversized payloads are replaced by a marker carrying the original's size and SHA-256,
so the record still commits to exactly what was there.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import hashlib
import logging
import math
import operator
import uuid
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel

from ledger.canonical import CanonicalError, canonical_bytes

__all__ = [
    "MAX_SAFE_INT",
    "error_info",
    "escape_text",
    "json_safe",
    "token_count",
    "truncate_marker",
]

log = logging.getLogger("ledger.hooks")

MAX_SAFE_INT = 2**53 - 1
MAX_DEPTH = 32
PREVIEW_CHARS = 512


def escape_text(text: str) -> str:
    """Make a str UTF-8 encodable: lone surrogates (undecodable bytes) become \\xNN escapes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape") if _only_escapes(text) else None
        if raw is not None:
            return raw.decode("utf-8", "backslashreplace")
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _only_escapes(text: str) -> bool:
    """True when every surrogate is in the surrogateescape range (came from undecodable bytes)."""
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


def _bytes(value: bytes) -> Any:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {
            "$bytes": value.decode("utf-8", "backslashreplace"),
            "base64": base64.b64encode(value[:65536]).decode("ascii"),
        }


def _unserialisable(value: Any) -> dict[str, Any]:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break the agent
        text = f"<repr failed: {type(exc).__name__}>"
    return {"$unserialisable": type(value).__qualname__, "repr": escape_text(text[:2000])}


def json_safe(value: Any, _depth: int = 0, _seen: frozenset[int] = frozenset()) -> Any:
    """A JSON value (str/int/float/bool/None/list/dict) faithfully representing `value`."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and not isinstance(value, enum.Enum):
        return value if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else {"$bigint": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, str):
        return escape_text(value)
    if _depth >= MAX_DEPTH:
        return {"$truncated_depth": MAX_DEPTH, "type": type(value).__qualname__}
    if id(value) in _seen:
        return {"$cycle": type(value).__qualname__}
    try:
        return _compound(value, _depth + 1, _seen | {id(value)})
    except Exception:  # a hostile __iter__/model_dump degrades to repr, never raises
        return _unserialisable(value)


def _compound(value: Any, depth: int, seen: frozenset[int]) -> Any:
    """`json_safe` of a container or object (scalars are handled by the caller, inline)."""
    if isinstance(value, dict):
        return {
            escape_text(k if isinstance(k, str) else repr(k)): json_safe(v, depth, seen)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [json_safe(v, depth, seen) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((json_safe(v, depth, seen) for v in value), key=repr)
    if isinstance(value, bytes | bytearray | memoryview):
        return _bytes(bytes(value))
    return _object(value, depth, seen)


def _object(value: Any, depth: int, seen: frozenset[int]) -> Any:
    """`json_safe` of models, dataclasses, enums and the stdlib types with a text form."""
    if isinstance(value, BaseModel):
        return json_safe(value.model_dump(mode="json"), depth, seen)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return json_safe(fields, depth, seen)
    if isinstance(value, enum.Enum):
        return json_safe(value.value, depth, seen)
    if isinstance(value, Decimal | uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return _unserialisable(value)


def canonical_size(value: Any) -> tuple[int, str]:
    """Size in bytes and hex SHA-256 of the canonical form of an already JSON-safe value."""
    try:
        body = canonical_bytes(value)
    except CanonicalError:
        body = repr(value).encode("utf-8", "backslashreplace")
    return len(body), hashlib.sha256(body).hexdigest()


def truncate_marker(value: Any) -> Any:
    """Replace an oversized JSON-safe value by a marker committing to its size and hash.

    A str stays a str (typed fields such as message content require it); anything else becomes
    a `$truncated` object with a short preview.
    """
    size, digest = canonical_size(value)
    if isinstance(value, str):
        return f"[ledger: truncated {size} bytes sha256={digest}] {value[:PREVIEW_CHARS]}"
    preview = canonical_bytes(value)[:PREVIEW_CHARS].decode("utf-8", "ignore")
    return {"$truncated": True, "original_bytes": size, "original_sha256": digest,
            "preview": preview}


def error_info(exc: BaseException | str) -> dict[str, str]:
    """An exception reduced to type and message: never a traceback with locals."""
    if isinstance(exc, str):
        return {"type": "Error", "message": escape_text(exc)[:4000]}
    try:
        message = str(exc)
    except Exception:
        message = "<str() failed>"
    return {"type": type(exc).__qualname__, "message": escape_text(message)[:4000]}


def token_count(value: Any) -> int | None:
    """A provider's token count as the event model takes it (a strict int >= 0).

    Int-likes (numpy integers, anything with `__index__`) are converted explicitly here, at the
    boundary; anything else ("812", 8.0, True, a negative count) is recorded as unknown (None)
    with a warning, never coerced: a count the provider did not give as an integer is not one.
    """
    if value is None:
        return None
    if not isinstance(value, bool):
        try:
            count = operator.index(value)
        except TypeError:
            count = -1
        if count >= 0:
            return count
    log.warning("ledger: token count %s is not a non-negative integer; recorded as unknown",
                escape_text(repr(value))[:60])
    return None
