"""Partition records are signed like gate results: `registry` with the service key of the
registry in force (the signature checks over the partition claim), `asserted` otherwise."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ledger.event_partition import PartitionCreatedData
from ledger.keys import load_or_create_signer
from ledger.note import Verifier
from ledger.partitions import partition_message
from tests.gate.recordkit import service_registry
from tests.partitions.conftest import Main
from tests.registrykit import Authority, authority

__all__ = ["authority"]  # fixtures
pytestmark = pytest.mark.xdist_group("partitions")


def _data(auth: Authority, event_id: str) -> PartitionCreatedData:
    body = auth.conn.execute("SELECT body FROM ledger_events WHERE event_id = %s",
                             (event_id,)).fetchone()[0]  # type: ignore[index]
    return PartitionCreatedData.model_validate(json.loads(bytes(body))["data"])


def test_signed_with_the_service_key_is_registry(
    authority: Authority, main: Main, tmp_path: Path
) -> None:
    key = tmp_path / "ci" / "service.key"
    signer = load_or_create_signer(key, "ledger-service")
    service_registry(authority, signer.vkey)
    root = str(authority.root_file)
    done = main("tenants", "add", "default", "--own-partition", "--sign-with", str(key),
                "--trust-root", root, "--json")
    assert done.exit_code == 0, done.stderr
    added = json.loads(done.stdout)
    assert added["authority"] == "registry"
    data = _data(authority, added["event_id"])
    assert data.authority == "registry" and data.signature is not None
    raw = base64.b64decode(data.signature)
    assert Verifier.from_vkey(signer.vkey).verify(partition_message(data, added["origin"]), raw)
    forged = data.model_copy(update={"range_size": 1})
    assert not Verifier.from_vkey(signer.vkey).verify(
        partition_message(forged, added["origin"]), raw)
    unsigned = main("tenants", "add", "globex", "--own-partition", "--trust-root", root, "--json")
    assert json.loads(unsigned.stdout)["authority"].startswith("asserted (")
