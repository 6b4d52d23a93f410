"""Review r16c: an *edited* approval releases only the edited args (ledger/hooks/precheck.py).

The approver held `refund(7, 900)` and edited it to `refund(7, 90)`. replay says an edit
releases "the edited args, never the original" (replay/policy/enforcement.py); the hook's
`_grant` accepts `key args_hash in (decided args_hash, edited args_hash)`, so the retry with
the ORIGINAL args (900) runs.
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
scope: {agents: [r16c-edit]}
policies:
  require_approval_for:
    - {action: pay.refund, threshold_usd: 100}
"""

paid: list[int] = []


@ledger.tool(name="pay.refund")
def refund(order: int, amount_usd: int) -> int:
    paid.append(amount_usd)
    return amount_usd


def test_an_edit_does_not_release_the_original_args(
    writer: Writer, ledger_conn: psycopg.Connection, cli: Any, tmp_path: Path
) -> None:
    publish(cli, tmp_path, PACK)
    paid.clear()
    with ledger.run(agent="r16c-edit", user="ann") as run:
        with pytest.raises(ledger.ApprovalRequired) as held:
            refund(7, 900)
        run.flush()
        ledger.decide(held.value.approval_id, approver="carol", decision="edited",
                      edited_args={"order": 7, "amount_usd": 90})
        run.flush()
        try:
            refund(7, 900)  # the original args again
        except (ledger.ApprovalRequired, ledger.PolicyDenied):
            pass
    assert 900 not in paid, "the unedited 900 refund ran on an approval edited to 90"


def test_an_approval_releases_one_call_not_a_second_after_resume(
    writer: Writer, ledger_conn: psycopg.Connection, cli: Any, tmp_path: Path
) -> None:
    """Held, approved, run once. The run is resumed (another process, a framework resume) and
    the agent calls the same tool with the same args again: the approval bound one call (the
    read API says its call started), so the second refund is held again. Restarting the run
    with `ledger.run(run_id=...)` is refused and points to `ledger.resume`."""
    publish(cli, tmp_path, PACK)
    paid.clear()
    with ledger.run(agent="r16c-edit", user="ann") as run:
        with pytest.raises(ledger.ApprovalRequired) as held:
            refund(8, 500)
        run.flush()
        ledger.decide(held.value.approval_id, approver="carol")
        run.flush()
        assert refund(8, 500) == 500
        rid = run.run_id
        run.suspend("interrupt", resume_key="r16c:8")
    run.flush()
    with pytest.raises(ledger.RunExists, match=r"ledger\.resume"):
        ledger.run(agent="r16c-edit", user="ann", run_id=rid).begin()
    with ledger.resume(rid) as again:
        with pytest.raises(ledger.ApprovalRequired) as second:
            refund(8, 500)
        again.flush()
    assert paid == [500], f"one approval released {len(paid)} refunds"
    assert second.value.approval_id != held.value.approval_id
    events = stored(ledger_conn, rid)
    assert [e.run_seq for e in events] == list(range(len(events)))  # one chain, never restarted
    assert [e.type for e in events].count("tool.call.started") == 1  # the approved one only
    asked = [e.data.approval_id for e in events if e.type == "approval.requested"]
    assert asked == [held.value.approval_id, second.value.approval_id]
