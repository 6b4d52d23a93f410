"""The pre-call evaluator (replay.policy.precall), rule by rule, from the attacker's side.

Each enforceable rule denies or holds the proposed call; shadow never blocks; modes come from
`rule_modes` before the pack's `mode`; unknown cost fails closed when the pack says so. Pure
and fast: packs built from text, no database.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from decimal import Decimal

import pytest

from ledger.canonical import content_hash
from ledger.hooks.guard import ProposedCall
from replay.policy import load_pack, load_pack_text
from replay.policy.cel_fast import CompiledCel
from replay.policy.guard import PolicyGuard
from replay.policy.precall import (
    ApprovalGrant,
    LiveBasis,
    Proposed,
    compile_precall,
    decide,
)

DEMO = "exporters/demo/policies/sales-support-v2.yaml"
PIN = "a" * 64


def _decide(pack: str, basis: LiveBasis, call: Proposed, mode: str = "enforce") -> tuple[str, ...]:
    loaded = load_pack_text(f"mode: {mode}\n" + textwrap.dedent(pack), "p.yaml")
    got = decide(compile_precall(loaded), basis, call)
    return (got.decision, got.would_be, *(f"{i}:{o}" for i, o, _, _ in got.hits))


NONE = LiveBasis()
PINNED = "tools: {pinned: {pay: " + PIN + "}}"
GRANT = ApprovalGrant("ap1", str(uuid.uuid4()), "bob", ("finance_lead",), signed=True)
CASES = [
    ("tools: {allow: [search]}", NONE, Proposed("delete", {}), ("deny", "tools.allow")),
    (PINNED, NONE, Proposed("pay", {}, contract_digest="b" * 64),
     ("deny", "tools.pinned")),
    (PINNED, NONE, Proposed("pay", {}), ("deny", "tools.pinned")),
    ("recipients: [{tool: mail, argument: to, allow_domains: [acme.com]}]", NONE,
     Proposed("mail", {"to": "x@evil.example"}), ("deny", "recipients.mail.to")),
    ("recipients: [{tool: mail, argument: to, allow_domains: [acme.com]}]", NONE,
     Proposed("mail", {}), ("deny", "recipients.mail.to")),
    ("egress: {tools: [mail], pii: {detectors: [email]}}", NONE,
     Proposed("mail", {"body": "write to eve@x.org"}), ("deny", "egress.pii")),
    ("egress: {tools: [mail], secrets: {detectors: [aws_access_key]}}", NONE,
     Proposed("mail", {"body": "AKIAABCDEFGHIJKLMNOP"}), ("deny", "egress.secrets")),
    ("flows: [{id: f, to: {tools: [mail]}}]", LiveBasis(untrusted_input=True),
     Proposed("mail", {}), ("require_approval", "flows.f")),
    ("flows: [{id: f, to: {tools: [mail]}, unless_approved: false}]",
     LiveBasis(untrusted_input=True, approval=GRANT), Proposed("mail", {}), ("deny", "flows.f")),
    ("policies: {require_approval_for: [{action: refund, threshold_usd: 100}]}", NONE,
     Proposed("refund", {"amount_usd": 150}), ("require_approval", "approval.refund")),
    ("policies: {require_approval_for: [{action: refund, threshold_usd: 100}]}", NONE,
     Proposed("refund", {"order": 1}), ("require_approval", "approval.refund")),
    ("policies: {require_approval_for: [{action: refund, any: true,"
     " approver_roles: [cfo]}]}", LiveBasis(approval=GRANT), Proposed("refund", {}),
     ("require_approval", "approval.refund")),
    ("schema: 2\npolicies: {require_approval_for: [{action: refund, any: true}]}",
     LiveBasis(approval=ApprovalGrant("ap1")), Proposed("refund", {}),
     ("require_approval", "approval.refund")),
    ("policies: {require_approval_for: [{action: refund, when: 'args.amount_usd > 10'}]}",
     NONE, Proposed("refund", {"amount_usd": 50}), ("require_approval", "approval.refund")),
    ("policies: {require_approval_for: [{action: refund, any: true,"
     " forbid_self_approval: true}]}", LiveBasis(approval=GRANT),
     Proposed("refund", {}, user="bob"), ("deny", "approval.refund")),
    ("max_tool_calls: 3", LiveBasis(tool_calls=3), Proposed("s", {}), ("deny", "max_tool_calls")),
    ("max_tool_calls_per_tool: {s: 1}", LiveBasis(tool_calls_of_tool=1), Proposed("s", {}),
     ("deny", "max_tool_calls_per_tool.s")),
    ("loops: {max_identical_calls: 2}", LiveBasis(identical_calls=2), Proposed("s", {}),
     ("deny", "loops.max_identical_calls")),
    ("budgets: {max_usd_per_run: 0.5}", LiveBasis(cost_usd=Decimal("0.51")), Proposed("s", {}),
     ("deny", "budgets.max_usd_per_run")),
    ("max_total_tokens: 100", LiveBasis(total_tokens=101), Proposed("s", {}),
     ("deny", "max_total_tokens")),
    ("timeouts: {overall_seconds: 5}", LiveBasis(elapsed_seconds=5.5), Proposed("s", {}),
     ("deny", "timeouts.overall_seconds")),
    ("rules: [{id: small, scope: tool_call, expr: 'args.amount_usd < 100'}]", NONE,
     Proposed("refund", {"amount_usd": 150}), ("deny", "rules.small")),
    ("rules: [{id: small, scope: tool_call, expr: 'args.amount_usd < 100'}]", NONE,
     Proposed("refund", {}), ("deny", "rules.small")),  # undecidable: fail closed
]


@pytest.mark.parametrize(("pack", "basis", "call", "want"), CASES,
                         ids=[f"{c[3][1]}-{i}" for i, c in enumerate(CASES)])
def test_each_enforceable_rule_objects(
    pack: str, basis: LiveBasis, call: Proposed, want: tuple[str, str]
) -> None:
    outcome, rule = want
    got = _decide(pack, basis, call)
    assert got == (outcome, outcome, f"{rule}:{outcome}")


ALLOWED = [
    ("tools: {allow: [search]}", NONE, Proposed("search", {})),
    (PINNED, NONE, Proposed("pay", {}, contract_digest=PIN)),
    ("recipients: [{tool: mail, argument: to, allow_domains: [acme.com]}]", NONE,
     Proposed("mail", {"to": "ann@sales.acme.com"})),
    ("flows: [{id: f, to: {tools: [mail]}}]", LiveBasis(untrusted_input=True, approval=GRANT),
     Proposed("mail", {})),
    ("policies: {require_approval_for: [{action: refund, threshold_usd: 100}]}", NONE,
     Proposed("refund", {"amount_usd": 99})),
    ("policies: {require_approval_for: [{action: refund, any: true,"
     " approver_roles: [finance_lead]}]}", LiveBasis(approval=GRANT), Proposed("refund", {})),
    ("max_tool_calls: 3", LiveBasis(tool_calls=2), Proposed("s", {})),
    ("budgets: {max_usd_per_run: 0.5, on_unknown_cost: allow}",
     LiveBasis(cost_usd=Decimal("0.5"), unknown_cost_calls=2), Proposed("s", {})),
]


@pytest.mark.parametrize(("pack", "basis", "call"), ALLOWED)
def test_calls_within_the_pack_are_allowed(pack: str, basis: LiveBasis, call: Proposed) -> None:
    assert _decide(pack, basis, call) == ("allow", "allow")


def test_unknown_cost_fails_closed_by_default() -> None:
    basis = LiveBasis(unknown_cost_calls=1)
    got = _decide("budgets: {max_usd_per_run: 5}", basis, Proposed("s", {}))
    assert got == ("deny", "deny", "budgets.max_usd_per_run:deny")


def test_shadow_never_blocks_but_says_what_it_would_do() -> None:
    got = _decide("tools: {allow: [search]}\nmax_tool_calls: 0", NONE, Proposed("rm", {}),
                  mode="shadow")
    assert got == ("allow", "deny", "tools.allow:deny", "max_tool_calls:deny")
    loaded = load_pack_text("mode: shadow\ntools: {allow: [search]}\n")
    assert decide(compile_precall(loaded), NONE, Proposed("rm", {})).mode == "shadow"


def test_rule_modes_override_the_pack_mode() -> None:
    pack = """
        rule_modes: {tools.allow: shadow, "max_*": "off"}
        tools: {allow: [search]}
        max_tool_calls: 0
        loops: {max_identical_calls: 1}
    """
    got = _decide(pack, LiveBasis(identical_calls=1), Proposed("rm", {}))
    assert got == ("deny", "deny", "tools.allow:deny", "loops.max_identical_calls:deny")
    got = _decide(pack, NONE, Proposed("rm", {}))
    assert got == ("allow", "deny", "tools.allow:deny")  # only the shadow rule objects


def test_off_packs_are_inactive_and_keep_their_hash() -> None:
    demo = load_pack(DEMO)
    assert demo.policy_hash == "d30533f4b2ade67d9e777cd737395ce016badffb1d843e4908f1354830ec2fb0"
    assert not compile_precall(demo).active
    explicit = load_pack_text("mode: 'off'\nbudgets: {on_unknown_cost: deny, max_usd_per_run: 1}")
    assert explicit.policy_hash == load_pack_text("budgets: {max_usd_per_run: 1}").policy_hash


def test_cel_rules_use_the_compiled_runner_else_the_interpreter() -> None:
    def program(expr: str) -> object:
        rule = f"{{id: r, scope: tool_call, expr: '{expr}'}}"
        loaded = load_pack_text(f"mode: enforce\nrules: [{rule}]")
        (_, _, fn), = compile_precall(loaded).rules
        return fn.keywords["program"]  # type: ignore[attr-defined]

    assert isinstance(program("args.amount_usd < 100"), CompiledCel)
    literal = program("true")  # the interpreter's parser trees do not reach the transpiler
    assert isinstance(literal, CompiledCel)
    assert literal.evaluate({}) is True  # type: ignore[attr-defined]


def test_schema_refuses_bad_live_keys() -> None:
    for bad in ("mode: block", "rule_modes: {x: maybe}", "scope: {agent: [a]}",
                "breakers: [{rule: x, trips: 0, window_seconds: 1, stop: run}]",
                "breakers: [{rule: x, trips: 1, window_seconds: 0, stop: run}]",
                "budgets: {on_unknown_cost: maybe}", "policies: {approval_wait_seconds: -1}"):
        with pytest.raises(Exception, match=r"p\.yaml"):
            load_pack_text(bad, "p.yaml")


def _call(loaded_text: str, tool: str, **kw: object) -> ProposedCall:
    loaded = load_pack_text(loaded_text)
    return ProposedCall(run_id=uuid.uuid4(), tool=tool, args={}, tool_call_id="t1",
                        pack_hash=loaded.policy_hash, pack_document=loaded.document,
                        **kw)  # type: ignore[arg-type]


def test_the_guard_returns_the_event_data_and_refuses_a_forged_document() -> None:
    guard = PolicyGuard()
    text = "mode: enforce\ntools: {allow: [search]}\npolicies: {approval_wait_seconds: 3}\n"
    got = guard.check(_call(text, "rm", basis={"tool_calls": 2}))
    assert (got.allowed, got.outcome, got.approval_wait_seconds) == (False, "deny", 3)
    assert got.data is not None
    assert got.data["rules"] == [{"id": "tools.allow", "outcome": "deny", "mode": "enforce",
                                  "reason": "tool 'rm' is not on the allowlist"}]
    assert got.data["basis"]["tool_calls"] == 2
    assert guard.check(_call(text, "search")).allowed
    forged = _call(text, "rm")
    lenient = dict(forged.pack_document or {}, tools={"allow": ["*"]})
    fresh = PolicyGuard()  # (a pack already compiled is used by its verified hash)
    bad = fresh.check(ProposedCall(run_id=forged.run_id, tool="rm", args={},
                                   pack_hash=forged.pack_hash, pack_document=lenient))
    assert (bad.allowed, bad.outcome) == (False, "deny")
    assert "does not hash" in bad.reason
    missing = fresh.check(ProposedCall(run_id=forged.run_id, tool="search", args={},
                                       pack_hash=forged.pack_hash))
    assert (missing.allowed, missing.outcome) == (False, "deny")


def test_pack_for_picks_the_latest_pack_whose_scope_matches() -> None:
    anyone: dict[str, object] = {"max_tool_calls": 3}
    scoped = {"scope": {"agents": ["sales-*"], "versions": ["2.*"]}}
    pubs = [(1, content_hash(anyone), anyone), (5, content_hash(scoped), scoped)]
    pick = PolicyGuard.pack_for
    assert pick({"agent": "sales-ops", "version": "2.1"}, pubs) == content_hash(scoped)
    assert pick({"agent": "sales-ops", "version": "1.0"}, pubs) == content_hash(anyone)
    assert pick({"agent": "sales-ops"}, pubs) == content_hash(anyone)  # version not recorded
    assert pick({"agent": "x"}, pubs[1:]) is None


def test_compiled_cel_never_sees_another_threads_facts() -> None:
    """cel-python's compiled runner passes the activation through a module global: without
    serialising, a concurrent call's facts could decide this call's rule."""
    import threading

    program = CompiledCel("args.amount_usd < 100")
    wrong: list[tuple[int, bool | None]] = []

    def hammer(amount: int) -> None:
        want = amount < 100
        for _ in range(400):
            got = program.evaluate({"args": {"amount_usd": amount}})
            if got is not want:
                wrong.append((amount, got))

    threads = [threading.Thread(target=hammer, args=(n,)) for n in (5, 5000, 7, 9000)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == []


def test_the_guards_data_is_a_valid_policy_decided_event() -> None:
    from ledger.events import PolicyDecidedData

    text = "mode: shadow\npolicies: {require_approval_for: [{action: refund, any: true}]}\n"
    basis = LiveBasis(cost_usd=Decimal("0.125"), approval=GRANT).to_json()
    got = PolicyGuard().check(_call(text, "refund", basis=basis))
    assert (got.allowed, got.outcome) == (True, "allow")  # shadow never blocks
    assert got.data is not None
    data = PolicyDecidedData.model_validate(got.data)
    assert (data.decision, data.would_be, data.mode) == ("allow", "allow", "shadow")
    assert data.basis.cost_usd == "0.125"
    assert LiveBasis.from_json(data.basis.model_dump(mode="json")) == LiveBasis.from_json(basis)
    held = PolicyGuard().check(_call(text, "refund"))
    assert held.data is not None
    assert PolicyDecidedData.model_validate(held.data).would_be == "require_approval"
