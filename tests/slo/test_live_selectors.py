"""Every selector key is honoured or refused on live traffic (walk-through finding 4): a typo'd
or gate-only key never widens a side to "every run", a side that selects nothing is "not enough
runs", and `--stop-candidate` never acts on such a side. Runs recorded through the real hooks,
the real CLI in this process."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence
from replay.gate.selector import SelectorError, parse_selector

from .conftest import record_runs

BASE, CAND = "prompt=sales/v4", "prompt=sales/v5"
LIVE = ("prompt=, model=, agent=NAME@V, policy=, tenant=, since=, until= "
        "(gate runs: `ledger gate compare`)")


@pytest.fixture
def traffic(ledger_conn: psycopg.Connection, ledger_settings: Settings,
            writer: Writer) -> None:
    """v4: 5 of 5 succeed; v5: 1 of 6 (a real regression of v5 against v4 or against all)."""
    record_runs("sales/v4", ok=5, failed=0)
    record_runs("sales/v5", ok=1, failed=5)
    writer.flush(10)
    try_sequence(ledger_conn, ledger_settings, wait=True)


def _stops(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT convert_from(body, 'UTF8')::jsonb #>> '{data,target}' FROM ledger_events "
        "WHERE type = 'run.stop.requested' ORDER BY seq")]


@pytest.mark.parametrize(("side", "key"), [("--candidate", "label"), ("--baseline", "label"),
                                           ("--candidate", "suite")])
def test_gate_keys_are_refused_and_nothing_is_stopped(
        icli: Any, ledger_conn: psycopg.Connection, side: str, key: str) -> None:
    sides = {"--baseline": BASE, "--candidate": CAND, side: f"{key}=does-not-exist"}
    res = icli("compare", *[x for kv in sides.items() for x in kv], "--min-runs", "5",
               "--stop-candidate")
    assert res.exit_code == 2, res.stdout
    assert res.stderr == (f"error: selector {key}=does-not-exist: {key} selects gate runs, and "
                          f"`ledger compare` reads live traffic: use {LIVE}\n")
    assert res.stdout == "" and _stops(ledger_conn) == []


def test_slo_version_refuses_gate_keys_and_an_empty_selector(icli: Any) -> None:
    res = icli("slo", "--version", "label=nope,suite=x")
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == ("error: selector label=nope,suite=x: label/suite select gate runs, "
                          f"and `ledger slo` reads live traffic: use {LIVE}\n")
    empty = icli("compare", "--baseline", BASE, "--candidate", " , ")
    assert empty.exit_code == 2
    assert empty.stderr == ("error: an empty selector selects every run: `ledger compare` needs "
                            "prompt=, model=, agent=, policy=, tenant=, since= or until=\n")


def test_a_side_that_selects_nothing_is_not_enough_runs_and_never_stopped(
        traffic: None, icli: Any, ledger_conn: psycopg.Connection) -> None:
    for narrow in ("tenant=nobody", "since=2099-01-01", "until=2001-01-01"):
        res = icli("compare", "--baseline", BASE, "--candidate", f"{CAND},{narrow}",
                   "--min-runs", "5", "--stop-candidate", "--json")
        assert res.exit_code == 1, (narrow, res.stderr)
        data = json.loads(res.stdout)
        assert (data["decision"], data["baseline_runs"], data["candidate_runs"],
                data["stopped"]) == ("not_enough_runs", 5, 0, None), narrow
        slo = icli("slo", "--version", f"{CAND},{narrow}")
        assert (slo.exit_code, slo.stdout) == (
            1, "nothing matched: no runs of that agent/version in the window\n"), narrow
    assert _stops(ledger_conn) == []


def test_tenant_and_window_keys_narrow_and_intersect(
        traffic: None, icli: Any, ledger_settings: Settings) -> None:
    mine = f"{CAND},tenant={ledger_settings.tenant},since=2000-01-01"
    res = icli("compare", "--baseline", BASE, "--candidate", mine, "--min-runs", "5", "--json")
    assert res.exit_code == 1
    assert json.loads(res.stdout)["candidate_runs"] == 6
    # the side's since= intersects --until (never replaces it): an empty window, 0 runs
    res = icli("compare", "--baseline", BASE, "--candidate", mine, "--until", "2001-01-01",
               "--min-runs", "5", "--json")
    data = json.loads(res.stdout)
    assert (res.exit_code, data["decision"], data["baseline_runs"], data["candidate_runs"]) == (
        1, "not_enough_runs", 0, 0)


def test_window_is_the_intersection() -> None:
    sel = parse_selector("prompt=a/b,since=2026-01-10,until=2026-01-20")
    d = lambda day: datetime(2026, 1, day, tzinfo=UTC)  # noqa: E731
    assert sel.window(None, None) == (d(10), d(20))
    assert sel.window(d(5), d(25)) == (d(10), d(20))
    assert sel.window(d(12), d(15)) == (d(12), d(15))
    with pytest.raises(SelectorError, match="label selects gate runs"):
        parse_selector("nightly").live("`ledger slo`")


def test_stop_candidate_twice_records_one_stop(
        traffic: None, icli: Any, ledger_conn: psycopg.Connection) -> None:
    first = icli("compare", "--baseline", BASE, "--candidate", CAND, "--min-runs", "5",
                 "--stop-candidate")
    assert first.exit_code == 1, first.stderr
    assert first.stdout.splitlines()[-2:] == ["REGRESSION: the candidate is worse",
                                              "stopped prompt:sales/v5 (asserted)"]
    again = icli("compare", "--baseline", BASE, "--candidate", CAND, "--min-runs", "5",
                 "--stop-candidate", "--json")
    assert again.exit_code == 1
    assert json.loads(again.stdout)["stopped"] == {
        "target": "prompt:sales/v5", "event_id": None, "authority": None, "signed": False,
        "already_stopped": True}
    text = icli("compare", "--baseline", BASE, "--candidate", CAND, "--min-runs", "5",
                "--stop-candidate")
    assert text.stdout.splitlines()[-1] == (
        "prompt:sales/v5 is already stopped: no second stop recorded")
    assert _stops(ledger_conn) == ["prompt:sales/v5"]


def test_sides_that_select_the_same_runs_are_refused(
        traffic: None, icli: Any, ledger_conn: psycopg.Connection) -> None:
    res = icli("compare", "--baseline", "model=gpt-4o-mini", "--candidate", CAND,
               "--min-runs", "5", "--stop-candidate")
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == (
        "error: --baseline model=gpt-4o-mini and --candidate prompt=sales/v5 both select the "
        "runs of sales v1.0 prompt=sales/v5 model=gpt-4o-mini: a side cannot be compared "
        "with itself (make the selectors disjoint)\n")
    assert _stops(ledger_conn) == []
    # the same version in two disjoint windows (before / after) is a fair comparison
    ok = icli("compare", "--baseline", f"{CAND},until=2001-01-01", "--candidate",
              f"{CAND},since=2001-01-01", "--min-runs", "5")
    assert ok.exit_code == 1 and "not enough runs" in ok.stdout
