"""Timestamps exactly as PostgreSQL stores them, computed without asking it.

The sequencer sends `occurred_at` to PostgreSQL in binary (microseconds), and the verifier
checks the stored column against the body's RFC 3339 text; both must round the body's
nanoseconds the way PostgreSQL's own text input would, or a valid ledger would look tampered.
"""

from __future__ import annotations

import re

from ledger import ids

__all__ = ["micros_of", "pg_micros"]

_head_micros: dict[str, int] = {}
"""Microseconds at the whole second `YYYY-MM-DDTHH:MM:SS`, filled by the slow path."""


def pg_micros(text: str) -> int:
    """Microseconds since the epoch exactly as PostgreSQL stores the body's timestamp.

    PostgreSQL parses the fraction with strtod and rounds `frac * 1e6` with rint (a double
    computation). For our own form (nine fraction digits, `Z`) integer rounding gives the same
    answer except on an exact tie (`...500`), where the double arithmetic decides; any other
    RFC 3339 form goes through the general parser.
    """
    return micros_of([text])[0]


def micros_of(texts: list[str]) -> list[int]:
    """`pg_micros` of many timestamps (the verifier's and sequencer's hot loop).

    When every text has our own form (one regex pass over them all), each needs only its cached
    whole second and the integer rounding of its nine fraction digits.
    """
    lines = "\n".join(texts) + "\n"
    # Every line our 30-character form, and exactly one line per text (so no text hides a "\n").
    if len(lines) != 31 * len(texts) or not _ALL_OURS(lines):
        return [_micros_one(text) for text in texts]
    head_of = _head_micros.get
    out: list[int] = []
    push = out.append
    for text in texts:
        head_us = head_of(text[:19])
        frac = int(text[20:29])
        below = frac % 1000
        if head_us is None or below == 500:
            push(_micros_slow(text))
        else:
            push(head_us + frac // 1000 + (below > 500))
    return out


_ALL_OURS = re.compile(r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z\n)*", re.ASCII).fullmatch


def _micros_one(text: str) -> int:
    head_us = _head_micros.get(text[:19])
    digits = text[20:29]
    if (
        head_us is not None
        and len(text) == 30
        and text[19] == "."
        and text[29] == "Z"
        and digits.isascii()
        and digits.isdigit()
    ):
        frac = int(digits)
        below = frac % 1000
        if below != 500:
            return head_us + frac // 1000 + (below > 500)
    return _micros_slow(text)


def _micros_slow(text: str) -> int:
    digits = text[20:29]
    if (
        len(text) != 30
        or text[19] != "."
        or text[29] != "Z"
        or not (digits.isascii() and digits.isdigit())
    ):
        ns = ids.parse_timestamp(text)
        seconds, digits = ns // 1_000_000_000, f"{ns % 1_000_000_000:09d}"
    else:
        head = text[:19]
        seconds = ids.parse_timestamp(head + "Z") // 1_000_000_000
        _head_micros[head] = seconds * 1_000_000
        digits = text[20:29]
    return seconds * 1_000_000 + round(float("0." + digits) * 1_000_000)
