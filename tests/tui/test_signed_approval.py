"""The timeline approves a pending approval.requested with the operator's own approver key.

The recorded `approval.decided` is signed and verifies against the key the registry in force
holds for the operator; an operator the registry does not know gets a one-line notification and
nothing is recorded.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psycopg

from ledger.approver_keys import create_approver_key
from ledger.authority.approvals import ApprovalClaim, SignedApproval, verify_approval
from ledger.authority.registry import Registry
from ledger.authority.service import load_history, publish_registry
from ledger.authority.signed import sign_registry
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.events import (
    ApprovalDecidedData,
    args_hash,
    decode_event,
    encode_event,
    leaf_hash,
    make_event,
)
from ledger.keys import load_or_create_signer
from tests.ledgerkit import append, chained_run
from tests.tui.conftest import SIZE, settle

OPERATOR = "carol"
ARGS = {"order": "A-17", "amount": "900.00"}


def _world(conn: psycopg.Connection, settings: Settings, tmp_path: Path) -> tuple[Path, str]:
    """A published registry naming carol with her approver key, and a pending request."""
    admin = load_or_create_signer(tmp_path / "admin" / "sec-admin.key", "sec-admin")
    root_file = tmp_path / "admin" / "sec-admin.key.pub"
    carol = create_approver_key(settings, OPERATOR)
    registry = Registry.model_validate({
        "registry": {"name": "acme", "version": 1, "logs": ["*"]},
        "principals": [{"id": OPERATOR, "roles": ["finance_lead"], "approver_key": carol.vkey}],
    })
    publish_registry(conn, settings, sign_registry(registry, admin), TrustRoot.read(root_file))
    run = chained_run(n_tools=0)
    started = run[0]
    req = make_event(
        "approval.requested", run_id=started.run_id, run_seq=1,
        prev_run_hash=leaf_hash(encode_event(started)).hex(),
        data={"approval_id": "ap-tui", "tool_call_id": "t9", "tool": "payments.refund",
              "args_hash": args_hash(ARGS), "args": ARGS},
    )
    append(conn, settings, [started, req])
    return root_file, str(started.run_id)


def _decisions(conn: psycopg.Connection) -> list[Any]:
    rows = conn.execute(
        "SELECT body FROM ledger_events WHERE type = 'approval.decided' ORDER BY seq"
    ).fetchall()
    return [decode_event(bytes(r[0])) for r in rows]


def _approve(app: Any) -> list[str]:
    """Open the run's timeline, move to the request, press y; the notifications shown."""

    async def main() -> list[str]:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("down")
            await settle(pilot)
            assert pilot.app.screen.cursor_row.type == "approval.requested"
            await pilot.press("y")
            await settle(pilot)
            return [str(n.message) for n in pilot.app._notifications]

    return asyncio.run(main())


def test_operator_approves_from_the_timeline_with_a_signature_that_verifies(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, make_app: Any, tmp_path: Path
) -> None:
    root_file, run_id = _world(ledger_conn, ledger_settings, tmp_path)
    shown = _approve(make_app(run_id=run_id, user=OPERATOR, trust_root=TrustRoot.read(root_file)))
    assert any(s.startswith("approved: ap-tui signed by carol") for s in shown), shown
    (event,) = _decisions(ledger_conn)
    data = event.data
    assert isinstance(data, ApprovalDecidedData) and data.approver.id == OPERATOR
    origin = ledger_settings.origin()
    now = load_history(ledger_conn, origin, TrustRoot.read(root_file)).latest()
    assert now.registry is not None and data.registry_hash == now.digest
    claim = ApprovalClaim(origin, data.call_run_id or event.run_id, "t9", "payments.refund",
                          args_hash(ARGS), "approved", None, OPERATOR, str(now.digest))
    assert str(claim.run_id) == run_id
    assert data.signing_key is not None and data.signature is not None
    assert verify_approval(claim, SignedApproval(data.signing_key, data.signature),
                           now.registry.approver_verifier(OPERATOR)) is None


def test_operator_the_registry_does_not_know_is_refused_in_one_line(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, make_app: Any, tmp_path: Path
) -> None:
    root_file, run_id = _world(ledger_conn, ledger_settings, tmp_path)
    create_approver_key(ledger_settings, "dave")  # a key of his own, but not registered
    shown = _approve(make_app(run_id=run_id, user="dave", trust_root=TrustRoot.read(root_file)))
    assert "ap-tui: approver 'dave' is not in the registry in force (registry version 1)" in shown
    assert _decisions(ledger_conn) == []
