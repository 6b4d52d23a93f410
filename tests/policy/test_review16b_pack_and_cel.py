"""Hostile review of issue 16, reviewer r16b: pack modes, scope and CEL before a call (shadow
never blocks, rule_modes resolution, `mode: off`, compiled CEL agreeing with the interpreter and
never logging attacker text).
"""

from __future__ import annotations

import logging
import textwrap
import threading

import psycopg
import pytest

from ledger.hooks.writer import Writer
from replay.policy import load_pack_text
from replay.policy.precall import (
    LiveBasis,
    Proposed,
    compile_precall,
    decide,
    fast_cel,
)
from replay.policy.scoping import scope_matches
from tests.policy.test_enforcement import decided
from tests.policy.test_review16b_attacks import judged_by
from tests.replay.conftest_db import record, spec, tool


def test_shadow_mode_never_blocks_even_if_the_rule_would_deny(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """Honest shadow rollout: a deny in shadow, body ran: the run passes."""
    pack = load_pack_text("mode: shadow\ntools: {allow: [search]}\n", "shadow.yaml")
    rid = record(spec(decided("rm", {}, "c1", pack=pack), tool("rm", {}, call_id="c1")))
    assert judged_by(ledger_conn, rid, pack)[0] == "pass"


def test_rule_modes_exact_id_then_globs_in_file_order() -> None:
    pack = load_pack_text(textwrap.dedent("""
        mode: enforce
        rule_modes: {'tools.*': shadow, 'tools.allow': enforce, 'max_*': 'off'}
        tools: {allow: [search]}
        max_tool_calls: 1
    """), "modes.yaml")
    pre = compile_precall(pack)
    modes = {i: m for i, m, _ in pre.rules}
    assert modes == {"tools.allow": "enforce"}


def test_an_unquoted_off_mode_is_accepted() -> None:
    """`mode: off` as docs/policy.md and the issue spell it: YAML 1.1 reads `off` as false
    and the loader rejects the pack with "Input should be 'enforce', 'shadow' or 'off'"."""
    assert load_pack_text("mode: off\n", "off.yaml").pack.mode == "off"
    loaded = load_pack_text("rule_modes: {max_tool_calls: off}\nmax_tool_calls: 3\n", "o.yaml")
    assert loaded.pack.rule_modes == {"max_tool_calls": "off"}


def test_scope_tenant_is_the_origins_tenant_even_with_a_slash_prefix() -> None:
    assert scope_matches({"scope": {"tenants": ["acme"]}}, "a", "1", "acme")
    assert not scope_matches({"scope": {"versions": ["2.*"]}}, "a", None, "acme")


def test_compiled_cel_is_correct_under_concurrency() -> None:
    program = fast_cel('args.n == call.id')
    errors: list[str] = []

    def worker(k: int) -> None:
        for i in range(300):
            n = f"{k}-{i}"
            if program.evaluate({"args": {"n": n}, "call": {"id": n}}) is not True:
                errors.append(n)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_cel_errors_never_log_attacker_text(caplog: pytest.LogCaptureFixture) -> None:
    marker = "\x1b]0;PWNED-ATTACKER\x07"
    caplog.set_level(logging.DEBUG)
    for program in (fast_cel('args.x + 1 > 2'), fast_cel('args.x.y == "a"')):
        assert program.evaluate({"args": {"x": marker}}) is None
    assert "PWNED-ATTACKER" not in caplog.text


def test_compiled_cel_agrees_with_the_interpreter_on_has() -> None:
    """`has(args.x) && args.x > 3` is False for a call without x under cel-python's
    interpreter (after the fact) but None (undecidable) under the compiled runner the
    pre-call evaluator uses: the live rule then fails closed (deny) on every such call."""
    from replay.policy.cel import compile_expression

    facts = {"args": {"q": 1}}
    for expr in ('has(args.x) && args.x > 3', '!has(args.to) || args.to.endsWith("@a.com")'):
        assert fast_cel(expr).evaluate(facts) == compile_expression(expr).evaluate(facts), expr


def test_a_has_guarded_tool_call_rule_allows_a_call_without_the_key() -> None:
    pack = load_pack_text(textwrap.dedent("""
        mode: enforce
        rules:
          - id: mail_domain
            scope: tool_call
            expr: '!has(args.to) || args.to.endsWith("@example.com")'
    """), "has.yaml")
    got = decide(compile_precall(pack), LiveBasis(), Proposed("search", {"q": 1},
                                                                tool_call_id="c1"))
    assert got.decision == "allow", got.hits


def test_a_shadow_pack_this_process_cannot_load_never_blocks() -> None:
    """A pack published in `shadow` that uses a key this agent's (older) agent-ledger does not
    know: PolicyGuard.check fails closed with a deny although the pack says shadow ("start
    read-only, graduate in stages" then blocks every tool call of the older agents)."""
    import uuid

    from ledger.canonical import content_hash
    from ledger.hooks.guard import ProposedCall
    from replay.policy.guard import PolicyGuard

    document = {"mode": "shadow", "tools": {"allow": ["search"]}, "future_key": {"x": 1}}
    call = ProposedCall(uuid.uuid4(), "refund", {"amount_usd": 5}, tool_call_id="c1",
                        pack_hash=content_hash(document), pack_document=document, basis={})
    got = PolicyGuard().check(call)
    assert got.allowed, got.reason
