"""bench/bench_incident.py's scripted incident walk, run as a test over a seeded ledger at 80x24.

Why here: the benchmark is only as good as its walk, and the walk is the incident flow a new
on-call engineer takes (board -> the run -> Trace -> Stop through the form with its typed
confirmation -> Undo dry run). Running it on the real TUI and a real ledger proves the walk
still finds its widgets while other slices reshape the screens, and that what it measures
happened: the stop is in `ledger_stops` with the typed reason. Timing is never asserted here.
"""

from __future__ import annotations

import asyncio

import psycopg

from bench import bench_incident, incident_walk
from ledger.config import Settings
from ledger.stoptargets import agent_target


def test_the_walk_stops_the_incident_run_through_the_form_and_shows_the_dry_run(
    ledger_settings: Settings, ledger_conn: psycopg.Connection
) -> None:
    run_id = bench_incident.seed(ledger_settings, "scenario")

    out = asyncio.run(incident_walk.walk(ledger_settings, run_id, (80, 24)))

    assert set(bench_incident.WALK) <= set(out)
    assert out["form_keys_lost"] == 0  # every typed key landed in the form
    assert out["undo_steps"] == 2  # the scenario's two side-effecting calls, planned
    stops = ledger_conn.execute(
        "SELECT target, target_run_id::text, requested_by, reason, authority FROM ledger_stops"
    ).fetchall()
    # the scenario's run has ended, so the pane's default scope is its agent@version (issue 18)
    started = ledger_conn.execute(
        "SELECT b #>> '{agent,name}', b #>> '{agent,version}' FROM (SELECT convert_from(body, "
        "'UTF8')::jsonb AS b FROM ledger_events WHERE type = 'run.started' AND run_id = %s) s",
        (run_id,),
    ).fetchone()
    assert started is not None
    agent, version = started
    assert stops == [
        (
            agent_target(agent, version),
            None,
            "oncall@example.com",
            incident_walk.STOP_REASON,
            "asserted",
        )
    ]
