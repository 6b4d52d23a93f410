"""The offline verifier re-judges authority with the auditor's own administrator key.

A real ledger (PostgreSQL) with an administrator key outside the ledger home, a signed registry
published before the period, and runs whose approvals a hostile writer recorded through
`ledger ingest`: one genuinely signed by bob (a registered finance_lead), one signed by the
writer's own key claiming to be bob, bob's genuine signature of a $250 refund moved onto a $9,999
call, an unsigned one, a genuine and a moved signed rejection of a call that never ran (judged
from its recorded request), and a registry the writer signed with its own key. The bundle is
exported with the real CLI and verified offline with the real `ledger verify-bundle`: findings
are reported (with seq and reason) in the `authority` section and never make the bundle
invalid.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest

from ledger import ids
from ledger.authority.registry import Registry
from ledger.authority.signed import sign_registry
from ledger.authority.trust import NO_TRUST_ROOT
from ledger.config import Settings
from ledger.errors import ExitCode
from ledger.events import args_hash
from ledger.note import Signer
from tests.replay.authority_kit import Kit, make_kit

REPO = Path(__file__).resolve().parents[2]
Cli = Callable[..., Any]
SMALL = {"order": "A-17", "amount_usd": "250.00"}
LARGE = {"order": "A-17", "amount_usd": "9999.00"}
MISMATCH = "approval signature does not match the call, args, decision or approver"
UNSIGNED_REGISTRY = "not signed by an administrator key of the trust root"


def _ingest(cli: Cli, lines: list[dict[str, Any]]) -> None:
    res = cli("ingest", "-", input=("\n".join(map(json.dumps, lines)) + "\n").encode())
    assert res.exit_code == 0, res.stderr


def _run(
    cli: Cli, *, approved: dict[str, Any], ran: dict[str, Any] | None,
    sign: Callable[[str], dict[str, Any]] | None, decision: str = "approved",
) -> str:
    """A refund run bob decides (signature fields from `sign(run_id)`), as the writer writes it;
    `ran=None`: the call never started (a rejection), only its request is on record."""
    run_id = str(uuid.uuid4())
    principal = {"initiating_user": "alice@example.com", "roles": ["support"]}
    decided = {"approval_id": "ap-1", "tool_call_id": "call-1", "args_hash": args_hash(approved),
               "decision": decision, "approver": {"id": "bob@example.com",
                                                  "roles": ["finance_lead"]},
               **(sign(run_id) if sign else {})}
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("run.started", {"task": "refund"}),
        ("approval.requested", {"approval_id": "ap-1", "tool_call_id": "call-1",
                                "tool": "refund", "args_hash": args_hash(approved),
                                "args": approved}),
        ("approval.decided", decided),
        ("tool.call.started", {"tool_call_id": "call-1", "tool": "refund", "side_effect": True,
                               "args": ran, "args_hash": args_hash(ran or {})}),
        ("tool.call.ended", {"tool_call_id": "call-1", "tool": "refund", "status": "ok"}),
        ("run.ended", {"status": "succeeded", "event_count": 6}),
    ]
    if ran is None:
        bodies = [*bodies[:3], ("run.ended", {"status": "failed", "event_count": 4})]
    _ingest(cli, [{"type": t, "run_id": run_id, "principal": principal, "data": d}
                  for t, d in bodies])
    return run_id


def _bob(kit: Kit, what: dict[str, Any], **kw: Any) -> Callable[[str], dict[str, Any]]:
    def sign(run_id: str) -> dict[str, Any]:
        fields = {"run_id": run_id, "call": "call-1", "tool": "refund", "args": what,
                  "approver": "bob@example.com"}
        return kit.signed_fields(**{**fields, **kw})

    return sign


def _writer_registry(cli: Cli, writer: Signer) -> None:
    """The writer's own registry (version 2, making mallory a finance_lead), via ingest."""
    registry = Registry.model_validate({
        "registry": {"name": "acme", "version": 2, "logs": ["*"]},
        "principals": [{"id": "mallory@example.com", "roles": ["finance_lead"],
                        "approver_key": writer.vkey}],
    })
    signed = sign_registry(registry, writer)
    data = {"registry_hash": signed.digest, "name": "acme", "version": 2, **signed.to_json()}
    _ingest(cli, [{"type": "registry.published", "run_id": str(uuid.uuid4()), "data": data}])


def _decided_seqs(out: Path) -> dict[str, int]:
    table = pq.read_table(out / "ledger/events.parquet", columns=["seq", "run_id", "type"])
    return {
        run: seq
        for seq, run, kind in zip(*(table.column(c).to_pylist() for c in table.column_names),
                                  strict=True)
        if kind == "approval.decided"
    }


@pytest.fixture
def world(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> dict[str, Any]:
    """The ledger, its bundle, the trust root file and the run of each case."""
    kit = make_kit(tmp_path, ledger_settings)
    kit.publish(ledger_conn, ledger_settings, {"bob@example.com": ("finance_lead",)})
    time.sleep(0.01)
    since = ids.format_timestamp(time.time_ns())  # the registry is published before the period
    writer = Signer.generate("approver-mallory")
    runs = {
        "genuine": _run(cli, approved=LARGE, ran=LARGE, sign=_bob(kit, LARGE)),
        "unregistered key": _run(cli, approved=LARGE, ran=LARGE,
                                 sign=_bob(kit, LARGE, signer=writer)),
        "other args": _run(cli, approved=LARGE, ran=LARGE, sign=_bob(kit, SMALL)),
        "unsigned": _run(cli, approved=LARGE, ran=LARGE, sign=None),
        # no call on record: the claim is rebuilt from the approval.requested
        "rejected": _run(cli, approved=LARGE, ran=None, decision="rejected",
                         sign=_bob(kit, LARGE, decision="rejected")),
        "rejected, other args": _run(cli, approved=LARGE, ran=None, decision="rejected",
                                     sign=_bob(kit, SMALL, decision="rejected")),
    }
    _writer_registry(cli, writer)
    until = ids.format_timestamp(time.time_ns() + 3600 * 10**9)
    out = tmp_path / "bundle"
    res = cli("export", "--since", since, "--until", until, "--out", str(out))
    assert res.exit_code == 0, res.stderr
    return {"kit": kit, "out": out, "runs": runs, "writer": writer,
            "seqs": _decided_seqs(out),
            "trust": str(ledger_settings.log_key_path.with_name("log.key.pub"))}


def test_the_bundle_carries_the_registry_published_before_the_period(
    world: dict[str, Any],
) -> None:
    rows = (world["out"] / "config/registries.jsonl").read_text().splitlines()
    versions = [(json.loads(r)["version"], json.loads(r)["registry_hash"]) for r in rows]
    assert versions[0] == (1, world["kit"].digest) and [v for v, _ in versions] == [1, 2]
    in_period = pq.read_table(world["out"] / "ledger/events.parquet").column("type").to_pylist()
    assert in_period.count("registry.published") == 1  # v1 is before the period


def test_offline_verification_with_the_trust_root_judges_each_approval(
    cli: Cli, world: dict[str, Any]
) -> None:
    kit, seqs, runs = world["kit"], world["seqs"], world["runs"]
    res = cli("verify-bundle", str(world["out"]), "--trust-root", str(kit.root_file), "--json",
              "--trust", world["trust"])
    assert res.exit_code == 0, res.stdout  # findings about the agent: the bundle stays valid
    report = json.loads(res.stdout)
    assert report["valid"] is True and report["problems"] == []
    auth = report["authority"]
    assert (auth["status"], auth["trust_root"]) == ("FINDINGS", str(kit.root_file))
    assert (auth["approvals"], auth["verified"], auth["unsigned"], auth["failed"],
            auth["unknown"]) == (6, 2, 1, 3, 0)
    assert [(v["version"], v["digest"]) for v in auth["registries_accepted"]] == [(1, kit.digest)]
    [refused] = auth["registries_refused"]
    assert refused["reason"] == UNSIGNED_REGISTRY
    mallory = world["writer"]
    assert sorted((f["seq"], f["status"], f["reason"]) for f in auth["findings"]) == sorted([
        (seqs[runs["unregistered key"]], "failed",
         f"approval signed by key '{mallory.name}+{mallory.key_id.hex()}', "
         "not the registered approver key"),
        (seqs[runs["other args"]], "failed", MISMATCH),
        (seqs[runs["rejected, other args"]], "failed", MISMATCH),
        (seqs[runs["unsigned"]], "unsigned", "approval is not signed"),
    ])
    assert {seqs[runs["genuine"]], seqs[runs["rejected"]]}.isdisjoint(
        f["seq"] for f in auth["findings"]
    )


def test_human_output_shows_the_authority_section(cli: Cli, world: dict[str, Any]) -> None:
    kit, seqs, runs = world["kit"], world["seqs"], world["runs"]
    res = cli("verify-bundle", str(world["out"]), "--trust-root", str(kit.root_file),
              "--trust", world["trust"])
    assert res.exit_code == 0, res.stdout
    lines = res.stdout.splitlines()
    assert lines[0].startswith("OK: bundle valid:")
    assert lines[1] == ("authority: FINDINGS: 6 approval(s): 2 verified, 1 unsigned, 3 failed, "
                        "0 unknown; registry versions: 1 accepted, 1 refused")
    assert f"  seq {seqs[runs['other args']]} approval ap-1: failed: {MISMATCH}" in lines
    assert any(line.startswith("  registry at seq ") and line.endswith(UNSIGNED_REGISTRY)
               for line in lines)


def test_without_a_trust_root_authority_is_untrusted_never_ok(
    cli: Cli, world: dict[str, Any]
) -> None:
    res = cli("verify-bundle", str(world["out"]), "--json", env={"LEDGER_TRUST_ROOT": ""})
    assert res.exit_code == ExitCode.UNTRUSTED, res.stdout  # issue 15: no --trust, never 0
    auth = json.loads(res.stdout)["authority"]
    assert (auth["status"], auth["reason"], auth["verified"]) == ("UNTRUSTED", NO_TRUST_ROOT, 0)
    assert auth["approvals"] == 6 and auth["findings"] == []
    human = cli("verify-bundle", str(world["out"]), env={"LEDGER_TRUST_ROOT": ""})
    assert human.stdout.splitlines()[1] == (
        f"authority: UNTRUSTED: 6 approval(s) not judged: {NO_TRUST_ROOT}"
    )


def test_a_forged_registry_file_entry_makes_the_bundle_invalid(
    cli: Cli, world: dict[str, Any]
) -> None:
    """The exporter (or anyone after it) swapping in another registry body: not the log's leaf.
    SHA256SUMS and the signed statement catch the edit too; the leaf check names the seq."""
    path = world["out"] / "config/registries.jsonl"
    rows = [json.loads(r) for r in path.read_text().splitlines()]
    body = json.loads(rows[0]["body"])
    body["data"]["document"]["principals"][0]["roles"] = ["finance_lead", "admin"]
    rows[0]["body"] = json.dumps(body, separators=(",", ":"), sort_keys=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = cli("verify-bundle", str(world["out"]), "--trust-root",
              str(world["kit"].root_file), "--json")
    assert res.exit_code == 1
    problems = json.loads(res.stdout)["problems"]
    assert {"file": "config/registries.jsonl", "row": 1, "seq": rows[0]["seq"],
            "reason": "differs from the signed tree's leaf at this seq"} in problems


def test_offline_authority_imports_no_database_code(world: dict[str, Any]) -> None:
    code = (
        "import sys, json; from pathlib import Path; from exporters.bundle_verify import "
        "verify_bundle; from ledger.authority.trust import TrustRoot; "
        "r = verify_bundle(Path(sys.argv[1]), None, TrustRoot.read(Path(sys.argv[2]))); "
        "bad = [m for m in sys.modules if m == 'psycopg' or m.startswith(('psycopg.', "
        "'ledger.store', 'ledger.db'))]; print(json.dumps({'bad': bad, "
        "'verified': r.authority.verified, 'status': r.authority.status}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(world["out"]), str(world["kit"].root_file)],
        capture_output=True, check=False, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout) == {"bad": [], "verified": 2, "status": "FINDINGS"}
