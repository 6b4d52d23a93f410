"""An edited approval releases the edited args (review r16c finding 5, the other side).

The approver edits `refund(7, 900)` to `refund(7, 150)`: the agent's call with the edited args
finds its request by the original args' hash (the request records those), runs once under
the held tool_call_id; the original args stay refused (test_r16c_edited_approval.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

import ledger
from ledger.hooks.writer import Writer

from .conftest import stored
from .test_enforce_rules import publish

PACK = """\
mode: enforce
scope: {agents: [fixd-edit]}
policies:
  require_approval_for:
    - {action: pay.refund, threshold_usd: 100}
"""

paid: list[int] = []


@ledger.tool(name="pay.refund")
def refund(order: int, amount_usd: int) -> int:
    paid.append(amount_usd)
    return amount_usd


def test_the_edited_args_run_under_the_held_call(
    writer: Writer, ledger_conn: psycopg.Connection, cli: Any, tmp_path: Path
) -> None:
    publish(cli, tmp_path, PACK)
    paid.clear()
    with ledger.run(agent="fixd-edit", user="ann") as run:
        with pytest.raises(ledger.ApprovalRequired) as held:
            refund(7, 900)
        run.flush()
        ledger.decide(held.value.approval_id, approver="carol", decision="edited",
                      edited_args={"order": 7, "amount_usd": 150})
        run.flush()
        assert refund(7, 150) == 150
        run.flush()
        rid = run.run_id
    assert paid == [150]
    started = [e.data.tool_call_id for e in stored(ledger_conn, rid)
               if e.type == "tool.call.started"]
    assert started == [held.value.tool_call_id]
