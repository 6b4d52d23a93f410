"""ledger.when: the one parser behind every --since/--until/--now, its forms and its errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.errors import ExitCode, InputError
from ledger.ids import parse_timestamp
from ledger.when import parse_time, parse_time_ns

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24", datetime(2026, 11, 24, tzinfo=UTC)),
        ("2026-11-24T10:00", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("2026-11-24 10:00:30", datetime(2026, 11, 24, 10, 0, 30, tzinfo=UTC)),
        ("2026-11-24T10:00:00.250", datetime(2026, 11, 24, 10, 0, 0, 250_000, tzinfo=UTC)),
        ("2026-11-24T10:00:00Z", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("2026-11-24T10:00:00+02:00", datetime(2026, 11, 24, 8, tzinfo=UTC)),
        ("2026-11-24T10:00:00-0500", datetime(2026, 11, 24, 15, tzinfo=UTC)),
        (" 2026-11-24T10:00:00z ", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("30m", datetime(2026, 11, 24, 11, 30, tzinfo=UTC)),
        ("24h", datetime(2026, 11, 23, 12, tzinfo=UTC)),
        ("7d", datetime(2026, 11, 17, 12, tzinfo=UTC)),
        ("2w", datetime(2026, 11, 10, 12, tzinfo=UTC)),
        ("90s", datetime(2026, 11, 24, 11, 58, 30, tzinfo=UTC)),
        ("1H", datetime(2026, 11, 24, 11, tzinfo=UTC)),
    ],
)
def test_accepted_forms_mean_utc_instants(text: str, expected: datetime) -> None:
    assert parse_time(text, "--since", now=NOW) == expected


def test_nanoseconds_survive_and_agree_with_the_event_timestamps() -> None:
    text = "2026-11-24T10:00:00.123456789Z"
    assert parse_time_ns(text) == parse_timestamp(text)
    assert parse_time_ns("2026-11-24T10:00:00.123456789") == parse_timestamp(text)


def test_now_is_the_anchor_itself() -> None:
    """`--until now` (export's default) is the instant the command runs, or the given anchor."""
    assert parse_time_ns("now", now_ns=1_234) == parse_time_ns("NOW ", now_ns=1_234) == 1_234
    before = datetime.now(UTC)
    assert 0 <= (parse_time("now") - before).total_seconds() < 60


def test_relative_times_count_back_from_now() -> None:
    before = datetime.now(UTC)
    got = parse_time("1h")
    assert 3599 <= (before - got).total_seconds() <= 3601


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "24x",
        "-5h",
        "5 hours",
        "2026-13-01",
        "2026-11-31",
        "2026-11-24T25:00",
        "24/11/2026",
        "2026-11-24T10:00:00+25:00",
        "1e3h",
    ],
)
def test_anything_else_is_one_line_naming_the_option_and_the_forms(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_time(text, "--until")
    message = str(caught.value)
    assert message.startswith(f"--until {text!r} is not a time")
    assert "24h" in message and "no zone means UTC" in message and "\n" not in message
    assert caught.value.exit_code == ExitCode.USAGE
