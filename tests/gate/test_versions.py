"""`ledger versions AGENT` through the real CLI: version tuples from run.started envelopes, the
last gate decision with its authority (a registry signature re-checked), and the known-good mark.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ledger.gates import record_gate_result
from ledger.keys import load_or_create_signer
from tests.gate.recordkit import gcli, result, service_registry
from tests.ledgerkit import append, chained_run
from tests.registrykit import Authority, authority

__all__ = ["authority", "gcli"]


def _group(match: re.Match[str] | None) -> str:
    assert match is not None
    return match.group(1)


def _runs(auth: Authority, agent: str, prompt: str, count: int = 1) -> None:
    events = [e for _ in range(count) for e in chained_run(
        0, agent={"name": agent, "version": "1.0"},
        versions={"prompt_version": prompt, "model": "scripted-1"})]  # fmt: skip
    append(auth.conn, auth.settings, events)


def test_versions_mark_the_last_known_good_one(
    gcli: Any, authority: Authority, tmp_path: Path
) -> None:
    conn, settings = authority.conn, authority.settings
    key = load_or_create_signer(tmp_path / "ci" / "service.key", "ledger-service")
    service_registry(authority, key.vkey)
    _runs(authority, "sales-ops", "sales-ops/v4", 2)
    _runs(authority, "other", "other/v1")
    _runs(authority, "sales-ops", "sales-ops/v5")
    _runs(authority, "sales-ops", "sales-ops/v6")
    record_gate_result(conn, settings, result(label="v4"), signer=key, root=authority.root)
    record_gate_result(conn, settings, result({"t": (2, 5)}, label="v5", prompt="sales-ops/v5"),
                       signer=key, root=authority.root)  # fmt: skip
    root = ("--trust-root", str(authority.root_file))
    res = gcli("versions", "sales-ops", *root)
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["AGENT", "VERSION", "PROMPT", "MODEL", "POLICY", "TOOLS", "RUNS",
                                "LAST", "SEEN", "GATE", "SLO"]  # fmt: skip
    gate = re.compile(r"\d\d:\d\d  +(\S+(?: \(\w+\))?)  +none declared$")
    rows = [(line[0], line[3:].split()[1], _group(gate.search(line))) for line in lines[1:4]]
    assert rows == [(" ", "sales-ops/v6", "-"), (" ", "sales-ops/v5", "fail (registry)"),
                    ("*", "sales-ops/v4", "pass (registry)")]
    assert lines[-1] == ("known-good (*): agent_version=1.0, prompt_version=sales-ops/v4, "
                         "model=scripted-1: gate passed (registry-signed) and no SLO objectives "
                         "declared (or no data)")  # fmt: skip
    # without the trust root the registry signature cannot be checked: asserted, and so not
    # known-good when signatures are required
    doc = json.loads(gcli("versions", "sales-ops", "--json", "--require-signed").stdout)
    assert [(v["versions"]["prompt_version"], v["runs"], v["known_good"],
             v["gate"] and v["gate"]["authority"]) for v in doc["versions"]] == [
        ("sales-ops/v6", 1, False, None), ("sales-ops/v5", 1, False, "asserted"),
        ("sales-ops/v4", 2, False, "asserted")]  # fmt: skip
    assert doc["known_good_because"] is None
    assert doc["versions"][2]["gate"]["authority_note"] == (
        "registry signature not accepted: cannot check the signature: no trust root given (set "
        "LEDGER_TRUST_ROOT or --trust-root)")  # fmt: skip


def test_an_asserted_pass_counts_unless_signatures_are_required(
    gcli: Any, authority: Authority
) -> None:
    _runs(authority, "sales-ops", "sales-ops/v4")
    record_gate_result(authority.conn, authority.settings, result(label="v4"), signer=None,
                       root=None)  # fmt: skip
    res = gcli("versions", "sales-ops")
    assert res.stdout.splitlines()[-1].endswith(": gate passed (asserted) and no SLO objectives "
                                                "declared (or no data)")  # fmt: skip
    strict = gcli("versions", "sales-ops", "--require-signed")
    assert strict.stdout.splitlines()[-1] == (
        "no known-good version of sales-ops: none passed the gate registry-signed with its "
        "SLOs met")
    nobody = gcli("versions", "ghost\x1b[2J")
    assert (nobody.exit_code, nobody.stdout) == (
        1, "nothing matched: no runs of agent ghost\\x1b[2J in the ledger\n")
