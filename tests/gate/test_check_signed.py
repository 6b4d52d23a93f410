"""`gate check --sign-with`: in CI the registry's service key signs the result, which is then
`registry` and re-checks against the log; the judged runs' approvals are judged under the same
trust root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import ledger.hooks as hooks
from ledger.gates import gate_results, verify_gate
from ledger.hooks.writer import Writer
from ledger.keys import load_or_create_signer
from tests.gate.checkkit import good_set, record_all, run_cli, suite_file, writer_for
from tests.gate.recordkit import service_registry
from tests.registrykit import Authority, authority

__all__ = ["authority"]  # fixtures


@pytest.fixture
def writer(authority: Authority) -> Iterator[Writer]:
    yield writer_for(authority.settings)
    hooks.shutdown()


def test_signed_with_the_service_key_is_a_registry_result_that_verifies(
    authority: Authority, writer: Writer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    key = tmp_path / "ci" / "service.key"
    service_registry(authority, load_or_create_signer(key, "ledger-service").vkey)
    judged = record_all(good_set())
    done = run_cli(monkeypatch, capsys, authority.settings, "gate", "check",
                   str(suite_file(tmp_path)), "--runs", "label=v4", "--as", "ci",
                   "--sign-with", str(key), "--trust-root", str(authority.root_file))
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith(": registry")
    (got,) = gate_results(authority.conn, authority.settings, label="v4")
    assert {r for t in got.data.tasks for r in t.run_ids} == set(judged)
    assert verify_gate(authority.conn, got, authority.root).ok
    unsigned = run_cli(monkeypatch, capsys, authority.settings, "gate", "check",
                       str(suite_file(tmp_path)), "--runs", "label=v4",
                       "--trust-root", str(authority.root_file))
    assert unsigned.exit_code == 0
    assert unsigned.stdout.splitlines()[-1].endswith(
        "asserted (unsigned (no --sign-with): not the service_key of registry acme v1)")
