"""A guard's deny that carries no decision data still refuses (review r16c finding 1).

Any installed guard may answer `Decision.deny(reason)` with no `data`: the hooks build the
decision themselves (rule `policy.guard_denied`), record it, and raise PolicyDenied; the body
never runs. Before, `data is None` was read as allow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

import ledger
from ledger.hooks.guard import Decision, ProposedCall
from ledger.hooks.writer import Writer

from .conftest import stored
from .test_enforce_rules import publish

PACK = """\
mode: enforce
scope: {agents: [fixd-nodata]}
tools: {allow: [send]}
"""

ran: list[str] = []


@ledger.tool(name="send", side_effect=True)
def send(to: str) -> str:
    ran.append(to)
    return "sent"


class TerseGuard:
    """A guard that denies without the policy.decided data."""

    def check(self, call: ProposedCall) -> Decision:
        return Decision.deny("terse guard says no", "terse")


def test_a_deny_without_data_is_recorded_and_refused(
    writer: Writer, ledger_conn: psycopg.Connection, cli: Any, tmp_path: Path
) -> None:
    publish(cli, tmp_path, PACK)
    ran.clear()
    with ledger.run(agent="fixd-nodata", user="eve") as run:
        assert run.enf is not None
        run.enf.guard = TerseGuard()
        with pytest.raises(ledger.PolicyDenied) as denied:
            send("x")
        run.flush()
        rid = run.run_id
    assert ran == []
    assert denied.value.rules == ("policy.guard_denied",)
    decided = [e.data for e in stored(ledger_conn, rid) if e.type == "policy.decided"]
    assert [(d.decision, [r.id for r in d.rules]) for d in decided] == [
        ("deny", ["policy.guard_denied"])]
