"""Every rule kind: at least one passing, one failing and one unknown run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.authority.trust import NO_TRUST_ROOT
from replay.synth import RunBuilder
from tests.replay.helpers import outcome, verdicts

Build = Callable[[RunBuilder], None]


def run(*steps: Build, end: bool = True, **kw: object) -> RunBuilder:
    b = RunBuilder(**kw)  # type: ignore[arg-type]
    b.start()
    for step in steps:
        step(b)
    if end:
        b.end()
    return b


def llm(**kw: object) -> Build:
    return lambda b: b.llm(**kw)  # type: ignore[arg-type]


def tool(name: str, args: object = None, **kw: object) -> Build:
    return lambda b: b.tool(name, {} if args is None else args, **kw)  # type: ignore[arg-type]


def approved_refund(
    amount: int,
    *,
    approver: str = "bob",
    roles: tuple[str, ...] = ("finance_lead",),
    executed: int | None = None,
    wait: float = 1.0,
) -> Build:
    def step(b: RunBuilder) -> None:
        args = {"amount_usd": amount}
        cid = "refund-1"
        b.approve(cid, "refund", args, approver=approver, roles=roles)
        b.now += int(wait * 1_000_000_000)
        b.tool("refund", {"amount_usd": executed if executed is not None else amount}, call_id=cid)

    return step


CASES: list[tuple[str, str, RunBuilder, RunBuilder, RunBuilder]] = [
    (
        "max_total_tokens: 1000",
        "max_total_tokens",
        run(llm(tokens=(300, 200))),
        run(llm(tokens=(900, 200))),
        run(llm(tokens=(10, 10)), llm(tokens=None)),
    ),
    (
        "max_tool_calls: 2",
        "max_tool_calls",
        run(tool("a"), tool("b")),
        run(tool("a"), tool("b"), tool("c")),
        run(tool("a"), end=False),
    ),
    (
        "max_tool_calls_per_tool: {web_fetch: 1}",
        "max_tool_calls_per_tool.web_fetch",
        run(tool("web_fetch"), tool("other")),
        run(tool("web_fetch", {"u": 1}), tool("web_fetch")),
        run(tool("web_fetch"), end=False),
    ),
    (
        "timeouts: {overall_seconds: 5}",
        "timeouts.overall_seconds",
        run(tool("a")),
        run(tool("a", seconds=9)),
        run(tool("a"), end=False),
    ),
    (
        "timeouts: {per_tool_seconds: {default: 2, tools: {slow: 10}}}",
        "timeouts.per_tool_seconds",
        run(tool("slow", seconds=8), tool("a", seconds=1)),
        run(tool("a", seconds=3)),
        run(lambda b: b.tool_start("a", {})),
    ),
    (
        "budgets: {max_usd_per_run: 0.05}",
        "budgets.max_usd_per_run",
        run(llm(cost="0.02"), llm(cost="0.03")),
        run(llm(cost="0.04"), llm(cost="0.02")),
        run(llm(cost="0.01"), llm(cost=None)),
    ),
    (
        "policies: {require_approval_for: [{action: refund, threshold_usd: 200}]}",
        "approval.refund",
        run(approved_refund(250), tool("refund", {"amount_usd": 20})),
        run(tool("refund", {"amount_usd": 250})),
        run(tool("refund", {"order": 1})),
    ),
    (
        "tools: {allow: [search, 'crm.*']}",
        "tools.allow",
        run(tool("search"), tool("crm.read")),
        run(tool("shell")),
        run(tool("search"), end=False),
    ),
    (
        "tools: {pinned: {search: abc}}",
        "tools.pinned",
        run(tool("search", contract_digest="abc")),
        run(tool("search", contract_digest="evil")),
        run(tool("search")),
    ),
    (
        "recipients: [{tool: send_email, argument: to, allow_domains: [acme.com]}]",
        "recipients.send_email.to",
        run(tool("send_email", {"to": ["a@acme.com", "b@eu.acme.com"]})),
        run(tool("send_email", {"to": "x@evil.io"})),
        run(tool("send_email", {"body": "hi"})),
    ),
    (
        "egress: {tools: [send_email], pii: {detectors: [email, card]}}",
        "egress.pii",
        run(tool("send_email", {"body": "hello"})),
        run(tool("send_email", {"body": "card 4111 1111 1111 1111"})),
        run(lambda b: b.tool("send_email", None)),
    ),
    (
        "egress: {tools: [http_post], secrets: {detectors: [aws_access_key],"
        " custom: {tok: 'tok_[0-9]{6}'}}}",
        "egress.secrets",
        run(tool("http_post", {"d": "fine"})),
        run(tool("http_post", {"d": "key tok_123456"})),
        run(tool("http_post", {"d": "fine"}), end=False),
    ),
    (
        "flows: [{id: taint, from: {tools: [read_email]}, to: {tools: [send_email]}}]",
        "flows.taint",
        run(tool("send_email", {"to": "a"}), tool("read_email")),
        run(tool("read_email"), tool("send_email", {"to": "a"})),
        run(tool("read_email"), end=False),
    ),
    (
        "models: {allow: ['gpt-5*']}",
        "models.allow",
        run(llm()),
        run(llm(model="llama-3")),
        run(model=None),
    ),
    (
        "prompts: {registered: {support: [v3]}}",
        "prompts.registered",
        run(lambda b: b.prompt("support", "v3")),
        run(lambda b: b.prompt("support", "v9")),
        run(),
    ),
    (
        "loops: {max_identical_calls: 2}",
        "loops.max_identical_calls",
        run(tool("s", {"q": 1}), tool("s", {"q": 1}), tool("s", {"q": 2})),
        run(tool("s", {"q": 1}), tool("s", {"q": 1}), tool("s", {"q": 1})),
        run(tool("s", {"q": 1}), end=False),
    ),
    (
        "rules: [{id: few, expr: 'totals.tool_calls < 2'}]",
        "rules.few",
        run(tool("a")),
        run(tool("a"), tool("b")),
        run(tool("a"), end=False),
    ),
    (
        "rules: [{id: small, scope: tool_call, tools: [refund], expr: 'args.amount_usd < 100'}]",
        "rules.small",
        run(tool("refund", {"amount_usd": 5})),
        run(tool("refund", {"amount_usd": 500})),
        run(tool("refund", {"order": 1})),
    ),
]


@pytest.mark.parametrize(
    ("pack", "rule", "ok", "bad", "unknown"),
    CASES,
    ids=[c[1] + ("" if i == 0 or CASES[i - 1][1] != c[1] else "-2") for i, c in enumerate(CASES)],
)
def test_rule_outcomes(
    pack: str, rule: str, ok: RunBuilder, bad: RunBuilder, unknown: RunBuilder
) -> None:
    good = verdicts(pack, ok)[rule]
    assert good.outcome == "pass", good
    failed = verdicts(pack, bad)[rule]
    assert failed.outcome == "fail", failed
    assert failed.evidence, "a failure must point at evidence"
    assert "\n" not in failed.explanation
    undecided = verdicts(pack, unknown)[rule]
    assert undecided.outcome == "unknown", undecided


def test_on_missing_fail_turns_unknown_into_fail() -> None:
    b = run(llm(tokens=None))
    assert (
        outcome("{defaults: {on_missing: fail}, max_total_tokens: 10}", b, "max_total_tokens")
        == "fail"
    )


@pytest.mark.parametrize("rule", ["capture.run_ended", "capture.open_calls", "capture.gaps"])
def test_capture_rules(rule: str) -> None:
    pack = "capture: {}"
    assert outcome(pack, run(tool("a")), rule) == "pass"
    broken = run(lambda b: b.tool_start("a", {}), lambda b: b.gap(), end=False)
    assert outcome(pack, broken, rule) == "fail"


@pytest.mark.parametrize(
    ("approval", "reason"),
    [
        (approved_refund(10, executed=11), "differ from the approved"),
        (approved_refund(10, wait=120), "old at execution"),
        (approved_refund(10, approver="alice"), "approved their own"),
    ],
)
def test_approval_failures_are_explained(approval: Build, reason: str) -> None:
    pack = """
    policies:
      require_approval_for:
        - {action: refund, any: true, approver_roles: [finance_lead], forbid_self_approval: true,
           max_age_seconds: 60}
    """
    v = verdicts(pack, run(approval))["approval.refund"]
    assert v.outcome == "fail" and reason in v.explanation, v


STRICT = """
policies:
  require_approval_for:
    - {action: refund, any: true, approver_roles: [finance_lead], forbid_self_approval: true,
       max_age_seconds: 60}
"""


@pytest.mark.parametrize(
    "approval",
    [approved_refund(10), approved_refund(10, roles=("intern",))],
    ids=["lead", "intern"],
)
def test_roles_without_a_registry_are_unknown(approval: Build) -> None:
    """Folded without a registry (no trust root), declared roles prove nothing: unknown, never
    pass; roles and signatures against a real registry are in test_db_policy and
    test_forged_approvals."""
    v = verdicts(STRICT, run(approval))["approval.refund"]
    assert v.outcome == "unknown", v
    assert v.explanation.endswith(f"cannot be judged: {NO_TRUST_ROOT}"), v


def test_self_approval_fails_even_without_a_registry() -> None:
    assert outcome(STRICT, run(approved_refund(10, approver="alice")), "approval.refund") == "fail"
    assert outcome(STRICT, run(approved_refund(10), user=None), "approval.refund") == "unknown"


def test_rejected_then_executed_fails() -> None:
    def step(b: RunBuilder) -> None:
        b.approve("c1", "delete_record", {"id": 1}, decision="rejected")
        b.tool("delete_record", {"id": 1}, call_id="c1")

    v = verdicts(
        "policies: {require_approval_for: [{action: delete_record, any: true}]}", run(step)
    )["approval.delete_record"]
    assert v.outcome == "fail" and "rejected" in v.explanation


def test_approval_when_cel() -> None:
    pack = """
    policies:
      require_approval_for:
        - {action: 'payments.*', when: "double(args.amount) > 500.0"}
    """
    assert (
        outcome(pack, run(tool("payments.transfer", {"amount": 100})), "approval.payments.*")
        == "pass"
    )
    assert (
        outcome(pack, run(tool("payments.transfer", {"amount": 900})), "approval.payments.*")
        == "fail"
    )
    assert (
        outcome(pack, run(tool("payments.transfer", {"to": "x"})), "approval.payments.*")
        == "unknown"
    )
