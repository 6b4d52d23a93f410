"""The one parser for every time a `ledger` command takes (`--since`, `--until`, `--now`, ...).

Why one: each command used to parse times its own way (ISO 8601 with or without a zone, RFC 3339
with a zone required), so the same `--since` worked in `check` and failed in `export`. Accepted
forms, all meaning an instant in UTC unless they carry their own offset:

    2026-11-24                      a date: midnight UTC at its start
    2026-11-24T10:00[:00[.123]]     a date-time without a zone: UTC (a space may replace the T)
    2026-11-24T10:00:00+02:00 / Z   a date-time with a zone (fractions down to nanoseconds)
    30m  24h  7d  2w  90s           relative: that long before now
    now                             this instant (e.g. `--until now`)

Anything else is an InputError (exit 2) that names the option and lists these forms. Spans
(`--expires 15m`, an undo window of `30d`) use `parse_duration`, the same units.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from ledger import ids
from ledger.errors import InputError

__all__ = ["FORMS", "DurationError", "parse_duration", "parse_time", "parse_time_ns"]

FORMS = (
    "a date (2026-11-24), a date-time (2026-11-24T10:00, no zone means UTC), "
    "a relative 30m / 24h / 7d (that long ago) or now"
)
_RELATIVE = re.compile(r"(\d+)\s*([smhdw])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ZONE = re.compile(r"(?:[zZ]|[+-]\d{2}:?\d{2})")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_NS = 1_000_000_000


def parse_time_ns(text: str, option: str = "time", *, now_ns: int | None = None) -> int:
    """Nanoseconds since the epoch (UTC) for any accepted form; `now_ns` anchors relative ones."""
    value = text.strip()
    try:
        if value.lower() == "now":
            return ids.now_ns() if now_ns is None else now_ns
        if relative := _RELATIVE.fullmatch(value.lower()):
            base = ids.now_ns() if now_ns is None else now_ns
            return base - int(relative[1]) * _SECONDS[relative[2]] * _NS
        if _DATE.fullmatch(value):
            day = date.fromisoformat(value)
            return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * _NS
        if len(value) > 10 and value[10] in "Tt " and not _ZONE.search(value, 16):
            value += "+00:00"
        return ids.parse_timestamp(value)
    except (ValueError, OverflowError):
        raise InputError(f"{option} {text!r} is not a time: give {FORMS}") from None


def parse_time(text: str, option: str = "time", *, now: datetime | None = None) -> datetime:
    """The same instant as an aware UTC datetime (microseconds; what SQL parameters take)."""
    anchor = None if now is None else int(now.timestamp()) * _NS + now.microsecond * 1000
    ns = parse_time_ns(text, option, now_ns=anchor)
    seconds, rest = divmod(ns, _NS)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


class DurationError(InputError, ValueError):
    """Not a span: also a ValueError, so model validators report it at the field."""


def parse_duration(text: str, option: str = "duration") -> timedelta:
    """A positive span: 90s, 15m, 24h, 7d or 2w (the relative forms above, as a length)."""
    found = _RELATIVE.fullmatch(text.strip().lower())
    if found is None or int(found[1]) == 0:
        raise DurationError(f"{option} {text!r} is not a duration: give e.g. 90s, 15m, 24h, 7d, 2w")
    return timedelta(seconds=int(found[1]) * _SECONDS[found[2]])
