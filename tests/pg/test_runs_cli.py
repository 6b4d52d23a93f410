"""`ledger runs` (issue 18): filters, sort, limit and count line, exercise runs hidden, the
failing runs exactly as `ledger check` reports them, and every mistake as one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger import ids
from ledger.config import Settings
from ledger.events import EventBase
from tests.ledgerkit import append
from tests.pg.runs_kit import ledger_main, run_of

DAY = 86_400 * 10**9
T0 = ids.now_ns() - 30 * DAY  # runs dated a month back, a day apart, oldest first below


@pytest.fixture
def world(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> dict[str, EventBase]:
    """Under a pack allowing 2 tool calls (in force before any run): five runs of distinct
    agents, users and statuses, one exercise run, one imported; `old` (3 calls) fails."""
    pack = tmp_path / "pack.yaml"
    pack.write_text("max_tool_calls: 2\n")
    published = ledger_main(ledger_settings, "policy", "publish", str(pack))
    assert published.code == 0, published.stderr
    runs = {
        "old": run_of(agent="billing", user="bob@example.com", start_ns=T0, tools=3),
        "failed": run_of(agent="support", status="failed", start_ns=T0 + DAY),
        "open": run_of(agent="support", status=None, start_ns=T0 + 2 * DAY),
        "drill": run_of(agent="support", tenant="exercise-ransomware", start_ns=T0 + 3 * DAY,
                        tools=3),
        "imported": run_of(agent="sales", trust="imported", start_ns=T0 + 4 * DAY),
        "new": run_of(agent="support", status="abandoned", start_ns=T0 + 5 * DAY, tools=2),
    }
    append(ledger_conn, ledger_settings, [e for events in runs.values() for e in events])
    return {name: events[0] for name, events in runs.items()}


def _ids(settings: Settings, *args: str) -> list[str]:
    out = ledger_main(settings, "runs", "--json", *args)
    assert out.code == 0, out.stderr
    return [r["run_id"] for r in json.loads(out.stdout)["runs"]]


def test_newest_first_exercises_hidden_and_the_count_line(
    world: dict[str, EventBase], ledger_settings: Settings
) -> None:
    out = ledger_main(ledger_settings, "runs")
    assert out.code == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["RUN", "AGENT", "USER", "STARTED", "STATUS", "EVENTS"]
    order = ["new", "imported", "open", "failed", "old"]
    assert [line.split()[0] for line in lines[1:-1]] == [str(world[n].run_id) for n in order]
    assert lines[-1] == "5 runs (1 exercise run hidden: --exercises)"
    status = {line.split()[0]: line.split("  ") for line in lines[1:-1]}
    cells = {n: [c.strip() for c in status[str(world[n].run_id)] if c.strip()] for n in order}
    assert cells["new"][4] == "abandoned"
    assert cells["open"][4] == "running"
    assert cells["imported"][4] == "succeeded (imported)"
    shown = ledger_main(ledger_settings, "runs", "--exercises")
    assert str(world["drill"].run_id) in shown.stdout
    assert shown.stdout.splitlines()[-1] == "6 runs"


def test_limit_sort_and_json_total(world: dict[str, EventBase], ledger_settings: Settings) -> None:
    out = ledger_main(ledger_settings, "runs", "--limit", "2")
    assert out.stdout.splitlines()[-1] == (
        "showing 2 of 5 runs; --limit/--since to see more (1 exercise run hidden: --exercises)")
    doc = json.loads(ledger_main(ledger_settings, "runs", "--json", "--limit", "2").stdout)
    assert doc["total"] == 5 and doc["hidden_exercises"] == 1
    assert [r["run_id"] for r in doc["runs"]] == [str(world[n].run_id) for n in ("new", "imported")]
    assert doc["runs"][1]["imported"] is True and doc["runs"][0]["status"] == "abandoned"
    by_events = _ids(ledger_settings, "--sort", "events", "--limit", "2")
    assert by_events == [str(world["old"].run_id), str(world["new"].run_id)]  # 8 then 6 events
    by_agent = _ids(ledger_settings, "--sort", "agent")
    assert by_agent[0] == str(world["old"].run_id)  # billing < sales < support
    assert by_agent[1] == str(world["imported"].run_id)
    by_status = _ids(ledger_settings, "--sort", "status")
    assert by_status[0] == str(world["new"].run_id)  # abandoned first, alphabetical


def test_filters(world: dict[str, EventBase], ledger_settings: Settings) -> None:
    rid = {n: str(e.run_id) for n, e in world.items()}
    assert _ids(ledger_settings, "--agent", "billing") == [rid["old"]]
    assert _ids(ledger_settings, "--initiator", "bob@example.com") == [rid["old"]]
    assert _ids(ledger_settings, "--status", "failed", "--status", "running") == [
        rid["open"], rid["failed"]]
    assert _ids(ledger_settings, "--status", "succeeded", "--exercises") == [
        rid["imported"], rid["drill"], rid["old"]]
    since = ids.format_timestamp(T0 + 4 * DAY - 10**9)
    until = ids.format_timestamp(T0 + 5 * DAY - 10**9)
    assert _ids(ledger_settings, "--since", since, "--until", until) == [rid["imported"]]
    assert _ids(ledger_settings, "--agent", "nobody") == []
    none = ledger_main(ledger_settings, "runs", "--agent", "nobody")
    assert none.stdout.splitlines()[-1] == "0 runs"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("--status", "done"), "error: --status 'done' is not a run status (one of: succeeded, "
         "failed, cancelled, stopped, abandoned, running, suspended)"),
        (("--sort", "size"), "error: --sort 'size' is not one of: started, agent, status, events"),
        (("--limit", "0"), "error: --limit must be at least 1 (got 0)"),
        (("--limit", "-1"), "error: --limit must be at least 1 (got -1)"),
    ],
    ids=["status", "sort", "limit0", "limit-1"],
)
def test_mistakes_are_one_line_exit_2(
    args: tuple[str, ...], line: str, ledger_settings: Settings
) -> None:
    out = ledger_main(ledger_settings, "runs", *args)
    assert (out.code, out.stderr.strip(), out.stdout) == (2, line, "")


def test_bad_since_through_the_real_command(ledger_conn: psycopg.Connection, cli: Any) -> None:
    res = cli("runs", "--since", "yesterdayish")
    assert res.exit_code == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith("error: --since") and res.stdout == ""


def test_failing_is_the_set_check_reports(
    world: dict[str, EventBase], ledger_settings: Settings
) -> None:
    report = json.loads(ledger_main(ledger_settings, "check", "--json").stdout)
    failing = {r["run_id"] for r in report["runs"]
               if any(v["outcome"] == "fail" for v in r["verdicts"])}
    assert failing == {str(world["old"].run_id)}  # 3 calls > 2 (the drill's log has no pack)
    assert _ids(ledger_settings, "--failing") == [str(world["old"].run_id)]
    assert _ids(ledger_settings, "--failing", "--exercises") == [str(world["old"].run_id)]
    assert _ids(ledger_settings, "--failing", "--agent", "support") == []


def test_readme_line_ingested_twice_is_one_run(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    """README's `echo ... | ledger ingest -` run twice: the second run.started (no event_id)
    is the run's second event, and the run is listed once."""
    line = tmp_path / "line.jsonl"
    line.write_text('{"type":"run.started","run_id":"6f1f7d4e-0d1c-4b9e-9a51-2f0c1d0b7a11",'
                    '"data":{"task":"nightly sync"}}\n')
    for _ in range(2):
        assert ledger_main(ledger_settings, "ingest", str(line)).code == 0
    out = ledger_main(ledger_settings, "runs")
    assert out.code == 0, out.stderr
    rows = [r for r in out.stdout.splitlines() if r.startswith("6f1f7d4e")]
    assert len(rows) == 1 and rows[0].split()[-2:] == ["running", "2"]
    assert out.stdout.splitlines()[-1] == "1 run"
