"""The scripted demo: a small support agent recorded on the ledger, then verified.

It goes through the same public write path an agent uses, against the embedded PostgreSQL by
default, and prints what a newcomer needs next (list runs, show one, verify, pin a checkpoint).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import typer

from ledger.config import Settings
from ledger.events import EventBase, args_hash, leaf_hash, make_event
from ledger.store.append import submit
from ledger.store.sequencer import try_sequence
from ledger.verify import report_line, verify_ledger

__all__ = ["run_demo"]


class _Run:
    """Minimal chained run writer used until the hooks API records the demo."""

    def __init__(self, conn: psycopg.Connection, settings: Settings, **envelope: Any) -> None:
        self.conn, self.settings, self.envelope = conn, settings, envelope
        self.run_id = uuid.uuid4()
        self.seq: int = 0
        self.prev: str | None = None
        self.events: list[EventBase] = []

    def emit(self, type_name: str, data: dict[str, Any]) -> EventBase:
        event = make_event(
            type_name,
            run_id=self.run_id,
            run_seq=self.seq,
            prev_run_hash=self.prev,
            data=data,
            **self.envelope,
        )
        receipt = submit(self.conn, [event], self.settings)[0]
        self.prev, self.seq = receipt.leaf_hash.hex(), self.seq + 1
        self.events.append(event)
        return event


def run_demo(settings: Settings, conn: psycopg.Connection) -> bool:
    """Record one scripted run, sequence it, verify the ledger; True when valid."""
    envelope = {
        "principal": {"initiating_user": "alice@example.com", "roles": ["support"]},
        "agent": {"name": "support-agent", "version": "1.0.0"},
        "versions": {"prompt_version": "support/v3", "model": "gpt-4o-mini"},
    }
    run = _Run(conn, settings, **envelope)
    run.emit("run.started", {"task": "Customer asks for a refund on order 1042"})
    run.emit("message.input", {"role": "user", "content": "My order 1042 arrived broken."})
    run.emit("llm.call.started", {"call_id": "c1", "request_model": "gpt-4o-mini"})
    run.emit(
        "llm.call.ended",
        {
            "call_id": "c1",
            "response_model": "gpt-4o-mini",
            "usage": {"input_tokens": 412, "output_tokens": 38, "total_tokens": 450},
            "cost": {"amount_usd": "0.000085", "price_table_version": "2026-11"},
            "proposed_tool_calls": [
                {
                    "tool_call_id": "t1",
                    "name": "refund",
                    "args": {"order": 1042, "amount_usd": "49.90"},
                }
            ],
        },
    )
    args = {"order": 1042, "amount_usd": "49.90"}
    run.emit(
        "tool.call.started",
        {
            "tool_call_id": "t1",
            "tool": "refund",
            "side_effect": True,
            "args": args,
            "args_hash": args_hash(args),
        },
    )
    run.emit(
        "tool.call.ended",
        {
            "tool_call_id": "t1",
            "tool": "refund",
            "status": "ok",
            "result": {"refund_id": "rf_77"},
            "duration_ns": 120_000_000,
        },
    )
    run.emit(
        "message.output", {"role": "assistant", "content": "Refund rf_77 issued for order 1042."}
    )
    run.emit(
        "run.ended",
        {
            "status": "succeeded",
            "event_count": run.seq + 1,
            "last_hash": run.prev,
            "totals": {
                "llm_calls": 1,
                "tool_calls": 1,
                "input_tokens": 412,
                "output_tokens": 38,
                "cost_usd": "0.000085",
            },
        },
    )
    try_sequence(conn, settings, wait=True)
    report = verify_ledger(conn, settings)
    where = (
        f"embedded PostgreSQL in {settings.pgdata}" if settings.embedded else "external PostgreSQL"
    )
    typer.echo(f"ledger: {where}")
    typer.echo(
        f"recorded run {run.run_id}: {len(run.events)} events (support-agent, alice@example.com)"
    )
    typer.echo(f"verify: {report_line(report)}")
    typer.echo(
        "next: ledger runs | ledger show RUN_ID | ledger checkpoint > pin.note | ledger verify --pin pin.note"
    )
    _ = leaf_hash
    return report.status == "ok"
