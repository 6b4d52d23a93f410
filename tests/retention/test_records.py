"""Retention records (contract 7): who may write them, under what authority, re-checked.

A writer's credentials can record none of retention.rule, hold.added, hold.released or
archive.recorded, neither through the service (GateRefused) nor straight into intake (the
sequencer refuses each with the reason). An operator's record signed with the registry's
service_key is `registry` and re-checks; with another key it is `asserted` with the reason; a
record whose signed content was changed afterwards no longer re-checks.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ledger.event_retention import (
    ArchiveRecordedData,
    HoldAddedData,
    HoldReleasedData,
    RetentionRuleData,
    SignedRecord,
)
from ledger.gates import GateRefused, load_gate_signer
from ledger.holds import add_hold, list_holds
from ledger.keys import load_or_create_signer
from ledger.retention import check_record, set_rule
from ledger.store.append import submit
from ledger.store.door import single_event
from ledger.store.sequencer import try_sequence
from tests.gate.recordkit import service_registry
from tests.integrity.conftest import fate, writer
from tests.registrykit import Authority, authority

__all__ = ["authority", "writer"]  # fixtures

HOLD = uuid.UUID(int=7)
FORGED: list[tuple[str, SignedRecord]] = [
    ("retention.rule", RetentionRuleData(tenant="default", event_class="*", keep="1d",
                                         reason="shrink", recorded_by="agent")),
    ("hold.added", HoldAddedData(hold_id=HOLD, tenant="default", reason="x",
                                 recorded_by="agent")),
    ("hold.released", HoldReleasedData(hold_id=HOLD, reason="case closed", recorded_by="agent")),
    ("archive.recorded", ArchiveRecordedData(
        tenant="default", seq_from=0, seq_to=4, before="2030-01-01", bundle_sha256="ab" * 32,
        checkpoint="forged", disposition="dropped", recorded_by="agent")),
]  # fmt: skip


def test_a_writer_can_record_no_retention_record(
    writer: tuple[str, psycopg.Connection],
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
) -> None:
    role, conn = writer
    with pytest.raises(GateRefused) as refused:
        set_rule(conn, ledger_settings, tenant="default", keep="1d", event_class="*",
                 reason="x", recorded_by="agent")
    assert str(refused.value) == (
        f"role {role} may not record retention records: only the ledger owner or a "
        "ledger_operator role may (a writer never can)")
    forged = [single_event(kind, data.model_copy(update={"authority": "registry"}))
              for kind, data in FORGED]
    submit(conn, forged, ledger_settings)  # straight into intake
    try_sequence(ledger_conn, ledger_settings, wait=True)
    for (kind, _), event in zip(FORGED, forged, strict=True):
        assert fate(ledger_conn, event) == (
            f"control-plane event {kind} from writer role {role!r} refused: only "
            "ledger_operator roles may write it (no registry-authorised signature)")
    assert list_holds(ledger_conn) == []


def test_signed_with_the_service_key_is_registry_another_key_asserted(
    authority: Authority, tmp_path: Path
) -> None:
    key = tmp_path / "ci" / "service.key"
    service = load_or_create_signer(key, "ledger-service")
    service_registry(authority, service.vkey)
    conn, settings = authority.conn, authority.settings
    signed_id, signed = add_hold(conn, settings, tenant="default", reason="case 7",
                                 recorded_by="legal", signer=load_gate_signer(str(key)),
                                 root=authority.root)  # fmt: skip
    assert (signed.authority, signed.signed, signed.reason) == ("registry", True, None)
    other = load_or_create_signer(tmp_path / "dev" / "ledger-service.key", "ledger-service")
    _, asserted = add_hold(conn, settings, tenant="default", reason="case 8",
                           recorded_by="legal", signer=other, root=authority.root)
    why = f"key ledger-service+{other.key_id.hex()} is not the service_key of registry acme v1"
    assert (asserted.authority, asserted.signed, asserted.reason) == ("asserted", True, why)
    first, second = list_holds(conn)
    assert first.hold_id == signed_id
    assert check_record(conn, first.origin, first.seq, first.data, root=authority.root).reason \
        == "signed with the service_key of registry acme v1"
    assert check_record(conn, second.origin, second.seq, second.data,
                        root=authority.root).reason == f"asserted: {why}"
    # the signed hold widened to another run, or moved to another log, no longer re-checks
    widened = first.data.model_copy(update={"run_id": uuid.uuid4()})
    assert check_record(conn, first.origin, first.seq, widened, root=authority.root).reason \
        == "signature does not match the record"
    assert not check_record(conn, "elsewhere/default", first.seq, first.data,
                            root=authority.root).ok
    assert not check_record(conn, first.origin, first.seq, first.data, root=None).ok
