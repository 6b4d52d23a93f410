"""TUI test fixtures: a real ledger seeded with deterministic runs, and app/pilot helpers.

Seeded runs have fixed ids and timestamps (ledger.scenarios.incident_events), so snapshots depend
only on what the ledger holds; the app runs with `snapshot=True`, which hides record times and
clocks and does not start the LISTEN loop (tests that need live updates pass listen=True).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from textual.widgets import Input
from textual.worker import WorkerCancelled

from ledger.config import Settings
from ledger.scenarios import incident_events
from tests.ledgerkit import append
from tui.app import LedgerApp

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic screenshots: the input cursor never blinks."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None, raising=False)


def quiet_run(
    tenant: str = "default", name: str = "quiet", user: str = "bob@example.com"
) -> list[Any]:
    """A second, harmless run by another agent (for filters and merges)."""
    import uuid

    from ledger import ids
    from ledger.events import encode_event, leaf_hash, make_event

    run_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{name}")
    t0 = 1_795_000_100 * 1_000_000_000
    env: dict[str, Any] = {
        "principal": {"initiating_user": user, "roles": ["sre"]},
        "agent": {"name": "ops-agent"},
        "tenant": tenant,
        "versions": {"prompt_version": "ops/v2", "model": "gpt-5-mini"},
    }
    out: list[Any] = []
    prev = None
    steps: list[tuple[str, dict[str, Any]]] = [
        ("run.started", {"task": "rotate logs"}),
        ("custom", {"name": "rotated"}),
        ("run.ended", {"status": "succeeded", "event_count": 3}),
    ]
    for i, (kind, data) in enumerate(steps):
        body = {**data, "last_hash": prev} if kind == "run.ended" else data
        event = make_event(
            kind,
            run_id=run_id,
            run_seq=i,
            prev_run_hash=prev,
            data=body,
            event_id=uuid.uuid5(run_id, str(i)),
            occurred_at=ids.format_timestamp(t0 + i * 1_000_000_000),
            **env,
        )
        prev = leaf_hash(encode_event(event)).hex()
        out.append(event)
    return out


@pytest.fixture
def seeded(ledger_settings: Settings, ledger_conn: psycopg.Connection) -> dict[str, str]:
    """The incident run and a quiet run, sequenced through the real path."""
    incident = incident_events()
    quiet = quiet_run()
    append(ledger_conn, ledger_settings, incident)
    append(ledger_conn, ledger_settings, quiet)
    return {"incident": str(incident[0].run_id), "quiet": str(quiet[0].run_id)}


@pytest.fixture
def make_app(ledger_settings: Settings) -> Iterator[Any]:
    """Build LedgerApp instances against the test ledger (snapshot mode by default)."""
    apps: list[LedgerApp] = []

    def build(**kwargs: Any) -> LedgerApp:
        kwargs.setdefault("snapshot", True)
        kwargs.setdefault("user", "tester")
        app = LedgerApp(ledger_settings, **kwargs)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.data.close()


async def settle(pilot: Any) -> None:
    """Wait until every worker finished and the screen repainted.

    A finished worker's message may start another (plan -> dry run -> findings), so this waits
    until two rounds in a row find nothing running (a fixed number of rounds was a race under
    load: the undo snapshot caught a screen whose last worker had not finished)."""
    quiet = 0
    for _ in range(60):
        busy = [w for w in pilot.app.workers if w.group != "listen" and not w.is_finished]
        try:
            if busy:  # an empty list would mean "every worker", the endless LISTEN loop included
                await pilot.app.workers.wait_for_complete(busy)
        except WorkerCancelled:  # an exclusive worker was replaced by a newer one
            pass
        await pilot.pause()
        quiet = 0 if busy else quiet + 1
        if quiet >= 2:
            return
