"""Shared set-up for benchmarks: a throwaway ledger and pre-encoded synthetic events.

Every benchmark prints events/s next to a baseline measured in the same run, because these
machines are noisy (2 shared cores): the ratio is the figure to compare across runs.
"""

from __future__ import annotations

import atexit
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo

from ledger.config import Settings
from ledger.db.connect import connect
from ledger.db.embedded import embedded_dsn
from ledger.events import args_hash, leaf_hash, make_event
from ledger.store.append import EncodedEvent, encode_for_intake


def fresh_settings(name: str) -> Settings:
    """Settings for a new database on the embedded server (or LEDGER_BENCH_DSN's server)."""
    admin = os.environ.get("LEDGER_BENCH_DSN") or embedded_dsn(
        Path(tempfile.gettempdir()) / "ledger-bench-pg"
    )
    db = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    if not os.environ.get("LEDGER_BENCH_KEEP"):
        # Dropped at exit: left behind, every old database competes for autovacuum and disk.
        atexit.register(_drop_database, admin, db)
    home = Path(tempfile.mkdtemp(prefix="ledger-bench-home-"))
    settings = Settings(home=home, dsn=conninfo.make_conninfo(admin, dbname=db))
    connect(settings, migrate=True).close()
    return settings


def _drop_database(admin: str, db: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def discard(settings: Settings) -> None:
    """Drop a benchmark database now (its autovacuum would compete with the next measurement)."""
    if os.environ.get("LEDGER_BENCH_KEEP") or settings.dsn is None:
        return
    params = conninfo.conninfo_to_dict(settings.dsn)
    db = str(params.pop("dbname"))
    _drop_database(conninfo.make_conninfo(**{k: str(v) for k, v in params.items()}), db)


def synthetic_runs(
    n_events: int, events_per_run: int = 50, tenant: str = "default"
) -> list[list[EncodedEvent]]:
    """Chained runs of realistic tool-call events (~700 bytes each), pre-encoded."""
    settings = Settings(home=Path("/nonexistent"))
    runs: list[list[EncodedEvent]] = []
    made = 0
    while made < n_events:
        run_id = uuid.uuid4()
        prev: str | None = None
        encoded: list[EncodedEvent] = []
        count = min(events_per_run, n_events - made)
        for i in range(count):
            args = {
                "record": f"acct-{i}",
                "field": "status",
                "value": "closed-won",
                "note": "x" * 200,
            }
            data: dict[str, Any]
            if i == 0:
                type_name, data = "run.started", {"task": "bench"}
            elif i % 2:
                type_name, data = (
                    "tool.call.started",
                    {
                        "tool_call_id": f"t{i}",
                        "tool": "crm.update_field",
                        "args": args,
                        "args_hash": args_hash(args),
                        "side_effect": True,
                    },
                )
            else:
                type_name, data = (
                    "tool.call.ended",
                    {
                        "tool_call_id": f"t{i - 1}",
                        "tool": "crm.update_field",
                        "status": "ok",
                        "result": {"ok": True},
                        "duration_ns": 1_000_000,
                    },
                )
            event = make_event(
                type_name,
                run_id=run_id,
                run_seq=i,
                prev_run_hash=prev,
                data=data,
                tenant=tenant,
                principal={"initiating_user": "bench@example.com", "roles": ["ops"]},
                agent={"name": "bench-agent", "version": "1"},
            )
            item = encode_for_intake(event, settings)
            prev = leaf_hash(item.body).hex()
            encoded.append(item)
        runs.append(encoded)
        made += count
    return runs


class Timer:
    """Context manager measuring wall time in seconds."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
