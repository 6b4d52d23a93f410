"""An approval rule with `approver_roles`, enforced live (issue 16): the roles are the registry's.

A signed `approval.decided` records no roles; the hook verifies the signature over the call it
holds and reads the approver's roles from the registry in force (trusted by $LEDGER_TRUST_ROOT),
and replay's `enforcement.decisions` judges the roles a decision cites by the registry in force
at the approval. From the attacker's side: an approver without the role, an approval the agent
forges for the role holder (unsigned, or with a made-up signature), and a hostile hook that
cites the role anyway.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest

import ledger
import ledger.hooks.precheck as precheck
from ledger.approver_keys import load_approver_signer
from ledger.authority.approvals import ApprovalClaim, sign_approval
from ledger.authority.registry import Registry
from ledger.authority.service import load_history, publish_registry
from ledger.authority.signed import sign_registry
from ledger.config import Settings
from ledger.hooks.approval_authority import ApprovalRow, approver_standing
from ledger.hooks.live import LiveCache
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence
from tests.pg import test_writer_confinement as wc
from tests.registrykit import Authority

from .conftest import stored
from .test_enforce_rules import _pack, bodies, refund

confined = wc.confined  # the LOGIN writer role bound to tenant "a" (a fixture)

RULES = """\
    mode: enforce
    policies:
      require_approval_for:
        - {action: payments.refund, threshold_usd: 200, approver_roles: [finance_lead]}
    """


def check(cli: Any) -> dict[str, dict[str, tuple[str, str]]]:
    """run id -> rule id -> (outcome, explanation): one `ledger check` of every run."""
    res = cli("check", "--json")
    assert res.stdout, res.stderr
    return {r["run_id"]: {v["rule_id"]: (v["outcome"], v["explanation"]) for v in r["verdicts"]}
            for r in json.loads(res.stdout)["runs"]}


def _held(run: Any) -> ledger.ApprovalRequired:
    with pytest.raises(ledger.ApprovalRequired) as held:
        refund(1, 300)
    run.flush()
    return held.value


def _hostile(*_: Any, **__: Any) -> tuple[list[str], bool]:
    """A writer running its own copy of the hooks: it cites the role, unverified."""
    return ["finance_lead"], False


def test_roles_come_from_the_registry_not_the_event(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any,
    authority: Authority, monkeypatch: pytest.MonkeyPatch,
) -> None:
    authority.publish(principals=[authority.person("carol", "finance_lead"),
                                  authority.person("dave", "support")])
    monkeypatch.setenv("LEDGER_TRUST_ROOT", str(authority.root_file))
    _pack(ledger_conn, ledger_settings, "refunder", RULES)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    bodies.clear()

    # carol holds finance_lead and signs: the retry runs the same call, and check proves it
    with ledger.run(agent="refunder", user="ann") as run:
        held = _held(run)
        res = cli("approve", held.approval_id, "--as", "carol")
        assert res.exit_code == 0, res.stderr
        assert refund(1, 300) == 300
    run.flush()
    starts = [e for e in stored(ledger_conn, run.run_id) if e.type == "tool.call.started"]
    assert [s.data.tool_call_id for s in starts] == [held.tool_call_id]
    allowed = [e.data for e in stored(ledger_conn, run.run_id) if e.type == "policy.decided"][-1]
    assert allowed.decision == "allow"
    grant = allowed.basis.approval
    assert (grant.roles, grant.signed) == (("finance_lead",), True)
    granted = run.run_id

    # dave is registered and signs, but does not hold the role: still held
    with ledger.run(agent="refunder", user="ann") as run:
        held = _held(run)
        ledger.decide(held.approval_id, approver="dave",
                      signer=load_approver_signer(ledger_settings, "dave"))
        run.flush()
        again = _held(run)
        assert (again.tool_call_id, again.approval_id) == (held.tool_call_id, held.approval_id)
        # a hostile hook cites carol's role for dave's signed approval: the proof fails
        with monkeypatch.context() as m:
            m.setattr(precheck, "approver_standing", _hostile)
            assert refund(1, 300) == 300
    unqualified = run.run_id
    assert bodies["payments.refund"] == 2

    # the agent forges carol's approval: unsigned, then with a made-up signature: still held
    with ledger.run(agent="refunder", user="ann") as run:
        held = _held(run)
        ledger.decide(held.approval_id, approver="carol")
        run.flush()
        assert _held(run).tool_call_id == held.tool_call_id
        ledger.decide(held.approval_id, approver="carol", signature="AAAA",
                      tool_call_id=held.tool_call_id, args_hash=held.args_hash)
        run.flush()
        assert _held(run).tool_call_id == held.tool_call_id
        assert bodies["payments.refund"] == 2
        with monkeypatch.context() as m:
            m.setattr(precheck, "approver_standing", _hostile)
            assert refund(1, 300) == 300  # the hostile hook runs it anyway

    runs = check(cli)
    verdicts = runs[str(granted)]
    assert verdicts["enforcement.decisions"][0] == "pass", verdicts["enforcement.decisions"]
    approval_rules = {k: v for k, v in verdicts.items() if k.startswith("approval")}
    assert approval_rules and all(v[0] == "pass" for v in approval_rules.values()), approval_rules
    for hostile in (unqualified, run.run_id):
        outcome, message = runs[str(hostile)]["enforcement.decisions"]
        assert outcome == "fail"
        assert "does not hold the role(s) finance_lead" in message, message


def test_a_confined_writer_reads_the_registry_it_judges_by(
    confined: wc.Confined, authority: Authority,
) -> None:
    """The hooks run as a confined writer: the registry comes through the read API
    `ledger_registries`, for the writer's own tenant only."""
    meta = {"name": "acme", "version": 1, "logs": ["*"]}
    doc = Registry.model_validate({"registry": meta, "principals": [
        authority.person("carol", "finance_lead")]})
    publish_registry(confined.owner, confined.settings, sign_registry(doc, authority.admin),
                     authority.root, tenant="a")
    try_sequence(confined.owner, confined.settings, wait=True)
    mine = load_history(confined.writer, confined.settings.origin("a"), authority.root).latest()
    assert mine.registry is not None
    assert mine.registry.roles_of("carol") == {"finance_lead"}
    other = load_history(confined.writer, confined.settings.origin("b"), authority.root)
    assert other.accepted == ()


def test_the_registry_cache_follows_a_newer_registry(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, authority: Authority,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The history is cached per origin and live version, and read again when a decision
    names a registry the cache has not seen: a role revoked in v2 is gone for decisions signed
    under v2; a signature over other args, or without a trust root, vouches for nothing."""
    carol = authority.person("carol", "finance_lead")
    v1 = authority.publish(principals=[carol])
    monkeypatch.setenv("LEDGER_TRUST_ROOT", str(authority.root_file))
    origin, run_id, live = ledger_settings.origin(None), uuid.uuid4(), LiveCache(ledger_settings)
    signer = load_approver_signer(ledger_settings, "carol")

    def standing(registry: str, args: str = "h1") -> tuple[list[str], bool]:
        claim = ApprovalClaim(origin, run_id, "call-1", "payments.refund", "h1", "approved",
                              None, "carol", registry)
        signed = sign_approval(claim, signer)
        row = ApprovalRow("approved", "carol", signed.signature, signed.signing_key, None,
                          registry)
        return approver_standing(live, ledger_conn, origin=origin, run_id=run_id,
                                 tool_call_id="call-1", tool="payments.refund",
                                 args_hash=args, row=row)

    assert standing(v1) == (["finance_lead"], True)
    assert standing(v1, args="h2") == ([], False)  # moved to other args: does not verify
    v2 = authority.publish(2, principals=[{**carol, "roles": []}])
    assert standing(v1) == (["finance_lead"], True)  # signed under v1: v1's roles
    assert standing(v2) == ([], True)  # a newer registry named: read again, role revoked
    monkeypatch.delenv("LEDGER_TRUST_ROOT")
    assert standing(v2) == ([], False)
