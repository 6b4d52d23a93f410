"""Issue 15 item 2: control-plane events from a writer credential are refused by the sequencer.

The attacker is an agent host with a real LOGIN role that is a member of ledger_writer (what a
deployment gives it). It submits a policy pack and a stop request straight into intake, and a
registry.published signed by a key of its own. The sequencer knows the submitting role (intake
`submitted_by`, filled by PostgreSQL) and rejects them with a reason; the very same events
submitted by the owner's connection are accepted, and a registry the trust root's administrator
signed is accepted from the writer too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.authority.registry import Registry
from ledger.authority.signed import sign_registry
from ledger.config import Settings
from ledger.events import EventBase
from ledger.keys import load_or_create_signer
from ledger.store.append import submit
from ledger.store.door import single_event
from ledger.store.sequencer import try_sequence
from tests.integrity.conftest import fate

_OPERATOR_ONLY = "only ledger_operator roles may write it (no registry-authorised signature)"


def registry_event(
    signer_path: Path, name: str, registry: str = "acme", version: int = 1, logs: str = "*"
) -> EventBase:
    """registry.published of a registry `registry` v`version` for `logs`, signed by a key."""
    meta = {"name": registry, "version": version, "logs": [logs]}
    doc = Registry.model_validate({"registry": meta})
    signed = sign_registry(doc, load_or_create_signer(signer_path, name))
    data: dict[str, Any] = {
        "registry_hash": signed.digest, "name": registry, "version": version, **signed.to_json(),
    }
    return single_event("registry.published", data)


def test_writer_cannot_publish_a_policy_or_stop_runs(
    writer: tuple[str, psycopg.Connection],
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
) -> None:
    role, conn = writer
    policy = single_event(
        "policy.published",
        {"policy_hash": "a" * 64, "name": "lenient", "version": "9", "document": {}},
    )
    stop = single_event("run.stop.requested", {"requested_by": "mallory", "reason": "halt all"})
    submit(conn, [policy, stop], ledger_settings)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    for event in (policy, stop):
        assert fate(ledger_conn, event) == (
            f"control-plane event {event.type} from writer role {role!r} refused: {_OPERATOR_ONLY}"
        )
    # the very same events from the owner's connection (an operator) are accepted
    submit(ledger_conn, [policy, stop], ledger_settings)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    assert (fate(ledger_conn, policy), fate(ledger_conn, stop)) == ("sequenced", "sequenced")
    assert ledger_conn.execute(
        "SELECT submitted_by = current_user FROM ledger_events WHERE event_id = %s",
        (policy.event_id,),
    ).fetchone() == (True,)


def test_writer_registry_needs_the_trust_roots_signature(
    writer: tuple[str, psycopg.Connection],
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    role, conn = writer
    admin = tmp_path / "admin" / "sec-admin.key"
    genuine = registry_event(admin, "sec-admin")
    forged = registry_event(tmp_path / "mallory.key", "sec-admin")  # same name, own key
    prefix = f"control-plane event registry.published from writer role {role!r} refused: "

    monkeypatch.delenv("LEDGER_TRUST_ROOT", raising=False)
    submit(conn, [genuine], ledger_settings)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    assert fate(ledger_conn, genuine) == prefix + (
        "the sequencer has no trust root (LEDGER_TRUST_ROOT) to check its signature"
    )

    monkeypatch.setenv("LEDGER_TRUST_ROOT", str(admin) + ".pub")
    submit(conn, [genuine, forged], ledger_settings)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    assert fate(ledger_conn, genuine) == "sequenced"
    assert fate(ledger_conn, forged) == prefix + (
        "not signed by an administrator key of the trust root"
    )
