"""Rules on event bodies that the typed models alone cannot state, shared by ingest and the
sequencer (a hostile writer can put bytes into intake without either the hooks or ingest).

- an `args_hash` must be the hash of the `args` beside it, where the args are inline: approvals
  bind to the hash, so a body showing args X under the hash of args Y would let an approval of
  Y be read as an approval of X. Args that are absent (None) or not fully recorded are not
  checked: only the markers the hooks make count (`not_fully_recorded`: a `$truncated` or
  `$commitment` object, a `[ledger: truncated N bytes sha256=...]` string, a well-formed
  scrubbed-secret commitment), never the mere text `[secret:` a writer can put in on purpose,
  and `ledger check` / approvals treat exactly those args as undecidable, never a pass;
- token counts (llm.call.ended usage, run.ended and run.suspended totals: a resumed run and
  `ledger serve`'s abandoned run.ended continue from the latter) are non-negative JSON
  integers: "812", 8.0 and true are refused, never coerced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ledger.canonical import CanonicalError, content_hash
from ledger.secrets import SECRET_MARKER

__all__ = ["CHECKED_TYPES", "body_problem", "not_fully_recorded", "token_problem"]

_ARGS_TYPES = frozenset({"tool.call.started", "approval.requested"})
_MARKERS = ("$truncated", "$commitment")
_TRUNCATED_TEXT = re.compile(r"\[ledger: truncated \d+ bytes sha256=[0-9a-f]{64}\]")
_USAGE = ("input_tokens", "output_tokens", "total_tokens")
_TOTALS = ("input_tokens", "output_tokens", "llm_calls", "tool_calls")
CHECKED_TYPES = _ARGS_TYPES | {"llm.call.ended", "run.ended", "run.suspended"}


def token_problem(where: str, value: Any, *, optional: bool) -> str | None:
    """Why `value` is not a token count (None if it is one)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{where} must be a non-negative integer, not {_kind(value)}"
    if value < 0:
        return f"{where} must be a non-negative integer, not {value}"
    return None


def not_fully_recorded(value: Any) -> bool:
    """True when args hold a truncation, private-payload or scrubbed-secret marker (as the hooks
    and ledger.privacy make them) in place of a value.

    Such args legitimately hash differently from what was approved (the writer hashed the full
    value), so the binding cannot be recomputed from the record: undecidable, never a pass.
    """
    if isinstance(value, dict):
        return any(k in value for k in _MARKERS) or any(map(not_fully_recorded, value.values()))
    if isinstance(value, list):
        return any(map(not_fully_recorded, value))
    return isinstance(value, str) and (_TRUNCATED_TEXT.match(value) is not None
                                       or SECRET_MARKER.search(value) is not None)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value[:20]!r}"
    if isinstance(value, float):
        return f"the number {value!r}"
    return type(value).__name__ if value is not None else "null"


def _args_problem(data: Mapping[str, Any]) -> str | None:
    args, claimed = data.get("args"), data.get("args_hash")
    if args is None or not isinstance(claimed, str):
        return None  # absent args; a missing or malformed hash is the model's to refuse
    if not_fully_recorded(args):
        return None
    try:
        actual = content_hash(args)
    except CanonicalError:
        return None  # the canonical check refuses the body itself
    if actual != claimed:
        return f"args_hash {claimed[:16]}... does not match the args (their hash is {actual})"
    return None


def body_problem(type_name: str, data: Any) -> str | None:
    """Why the `data` of an event of `type_name` breaks a rule above (None if it does not)."""
    if type_name not in CHECKED_TYPES or not isinstance(data, Mapping):
        return None
    if type_name in _ARGS_TYPES:
        return _args_problem(data)
    if type_name == "llm.call.ended":
        usage = data.get("usage")
        if not isinstance(usage, Mapping):
            return None
        return next((p for k in _USAGE if k in usage
                     if (p := token_problem(f"usage.{k}", usage[k], optional=True))), None)
    totals = data.get("totals")
    if not isinstance(totals, Mapping):
        return None
    return next((p for k in _TOTALS if k in totals
                 if (p := token_problem(f"totals.{k}", totals[k], optional=False))), None)
