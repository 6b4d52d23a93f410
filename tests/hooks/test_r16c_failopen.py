"""Review r16c: fail-open paths of the pre-call decision (ledger/hooks/precheck.py).

A pack in force in `enforce` mode that this process cannot load (published by a newer
ledger, with a section this evaluator does not know) must deny side-effecting calls (the
guard says so: "A pack that cannot be loaded denies (fail closed)"), with a recorded
decision. Today the guard's deny carries no `data`, and `decide_and_start` treats
`data is None` as allow: the body runs and no decision is recorded.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
import pytest

import ledger
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence
from replay.policy import load_pack_text
from replay.policy.published import publish_policy

from .conftest import stored

PACK = """\
mode: enforce
scope: {agents: [r16c-failopen]}
tools: {allow: [lookup]}
"""

ran: list[str] = []


@ledger.tool(name="wire_money", side_effect=True)
def wire_money(to: str) -> str:
    ran.append(to)
    return "sent"


def test_unloadable_enforced_pack_fails_closed(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    loaded = load_pack_text(PACK, "pack.yaml")
    future = {**loaded.document, "future_rules": {"velocity": {"max_per_minute": 1}}}
    newer = dataclasses.replace(loaded, document=future, policy_hash="ab" * 32)
    publish_policy(ledger_conn, ledger_settings, newer)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    ran.clear()
    with ledger.run(agent="r16c-failopen", user="eve") as run:
        assert run.enf is not None and run.enf.enforcing  # the pack is pinned and enforcing
        with pytest.raises(ledger.PolicyDenied):
            wire_money("acct-666")
        run.flush()
        rid = run.run_id
    assert ran == [], "a side-effecting body ran under an enforced pack that could not be loaded"
    decided: list[Any] = [e for e in stored(ledger_conn, rid) if e.type == "policy.decided"]
    assert [d.data.decision for d in decided] == ["deny"]
