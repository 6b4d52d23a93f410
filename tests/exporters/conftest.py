"""Fixtures for exporter tests: a real ledger with runs before, inside and after a period."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from exporters.bundle import ExportParams, export_bundle
from ledger import ids
from ledger.config import Settings
from ledger.events import EventBase, args_hash, leaf_hash, make_event
from ledger.store.append import encode_for_intake
from tests.ledgerkit import append

SINCE = "2026-01-01T00:00:00Z"
UNTIL = "2026-02-01T00:00:00Z"
_SETTINGS = Settings(home=Path("/nonexistent"))


def rich_run(
    start: str,
    *,
    n_tools: int = 2,
    approve: bool = True,
    fail_guard: bool = False,
    tenant: str = "default",
    user: str = "alice",
    approver: str = "bob",
) -> list[EventBase]:
    """A chained run with tool calls, an approval, a guardrail verdict and an LLM call."""
    run_id = uuid.uuid4()
    t0 = ids.parse_timestamp(start)
    events: list[EventBase] = []
    prev: str | None = None
    envelope: dict[str, Any] = {
        "tenant": tenant,
        "principal": {"initiating_user": user, "roles": ["ops"]},
        "agent": {"name": "billing-agent", "version": "1.2"},
        "versions": {"prompt_version": "p7", "model": "gpt-x", "policy_hash": "a" * 64},
    }

    def add(type_name: str, data: dict[str, Any]) -> None:
        nonlocal prev
        event = make_event(
            type_name,
            run_id=run_id,
            run_seq=len(events),
            prev_run_hash=prev,
            data=data,
            occurred_at=ids.format_timestamp(t0 + len(events) * 10**9),
            **envelope,
        )
        prev = leaf_hash(encode_for_intake(event, _SETTINGS).body).hex()
        events.append(event)

    add("run.started", {"task": "refund"})
    add(
        "llm.call.ended",
        {
            "call_id": "c1",
            "response_model": "gpt-x",
            "cost": {"amount_usd": "0.0125", "price_table_version": "2026-01"},
            "usage": {"input_tokens": 10, "output_tokens": 5},
        },
    )
    for i in range(n_tools):
        args = {"i": i}
        add(
            "tool.call.started",
            {
                "tool_call_id": f"t{i}",
                "tool": "crm.update",
                "args": args,
                "args_hash": args_hash(args),
                "side_effect": i % 2 == 0,
                "contract_digest": "sha256:" + "c" * 64,
                "resources": [f"crm://customer/{i}"],
            },
        )
        if approve and i == 0:
            add(
                "approval.decided",
                {
                    "approval_id": f"a{i}",
                    "tool_call_id": f"t{i}",
                    "args_hash": args_hash(args),
                    "decision": "approved",
                    "approver": {"id": approver, "roles": ["lead"]},
                },
            )
        add(
            "tool.call.ended",
            {"tool_call_id": f"t{i}", "tool": "crm.update", "status": "error" if i == 1 else "ok"},
        )
    add("guardrail.evaluated", {"name": "pii", "verdict": "fail" if fail_guard else "pass"})
    add("run.ended", {"status": "succeeded", "event_count": len(events) + 1, "last_hash": prev})
    return events


def day(n: int, month: int = 1) -> str:
    return f"2026-{month:02d}-{n:02d}T10:00:00Z"


@pytest.fixture
def populated(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> dict[str, Any]:
    """Runs in Dec 2025 (before), Jan 2026 (in period, several batches) and Feb 2026 (after)."""
    before = [e for i in range(2) for e in rich_run(f"2025-12-{10 + i}T10:00:00Z")]
    append(ledger_conn, ledger_settings, before)
    inside: list[EventBase] = []
    for i in range(4):
        batch = rich_run(day(2 + i), fail_guard=i == 1, approver="alice" if i == 2 else "bob")
        append(ledger_conn, ledger_settings, batch)
        inside += batch
    after = rich_run(day(3, 2))
    append(ledger_conn, ledger_settings, after)
    return {"before": before, "inside": inside, "after": after}


@pytest.fixture
def bundle(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    populated: dict[str, Any],
    tmp_path: Path,
) -> Path:
    """A bundle of the populated ledger over the test period."""
    out = tmp_path / "b"
    export_bundle(
        ledger_conn, ledger_settings, ExportParams(since=SINCE, until=UNTIL, out=out, record=False)
    )
    return out
