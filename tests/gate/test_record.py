"""Recording a gate result (ledger.gates): who may, under what authority, and re-checking it.

A result signed with the registry's service_key is `registry` and verifies; with another key,
no key, no registry or no trust root it is recorded `asserted` with the reason (never refused:
a failing result must not be lost to a wrong key); a writer's credentials can record none,
neither through the service nor straight into intake.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from ledger.authority.trust import NO_TRUST_ROOT
from ledger.config import Settings
from ledger.gates import (
    GateRefused,
    RecordedGate,
    gate_results,
    load_gate_signer,
    record_gate_result,
    verify_gate,
)
from ledger.keys import load_or_create_signer
from ledger.store.append import submit
from ledger.store.door import single_event
from ledger.store.sequencer import try_sequence
from tests.gate.recordkit import result, service_registry
from tests.integrity.conftest import fate, writer
from tests.registrykit import Authority, authority

__all__ = ["authority", "writer"]  # fixtures


def _only(conn: psycopg.Connection, settings: Settings) -> RecordedGate:
    [found] = gate_results(conn, settings)
    return found


def test_signed_with_the_registrys_service_key_is_registry_and_verifies(
    authority: Authority, tmp_path: Path
) -> None:
    key = tmp_path / "ci" / "service.key"
    signer = load_or_create_signer(key, "ledger-service")
    digest = service_registry(authority, signer.vkey)
    done = record_gate_result(authority.conn, authority.settings, result(),
                              signer=load_gate_signer(str(key)), root=authority.root)
    assert (done.authority, done.signed, done.reason) == ("registry", True, None)
    got = _only(authority.conn, authority.settings)
    assert (got.event_id, got.data.registry_hash, got.data.authority) == (
        done.event_id, digest, "registry")
    check = verify_gate(authority.conn, got, authority.root)
    assert (check.ok, check.reason) == (True, "signed with the service_key of registry acme v1")
    # the same record flipped to "pass" (or moved to another log) no longer verifies
    flipped = RecordedGate(got.event_id, got.seq, got.recorded_at,
                           got.data.model_copy(update={"decision": "fail"}), got.origin)
    assert verify_gate(authority.conn, flipped, authority.root).reason == (
        "signature does not match the result")
    moved = RecordedGate(got.event_id, got.seq, got.recorded_at, got.data, "elsewhere/default")
    assert not verify_gate(authority.conn, moved, authority.root).ok
    assert not verify_gate(authority.conn, got, None).ok


def test_another_key_is_recorded_asserted_with_the_reason(
    authority: Authority, tmp_path: Path
) -> None:
    service = load_or_create_signer(tmp_path / "ci" / "service.key", "ledger-service")
    service_registry(authority, service.vkey)
    other = load_or_create_signer(tmp_path / "dev" / "ledger-service.key", "ledger-service")
    done = record_gate_result(authority.conn, authority.settings, result(), signer=other,
                              root=authority.root)
    why = f"key ledger-service+{other.key_id.hex()} is not the service_key of registry acme v1"
    assert (done.authority, done.signed, done.reason) == ("asserted", True, why)
    got = _only(authority.conn, authority.settings)
    assert (got.data.authority, got.data.authority_reason, bool(got.data.signature)) == (
        "asserted", why, True)
    assert verify_gate(authority.conn, got, authority.root).reason == f"asserted: {why}"
    unsigned = record_gate_result(authority.conn, authority.settings, result(), signer=None,
                                  root=authority.root)
    assert (unsigned.authority, unsigned.signed, unsigned.reason) == (
        "asserted", False, "unsigned (no --sign-with): not the service_key of registry acme v1")


def test_without_trust_root_or_service_key_the_result_is_asserted(
    authority: Authority, tmp_path: Path
) -> None:
    signer = load_or_create_signer(tmp_path / "ci" / "service.key", "ledger-service")
    done = record_gate_result(authority.conn, authority.settings, result(), signer=signer,
                              root=None)
    assert (done.authority, done.reason) == ("asserted", NO_TRUST_ROOT)
    none = record_gate_result(authority.conn, authority.settings, result(), signer=signer,
                              root=authority.root)
    assert none.authority == "asserted" and none.reason is not None
    assert none.reason.startswith("no signed principal registry in force")
    service_registry(authority, None)
    listed = record_gate_result(authority.conn, authority.settings, result(), signer=signer,
                                root=authority.root)
    assert listed.reason == "registry acme v1 lists no service_key"
    # forged authority fields are replaced, never trusted
    forged = result().model_copy(update={"authority": "registry", "signature": "AAAA"})
    again = record_gate_result(authority.conn, authority.settings, forged, signer=None,
                               root=authority.root)
    assert again.authority == "asserted"
    assert [r.data.authority for r in gate_results(authority.conn, authority.settings)] == [
        "asserted"] * 4


def test_a_writer_can_record_no_gate_result(
    writer: tuple[str, psycopg.Connection],
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
) -> None:
    role, conn = writer
    with pytest.raises(GateRefused) as refused:
        record_gate_result(conn, ledger_settings, result(), signer=None, root=None)
    assert str(refused.value) == (
        f"role {role} may not record gate results: only the ledger owner or a ledger_operator "
        "role may (a writer never can)")
    forged = single_event("gate.result", result().model_copy(update={"authority": "registry"}))
    submit(conn, [forged], ledger_settings)  # straight into intake
    try_sequence(ledger_conn, ledger_settings, wait=True)
    assert fate(ledger_conn, forged) == (
        f"control-plane event gate.result from writer role {role!r} refused: only "
        "ledger_operator roles may write it (no registry-authorised signature)")
    assert gate_results(ledger_conn, ledger_settings) == []


def test_results_read_back_newest_first_by_label_agent_and_origin(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    first = record_gate_result(ledger_conn, ledger_settings, result(label="v4"), signer=None,
                               root=None)
    second = record_gate_result(ledger_conn, ledger_settings, result(label="v5"), signer=None,
                                root=None, tenant="acme")
    third = record_gate_result(ledger_conn, ledger_settings, result(label="v5", agent="other"),
                               signer=None, root=None)
    ids = [r.event_id for r in gate_results(ledger_conn, ledger_settings)]
    assert ids == [third.event_id, second.event_id, first.event_id]
    by = {
        "v5": gate_results(ledger_conn, ledger_settings, label="v5"),
        "sales": gate_results(ledger_conn, ledger_settings, agent="sales-ops"),
        "acme": gate_results(ledger_conn, ledger_settings, origin=second.origin),
    }
    assert {k: [r.event_id for r in v] for k, v in by.items()} == {
        "v5": [third.event_id, second.event_id],
        "sales": [second.event_id, first.event_id],
        "acme": [second.event_id],
    }
    assert second.origin == ledger_settings.origin("acme")
